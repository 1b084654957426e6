"""A real, throwaway single-node SLURM cluster for tests (munged + slurmctld + slurmd on 127.0.0.1).

Why a real one: sbatch's parsing of ``#SBATCH`` lines, array throttles, ``afterok`` dependencies,
``--kill-on-invalid-dep`` and requeue are exactly what a mock would get wrong. Facts behind every choice
here are in ``../shared/notes/hpc.md``: no cgroups or accounting, addresses pinned to 127.0.0.1, a fresh state
directory and free ports per session (several sessions may share a machine), a private munge socket and key,
daemons kept in the foreground so they are our own children and are stopped (and reaped) by pid.

Import the fixture into a test module: ``from tests.slurm_cluster import slurm_cluster``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = ("slurm-wlm", "munge")
CLIENT_TIMEOUT_S = 30  # a client call blocks ~10 s while slurmctld is unreachable; never hang a test on it


class ClusterError(RuntimeError):
    """The cluster did not come up or a client call failed; the message carries the daemon log tail."""


def install_if_missing() -> None:
    """apt-get the SLURM and munge packages when the daemons are absent (≈10–20 s on a fresh machine)."""
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch")):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (held open together so that they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def node_line(name: str) -> str:
    """The node's hardware as slurmd itself sees it, so that slurmctld never drains it for a mismatch."""
    probe = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, check=True)
    fields = probe.stdout.splitlines()[0].split()
    keep = [f for f in fields if f.split("=")[0] in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")]
    return f"NodeName={name} NodeAddr=127.0.0.1 {' '.join(keep)} State=UNKNOWN"


def slurm_conf(root: Path, name: str, ports: Sequence[int]) -> str:
    """A minimal slurm.conf: linuxproc tracking, no cgroups, no accounting, fast scheduling passes."""
    return "\n".join(
        [
            "ClusterName=udmttest",
            f"SlurmctldHost={name}(127.0.0.1)",
            f"SlurmctldPort={ports[0]}",
            f"SlurmdPort={ports[1]}",
            "SlurmUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={root / 'munge' / 'socket'},cred_expire=5",  # a requeued job waits cred_expire + 1 s (default 121 s)
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={root / 'jobcomp.log'}",
            "MpiDefault=none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            "MinJobAge=600",
            "KillWait=5",
            "SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=1",  # requeued jobs wait for a main pass
            node_line(name),
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (state Z) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@dataclass
class SlurmCluster:
    """A running cluster. Clients must use :attr:`env` (it carries ``SLURM_CONF``); jobs inherit it."""

    root: Path
    env: dict[str, str]
    start_seconds: float = 0.0
    _daemons: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, args: Sequence[str], *, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command against this cluster."""
        done = subprocess.run(list(args), env=self.env, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}\n{self.log_tail()}")
        return done

    def submit(self, script: Path, *sbatch_args: str, cwd: Path | None = None) -> str:
        """``sbatch --parsable`` a script; returns the job id."""
        out = self.run(["sbatch", "--parsable", *sbatch_args, str(script)], cwd=cwd or script.parent).stdout
        return out.strip().split(";")[0]

    def queued(self, job_ids: Sequence[str] = ()) -> list[str]:
        """Ids of jobs (array tasks expanded) still pending or running."""
        args = ["squeue", "-h", "-r", "-o", "%i"] + (["-j", ",".join(job_ids)] if job_ids else [])
        return self.run(args).stdout.split()

    def wait(self, job_ids: Sequence[str] = (), timeout: float = 120.0) -> None:
        """Poll squeue until the jobs have left the queue (faster than ``sbatch --wait``)."""
        deadline = time.monotonic() + timeout
        while self.queued(job_ids):
            if time.monotonic() > deadline:
                raise ClusterError(f"jobs {list(job_ids) or 'all'} still queued after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.25)

    def states(self, job_id: str) -> dict[str, str]:
        """Final or current state per job (array tasks as ``<array>_<index>``), from slurmctld's memory."""
        out = self.run(["squeue", "-h", "-r", "-t", "all", "-j", job_id, "-o", "%i %T"]).stdout
        return dict(line.split() for line in out.splitlines() if line.strip())

    def log_tail(self, lines: int = 15) -> str:
        """The end of the daemon logs, for error messages."""
        parts = []
        for name in ("munged.out", "munge/munged.log", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)

    def _spawn(self, args: Sequence[str], log: str, user: str | None = None) -> None:
        with open(self.root / log, "ab") as out:
            self._daemons.append(
                subprocess.Popen(list(args), env=self.env, stdout=out, stderr=subprocess.STDOUT, user=user, start_new_session=True)
            )

    def _until(self, ready: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if any(p.poll() is not None for p in self._daemons):
                raise ClusterError(f"a daemon exited while waiting for {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {what}:\n{self.log_tail()}")
            time.sleep(0.1)

    def start(self) -> None:
        """munged, then slurmctld (until it answers), then slurmd (until the node is idle)."""
        began = time.monotonic()
        name = socket.gethostname().split(".")[0]
        munge_dir = self.root / "munge"
        munge_dir.mkdir()
        (self.root / "state").mkdir()
        (self.root / "spool").mkdir()
        munge = pwd.getpwnam("munge")
        key = munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        os.chown(munge_dir, munge.pw_uid, munge.pw_gid)
        os.chown(key, munge.pw_uid, munge.pw_gid)
        for path in (self.root, munge_dir):
            path.chmod(0o755)  # munged requires its socket directory to be reachable by all
        conf = self.root / "slurm.conf"
        conf.write_text(slurm_conf(self.root, name, free_ports(2)))
        self._spawn(
            ["munged", "-F", f"--socket={munge_dir / 'socket'}", f"--key-file={key}", f"--pid-file={munge_dir / 'munged.pid'}",
             f"--seed-file={munge_dir / 'seed'}", f"--log-file={munge_dir / 'munged.log'}"],
            "munged.out",
            user="munge",
        )
        self._until(lambda: (munge_dir / "socket").exists(), "munged")
        self._spawn(["slurmctld", "-D", "-i", "-f", str(conf)], "slurmctld.out")
        self._until(lambda: "UP" in self.run(["scontrol", "ping"], check=False).stdout, "slurmctld")
        self._spawn(["slurmd", "-D", "-N", name, "-f", str(conf)], "slurmd.out")
        self._until(lambda: self.run(["sinfo", "-h", "-o", "%T"], check=False).stdout.strip() == "idle", "an idle node")
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons in reverse order by pid and reap them."""
        if self._daemons and self._daemons[-1].poll() is None:
            self.run(["scancel", "--full", "-u", "root"], check=False)
            try:
                self.wait(timeout=15)
            except ClusterError:
                pass  # the daemons go anyway; their job steps die with slurmd's SIGKILL below
        for daemon in reversed(self._daemons):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
        self._daemons.clear()


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """Start a cluster for the test session (installing SLURM first if needed) and tear it down by pid."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM cluster fixture must run as root (it starts munged, slurmctld and slurmd)")
    install_if_missing()
    # Not under pytest's 0700 tree: munged runs as user munge and must reach its directory.
    root = Path(tempfile.mkdtemp(prefix="udmt-slurm-"))
    cluster = SlurmCluster(root=root, env={**os.environ, "SLURM_CONF": str(root / "slurm.conf")})
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

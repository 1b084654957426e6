"""GPU figures of issue #5: each kernel on the GPU against the CPU kernel on the same machine, and end-to-end
tracking of 10 animals at 1024×1024 with the ``cuda`` engine against the ``kernels`` (CPU) engine.

    .venv/bin/python benchmarks/gpu_speed.py --work runs/gpu               # synthesise the video and train (once)
    python benchmarks/gpu_speed.py --work runs/gpu --workers 4,8,16         # on the GPU machine: measure

The first run writes ``video.mp4`` (10 mice, 1024², 1024 frames, seed 0) and a trained model under ``--work``;
later runs reuse them, so the GPU machine measures the same video and model. Tracking is measured after
training, one torch thread per process as in a chunk task: one process on the whole video (decode included, and
excluded by decoding every frame into memory first), and ``--workers`` processes that each track the whole video
at the same time, as chunk tasks of one recording share a machine (frames/s = all frames they tracked / the time
from a common start to the last one's end; process start-up and warm-up excluded). Each engine's IDF1 against
the ground truth shows that the speed is not bought with accuracy. Prints a markdown report (``--report`` also
appends it to a file).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from udmt import kernels, pipeline
from udmt.evaluate import evaluate, radius_from_meta, read_ground_truth
from udmt.filters import Engine, HostFilters, filter_bank, peak_and_psr
from udmt.kernels import cuda
from udmt.model import Checkpoint, load_checkpoint
from udmt.params import Params
from udmt.scene import Scene
from udmt.synth import generate
from udmt.track import track_chunk
from udmt.video import VideoReader

ANIMALS, CHANNELS, MAP, PATCH = 10, 16, 32, 64  # the tracker's shapes for 10 animals (Params defaults)


def prepare(work: Path) -> tuple[Path, Path]:
    """The benchmark video and its trained model (made once)."""
    video = work / "synth" / "video.mp4"
    if not video.exists():
        generate("mice", work / "synth", n_frames=1024, n_animals=ANIMALS, size=1024, seed=0)
    model = work / "model.pt"
    if not model.exists():
        run = pipeline.plan([video], work / "train.zarr", n_animals=ANIMALS, init=None, params=Params())
        pipeline.train(run)
        model.write_bytes(run.model_path("v000").read_bytes())
    return video, model


# -- kernels ---------------------------------------------------------------------------------------------------


def per_call(fn: Callable[[], object], sync: Callable[[], None], seconds: float = 0.5) -> float:
    """Mean µs per call over repeated calls for about ``seconds`` (after a warm-up)."""
    for _ in range(3):
        fn()
    sync()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for _ in range(20):
            fn()
        calls += 20
        sync()
    return 1e6 * (time.perf_counter() - began) / calls


def kernel_rows(host: HostFilters) -> list[tuple[str, float, float]]:
    """(kernel at the tracker's shapes, CPU µs, GPU µs); ``host`` is the CPU engine whose filter learning at
    offsets the update row times."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1024, 1024), dtype=np.uint8)
    centres = rng.uniform(100, 900, (ANIMALS, 2)).astype(np.float32)
    sides = np.full(ANIMALS, 90.0, np.float32)
    x = rng.normal(size=(ANIMALS, CHANNELS, MAP, MAP)).astype(np.float32)
    yf = host.label_np
    offsets = rng.uniform(-2, 2, (ANIMALS, 2)).astype(np.float32)
    eta = np.full(ANIMALS, 0.08, np.float32)
    num, den = kernels.dcf_learn(x, yf)
    response = rng.normal(size=(ANIMALS, MAP, MAP)).astype(np.float32)
    costs = rng.uniform(0, 100, (1000, ANIMALS, ANIMALS + 2))
    g = {k: torch.from_numpy(np.ascontiguousarray(v)).cuda() for k, v in dict(
        frame=frame, centres=centres, sides=sides, x=x, yf=yf, offsets=offsets, eta=eta, num=num, den=den,
        response=response, costs=costs).items()}
    spectra = cuda.rfft2(g["x"])

    def cpu_detect() -> object:
        a = kernels.dcf_detect(num, den, x, 1e-2, return_response=True).response
        b = kernels.dcf_detect(num, den, x, 1e-2, return_response=True).response
        return 0.7 * a + 0.3 * b

    def cpu_update() -> None:
        new_num, new_den = host._learn(x, offsets)
        _ = (1 - eta)[:, None, None, None] * num + eta[:, None, None, None] * new_num
        _ = (1 - eta)[:, None, None] * den + eta[:, None, None] * new_den

    gpu_num, gpu_den = g["num"].clone(), g["den"].clone()
    cases = [
        ("crop_resize (10 windows → 64², 1024² frame)", lambda: kernels.crop_resize(frame, centres, sides, PATCH),
         lambda: cuda.crop_resize(g["frame"], g["centres"], g["sides"], PATCH)),
        ("rfft2 (160 planes 32²)", lambda: kernels.rfft2(x), lambda: cuda.rfft2(g["x"])),
        ("filter update at offsets (10 animals, 16 channels)", cpu_update,
         lambda: cuda.dcf_update(gpu_num, gpu_den, spectra, g["yf"], g["offsets"], g["eta"])),
        ("response of two banks + inverse FFT", cpu_detect,
         lambda: cuda.dcf_response(g["num"], g["den"], g["num"], g["den"], spectra, 1e-2, (0.7, 0.3))),
        ("peak + PSR (10 maps)", lambda: peak_and_psr(response), lambda: cuda.peak_psr(g["response"])),
        ("assignment, 1000 problems 10×12", lambda: kernels.linear_sum_assignment_batch(costs),
         lambda: cuda.linear_sum_assignment_batch(g["costs"])),
    ]
    return [(name, per_call(cpu, lambda: None), per_call(gpu, torch.cuda.synchronize)) for name, cpu, gpu in cases]


def appearance_rows(checkpoint: Checkpoint, scene: Scene, frame: np.ndarray) -> list[tuple[str, float, float]]:
    """One frame's whole appearance step (features → response → peaks → filter update) for 10 animals."""
    params = Params()
    side = params.search_scale * scene.body_length / scene.factor
    rng = np.random.default_rng(1)
    centres = rng.uniform(side, min(frame.shape) - side, (ANIMALS, 2))
    offsets, rate = np.zeros((ANIMALS, 2)), np.full(ANIMALS, params.filter_rate)
    times = []
    for engine, sync in (("kernels", lambda: None), ("cuda", torch.cuda.synchronize)):
        bank = filter_bank(engine, scene, checkpoint.net, params, side)
        bank.start(bank.features(frame, centres))

        def step() -> None:
            features = bank.features(frame, centres)
            bank.respond(features)
            bank.update(features, offsets, rate)

        times.append(per_call(step, sync))
    return [("appearance step of one frame (features, response, peaks, update)", *times)]


# -- end to end ------------------------------------------------------------------------------------------------


class FramesInMemory:
    """A VideoReader stand-in over decoded frames: tracking with decoding excluded."""

    def __init__(self, reader: VideoReader) -> None:
        self.path, self.n_frames = reader.path, reader.n_frames
        self.decoded = [frame for _, frame in reader.frames()]

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        yield from ((i, self.decoded[i]) for i in range(start, stop))


def track_once(video: Path, model: Path, engine: Engine, decoded: bool,
               ready: Callable[[], object] = lambda: None) -> tuple[float, np.ndarray]:  # fmt: skip
    """(seconds, original-px positions) of tracking the whole video in this process, timed after a warm-up chunk
    (CUDA context, allocator, kernels loaded) and after ``ready()`` returns."""
    checkpoint, _ = load_checkpoint(model)
    scene = Scene.from_state(checkpoint.info["scene"])
    with VideoReader(video) as reader:
        source = FramesInMemory(reader) if decoded else reader
        track_chunk(source, scene, checkpoint.net, Params(), 0, 16, identities=checkpoint.identities, engine=engine)
        ready()
        began = time.perf_counter()
        tracks = track_chunk(source, scene, checkpoint.net, Params(), 0, reader.n_frames,
                             identities=checkpoint.identities, engine=engine)
        return time.perf_counter() - began, tracks.position


def _worker(video: str, model: str, engine: Engine, decoded: bool, barrier, results) -> None:
    torch.set_num_threads(1)
    _, position = track_once(Path(video), Path(model), engine, decoded, ready=barrier.wait)
    results.put((len(position), time.time()))


def track_parallel(video: Path, model: Path, engine: Engine, decoded: bool, workers: int) -> float:
    """Frames/s of ``workers`` processes each tracking the whole video from a common start."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(video), str(model), engine, decoded, barrier, results))
             for _ in range(workers)]
    for p in procs:
        p.start()
    barrier.wait()
    began = time.time()
    done = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(n for n, _ in done) / (max(t for _, t in done) - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/gpu"))
    parser.add_argument("--workers", default="", help="comma-separated process counts to run in parallel, e.g. 4,16")
    parser.add_argument("--engines", default="kernels,cuda", help="engines of the tracking rows")
    parser.add_argument("--sections", default="kernels,single,parallel", help="which tables to measure")
    parser.add_argument("--tag", default="", help="added to the tracking rows' names (e.g. how the GPU was shared)")
    parser.add_argument("--report", type=Path, help="also append the report here")
    args = parser.parse_args()
    video, model = prepare(args.work)
    reason = cuda.unavailable()
    if reason is not None:
        print(f"prepared {video} and {model}; nothing to measure here: {reason}")
        return
    torch.set_num_threads(1)
    sections, engines = args.sections.split(","), args.engines.split(",")
    workers = [int(w) for w in args.workers.split(",") if w]
    tag = f" ({args.tag})" if args.tag else ""
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    emit(f"GPU: {torch.cuda.get_device_name()}, CPU: {platform.processor() or platform.machine()} × {os.cpu_count()}, "
         f"torch {torch.__version__}, one torch thread per process")
    if "kernels" in sections:
        checkpoint, _ = load_checkpoint(model)
        scene = Scene.from_state(checkpoint.info["scene"])
        with VideoReader(video) as reader:
            _, first = next(reader.frames(0, 1))
        working = np.clip(np.rint(scene.to_working(first)), 0, 255).astype(np.uint8)
        host = HostFilters(scene, checkpoint.net, Params(), 90.0, reference=False)
        emit("\n| kernel (tracker shapes) | CPU µs | GPU µs | CPU/GPU |\n|---|---:|---:|---:|")
        for name, cpu_us, gpu_us in kernel_rows(host) + appearance_rows(checkpoint, scene, working):
            emit(f"| {name} | {cpu_us:.1f} | {gpu_us:.1f} | {cpu_us / gpu_us:.1f}× |")
    emit("\n| tracking 10 mice 1024², 1024 frames | decode | frames/s | IDF1 |\n|---|---|---:|---:|")
    truth = read_ground_truth(video.with_name("gt.csv"))
    radius = radius_from_meta(video.with_name("gt.csv"))
    for engine in engines if "single" in sections else ():
        for decoded in (False, True):
            seconds, position = track_once(video, model, engine, decoded)
            idf1 = evaluate(position, truth.position, radius).idf1
            emit(f"| one process, {engine}{tag} | {'excluded' if decoded else 'included'} | "
                 f"{len(position) / seconds:.0f} | {idf1:.3f} |")
    for engine in engines if "parallel" in sections else ():
        for count in workers:
            for decoded in (False, True) if count == max(workers) else (False,):
                fps = track_parallel(video, model, engine, decoded, count)
                emit(f"| {count} processes, {engine}{tag} | {'excluded' if decoded else 'included'} | {fps:.0f} | |")
    if args.report:
        with args.report.open("a") as out:
            out.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()

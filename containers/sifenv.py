"""The ``/.singularity.d`` layout that Apptainer's runtime expects inside an image.

Apptainer finds everything it runs through this tree: ``runscript`` and ``test`` (from the recipe's
sections), ``env/*.sh`` sourced in name order before any action (``90-environment.sh`` is ``%environment``,
``91-environment.sh`` collects what ``%post`` appends to ``$APPTAINER_ENVIRONMENT``), ``actions/*`` for older
runtimes that start containers through them, ``labels.json``, ``runscript.help`` and the def file. The file
contents here are our own, with the behaviour Apptainer's build gives them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import defparse

POST_ENVIRONMENT = "/.singularity.d/env/91-environment.sh"
_SOURCE_ENV = """for script in /.singularity.d/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
"""
_ACTIONS = {
    "exec": 'exec "$@"\n',
    "run": ('if [ -x /.singularity.d/runscript ]; then\n    exec /.singularity.d/runscript "$@"\nfi\n'
            'echo "No runscript in this image, executing /bin/sh" >&2\nexec /bin/sh "$@"\n'),
    "test": 'if [ -x /.singularity.d/test ]; then\n    exec /.singularity.d/test "$@"\nfi\nexec /bin/true\n',
    "shell": ('if [ -x /bin/bash ]; then\n    SHELL=/bin/bash; export SHELL\n    exec /bin/bash --norc "$@"\nfi\n'
              'SHELL=/bin/sh; export SHELL\nexec /bin/sh "$@"\n'),
    "start": 'if [ -x /.singularity.d/startscript ]; then\n    exec /.singularity.d/startscript\nfi\n',
}
_ENV_FILES = {
    "01-base.sh": "",
    "90-environment.sh": "# %environment of the recipe follows\n",
    "91-environment.sh": "# lines %post appended to $APPTAINER_ENVIRONMENT follow\n",
    "99-base.sh": ('LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/.singularity.d/libs"\n'
                   'PS1="Apptainer> "\nexport LD_LIBRARY_PATH PS1\n'),
    # APPTAINERENV_PATH / _PREPEND_PATH / _APPEND_PATH arrive as these variables (Apptainer's convention).
    "99-runtimevars.sh": ('if [ -n "${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then '
                          'PATH="$SING_USER_DEFINED_PREPEND_PATH:$PATH"; fi\n'
                          'if [ -n "${SING_USER_DEFINED_APPEND_PATH:-}" ]; then '
                          'PATH="$PATH:$SING_USER_DEFINED_APPEND_PATH"; fi\n'
                          'if [ -n "${SING_USER_DEFINED_PATH:-}" ]; then PATH="$SING_USER_DEFINED_PATH"; fi\n'
                          'unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH '
                          'SING_USER_DEFINED_PATH\nexport PATH\n'),
}
_LINKS = {"apptainer": ".singularity.d/runscript", "singularity": ".singularity.d/runscript",
          ".run": ".singularity.d/actions/run", ".exec": ".singularity.d/actions/exec",
          ".test": ".singularity.d/actions/test", ".shell": ".singularity.d/actions/shell",
          "environment": ".singularity.d/env/90-environment.sh"}


def write_base_layout(root: Path) -> None:
    """Directories, actions, base env scripts and compatibility links, written before ``%files``/``%post``."""
    meta = root / ".singularity.d"
    for sub in ("libs", "actions", "env"):
        (meta / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("dev", "proc", "root", "var/tmp", "tmp", "etc", "sys", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, body in _ACTIONS.items():
        _write_script(meta / "actions" / name, _SOURCE_ENV + "\n" + body)
    for name, body in _ENV_FILES.items():
        _write_script(meta / "env" / name, body)
    for name, target in _LINKS.items():
        if not os.path.lexists(root / name):
            (root / name).symlink_to(target)
    # The runtime binds the host's name resolution over these.
    for name in ("hosts", "resolv.conf"):
        (root / "etc" / name).write_text("")


def write_metadata(root: Path, recipe: defparse.Recipe) -> None:
    """Scripts, environment, labels, help and the def file from the recipe, written after ``%post``."""
    meta = root / ".singularity.d"
    for section, target in (("runscript", "runscript"), ("test", "test"), ("startscript", "startscript")):
        if recipe.script(section):
            _write_script(meta / target, recipe.script(section), interpreter(recipe, section))
    if recipe.script("environment"):
        _write_script(meta / "env" / "90-environment.sh",
                      _ENV_FILES["90-environment.sh"] + recipe.script("environment"))
    if recipe.script("help"):
        (meta / "runscript.help").write_text(recipe.script("help"))
    (meta / "Singularity").write_text(recipe.text)
    labels = {"org.label-schema.schema-version": "1.0",
              "org.label-schema.build-arch": os.uname().machine,
              "org.label-schema.build-date": time.strftime("%A_%d_%B_%Y_%H:%M:%S_%Z"),
              **{f"org.label-schema.usage.singularity.deffile.{k}": v for k, v in recipe.header.items()},
              **recipe.labels}
    (meta / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")


def interpreter(recipe: defparse.Recipe, section: str) -> str:
    """``%runscript -c /bin/bash`` picks the interpreter; /bin/sh otherwise."""
    args = recipe.sections[section].args.split()
    return args[1] if args[:1] == ["-c"] and len(args) > 1 else "/bin/sh"


def _write_script(path: Path, body: str, shell: str = "/bin/sh") -> None:
    path.write_text(f"#!{shell}\n\n{body}")
    path.chmod(0o755)

#!/usr/bin/env bash
# Run the udmt image like Apptainer:  containers/run.sh ACTION [--cleanenv] [--bind SRC[:DST]]... IMAGE.sif [ARGS...]
# ACTION is run (the runscript: `udmt ARGS`), exec (a command), test (%test) or shell.
# With `apptainer` on PATH this is `apptainer ACTION ...`; without it (root) containers/imagerun.py starts the
# image the same way: read-only root, /tmp $HOME $PWD bound, /.singularity.d/env/*.sh, APPTAINERENV_*.
set -euo pipefail
if command -v apptainer > /dev/null; then
  exec apptainer "$@"
fi
exec python3 "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/imagerun.py" "$@"

#!/usr/bin/env bash
# One training process on this machine (CPU, or the GPU/TPU that JAX finds).
#
#   launch/local.sh CONFIG WORKDIR [--config.<field>=<value> ...]
#   launch/local.sh configs/mnist1d_mlp.py:smoke runs/smoke --config.batch_size=128
#
# Paths are relative to the current directory (a config path that is not there is looked up in the
# repository). Python: $PYTHON, else the repository's .venv/bin/python, else python3. Rerunning the
# same command on the same WORKDIR resumes from its last checkpoint; SIGTERM or Ctrl-C makes the
# run save a checkpoint and stop (exec hands the signals straight to Python).
set -euo pipefail

if [[ $# -lt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 CONFIG WORKDIR [--config.<field>=<value> ...]" >&2
  echo "  e.g. $0 configs/mnist1d_mlp.py:smoke runs/smoke" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi
# Import deepzoo from this checkout even if it is not installed in that Python.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
# configs/x.py[:arg] from outside the repository means the repository's configs/x.py.
if [[ ! -e ${config%%:*} && -e $repo/${config%%:*} ]]; then config=$repo/$config; fi

exec "$PYTHON" -m deepzoo.main --config="$config" --workdir="$workdir" "$@"

#!/usr/bin/env bash
# One run on every worker of a Cloud TPU VM slice (v4-32, v5p-64, v6e-16, ...). Every worker (host)
# runs the same command; `--distributed` makes jax.distributed.initialize() find the other workers
# from the TPU metadata, and the run spans all chips of the slice.
#
#   export TPU_NAME=my-v4-32 ZONE=us-central2-b       # and PROJECT=my-project unless gcloud has one
#   REPO_URL=https://github.com/<you>/deepzoo.git launch/tpu_pod.sh install
#   launch/tpu_pod.sh run configs/mnist1d_mlp.py gs://my-bucket/runs/mnist1d [--config.<field>=<value> ...]
#   launch/tpu_pod.sh logs      # follow worker 0's log (Ctrl-C stops following, not the run)
#   launch/tpu_pod.sh stop      # SIGTERM on every worker: the run saves a checkpoint and exits
#
# Subcommands:
#   install  clone REPO_URL (or update the clone) at REF into ~/$REMOTE_DIR on every worker, make a
#            venv there and `pip install -e '.[tpu,gcs]'`. Every worker must run the same
#            commit. Needs Python >= 3.11 on the workers (REMOTE_PYTHON; e.g. `sudo apt-get install
#            python3.11-venv` and REMOTE_PYTHON=python3.11 on Ubuntu 22.04 images, whose python3 is
#            3.10). A private repository needs credentials on the workers; alternatively copy a
#            checkout with `gcloud compute tpus tpu-vm scp --recurse --worker=all ...` and skip the clone.
#   run      start `python -m deepzoo.main --config=CONFIG --workdir=WORKDIR --distributed [overrides]`
#            on all workers, detached (nohup): it survives a closed laptop or a dropped ssh, and
#            each worker logs to ~/deepzoo_run.log. FOREGROUND=1 streams all workers' output here
#            instead (then a dropped ssh session can end the run without a checkpoint).
#   logs     tail -f worker 0's log (WORKER=<i> for another one).
#   stop     send SIGTERM to the run on every worker; the processes agree on a step (the next
#            log step), save a checkpoint and exit.
#
# The workdir must be shared by all workers: a GCS path, gs://BUCKET/... (checkpoints are written
# with Orbax through etils.epath, which reads gs:// paths with gcsfs; every file of the workdir must
# go through such a path API, not os/open). Resume: run the same `run` command with the same
# workdir; it restarts from the newest checkpoint there (after `stop`, a preemption, or a crash).
# Data: TFDS datasets prepared in ArrayRecord format, e.g. under gs://BUCKET/tensorflow_datasets:
# pass --config.dataset.data_dir=gs://... or export TFDS_DATA_DIR here (it is forwarded).
#
# Environment: TPU_NAME, ZONE (required); PROJECT; REPO_URL (install); REF [main] (branch, tag or
# commit for install); REMOTE_DIR [deepzoo] (relative to the workers' home); REMOTE_PYTHON
# [python3]; FOREGROUND [0]; WORKER [0] (logs); GCLOUD_FLAGS (extra flags for `gcloud ... ssh`,
# e.g. "--internal-ip" or "--tunnel-through-iap"); DRY_RUN=1 prints the gcloud commands only.
set -euo pipefail

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
action=$1
shift

: "${TPU_NAME:?set TPU_NAME to the TPU VM (slice) name}"
: "${ZONE:?set ZONE to the TPU VM zone, e.g. us-central2-b}"
remote_dir=${REMOTE_DIR:-deepzoo}
pidfile=deepzoo_run.pid   # in each worker's home
logfile=deepzoo_run.log
read -ra gcloud_flags <<<"${GCLOUD_FLAGS:-}"

# on_workers WORKERS COMMAND: run the bash COMMAND on the given workers ("all" or an index).
on_workers() {
  local cmd=(gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" --worker="$1"
             --command="$2" "${gcloud_flags[@]}")
  if [[ -n ${PROJECT:-} ]]; then cmd+=(--project="$PROJECT"); fi
  if [[ ${DRY_RUN:-0} == 1 ]]; then
    printf '%q ' "${cmd[@]}"
    echo
  else
    "${cmd[@]}"
  fi
}

# Remote snippet: pid = the run's pid if a deepzoo run is alive on that worker (the pid file may be
# stale, so the process must still be deepzoo.main), else empty.
live_pid="pid=\$(cat ~/$pidfile 2>/dev/null || true)
  if [ -n \"\$pid\" ] && ! grep -q deepzoo.main /proc/\$pid/cmdline 2>/dev/null; then pid=; fi"

q() {  # the words, quoted for the remote bash, separated by spaces
  local quoted
  printf -v quoted '%q ' "$@"
  printf '%s' "${quoted% }"
}

case $action in
  install)
    : "${REPO_URL:?set REPO_URL to the git URL of deepzoo}"
    ref=${REF:-main}
    py=${REMOTE_PYTHON:-python3}
    on_workers all "set -euo pipefail
      if [ ! -d $(q "$remote_dir")/.git ]; then git clone $(q "$REPO_URL" "$remote_dir"); fi
      cd $(q "$remote_dir")
      git fetch origin $(q "$ref") && git checkout --detach FETCH_HEAD
      $(q "$py") -c 'import sys; assert sys.version_info >= (3, 11), \"deepzoo needs Python >= 3.11, not \" + sys.version'
      [ -x .venv/bin/python ] || $(q "$py") -m venv .venv
      .venv/bin/pip install -q -U pip
      # jax[tpu] pulls libtpu from PyPI; gcsfs lets Orbax/epath read and write gs:// paths.
      .venv/bin/pip install -q -e '.[tpu,gcs]'
      echo \"worker \$(hostname): deepzoo \$(git rev-parse --short HEAD) installed\""
    ;;

  run)
    if [[ $# -lt 2 ]]; then
      echo "usage: $0 run CONFIG gs://BUCKET/WORKDIR [--config.<field>=<value> ...]" >&2
      exit 2
    fi
    config=$1 workdir=$2
    shift 2
    if [[ $workdir != gs://* ]]; then
      echo "warning: WORKDIR=$workdir is not a gs:// path; all workers must see the same workdir" >&2
    fi
    env_prefix=""
    if [[ -n ${TFDS_DATA_DIR:-} ]]; then env_prefix="TFDS_DATA_DIR=$(q "$TFDS_DATA_DIR")"; fi
    # The command every worker runs, from the repository. `exec` keeps the pid written to the pid
    # file, so `stop` signals Python itself.
    main="echo \$\$ > ~/$pidfile && exec env $env_prefix .venv/bin/python -m deepzoo.main \
$(q --config="$config" --workdir="$workdir" --distributed "$@")"
    busy="$live_pid
      if [ -n \"\$pid\" ]; then
        echo \"worker \$(hostname): a deepzoo run (pid \$pid) is running; stop it first\" >&2; exit 1
      fi"
    if [[ ${FOREGROUND:-0} == 1 ]]; then
      on_workers all "$busy
      cd $(q "$remote_dir") && $main"
    else
      # setsid + nohup + all three streams redirected: ssh returns at once and the run outlives it.
      # (`cd` stays out of the background job: a backgrounded `cd && setsid ...` list is a subshell
      # that keeps ssh's output open until the run ends.)
      on_workers all "$busy
      cd $(q "$remote_dir") || exit 1
      setsid nohup bash -c $(q "$main") > ~/$logfile 2>&1 < /dev/null &
      echo \"worker \$(hostname): started, log in ~/$logfile\""
      if [[ ${DRY_RUN:-0} != 1 ]]; then
        echo "started on all workers of $TPU_NAME; follow: $0 logs; checkpoint and stop: $0 stop"
      fi
    fi
    ;;

  logs)
    on_workers "${WORKER:-0}" "tail -n 100 -F ~/$logfile"
    ;;

  stop)
    on_workers all "$live_pid
      if [ -n \"\$pid\" ]; then
        kill -TERM \$pid && echo \"worker \$(hostname): SIGTERM sent to \$pid\"
      else
        echo \"worker \$(hostname): no deepzoo run\"
      fi"
    ;;

  *)
    usage
    ;;
esac

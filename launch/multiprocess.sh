#!/usr/bin/env bash
# N JAX processes on this machine that form one run over 127.0.0.1: the multi-host code path
# (jax.distributed, per-process data slices, global batches) exercised without a cluster.
#
#   launch/multiprocess.sh CONFIG WORKDIR [--config.<field>=<value> ...]
#   NUM_PROCESSES=2 DEVICES_PER_PROCESS=4 launch/multiprocess.sh configs/mnist1d_mlp.py:smoke /tmp/mp \
#       --config.batch_size=128 --config.eval_batch_size=1024
#
# Environment (defaults in brackets):
#   NUM_PROCESSES [2]        processes to start
#   DEVICES_PER_PROCESS [4]  fake CPU devices per process (XLA_FLAGS=--xla_force_host_platform_device_count)
#                            so the mesh spans NUM_PROCESSES x DEVICES_PER_PROCESS devices and the
#                            batch sizes must be multiples of that
#   PORT [a free one]        coordinator port on 127.0.0.1
#   JAX_PLATFORMS [cpu]      the fake devices are CPU devices; other platforms are not split per process
#   KILL_AFTER [30]          seconds the other processes get to exit after one fails, before SIGKILL
#   PYTHON                   interpreter [the repository's .venv/bin/python, else python3]
#
# Each process appends to WORKDIR/logs/process_<i>.log; process 0's output is also shown here.
# Ctrl-C or SIGTERM sends one SIGTERM to every process: they agree on a step (within 10 steps),
# save a checkpoint and exit 143; a second Ctrl-C kills them. Rerunning the same command on the
# same WORKDIR resumes from the newest checkpoint.
#
# Exit status:
#   0            every process finished the run
#   143, 130     stopped after a checkpoint: 143 for SIGTERM, 130 for Ctrl-C (SIGINT) to this
#                script, or the status the processes exited with (143 or 130) when the signal was
#                sent to them directly; 130 also after a second Ctrl-C (no new checkpoint)
#   2            bad arguments or environment
#   other        a process failed: the status of the one that failed first (1: an error, 137:
#                killed by SIGKILL, ...); the others are stopped and the end of its log is shown
set -euo pipefail

if [[ $# -lt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: [NUM_PROCESSES=2] [DEVICES_PER_PROCESS=4] $0 CONFIG WORKDIR [--config.<field>=<value> ...]" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2

num_processes=${NUM_PROCESSES:-2}
devices=${DEVICES_PER_PROCESS:-4}
kill_after=${KILL_AFTER:-30}
for var in num_processes devices kill_after; do
  if ! [[ ${!var} =~ ^[0-9]+$ ]] || [[ $var != kill_after && ${!var} -lt 1 ]]; then
    echo "error: $var=${!var} is not a positive integer" >&2
    exit 2
  fi
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
# configs/x.py[:arg] from outside the repository means the repository's configs/x.py.
if [[ ! -e ${config%%:*} && -e $repo/${config%%:*} ]]; then config=$repo/$config; fi
export PYTHONUNBUFFERED=1
export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
# Appended last so it wins over a device count already in XLA_FLAGS.
export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_force_host_platform_device_count=$devices"

# A port that is free now (the OS picks it); the coordinator (process 0) binds it a moment later.
port=${PORT:-$("$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}

logs=$workdir/logs
mkdir -p "$logs"
echo "launch: $num_processes processes x $devices devices = $((num_processes * devices)) devices;" \
     "coordinator 127.0.0.1:$port; logs in $logs/process_<i>.log"

pids=()        # pids[i]: process i (its wrapper, below), emptied once it has exited and been reaped
statuses=()    # statuses[i]: its exit status, once reaped
reported=()    # reported[i]: 1 once its exit has been acted on
tail_pid=""
# Each process's wrapper appends "i status" here when the process exits, so the order in which the
# processes exited is known even when several exit within one poll (a process killed from outside
# makes the others fail a moment later: the first line names the culprit).
exits=$(mktemp "${TMPDIR:-/tmp}/multiprocess_exits.XXXXXX")
signalled=""   # INT or TERM once the user asked the run to stop
signalled_at=0 running=0

# No subshells or foreground children in the loop below besides builtins: bash treats a foreground
# child killed by Ctrl-C's SIGINT as a second Ctrl-C.
signal_all() {  # signal_all SIG: every process still running (each leads its own process group)
  local pid
  for pid in "${pids[@]}"; do
    if [[ -n $pid ]]; then kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" "$pid" 2>/dev/null || true; fi
  done
}

count_running() {  # sets `running` to the number of processes not yet reaped
  local pid
  running=0
  for pid in "${pids[@]}"; do
    if [[ -n $pid ]]; then running=$((running + 1)); fi
  done
}

on_signal() {
  if [[ -n $signalled ]]; then
    if ((SECONDS - signalled_at < 2)); then return; fi  # the same Ctrl-C seen twice
    echo "launch: second $1: killing all processes (no checkpoint)" >&2
    signal_all KILL
    exit 130
  fi
  signalled=$1 signalled_at=$SECONDS
  echo "launch: $1 received: asking every process to save a checkpoint and stop" >&2
  signal_all TERM
}

cleanup() {
  if [[ -n $tail_pid ]]; then kill "$tail_pid" 2>/dev/null || true; fi
  signal_all KILL   # only processes still running here, i.e. when the script itself failed
  rm -f "$exits"
}

trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap cleanup EXIT

# Job control puts each process in its own process group, so a Ctrl-C in the terminal reaches this
# script only and each process gets exactly one SIGTERM from on_signal (a second SIGINT would make
# the trainer stop at once, without a checkpoint).
# Logs are appended to, so a resumed run keeps the story of its earlier attempts.
for ((i = 0; i < num_processes; i++)); do
  echo "=== $(date '+%F %T') launch/multiprocess.sh: process $i of $num_processes" >>"$logs/process_$i.log"
done
set -m
tail -n 0 -F "$logs/process_0.log" 2>/dev/null &
tail_pid=$!
# Each process runs under a wrapper, a subshell that leads the process group (Python is its child in
# the same group, so signal_all reaches both) and records when Python exits. The wrapper's traps do
# nothing: it outlives a SIGTERM to the group while Python saves its checkpoint, and Python starts
# with the default handlers (a trapped signal is reset in a child; an ignored one would stay
# ignored).
for ((i = 0; i < num_processes; i++)); do
  (
    trap : TERM INT
    if "$PYTHON" -m deepzoo.main --config="$config" --workdir="$workdir" \
      --coordinator_address="127.0.0.1:$port" --num_processes="$num_processes" --process_id="$i" "$@"
    then rc=0; else rc=$?; fi
    echo "$i $rc" >>"$exits"
    exit "$rc"
  ) </dev/null >>"$logs/process_$i.log" 2>&1 &
  pids+=("$!")
done
set +m

# Exit statuses: 0 finished; 143 or 130 stopped by a signal (after a checkpoint, once training had
# begun): the other processes stop at the same step, so wait for them; anything else is a failure:
# the first one stops the others.
stopped=""    # the status of the first process that stopped (143 or 130)
failed="" status=0 deadline=0
on_exit() {  # on_exit I STATUS: process I exited with STATUS; called in the order the processes exited
  reported[$1]=1
  case $2 in
    0) ;;
    130 | 143)
      if [[ -z $stopped && -z $signalled && -z $failed ]]; then
        echo "launch: process $1 stopped by a signal (status $2); waiting for the others to stop" >&2
      fi
      stopped=${stopped:-$2} ;;
    *)
      if [[ -z $failed ]]; then
        failed=$1 status=$2
        echo "launch: process $1 exited with status $2; stopping the other processes" >&2
        signal_all TERM
        deadline=$((SECONDS + kill_after))
      fi ;;
  esac
}

# Polling rather than `wait -n -p`, which needs bash >= 5.1.
count_running
while ((running > 0)); do
  for i in "${!pids[@]}"; do
    pid=${pids[i]}
    if [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null; then continue; fi
    if wait "$pid"; then rc=0; else rc=$?; fi
    pids[i]="" statuses[i]=$rc
  done
  # Every reaped wrapper has written its line (read after reaping); a line may also come from one that
  # is exiting now.
  while read -r i rc; do
    if [[ -z ${reported[i]:-} ]]; then on_exit "$i" "$rc"; fi
  done <"$exits"
  for i in "${!pids[@]}"; do  # a wrapper killed itself (SIGKILL to its group) wrote no line
    if [[ -n ${statuses[i]:-} && -z ${reported[i]:-} ]]; then on_exit "$i" "${statuses[i]}"; fi
  done
  if [[ -n $failed && $SECONDS -ge $deadline ]]; then
    signal_all KILL
  fi
  count_running
  if ((running == 0)); then break; fi
  sleep 1 &          # in the background it ignores SIGINT, and a trapped signal interrupts `wait`
  wait "$!" || true
done
sleep 0.5  # let tail print the last lines of process 0's log

if [[ -n $failed ]]; then
  echo "launch: FAILED: process $failed exited with status $status. Last lines of its log" \
       "($logs/process_$failed.log):" >&2
  tail -n 30 "$logs/process_$failed.log" >&2
  exit "$status"
fi
if [[ -n $stopped ]]; then
  # The signal this script received, else the one the processes did (they agree on it).
  if [[ -n $signalled ]]; then
    if [[ $signalled == INT ]]; then status=130; else status=143; fi
  else
    status=$stopped
  fi
  if ((status == 130)); then name=INT; else name=TERM; fi
  echo "launch: stopped by SIG$name after a checkpoint; rerun the same command to resume." >&2
  exit "$status"
fi
echo "launch: all $num_processes processes finished; logs in $logs"

"""run(program, workdir): the one run loop. A supervised run (trainer.py), a group of vmapped trials
(sweep.py) and a group of RL agents (rl/agents.py) are programs that it drives.

The loop owns, once for all of them:
    workdir/config.json           the program's config (config.resumed_at_<step>.json on each resume)
    workdir/status.json           running | stopped | failed | done, the step reached, seconds over resumes
    workdir/metrics.jsonl         one record per line: step, split, [member], seconds, values (writers.py)
    workdir/checkpoints/          Orbax: periodic, on SIGTERM/SIGINT, at the end; a damaged newest one is
                                  moved aside and the previous one used (checkpoint.py)
    workdir/results.json          the program's summary, written atomically at the end or at a stop
    workdir/learning_curves.png   the program's figure
and the stop signal, the progress line with ETA, periodic evaluation, the non-finite check and the
resume guard. A "step" here is the program's unit of work (program.unit: a train step; a chunk of
train steps of every vmapped trial; a chunk of iterations of every agent). A program gives:

    config                                  written to config.json
    unit, num_steps                         what one step of the loop is, and how many make the run
    steps_field                             the config field that sets num_steps, for messages
    log_every, eval_every, checkpoint_every, keep_checkpoints    in steps (eval_every 0: at the end only)
    members                                 names along a leading vmapped axis of the metrics, or ()
    abstract_state()                        the state's ShapeDtypeStructs with shardings: the restore target
    init()                                  a fresh state, placed on the devices
    begin(step)                             called once the start is known (opens the data at that step)
    run(state, step) -> (state, metrics)    one step, dispatched, not waited on: metrics {name: (sum, count)}
                                            on the device, with the train step's nonfinite_{loss,grads,update}
    train_records(metrics, step) -> [record]      the metrics summed since the last log, on the host
    evaluate(state, step) -> (state, [record])    a record is {"split": ..., ["member": ...,] name: value}
    summary(state, records) -> dict         results.json (besides step and seconds) from the latest records
    plot(records, path)                     draws learning_curves.png from metrics.jsonl's records
    flops_per_step                          model FLOPs of a step, for the MFU in the progress line (0: not shown)
    hardware_flops_per_step (optional)      XLA's count of a step, for the HFU beside it in metrics.jsonl
    steps_per_unit (optional, 1)            train steps in one step of the loop: metrics.jsonl counts train steps
A program whose run was started on a workdir with a checkpoint resumes from it: the same command gives
the same result as an uninterrupted run.
"""
import contextlib
import functools
import hashlib
import io
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from deepzoo.train import files, flops
from deepzoo.train.checkpoint import Checkpoints, OtherState
from deepzoo.train.writers import MetricWriter, Progress, read_metrics

# Steps dispatched ahead of the device. Bounded: queued batches hold memory, and XLA:CPU's fake
# devices can deadlock in a collective with many sharded steps in flight (seen with jax 0.10.2).
_MAX_IN_FLIGHT = 4
# With several processes, how often (in steps) they agree on whether a stop signal arrived.
_STOP_SYNC_EVERY = 10
_NONFINITE = ("loss", "grads", "update")
# Config fields that a resumed run may change unasked: how long it runs, how often it logs, evaluates and
# checkpoints, how it evaluates. A program may give its own list (program.free_to_change).
FREE_TO_CHANGE = ("num_train_steps", "num_epochs", "num_chunks", "log_every_steps", "eval_every_steps",
                  "checkpoint_every_steps", "log_every_epochs", "eval_every_epochs", "checkpoint_every_epochs",
                  "keep_checkpoints", "eval_batch_size", "eval_episodes", "reference")
# The train metrics summed since the last record when a signal stopped the run between two records.
_CARRIED = "metrics_since_last_record.npz"


class NonFiniteError(FloatingPointError):
    """The loss, the gradients or the update became NaN or Inf."""


class Stopped(Exception):
    """A signal stopped the run before its last step; its checkpoint is saved and the same command resumes it.
    Raised (after the checkpoint, metrics and results.json are written) so that no caller takes a part-run for
    a finished one. `signal` names the signal ("SIGTERM" or "SIGINT")."""

    def __init__(self, message: str, signal: str = "SIGTERM"):
        super().__init__(message)
        self.signal = signal


class StopSignal(contextlib.AbstractContextManager):
    """SIGTERM/SIGINT ask the loop to checkpoint and stop; a second SIGINT interrupts at once."""

    def __init__(self):
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        logging.warning("%s received: saving a checkpoint and stopping.", self.received)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def requested(self, sync: bool) -> bool:
        """Whether to stop now; with sync, every process learns whether any process was signalled."""
        if jax.process_count() == 1:
            return self.received is not None
        if not sync:
            return False
        received = multihost_utils.process_allgather(np.array(signal.Signals[self.received] if self.received else 0))
        if self.received is None and received.any():  # another process was signalled: stop as it does
            self.received = signal.Signals(int(received.max())).name
        return self.received is not None


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: tree}


def _launch_configs(workdir) -> list:
    """config.json and config.resumed_at_<step>.json, oldest launch first."""
    resumed = sorted(workdir.glob("config.resumed_at_*.json"), key=lambda p: p.stat().mtime)
    return [p for p in [workdir / "config.json", *resumed] if p.exists()]


def _config_changes(workdir, config) -> dict[str, tuple]:
    """{field: (before, now)} for each field in which `config` differs from the workdir's latest launch. A field
    that a newer deepzoo added is no change while it is off ("", 0, (), False): that is how the run went."""
    launches = _launch_configs(workdir)
    if not launches:
        return {}
    before, now = _flatten(json.loads(launches[-1].read_text())), _flatten(json.loads(config.to_json_best_effort()))
    return {k: (before.get(k), now.get(k)) for k in sorted(set(before) | set(now))
            if before.get(k) != now.get(k) and (k in before or now[k])}


def _described(changes: dict[str, tuple]) -> str:
    return "; ".join(f"{k} {before!r} -> {now!r}" for k, (before, now) in changes.items())


def _free(field: str, program) -> bool:
    return any(field == f or field.startswith(f"{f}.") for f in getattr(program, "free_to_change", FREE_TO_CHANGE))


def _guard_changes(program, workdir, start: int, allow_changes: bool):
    """A resumed run whose config changed in more than its length and cadences stops with the changes
    listed, unless allowed; what changed is logged and recorded in config_changes.jsonl."""
    changes = _config_changes(workdir, program.config)
    if not changes:
        return
    refused = {k: v for k, v in changes.items() if not _free(k, program)}
    if refused and not allow_changes:
        raise ValueError(f"{workdir} holds a run at {program.unit} {start} of another config: {_described(refused)}. "
                         f"Resuming it would mix two configs. Rerun with the config it was started with, use a new "
                         f"--workdir, or pass --allow_config_changes to resume it with these changes.")
    logging.warning("Resuming at %s %d with config changes: %s.", program.unit, start, _described(changes))
    if jax.process_index() == 0:
        with (workdir / "config_changes.jsonl").open("a") as f:
            f.write(json.dumps({program.unit: start, "changes": changes, "allowed": bool(refused)}) + "\n")


def _sum_and_check(history, first_step: int, program, carried=None):
    """The metrics of `history` (one entry per step, the first `first_step`) summed on the host after
    `carried` (the sum of earlier steps), without the non-finite flags; raises NonFiniteError naming the first
    step (and members) whose loss, gradients or update were not finite."""
    fetched = jax.tree.map(np.asarray, jax.device_get(history))
    for step, m in enumerate(fetched, first_step):
        for quantity in _NONFINITE:
            bad = np.asarray(m.get(f"nonfinite_{quantity}", (0.0, 1.0))[0]) > 0
            if bad.any():
                who = f" in {', '.join(program.members[i] for i in np.flatnonzero(bad))}" if bad.ndim else ""
                raise NonFiniteError(f"non-finite {quantity}{who} at {program.unit} {step}")
    fetched = [{k: v for k, v in m.items() if not k.startswith("nonfinite_")} for m in fetched]
    return jax.tree.map(lambda *xs: sum(xs), *([carried] if carried else []), *fetched)


def _save_carried(workdir, step: int, total):
    """The sums of the steps since the last record, kept with a stop's checkpoint: the resumed run adds them to
    its first record, which then equals an uninterrupted run's."""
    if jax.process_index() == 0:
        buffer = io.BytesIO()
        np.savez(buffer, step=step, **{f"{k}/{i}": x for k, pair in total.items() for i, x in enumerate(pair)})
        files.write(workdir / _CARRIED, buffer.getvalue())


def _load_carried(workdir, step: int):
    path = workdir / _CARRIED
    if not path.exists():
        return None
    with path.open("rb") as f, np.load(f) as saved:
        if int(saved["step"]) != step:
            return None
        names = {k.rsplit("/", 1)[0] for k in saved.files if k != "step"}
        return {k: (saved[f"{k}/0"], saved[f"{k}/1"]) for k in names}


def _means(records: list[dict]) -> dict[str, float]:
    """Every number of `records` averaged over their members (a sweep's trials, an agent's seeds), named
    with its split unless that is "train": the progress line's values."""
    values = {}
    for r in records:
        prefix = "" if r["split"] == "train" else f"{r['split']}_"
        for k, v in r.items():
            if isinstance(v, (int, float)) and k not in ("step", "seconds") and not k.endswith("_per_sec"):
                values.setdefault(prefix + k, []).append(v)
    return {k: float(np.mean(v)) for k, v in values.items()}


@functools.cache
def code_version() -> str:
    """What identifies the code that runs: in a git checkout, the trees of deepzoo/ and configs/ at HEAD (so
    that a commit of results or docs changes nothing) and a hash of their uncommitted changes; else the
    installed version."""
    import deepzoo  # noqa: PLC0415
    checkout = Path(deepzoo.__file__).resolve().parents[1]
    git = lambda *args: subprocess.run(["git", "--no-optional-locks", "-C", str(checkout), *args],
                                       capture_output=True, text=True, timeout=30)
    try:
        trees = git("rev-parse", "HEAD:deepzoo", "HEAD:configs")
        if trees.returncode == 0 and (checkout / ".git").exists():
            diff = git("diff", "HEAD", "--", "deepzoo", "configs").stdout
            dirty = f"+{hashlib.sha1(diff.encode()).hexdigest()[:8]}" if diff else ""
            return "/".join(tree[:12] for tree in trees.stdout.split()) + dirty
    except (OSError, subprocess.SubprocessError):
        pass
    return deepzoo.__version__


def _status(workdir) -> dict:
    path = workdir / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"status": "new", "seconds": 0.0}


def finished(workdir) -> bool:
    """Whether the run in `workdir` has finished (a stopped or failed run also has a results.json)."""
    return _status(Path(workdir)).get("status") == "done"


class _Workdir:
    """The run's files besides its checkpoints (written by process 0 only) and its newest records."""

    def __init__(self, workdir, program, start: int):
        self.path, self.program, self.lead = workdir, program, jax.process_index() == 0
        self.per_unit = getattr(program, "steps_per_unit", 1)
        before = _status(workdir)
        self.seconds_before = before.get("seconds", 0.0) if start else 0.0
        # The code that trained the run from its start: a reuse by other code is told each time, never hidden.
        self.code = before.get("code", code_version()) if start else code_version()
        if self.code != code_version():
            logging.warning("%s was trained by deepzoo %s, and this is %s: its checkpoints (and results, if it "
                            "finished) are used as they are. To train it with this code, use a new --workdir.",
                            workdir, self.code, code_version())
        self.started = time.perf_counter()
        self.latest = {}   # (split, member) -> the newest record
        if self.lead:  # each launch's config, the first one kept as config.json
            name = "config.json" if start == 0 else f"config.resumed_at_{start}.json"
            files.write(workdir / name, program.config.to_json_best_effort(indent=2))
        self.writer = MetricWriter(workdir, resume_step=start * self.per_unit)
        self.remember([{k: v for k, v in r.items() if k not in ("step", "seconds")} for r in self.writer.records])

    def seconds(self) -> float:
        """Wall time of the run, over its resumes."""
        return round(self.seconds_before + time.perf_counter() - self.started, 2)

    def status(self, status: str, step: int, **extra):
        if self.lead:
            unit = self.program.unit
            files.write_json(self.path / "status.json", {"status": status, unit: step, f"num_{unit}s":
                                                         self.program.num_steps, "seconds": self.seconds(),
                                                         "code": self.code, **extra})

    def remember(self, records):
        self.latest.update({(r["split"], r.get("member")): r for r in records})

    def write(self, step: int, records):
        for r in records:
            self.writer.write(step * self.per_unit, r["split"],
                              {"seconds": self.seconds(), **{k: v for k, v in r.items() if k != "split"}})
        self.writer.flush()
        self.remember(records)

    def finished(self) -> dict | None:
        """results.json as the finished run wrote it, or None if it is missing, torn or a stop's."""
        try:
            results = json.loads((self.path / "results.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return results if results.get("step") == self.program.num_steps else None

    def finish(self, state, step: int) -> dict:
        """results.json and the learning curves."""
        results = {"step": step, **self.program.summary(state, list(self.latest.values())), "seconds": self.seconds()}
        if self.lead:
            self.program.plot(read_metrics(self.path), self.path / "learning_curves.png")
            files.write_json(self.path / "results.json", results)
        return results


def _restore(program, checkpoints, workdir, allow_changes: bool):
    """(start, state): the newest readable checkpoint's, or a fresh state at 0; the resume guards."""
    try:
        start, state = checkpoints.restore(program.abstract_state())
    except OtherState as e:
        changes = _config_changes(workdir, program.config)
        raise OtherState(f"{e}{f' Changed: {_described(changes)}.' if changes else ''}") from None
    if state is None:
        start, state = 0, program.init()
    else:
        _guard_changes(program, workdir, start, allow_changes)
    if start > program.num_steps:
        raise ValueError(f"{workdir} holds a checkpoint at {program.unit} {start}, past {program.steps_field}="
                         f"{program.num_steps}: raise it to continue that run, or use a new --workdir.")
    logging.info("%s at %s %d of %d on %d devices (%d processes); workdir %s.", "Resuming" if start else "Starting",
                 program.unit, start, program.num_steps, jax.device_count(), jax.process_count(), workdir)
    return start, state


def _log(program, history, step, run, progress, checkpoints, carried=None, record=True):
    """The train records of the steps in `history` (after the `carried` sums), written with the rate; raises on
    a non-finite step. Without `record`: their sums, to carry into the next record."""
    try:
        total = _sum_and_check(history, step - len(history) + 1, program, carried)
    except NonFiniteError as e:
        run.status("failed", checkpoints.steps()[-1] if checkpoints.steps() else 0, error=str(e))
        raise NonFiniteError(f"{e}; training stopped. The last good checkpoint is kept in {checkpoints.directory} "
                             f"({program.unit}s {checkpoints.steps()}). Lower the learning rate or set "
                             f"--config.optimizer.grad_clip_norm.") from None
    if not record:
        return total
    records = program.train_records(total, step)
    rate = progress(step, _means(records + [r for r in run.latest.values() if r["split"] != "train"]))
    extra = {f"{program.unit}s_per_sec": rate}
    if progress.mfu(rate):
        extra.update(mfu=progress.mfu(rate), hfu=getattr(program, "hardware_flops_per_step", 0.0) * rate / progress.peak_flops)
    run.write(step, [{**r, **extra} for r in records])


def run(program, workdir, *, allow_changes: bool = False) -> dict:
    """Runs `program` in `workdir` to its last step, resuming from a checkpoint there; returns its results.
    A resumed run whose config changed beyond FREE_TO_CHANGE is refused unless `allow_changes`."""
    workdir = files.path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoints = Checkpoints(workdir / "checkpoints", max_to_keep=program.keep_checkpoints)
    start, state = _restore(program, checkpoints, workdir, allow_changes)
    run_files, num_steps = _Workdir(workdir, program, start), program.num_steps
    history, step, stopping, carried = [], start, False, _load_carried(workdir, start)
    if start == num_steps:  # a finished run: its results as they were written, else evaluated again
        results = run_files.finished()
        if results is not None:
            checkpoints.close()
            run_files.writer.close()
            run_files.status("done", step)
            return results
        program.begin(start)
        state, records = program.evaluate(state, step)
        run_files.remember(records)
    else:
        program.begin(start)
    # the models' compute dtype (a model field) sets the accelerator's peak
    dtype = (program.config.get("model") or {}).get("kwargs", {}).get("dtype", "float32")
    peak = flops.peak_flops(dtype) if program.flops_per_step else 0.0
    progress = Progress(start, num_steps, program.flops_per_step, peak, unit=program.unit)
    try:
        with StopSignal() as stop:
            for step in range(start + 1, num_steps + 1):
                state, metrics = program.run(state, step)
                if len(history) >= _MAX_IN_FLIGHT:
                    jax.block_until_ready(history[-_MAX_IN_FLIGHT])
                history.append(metrics)
                log_now = step % program.log_every == 0
                eval_now = step == num_steps or (program.eval_every and step % program.eval_every == 0)
                stopping = stop.requested(sync=step % _STOP_SYNC_EVERY == 0 or log_now or eval_now) \
                    and step < num_steps
                # Records at log and checkpoint steps only, whenever the process started: a stop in between
                # carries its sums over to the resumed run's next record.
                record_now = log_now or step == num_steps or step % program.checkpoint_every == 0
                if record_now or stopping:  # fetching metrics is a sync point: only every few steps
                    carried = _log(program, history, step, run_files, progress, checkpoints, carried, record_now)
                    history = []
                    if not record_now:
                        _save_carried(workdir, step, carried)
                if eval_now:
                    state, records = program.evaluate(state, step)
                    run_files.write(step, records)
                if step == num_steps or stopping or step % program.checkpoint_every == 0:
                    checkpoints.save(step, state)
                    run_files.status("stopped" if stopping else "running", step)
                if stopping:
                    break
    finally:
        checkpoints.wait()
        checkpoints.close()
        run_files.writer.close()
    results = run_files.finish(state, step)
    if stopping:
        raise Stopped(f"stopped by {stop.received} at {program.unit} {step} of {num_steps}; the checkpoint is in "
                      f"{checkpoints.directory}: rerun the same command to resume.", stop.received)
    run_files.status("done", step)
    if jax.process_count() > 1:  # no process exits while another still writes (a scheduler may kill the rest)
        multihost_utils.sync_global_devices("run done")
    return results

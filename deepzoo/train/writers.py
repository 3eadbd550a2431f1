"""Where metrics go: JSONL (one record per line, easy to load), TensorBoard event files and a progress
line in the log (the learning-curve PNG is deepzoo/plots/curves.py). Only process 0 writes."""
import json
import time

import jax
from absl import logging

from deepzoo.train import files


class MetricWriter:
    """Appends each flush's records to metrics.jsonl and fsyncs them (a bucket's file is rewritten whole:
    objects cannot be appended to, and a run's metrics are small). A resumed run first cuts the file back to
    the records at or before the step it resumes from, so that it ends as an uninterrupted run's would."""

    def __init__(self, workdir, *, resume_step: int = 0):
        self.enabled = jax.process_index() == 0
        self.path = files.path(workdir) / "metrics.jsonl"
        self.records, self._written, self._tb = [], 0, None
        if self.enabled:
            self.records = [r for r in read_metrics(workdir) if r["step"] <= resume_step]
            files.write(self.path, "".join(json.dumps(r) + "\n" for r in self.records))
            self._written = len(self.records)
            from tensorboardX import SummaryWriter  # noqa: PLC0415  (imports protobuf; only process 0)
            # purge_step hides the records of steps that a resumed run redoes.
            self._tb = SummaryWriter(str(files.path(workdir) / "tensorboard"), purge_step=resume_step + 1)

    def write(self, step: int, split: str, values: dict[str, float]):
        """Adds one record (and its TensorBoard scalars); on disk at the next flush."""
        if not self.enabled:
            return
        self.records.append({"step": step, "split": split, **values})
        member = f"{values['member']}/" if "member" in values else ""   # a trial of a sweep, a seed
        for name, value in values.items():
            if isinstance(value, (int, float)):
                self._tb.add_scalar(f"{split}/{member}{name}", value, step)

    def flush(self):
        """Appends the records written since the last flush to metrics.jsonl and fsyncs it."""
        if self.enabled:
            if files.is_local(self.path):
                files.append_lines(self.path, [json.dumps(r) for r in self.records[self._written:]])
            else:
                files.write(self.path, "".join(json.dumps(r) + "\n" for r in self.records))
            self._written = len(self.records)
            self._tb.flush()

    def close(self):
        """Closes the TensorBoard writer."""
        if self.enabled:
            self.flush()
            self._tb.close()


def read_metrics(workdir) -> list[dict]:
    """The records of metrics.jsonl ([] if there is none). A torn last line (a kill while it was written) is
    dropped with a warning; a damaged line before it is an error."""
    p = files.path(workdir) / "metrics.jsonl"
    if not p.exists():
        return []
    lines = [line for line in p.read_text().split("\n") if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i < len(lines) - 1:
                raise ValueError(f"{p}, line {i + 1}, is not JSON ({e}); the lines after it are whole, so the file "
                                 f"was edited or damaged: repair or remove that line.") from None
            logging.warning("Dropped the torn last line of %s (a run killed while writing it): %r", p, line[:80])
    return records


class Progress:
    """`step 1200/6000 | loss 0.912 | accuracy 0.710 | 812.3 steps/s | ETA 0:00:06`, and `| MFU 31.2%`
    given the FLOPs of a step and the machine's peak FLOP/s (deepzoo/train/flops.py). `unit` names the
    loop's step: "epoch" for a sweep, "chunk" for agents."""

    def __init__(self, start_step: int, num_steps: int, step_flops: float = 0.0, peak_flops: float = 0.0,
                 unit: str = "step"):
        self.num_steps, self.last_step, self.last_time = num_steps, start_step, time.perf_counter()
        self.step_flops, self.peak_flops, self.unit = step_flops, peak_flops, unit
        self.compiled = False   # the first interval includes compiling: no ETA from it

    def mfu(self, rate: float) -> float | None:
        """Model FLOPs utilisation at `rate` steps/s; None without the FLOPs of a step or the peak."""
        return self.step_flops * rate / self.peak_flops if self.step_flops and self.peak_flops else None

    def __call__(self, step: int, values: dict[str, float]) -> float:
        """Logs the progress line at `step` with `values`; returns the step rate since the last call."""
        now = time.perf_counter()
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.last_step, self.last_time = step, now
        if self.compiled:
            eta = time.strftime("%H:%M:%S", time.gmtime((self.num_steps - step) / max(rate, 1e-9)))
        else:
            eta, self.compiled = "at the next record (this interval included compiling)", True
        shown = " | ".join(f"{k} {v:.4g}" for k, v in values.items())
        mfu = self.mfu(rate)
        shown_mfu = "" if mfu is None else f" | MFU {100 * mfu:.1f}%"
        logging.info("%s %d/%d | %s | %.3g %ss/s%s | ETA %s", self.unit, step, self.num_steps, shown, rate, self.unit,
                     shown_mfu, eta)
        return rate

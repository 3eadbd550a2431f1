"""launch/multiprocess.sh end to end: 2 real processes x 4 CPU devices, stopped by signals mid-run. Its exit
status says what happened (launch/README.md): 143 stopped after a checkpoint, else the status of the process
that failed first."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepzoo import data

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--config.batch_size=128", "--config.eval_batch_size=1024", "--config.num_train_steps=400",
         "--config.checkpoint_every_steps=100000"]   # checkpoints only when stopped and at the end

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds processes in /proc")]


@pytest.fixture(scope="module", autouse=True)
def mnist1d():
    data.load("mnist1d", "train")  # prepared once here, so the processes only read it


def processes_of(workdir) -> dict[int, int]:
    """{process_id: pid} of the deepzoo processes training in `workdir`."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if "deepzoo.main" in args and f"--workdir={workdir}" in args:
            found.update({int(a.split("=")[1]): int(proc.name) for a in args if a.startswith("--process_id=")})
    return found


class Launch:
    """launch/multiprocess.sh CONFIG WORKDIR FLAGS in the background, its output in WORKDIR.out."""

    def __init__(self, workdir):
        self.workdir, self.output = workdir, Path(f"{workdir}.out")
        env = {**os.environ, "NUM_PROCESSES": "2", "DEVICES_PER_PROCESS": "4", "KILL_AFTER": "5",
               "PYTHON": sys.executable}
        env.pop("XLA_FLAGS", None)   # conftest's 8 devices: the script sets 4 per process
        with open(self.output, "w") as out:
            self.launcher = subprocess.Popen(
                ["bash", str(ROOT / "launch" / "multiprocess.sh"), "configs/mnist1d_mlp.py:smoke", str(workdir),
                 *FLAGS], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for_training(self, timeout=120):
        """Until process 0 has written its first train metrics (training is under way)."""
        metrics, deadline = Path(self.workdir) / "metrics.jsonl", time.monotonic() + timeout
        while not (metrics.exists() and '"train"' in metrics.read_text()):
            assert self.launcher.poll() is None, f"the launcher exited early:\n{self.output.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no training after {timeout} s:\n{self.output.read_text()[-3000:]}"
            time.sleep(0.2)

    def finish(self, timeout=120) -> tuple[int, str]:
        """The launcher's exit status and output; kills everything left if it does not end in time."""
        try:
            rc = self.launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in [self.launcher.pid, *processes_of(self.workdir).values()]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.launcher.wait()
            pytest.fail(f"the launcher did not exit in {timeout} s:\n{self.output.read_text()[-3000:]}")
        return rc, self.output.read_text()


def checkpoints(workdir):
    directory = Path(workdir) / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


def test_sigterm_to_launcher_stops_with_a_checkpoint_and_resumes(tmp_path):
    workdir = str(tmp_path / "run")
    run = Launch(workdir)
    run.wait_for_training()
    run.launcher.send_signal(signal.SIGTERM)
    rc, out = run.finish()
    assert rc == 143, out[-3000:]
    assert "FAILED" not in out and "stopped by SIGTERM after a checkpoint" in out, out[-3000:]
    assert checkpoints(workdir) and checkpoints(workdir)[-1] < 400, out[-3000:]

    rc, out = Launch(workdir).finish()   # the same command again resumes and finishes the run
    assert rc == 0, out[-3000:]
    assert "all 2 processes finished" in out, out[-3000:]
    assert checkpoints(workdir)[-1] == 400


def test_killed_process_is_named_and_its_status_returned(tmp_path):
    workdir = str(tmp_path / "run")
    run = Launch(workdir)
    run.wait_for_training()
    os.kill(processes_of(workdir)[1], signal.SIGKILL)   # process 0 fails a moment later, as its peer is gone
    rc, out = run.finish()
    assert rc == 137, out[-3000:]
    assert "FAILED: process 1 exited with status 137" in out, out[-3000:]
    assert "process 0 exited" not in out, out[-3000:]


def test_sigterm_to_the_processes_themselves_stops_them(tmp_path):
    workdir = str(tmp_path / "run")
    run = Launch(workdir)
    run.wait_for_training()
    pids = processes_of(workdir)
    assert sorted(pids) == [0, 1]
    for pid in pids.values():   # as a scheduler would: to the processes, not to the launcher
        os.kill(pid, signal.SIGTERM)
    rc, out = run.finish()
    assert rc == 143, out[-3000:]
    assert "FAILED" not in out and "stopped by SIGTERM after a checkpoint" in out, out[-3000:]
    assert checkpoints(workdir), out[-3000:]

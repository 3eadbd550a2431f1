"""Faults a run survives, each created on purpose; the test names say which. After each, the run resumes from
the newest readable checkpoint and ends as an uninterrupted run does: parameters bitwise equal,
metrics.jsonl equal line for line (but for wall-time fields), results.json whole.

    checkpoints   an empty / truncated / file-less / garbled newest step; a step damaged twice; every step
                  damaged; another state (a changed width); a read error that passes; one that does not
    metrics       a torn last line; a damaged line before it; a stop between two records
    results.json  a rerun of a finished run; a kill between the final save and results.json
    config        a changed learning rate on resume (refused, or allowed and recorded); a longer run (free)
    errors        bad input on the command line: one short line with the fix, no traceback
    kill -9       20 kills at random points of a run (slow)
"""
import errno
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest
from test_trainer import SMALL, final_checkpoint, interrupt_at, small_config

from deepzoo.train import checkpoint, files, loop, trainer
from deepzoo.train.writers import read_metrics

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted run of small_config(): checkpoints at steps 10 and 20, records every 5 steps."""
    workdir = tmp_path_factory.mktemp("straight")
    trainer.train_and_evaluate(small_config(), workdir)
    return workdir


def copy_of(straight, tmp_path, *, drop_steps=()) -> Path:
    """The straight run's workdir copied, without the checkpoints of `drop_steps` (as if it had stopped)."""
    workdir = tmp_path / "run"
    shutil.copytree(straight, workdir)
    for step in drop_steps:
        shutil.rmtree(workdir / "checkpoints" / str(step))
    return workdir


def timeless(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("seconds", "mfu", "hfu") and not k.endswith("_per_sec")}


def assert_same_run(workdir, straight):
    """Parameters bitwise, metrics.jsonl line for line and results.json as the uninterrupted run's."""
    _, mine = final_checkpoint(str(workdir))
    _, reference = final_checkpoint(str(straight))
    jax.tree.map(np.testing.assert_array_equal, mine, reference)
    assert [timeless(r) for r in read_metrics(workdir)] == [timeless(r) for r in read_metrics(straight)]
    results = [json.loads((w / "results.json").read_text()) for w in (workdir, straight)]
    assert timeless(results[0]) == timeless(results[1])


def checkpoint_steps(workdir) -> list[int]:
    return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


# --- checkpoints -------------------------------------------------------------------------------------

def empty(step_dir: Path):  # a save killed right after mkdir
    shutil.rmtree(step_dir)
    step_dir.mkdir()


def truncated(step_dir: Path):  # a save killed while writing the arrays
    biggest = max(glob.glob(f"{step_dir}/default/ocdbt.process_0/d/*"), key=os.path.getsize)
    with open(biggest, "r+b") as f:
        f.truncate(os.path.getsize(biggest) // 2)


def without_arrays(step_dir: Path):  # files lost
    shutil.rmtree(step_dir / "default" / "ocdbt.process_0")


def garbled_metadata(step_dir: Path):
    (step_dir / "default" / "_METADATA").write_text("{not json")


@pytest.mark.parametrize("damage", [empty, truncated, without_arrays, garbled_metadata])
def test_a_damaged_newest_checkpoint_is_moved_aside_and_the_previous_one_resumes(straight, tmp_path, damage, caplog,
                                                                                 capfd):
    workdir = copy_of(straight, tmp_path)
    damage(workdir / "checkpoints" / "20")
    (workdir / "results.json").unlink()   # the run did not finish: its last save was cut short
    trainer.train_and_evaluate(small_config(), workdir)
    assert "Checkpoint at step 20" in caplog.text and "is damaged" in caplog.text
    assert "Traceback" not in capfd.readouterr().err   # the failed read's leftovers are not reported
    assert (workdir / "checkpoints_damaged" / "20").is_dir()   # kept for inspection, not deleted
    assert_same_run(workdir, straight)   # steps 11-20 trained again from step 10


def test_a_step_damaged_twice_keeps_both_damaged_copies(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    for _ in range(2):
        empty(workdir / "checkpoints" / "20")
        (workdir / "results.json").unlink()
        trainer.train_and_evaluate(small_config(), workdir)
    assert sorted(p.name for p in (workdir / "checkpoints_damaged").iterdir()) == ["20", "20.1"]
    assert_same_run(workdir, straight)


def test_every_checkpoint_damaged_is_said_and_nothing_is_moved(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    empty(workdir / "checkpoints" / "10")
    truncated(workdir / "checkpoints" / "20")
    with pytest.raises(ValueError, match=r"every checkpoint in .* is damaged \(steps \[10, 20\].*Move that folder"):
        trainer.train_and_evaluate(small_config(), workdir)
    assert checkpoint_steps(workdir) == [10, 20] and not (workdir / "checkpoints_damaged").exists()


def test_another_state_says_the_config_changed_and_nothing_is_moved(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    with pytest.raises(checkpoint.OtherState, match=r"hold another state .*params/hidden_0/kernel \(40, 100\) in the "
                                                    r"checkpoint, \(40, 64\) now.*config changed.*new --workdir.*"
                                                    r"model.kwargs.width 100 -> 64"):
        trainer.train_and_evaluate(small_config(**{"model.kwargs.width": 64}), workdir)
    assert checkpoint_steps(workdir) == [10, 20] and not (workdir / "checkpoints_damaged").exists()


def failing_reads(monkeypatch, times: int):
    """Makes the first `times` checkpoint reads fail as a network file system does for a moment."""
    monkeypatch.setattr(checkpoint, "_RETRY_PAUSE_S", 0.0)
    original, calls = ocp.CheckpointManager.restore, []

    def restore(self, *args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise OSError(errno.EIO, "Input/output error")
        return original(self, *args, **kwargs)
    monkeypatch.setattr(ocp.CheckpointManager, "restore", restore)
    return calls


def test_a_read_error_that_passes_is_retried_and_nothing_is_moved(straight, tmp_path, monkeypatch, caplog):
    workdir = copy_of(straight, tmp_path, drop_steps=[20])
    calls = failing_reads(monkeypatch, times=2)
    trainer.train_and_evaluate(small_config(), workdir)
    assert len(calls) == 3 and "trying again" in caplog.text
    assert not (workdir / "checkpoints_damaged").exists()
    assert_same_run(workdir, straight)


def test_a_read_error_that_persists_fails_the_run_and_moves_nothing(straight, tmp_path, monkeypatch):
    workdir = copy_of(straight, tmp_path, drop_steps=[20])
    failing_reads(monkeypatch, times=99)
    with pytest.raises(checkpoint.CheckpointReadError, match=r"step 10 .* after 3 tries.*Nothing was moved"):
        trainer.train_and_evaluate(small_config(), workdir)
    assert checkpoint_steps(workdir) == [10] and not (workdir / "checkpoints_damaged").exists()


# --- metrics.jsonl -------------------------------------------------------------------------------------

def test_a_torn_last_metrics_line_is_dropped_and_the_run_resumes(straight, tmp_path, caplog):
    workdir = copy_of(straight, tmp_path, drop_steps=[20])
    (workdir / "results.json").unlink()
    kept = [json.dumps(r) + "\n" for r in read_metrics(straight) if r["step"] <= 10]
    torn = json.dumps(read_metrics(straight)[len(kept)])[:25]   # killed while appending step 15's record
    (workdir / "metrics.jsonl").write_text("".join(kept) + torn)
    trainer.train_and_evaluate(small_config(), workdir)
    assert "torn last line" in caplog.text
    assert_same_run(workdir, straight)


def test_a_damaged_metrics_line_before_the_last_is_an_error(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 5, "split": "train"}\n{"step": 1\n{"step": 10, "split": "train"}\n')
    with pytest.raises(ValueError, match=r"line 2, is not JSON.*repair or remove that line"):
        read_metrics(tmp_path)


def test_a_stop_between_two_records_resumes_to_the_same_metrics(straight, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, step=6)   # SIGTERM during step 7, between the records of steps 5 and 10
    with pytest.raises(trainer.Stopped, match="by SIGTERM at step 7 of 20.*rerun the same command"):
        trainer.train_and_evaluate(small_config(), tmp_path)
    assert checkpoint_steps(tmp_path) == [7]
    assert [r["step"] for r in read_metrics(tmp_path)] == [5]   # steps 6-7 are carried, not recorded
    monkeypatch.undo()
    trainer.train_and_evaluate(small_config(), tmp_path)
    assert_same_run(tmp_path, straight)


def test_sigint_also_checkpoints(tmp_path, monkeypatch):
    import signal
    interrupt_at(monkeypatch, step=3, signum=signal.SIGINT)
    with pytest.raises(trainer.Stopped) as stopped:
        trainer.train_and_evaluate(small_config(), tmp_path)
    assert stopped.value.signal == "SIGINT" and checkpoint_steps(tmp_path) == [4]


# --- results.json ------------------------------------------------------------------------------------

def test_a_rerun_of_a_finished_run_leaves_results_json_as_it_was(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    before = (workdir / "results.json").read_bytes()
    results = trainer.train_and_evaluate(small_config(), workdir)
    assert (workdir / "results.json").read_bytes() == before and "loss" in results
    assert json.loads((workdir / "status.json").read_text())["status"] == "done"


def test_a_run_trained_by_other_code_says_so_when_reused(straight, tmp_path, caplog):
    # Results of a finished run are reused as they are: a reader must learn they come from other code.
    workdir = copy_of(straight, tmp_path)
    status = json.loads((workdir / "status.json").read_text())
    assert status["code"] == loop.code_version()
    (workdir / "status.json").write_text(json.dumps({**status, "code": "0123abcd"}))
    for _ in range(2):   # the record keeps the code that trained it: every reuse is told
        caplog.clear()
        trainer.train_and_evaluate(small_config(), workdir)
        assert any("was trained by deepzoo 0123abcd" in r.getMessage() for r in caplog.records)
        assert json.loads((workdir / "status.json").read_text())["code"] == "0123abcd"


def test_results_json_lost_after_the_final_save_is_rebuilt_whole(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    (workdir / "results.json").unlink()   # killed between the last checkpoint and results.json
    trainer.train_and_evaluate(small_config(), workdir)
    assert_same_run(workdir, straight)   # the train metrics too, from metrics.jsonl


# --- config changes on resume ---------------------------------------------------------------------------

def test_a_changed_learning_rate_on_resume_is_refused_unless_allowed_and_then_recorded(straight, tmp_path):
    workdir = copy_of(straight, tmp_path, drop_steps=[20])
    changed = small_config(**{"optimizer.learning_rate": 0.05, "seed": 3})
    with pytest.raises(ValueError, match=r"at step 10 of another config: optimizer.learning_rate 0.01 -> 0.05; seed 0 "
                                         r"-> 3.*--allow_config_changes"):
        trainer.train_and_evaluate(changed, workdir)
    assert checkpoint_steps(workdir) == [10]
    trainer.train_and_evaluate(changed, workdir, allow_changes=True)
    (line,) = (workdir / "config_changes.jsonl").read_text().splitlines()
    assert json.loads(line) == {"step": 10, "changes": {"optimizer.learning_rate": [0.01, 0.05], "seed": [0, 3]},
                                "allowed": True}


def test_a_longer_run_and_other_cadences_need_no_permission(straight, tmp_path):
    workdir = copy_of(straight, tmp_path)
    results = trainer.train_and_evaluate(small_config(num_train_steps=25, eval_every_steps=5), workdir)
    assert results["step"] == 25
    changes = json.loads((workdir / "config_changes.jsonl").read_text())["changes"]
    assert changes == {"eval_every_steps": [10, 5], "num_train_steps": [20, 25]}


def test_a_field_added_since_the_run_started_is_no_change_while_it_is_off(tmp_path):
    config = ml_collections.ConfigDict(dict(seed=0, init_from=dict(workdir="", layers=())))
    (tmp_path / "config.json").write_text(json.dumps({"seed": 0}))   # written by a deepzoo without init_from
    assert loop._config_changes(tmp_path, config) == {}
    config.init_from.workdir = "runs/pretrain"
    assert loop._config_changes(tmp_path, config) == {"init_from.workdir": (None, "runs/pretrain")}


# --- bad input on the command line ------------------------------------------------------------------------

def cli(*flags):
    flags = [f"--config.{k}={v}" for k, v in SMALL.items()] + list(flags)
    return subprocess.run([sys.executable, "-m", "deepzoo.main", "--config=configs/mnist1d_mlp.py:smoke", *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def said(result) -> list[str]:
    """What the command printed, besides log lines (absl's I/W/E1204 12:00:00.000 prefix)."""
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and not (line[:1] in "IWEF" and line[1:5].isdigit())]


@pytest.mark.parametrize("flags,message", [
    (["--config.model.name=resnet5"], r"^error: unknown model 'resnet5'. Did you mean 'resnet50'"),
    (["--config.optimizer.learnig_rate=0.1"], r"^error: --config.optimizer.learnig_rate: the config has no field "
                                               r"'learnig_rate'. Did you mean 'learning_rate'\?"),
    (["--config.dataset.name=mnist_1d"], r"^error: unknown dataset 'mnist_1d'.*offline datasets \(digits"),
    (["--workdir=FILE"], r"^error: .*afile: a file is in the way: --workdir must be a directory"),
    (["--workdir=OLD", "--config.model.kwargs.width=64"], r"^error: the checkpoints in .* hold another state .*"
                                                           r"model.kwargs.width 100 -> 64"),
])
def test_bad_input_is_told_in_one_line_without_a_traceback(straight, tmp_path, flags, message):
    (tmp_path / "afile").write_text("")
    old = copy_of(straight, tmp_path)
    flags = [f.replace("FILE", str(tmp_path / "afile")).replace("OLD", str(old)) for f in flags]
    if not any(f.startswith("--workdir") for f in flags):
        flags.append(f"--workdir={tmp_path / 'new'}")
    result = cli(*flags)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = said(result)
    assert len(lines) <= 3 and re_match(message, lines[0]), lines
    assert "--verbose" in lines[-1] or "--helpshort" in lines[-1]


def re_match(pattern, text):
    import re
    return re.search(pattern, text) is not None


@pytest.mark.parametrize("code,fix", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"),
                                      (errno.EACCES, "give a --workdir you can write to")])
def test_disk_errors_name_the_fix(code, fix):
    message = files.disk_error_fix(OSError(code, os.strerror(code), "/runs/x/metrics.jsonl"))
    assert message.startswith("/runs/x/metrics.jsonl: ") and fix in message


# --- kill -9 -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_twenty_kills_at_random_points_resume_to_the_uninterrupted_run(tmp_path):
    # A checkpoint every 3 steps and a record every 2: most kills land during a save or a metrics write.
    flags = {**SMALL, "num_train_steps": 240, "checkpoint_every_steps": 3, "log_every_steps": 2,
             "eval_every_steps": 12, "keep_checkpoints": 2}
    command = lambda workdir: [sys.executable, "-m", "deepzoo.main", "--config=configs/mnist1d_mlp.py:smoke",
                               f"--workdir={workdir}", *[f"--config.{k}={v}" for k, v in flags.items()]]
    straight = tmp_path / "straight"
    subprocess.run(command(straight), cwd=ROOT, check=True, capture_output=True, timeout=300)
    rng, kills, finished, workdir = random.Random(0), 0, 0, tmp_path / "killed"
    while kills < 20:
        process = subprocess.Popen(command(workdir), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3.0, 10.0))   # start-up takes about 5 s here, training about 10
        if process.poll() is None:
            process.kill()
            kills += 1
        assert process.wait() in (0, -9)   # a resume never fails
        if process.returncode == 0:   # finished between kills: it must be the uninterrupted run
            assert_same_run(workdir, straight)
            finished += 1
            shutil.rmtree(workdir)
    subprocess.run(command(workdir), cwd=ROOT, check=True, capture_output=True, timeout=300)
    assert_same_run(workdir, straight)

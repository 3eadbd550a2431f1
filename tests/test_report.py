"""deepzoo.report: an experiment's partial run merges into its tables; the committed reference is left alone."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepzoo import report

ROOT = Path(__file__).resolve().parents[1]


def test_a_partial_run_replaces_its_rows_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.csv"
    report.merge_rows(path, [{"recipe": "a", "score": 1}, {"recipe": "b", "score": 2}, {"recipe": "c", "score": 3}],
                      key=("recipe",))
    merged = report.merge_rows(path, [{"recipe": "b", "score": 20, "extra": "x"}], key=("recipe",),
                               order=["a", "b", "c"])
    assert merged == report.read_rows(path)
    assert [(r["recipe"], r["score"], r["extra"]) for r in merged] == [("a", "1", ""), ("b", "20", "x"), ("c", "3", "")]


def test_rows_sharing_a_key_are_replaced_together(tmp_path):
    path = tmp_path / "curves.csv"
    report.merge_rows(path, [{"recipe": r, "step": s} for r in "ab" for s in (1, 2, 3)], key=("recipe",))
    merged = report.merge_rows(path, [{"recipe": "a", "step": 9}], key=("recipe",), order=["a", "b"])
    assert [(r["recipe"], r["step"]) for r in merged] == [("a", "9"), ("b", "1"), ("b", "2"), ("b", "3")]


def test_a_partial_run_replaces_its_section_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.md"
    head, tail = ["# Title", ""], ["## The papers", "", "- one"]
    report.merge_sections(path, {"mlp": ["## MLP", "old"], "cnn": ["## CNN", "kept"]}, ["mlp", "samples", "cnn"],
                          head, tail)
    text = report.merge_sections(path, {"samples": ["## Samples", "new"], "mlp": ["## MLP", "new"]},
                                 ["mlp", "samples", "cnn"], head, tail)
    assert text == path.read_text()
    bodies = [line for line in text.splitlines() if line and not line.startswith("<!--")]
    assert bodies == ["# Title", "## MLP", "new", "## Samples", "new", "## CNN", "kept", "## The papers", "- one"]


def _control(tmp_path, *flags, variant="smoke"):
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "control.py"), f"--variant={variant}",
                             f"--workdir={tmp_path / 'runs'}", *flags], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_an_experiment_writes_beside_its_runs_and_merges_a_second_partial_run(tmp_path):
    committed = {p: p.read_bytes() for p in (ROOT / "experiments" / "control").iterdir()}
    _control(tmp_path, "--recipes=cartpole,ppo")
    out = tmp_path / "runs"   # the default: beside the runs, never the committed reference
    first = {r["recipe"]: r for r in report.read_rows(out / "results.csv")}
    _control(tmp_path, "--recipes=cartpole:reinforce")
    rows = report.read_rows(out / "results.csv")
    assert [r["recipe"] for r in rows] == ["cartpole,ppo", "cartpole,reinforce"]
    assert rows[0] == first["cartpole,ppo"]
    table = (out / "results.md").read_text()
    assert "| cartpole,ppo |" in table and "| cartpole,reinforce |" in table
    assert {p: p.read_bytes() for p in (ROOT / "experiments" / "control").iterdir()} == committed


@pytest.mark.slow
def test_a_rerun_of_an_experiment_at_the_same_commit_reproduces_its_table(tmp_path):
    # The small variant's CartPole PPO (its full recipe, one seed): every evaluation and table cell but the time.
    for run in ("a", "b"):
        _control(tmp_path, "--recipes=cartpole,ppo", f"--workdir={tmp_path / run}", variant="small")
    curves = [(tmp_path / run / "curves.csv").read_bytes() for run in ("a", "b")]
    assert curves[0] == curves[1]
    rows = [report.read_rows(tmp_path / run / "results.csv") for run in ("a", "b")]
    assert [{k: v for k, v in r.items() if k != "minutes"} for r in rows[0]] == \
        [{k: v for k, v in r.items() if k != "minutes"} for r in rows[1]]

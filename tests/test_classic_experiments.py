"""The perceptron, SOM and RBF experiments, reduced: their claims hold and their files are written (slow)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    # experiments/ is not a package (nothing in the library imports it), so load the driver by path.
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(path):
    data = Path(path).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


@pytest.mark.slow
def test_perceptron_experiment(tmp_path):
    rows, xor = _load("perceptron").run(tmp_path, margins=(0.3, 0.1), datasets=2, num_points=100, xor_epochs=20)
    assert len(rows) == 4 and all(1 <= r["mistakes"] <= r["bound"] for r in rows)
    assert xor["perceptron_accuracy"] <= 0.75 and xor["mlp_accuracy"] == 1.0
    _png(tmp_path / "perceptron.png")
    assert "Novikoff (1962)" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_rbf_experiment(tmp_path):
    rows, linear = _load("rbf").run(tmp_path, centres=(10, 100), passes=5)
    assert [r["centres"] for r in rows] == [10, 100]
    assert rows[1]["test_accuracy"] > 0.9 and rows[1]["test_accuracy"] > rows[0]["test_accuracy"]
    assert rows[1]["kmeans_error"] < rows[0]["kmeans_error"]
    _png(tmp_path / "rbf.png")
    assert "| 100 |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_som_experiment_small_variant(tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(ROOT / "experiments" / "som.py"), "--variant=small",
                    f"--workdir={tmp_path / 'run'}", f"--output_dir={out}"], check=True, cwd=ROOT,
                   capture_output=True)
    text = (out / "results.md").read_text()
    assert "| 1000 |" in text and "configs/som.py:small" in text
    _png(out / "som.png")
    rows = (out / "results.csv").read_text().splitlines()
    first, last = rows[1].split(","), rows[-1].split(",")
    assert float(last[3]) < float(first[3])   # the quantisation error fell

"""The universal approximation experiment, on a reduced grid: wider nets fit better, files are written."""
import importlib.util
from pathlib import Path

import pytest

# experiments/ is not a package (nothing in the library imports it), so load the driver by path.
_PATH = Path(__file__).resolve().parents[1] / "experiments" / "universal_approximation.py"
_spec = importlib.util.spec_from_file_location("universal_approximation", _PATH)
uat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(uat)


@pytest.mark.slow   # ~15 s: an experiment's own test
def test_max_error_falls_with_width_and_results_are_written(tmp_path):
    # Two widths and one restart each: compiling a width's training run costs ~1-2 s of the budget.
    rows = uat.run(tmp_path, widths=(2, 32), steps=2000, restarts=1, num_eval=501)

    assert [r["width"] for r in rows] == [2, 32]
    assert [r["params"] for r in rows] == [3 * w + 1 for w in (2, 32)]  # w + w + w + 1
    errors = [r["max_abs_error"] for r in rows]
    # Width 2 cannot follow the three oscillations (max error ~0.9); width 32 fits to a few percent.
    assert errors[-1] < errors[0] / 5, errors
    assert all(r["rmse"] <= r["max_abs_error"] for r in rows)
    # Beside it, the RBF network of as many Gaussians (k-means + least squares) improves with its size too.
    assert [r["rbf_params"] for r in rows] == [3 * w + 1 for w in (2, 32)]   # centres, widths, readout
    assert rows[1]["rbf_max_abs_error"] < rows[0]["rbf_max_abs_error"] / 10

    png = (tmp_path / "fits.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:3] == ["width", "params", "max_abs_error"]
    assert len(csv_lines) == 1 + 2
    markdown = (tmp_path / "results.md").read_text()
    assert "| 32 | 97 |" in markdown and "at x" in markdown
    assert uat.trend_sentence(rows) in markdown


def test_trend_sentence_reports_a_rise_honestly():
    rows = [{"width": w, "max_abs_error": e} for w, e in [(1, 1.0), (2, 0.1), (4, 0.2), (8, 0.01)]]
    sentence = uat.trend_sentence(rows)
    assert "fell overall" in sentence and "not from width 2 to 4" in sentence
    rows[2]["max_abs_error"] = 0.05
    assert "fell at every step" in uat.trend_sentence(rows)

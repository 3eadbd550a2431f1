"""Every test sees 8 fake CPU devices (set before JAX starts) and a private TFDS data dir: one per process,
pytest-xdist's workers included (two workers preparing one dataset in one folder would race)."""
import os
import tempfile

os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_force_host_platform_device_count=8"]).strip()
if os.environ.get("DEEPZOO_TFDS_OWNER") != str(os.getpid()):   # not inherited from pytest's main process
    os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(prefix="deepzoo_tfds_")
    os.environ["DEEPZOO_TFDS_OWNER"] = str(os.getpid())
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import deepzoo  # noqa: E402,F401  (adds its default XLA flags before any test starts JAX)

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_experiment(tmp_path):
    """run_experiment("simclr.py", "--variant=smoke") runs experiments/simclr.py with its runs and outputs
    under tmp_path, fails the test with its stderr if it fails, and returns the output directory."""
    def run(script, *flags):
        out = tmp_path / "out"
        result = subprocess.run([sys.executable, str(ROOT / "experiments" / script), *flags,
                                 f"--workdir={tmp_path / 'runs'}", f"--output_dir={out}"], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        return out
    return run

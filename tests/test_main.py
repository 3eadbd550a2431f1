"""python -m deepzoo.main: config.program picks the kind of run; a wrong one is named without a traceback."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(*flags):
    return subprocess.run([sys.executable, "-m", "deepzoo.main", *flags], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_an_unknown_program_lists_the_known_ones(tmp_path):
    result = main("--config=configs/mnist1d_mlp.py:smoke", f"--workdir={tmp_path}", "--config.program=sweeep")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "config.program: unknown program 'sweeep'. Did you mean 'sweep'? Known programs: agent, rlhf, search, " \
           "supervised, sweep." in result.stderr
    assert not any(tmp_path.iterdir())   # nothing was written


def test_list_needs_no_other_flag():
    result = main("--list")
    assert result.returncode == 0 and "mnist1d_mlp " in result.stdout and "Traceback" not in result.stderr

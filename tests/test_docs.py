"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing page or a docstring that
does not render fails it), the results gallery has a page per experiment, and the API reference exists.

One build for the module (about 5 s on 2 CPU cores: griffe reads the sources statically, nothing is imported).
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each experiment's report, and its subfolders' (another corpus's: translation/gettext_en_de).
EXPERIMENTS = sorted(p.parent.relative_to(ROOT / "experiments").as_posix()
                     for pattern in ("*/results.md", "*/*/results.md") for p in (ROOT / "experiments").glob(pattern))
API = {  # reference page -> anchors its modules must have produced
    "models": ["deepzoo.models.get", "deepzoo.models.names", "deepzoo.models.summary"],
    "layers": ["deepzoo.layers.attention"],
    "tasks": ["deepzoo.tasks.get", "deepzoo.tasks.metrics.pair", "deepzoo.tasks.classification.Classification"],
    "data": ["deepzoo.data.get", "deepzoo.data.pipeline.train_batches"],
    "train": ["deepzoo.train.step.make_train_step", "deepzoo.train.loop.run", "deepzoo.train.trainer",
              "deepzoo.train.sweep.run_sweep", "deepzoo.train.checkpoint.Checkpoints",
              "deepzoo.train.sharding.make_mesh"],
    "rl": ["deepzoo.rl.agents"],
    "inference": ["deepzoo.inference.decoding"],
    "analysis": ["deepzoo.analysis.complexity"],
    "config": ["deepzoo.config.load", "deepzoo.report.merge_rows", "deepzoo.cli.run"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, (f"mkdocs build --strict failed (install the docs tools with "
                                    f"pip install -e '.[test]'):\n{result.stdout}\n{result.stderr}")
    return out


def test_gallery_has_a_page_per_experiment(site):
    assert EXPERIMENTS, "no experiments/*/results.md found"
    index = (site / "results" / "index.html").read_text()
    for name in EXPERIMENTS:
        page = site / "results" / name / "results" / "index.html"
        assert page.is_file(), f"no gallery page for experiments/{name}/results.md"
        assert f'href="{name}/results/"' in index, f"the gallery index does not link {name}"
        source = (ROOT / "experiments" / name / "results.md").read_text()
        for figure in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.png)\)", source):
            assert (site / "results" / name / figure).is_file(), f"{name}: {figure} is not in the site"
            assert f'src="../{figure}"' in page.read_text(), f"{name}: {figure} is not shown on its page"


def test_api_reference_pages_exist(site):
    for page, anchors in API.items():
        html = (site / "reference" / page / "index.html").read_text()
        for anchor in anchors:
            assert f'id="{anchor}"' in html, f"reference/{page}: no entry for {anchor}"


def test_site_stays_inside_the_repository(site):
    assert not (ROOT / "docs" / "results").exists(), "the gallery is built from experiments/, not copied into docs/"
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "../shared" not in text, f"{page.relative_to(site)} points outside the repository"
        assert "lecture" not in text.lower(), f"{page.relative_to(site)} mentions a lecture"


def test_docstrings_render_as_they_read():
    spec = importlib.util.spec_from_file_location("griffe_prose", ROOT / "docs" / "griffe_prose.py")
    prose = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prose)
    text = ("Each step is one of:\n    readable   restored;\n    damaged    moved aside\nThe rest.\n\n"
            "x: the input, of shape\n    (B, D).\ny: the target.\nIt reads tokens[:, :-1][0], s*B and __call__ in "
            "<workdir>, and keeps *this*.\n- an item\n    going on")
    assert prose.as_markdown(text) == (
        "Each step is one of:\n\n    readable   restored;\n    damaged    moved aside\n\nThe rest.\n\n"
        "x: the input, of shape\n    (B, D).  \ny: the target.\nIt reads tokens[:, :-1]\\[0], s\\*B and "
        "\\_\\_call\\_\\_ in &lt;workdir>, and keeps *this*.\n\n- an item\n    going on")

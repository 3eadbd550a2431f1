"""MkDocs hooks: the results gallery, built from the experiments' own files at build time.

Every folder experiments/<name>/ that holds markdown becomes results/<name>/ in the site: its .md pages,
the PNG figures and CSV tables beside them and in its subfolders, as they are in the repository (nothing is copied into docs/,
so the gallery never goes stale), and their relative links (`![...](figure.png)`, `[samples](samples.md)`)
work unchanged. results/index.md, the gallery's front page, is written here: one section per experiment
with its title, its pages and its first figure. ARCHITECTURE.md is served the same way as architecture.md.

Registered in mkdocs.yml under `hooks:`.
"""
from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "experiments"
GALLERY = "results"
ASSETS = (".md", ".png", ".csv")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.png)\)")


def experiments() -> dict[str, list[Path]]:
    """{experiment: its markdown pages, results.md first, then the results.md of its subfolders (the report
    of another corpus, e.g. translation/gettext_en_de/)}, for every experiments/<name>/ that has any."""
    found = {}
    for folder in sorted(p for p in EXPERIMENTS.iterdir() if p.is_dir()):
        pages = sorted(folder.glob("*.md"), key=lambda p: (p.name != "results.md", p.name))
        pages += sorted(folder.glob("*/results.md"))
        if pages:
            found[folder.name] = pages
    return found


def _link(name: str, page: Path) -> str:
    """The page's path under the experiment's folder: results.md, gettext_en_de/results.md."""
    return page.relative_to(EXPERIMENTS / name).as_posix()


def _title(page: Path) -> str:
    """The page's first heading, else its file name."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem


def _figures(name: str, pages: list[Path]) -> list[str]:
    """The experiment's PNGs: those its pages show, in order, then the others by name."""
    shown = [m for page in pages for m in _IMAGE.findall(page.read_text(encoding="utf-8"))
             if (EXPERIMENTS / name / m).is_file()]
    rest = sorted(p.name for p in (EXPERIMENTS / name).glob("*.png"))
    return list(dict.fromkeys(shown + rest))


def _main_pages(pages: list[Path]) -> list[Path]:
    """The pages listed in the navigation: results.md if there is one, else every results*.md (other pages,
    such as char_lm's samples.md, are reached through links)."""
    if pages[0].name == "results.md":
        return pages[:1]
    return [p for p in pages if p.name.startswith("results")] or pages


def _index() -> str:
    lines = ["# Results gallery", "",
             "What each experiment measured, as committed in `experiments/<name>/` of the repository; this gallery",
             "is built from those files each time the site is built. Each experiment's script is",
             "`experiments/<name>.py`; how to run one and refresh its results: [Experiments](../experiments.md).", ""]
    for name, pages in experiments().items():
        main = _main_pages(pages)
        figures = _figures(name, pages)
        lines += [f"## {name}", "", _title(main[0]), ""]
        links = [_link(name, p) for p in pages]
        lines.append("Pages: " + ", ".join(f"[{link[:-3]}]({name}/{link})" for link in links) + ".")
        lines.append("")
        if figures:
            lines += [f"[![{name}: {figures[0]}]({name}/{figures[0]}){{ loading=lazy style=\"max-height: 360px\" }}]"
                      f"({name}/{main[0].name})", ""]
        if len(figures) > 1:
            lines += ["More figures: " + ", ".join(f"[{f}]({name}/{f})" for f in figures[1:]) + ".", ""]
    return "\n".join(lines)


def on_config(config, **kwargs):
    """Lists each experiment's pages in the navigation, under the section that holds results/index.md."""
    entries = []
    for name, pages in experiments().items():
        main = _main_pages(pages)
        if len(main) == 1:
            entries.append({name: f"{GALLERY}/{name}/{main[0].name}"})
        else:
            entries.append({name: [{p.stem: f"{GALLERY}/{name}/{p.name}"} for p in main]})
    for item in config.nav or []:
        if isinstance(item, dict):
            for children in item.values():
                if isinstance(children, list) and f"{GALLERY}/index.md" in children:
                    children[:] = [f"{GALLERY}/index.md", *entries]   # the same after a rebuild (mkdocs serve)
    return config


def on_files(files: Files, config, **kwargs) -> Files:
    """Adds the experiments' pages and figures under results/<name>/, the gallery's index, and ARCHITECTURE.md."""
    for name in experiments():
        for path in sorted((EXPERIMENTS / name).rglob("*")):
            if path.is_file() and path.suffix in ASSETS:
                files.append(File.generated(config, f"{GALLERY}/{name}/{_link(name, path)}", abs_src_path=str(path)))
    files.append(File.generated(config, f"{GALLERY}/index.md", content=_index()))
    files.append(File.generated(config, "architecture.md", abs_src_path=str(ROOT / "ARCHITECTURE.md")))
    return files

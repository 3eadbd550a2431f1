"""Where an experiment writes its tables and figures, and how a run of part of it (some recipes, some
models) merges into them.

An experiment writes its report next to its runs, into --workdir, by default. The reference tables and
figures committed under experiments/<name>/ change only with --update_results. Where an experiment can run
a part of itself (some recipes, models, cells or sweeps), rows are merged by key into the CSV already there:
a run of two recipes replaces those two rows and keeps the others, and the markdown and the figures are
drawn again from all the rows. The other experiments write their whole report each time, and refuse
--update_results with flags that would make it a different experiment (a smoke variant, other widths).

    report.define_flags()                       # at import, beside the experiment's own flags
    out = report.output_dir(__file__)           # in main(): --output_dir, experiments/<name>/ or --workdir
    rows = report.merge_rows(out / "results.csv", new_rows, key=("recipe",), order=[...])
"""
import csv
import io
import re
import sys
from pathlib import Path

from absl import app, flags, logging

from deepzoo.train import files

FLAGS = flags.FLAGS


def define_flags():
    """--output_dir and --update_results."""
    if "update_results" in FLAGS:   # defined already (tests import several experiments)
        return
    flags.DEFINE_string("output_dir", None, "Where tables and figures go (default: --workdir, beside the runs; "
                        "runs/<experiment> for an experiment without runs).")
    flags.DEFINE_bool("update_results", False, "Write the tables and figures into experiments/<name>/, the "
                      "committed reference (a run of part of an experiment merges its rows into it).")
    caller = sys._getframe(1).f_globals["__name__"]   # the experiment: --helpshort lists its key flags
    caller = sys.argv[0] if caller == "__main__" else caller   # as absl names the main module
    for name in ("output_dir", "update_results"):
        FLAGS.register_key_flag_for_module(caller, FLAGS[name])


def output_dir(script: str, *, fixed: tuple[str, ...] = (), subdir: str = "") -> Path:
    """The folder for the tables and figures of the experiment whose file is `script`, created: --output_dir,
    experiments/<name>/ with --update_results, else --workdir (its folder `subdir`, if given) or runs/<name>.
    --update_results is refused together with --variant, --override or a flag of `fixed` given. A variant's
    runs go to <workdir>_<variant> unless --workdir is given, apart from the full-size runs they differ from."""
    if FLAGS.update_results and FLAGS.output_dir:
        raise app.UsageError("give --output_dir or --update_results, not both.")
    given = [name for name in ("variant", "override", *fixed) if name in FLAGS and FLAGS[name].present]
    if FLAGS.update_results and given:
        raise app.UsageError(f"--update_results writes the committed reference, which is the experiment as "
                             f"documented: drop --{given[0]}, or write elsewhere with --output_dir.")
    if "workdir" in FLAGS and not FLAGS["workdir"].present and "variant" in FLAGS and FLAGS.variant:
        FLAGS.workdir = f"{FLAGS.workdir.rstrip('/')}_{FLAGS.variant}"
    workdir = FLAGS.workdir if "workdir" in FLAGS else ""
    if FLAGS.update_results:
        out = Path(script).resolve().with_suffix("")
    elif FLAGS.output_dir:
        out = Path(FLAGS.output_dir)
    else:   # a bucket's workdir (gs://) holds runs, not figures drawn here
        out = Path(workdir) / subdir if workdir and "://" not in workdir else Path(f"runs/{Path(script).stem}")
    out.mkdir(parents=True, exist_ok=True)
    logging.info("Tables and figures go to %s.", out)
    return out


def check_mergeable(folder: Path, names: list[str], partial: bool):
    """Refuses a run of part of an experiment where `folder` holds a report without the files (`names`) that the
    part's rows merge into: the rows of the rest could not be kept."""
    missing = [name for name in names if not (folder / name).exists()]
    if partial and missing and any(folder.glob("*.md")):
        raise app.UsageError(f"{folder} holds a report without {', '.join(missing)}, which a run of part of the "
                             f"experiment merges into: run the whole experiment once there, or write elsewhere.")


def read_rows(path: Path) -> list[dict]:
    """The rows of a CSV file as dicts of strings ([] if there is none)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict], fields: list[str] | None = None):
    """`rows` as a CSV file, written whole or not at all (a kill cannot truncate a reference table)."""
    fields = fields or list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    files.write(path, text.getvalue())


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> list[str]:
    """The lines of a markdown table of `rows` (columns: the first row's keys unless given)."""
    columns = columns or list(rows[0])
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows])


def merge_rows(path: Path, rows: list[dict], key: tuple[str, ...], order: list | None = None) -> list[dict]:
    """`rows` merged into the CSV at `path` and written back; returns every row.

    A row replaces the one already there with the same `key` values; the others are kept. Rows come out in
    the order of their keys' first value in `order` where given (e.g. the experiment's list of recipes),
    else the old rows first. Values read back are strings: format numbers before merging."""
    rows = [{k: str(v) for k, v in row.items()} for row in rows]
    ident = lambda row: tuple(row.get(k, "") for k in key)
    new = {ident(row) for row in rows}
    merged = [row for row in read_rows(path) if ident(row) not in new] + rows
    if order is not None:
        rank = {str(name): i for i, name in enumerate(order)}
        merged.sort(key=lambda row: rank.get(row.get(key[0], ""), len(rank)))
    kept = len(merged) - len(rows)
    if kept:
        logging.info("%s: %d rows of this run merged with %d kept from before.", path, len(rows), kept)
    fields = list(dict.fromkeys(k for row in merged for k in row))
    merged = [{k: row.get(k, "") for k in fields} for row in merged]   # as they read back
    write_rows(path, merged, fields)
    return merged


def merge_sections(path: Path, sections: dict[str, list[str]], order: list[str], head: list[str],
                   tail: list[str] = ()) -> str:
    """Writes the markdown file `path` as `head`, the sections in `order`, then `tail`; returns its text.

    Each section is marked in the file by HTML comments (invisible when rendered): a section of this run
    replaces the one with its key, and sections of other keys already in the file are kept."""
    kept = {}
    if path.exists():
        for m in re.finditer(r"<!-- section (\S+) -->\n(.*?)<!-- end of section \1 -->\n", path.read_text(), re.S):
            kept[m[1]] = m[2]
    merged = {**kept, **{k: "\n".join(lines) + "\n" for k, lines in sections.items()}}
    rank = {k: i for i, k in enumerate(order)}
    body = "".join(f"<!-- section {k} -->\n{merged[k]}<!-- end of section {k} -->\n"
                   for k in sorted(merged, key=lambda k: rank.get(k, len(rank))))
    text = "\n".join(head) + "\n" + body + "\n".join(tail) + ("\n" if tail else "")
    files.write(path, text)
    return text

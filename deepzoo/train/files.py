"""Workdir paths that may be local or in a bucket (gs://...), through etils.epath (gcsfs for gs://), and
writes that a kill cannot tear."""
import json
import os

from etils import epath


def path(p) -> epath.Path:
    """An absolute epath.Path: relative local paths resolve against the current directory."""
    p = epath.Path(p)
    return p if "://" in str(p) else p.absolute()


def is_local(p) -> bool:
    return "://" not in str(p)


def write(p, data: str | bytes):
    """Atomically: a reader, or a rerun after a kill, sees the old file or the new one, never half of one.
    Locally: a temporary file, fsync, rename. A bucket's object is replaced whole by a single write."""
    p = path(p)
    if not is_local(p):
        p.write_bytes(data) if isinstance(data, bytes) else p.write_text(data)
        return
    partial = p.parent / f".{p.name}.partial"
    with open(partial, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, p)


def write_json(p, value):
    write(p, json.dumps(value, indent=2) + "\n")


def append_lines(p, lines: list[str]):
    """Appends whole lines and waits until they are on disk (local files only)."""
    with open(path(p), "a") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())

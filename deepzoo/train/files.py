"""Workdir paths that may be local or in a bucket (gs://...), through etils.epath (gcsfs for gs://)."""
import json

from etils import epath


def path(p) -> epath.Path:
    """An absolute epath.Path: relative local paths resolve against the current directory."""
    p = epath.Path(p)
    return p if "://" in str(p) else p.absolute()


def write_json(p, value):
    """Atomically where the file system allows (a rename): a reader never sees half a file."""
    p = path(p)
    partial = p.parent / f".{p.name}.partial"
    partial.write_text(json.dumps(value, indent=2) + "\n")
    partial.replace(p)

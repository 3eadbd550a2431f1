"""Workdir paths that may be local or in a bucket (gs://...), through etils.epath (gcsfs for gs://), and
writes that a kill cannot tear."""
import errno
import json
import os

from etils import epath


def path(p) -> epath.Path:
    """An absolute epath.Path: relative local paths resolve against the current directory."""
    p = epath.Path(p)
    return p if "://" in str(p) else p.absolute()


def is_local(p) -> bool:
    """Whether `p` is a local path rather than a URL (gs://...)."""
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
    """Writes `value` to `p` as indented JSON, atomically (see write)."""
    write(p, json.dumps(value, indent=2) + "\n")


def append_lines(p, lines: list[str]):
    """Appends whole lines and waits until they are on disk (local files only)."""
    with open(path(p), "a") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())


# What an error of the disk or the workdir asks the user to do.
_OS_FIXES = {errno.ENOSPC: "the disk is full: free some space or give a --workdir on another disk",
             errno.EDQUOT: "the disk quota is used up: free some space or give a --workdir elsewhere",
             errno.EROFS: "the file system is read-only: give a --workdir you can write to",
             errno.EACCES: "permission denied: give a --workdir you can write to",
             errno.EPERM: "permission denied: give a --workdir you can write to",
             errno.EEXIST: "a file is in the way: --workdir must be a directory (or a path that does not exist yet)",
             errno.ENOTDIR: "a file is in the way: --workdir must be a directory (or a path that does not exist yet)"}


def disk_error_fix(e: OSError) -> str | None:
    """One line naming the file, what went wrong and what to do; None for an error without a known fix."""
    if e.errno in _OS_FIXES:
        return f"{e.filename or ''}: {_OS_FIXES[e.errno]} ({e.strerror})."
    return None

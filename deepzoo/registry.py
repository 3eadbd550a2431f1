"""Name lookup shared by the registries: an unknown name lists the close matches and the known ones."""
import difflib


def lookup(kind: str, name: str, table: dict):
    """table[name]; an unknown name raises KeyError with up to three close matches and every
    known name, `kind` ("model", "task", ...) naming what was looked up."""
    if name not in table:
        close = difflib.get_close_matches(name, table, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(table))}.")
    return table[name]

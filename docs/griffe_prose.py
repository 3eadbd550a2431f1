"""A griffe extension (mkdocs.yml: the python handler's `extensions`) that lets deepzoo's free-prose docstrings
render as Markdown the way they read as plain text. The docstrings themselves are not changed.

The docstrings indent code, tables of names and aligned listings by four spaces, often right after the line that
introduces them ("Each step is one of:") and with the prose going on right after them. Markdown would run such a
block into the paragraph around it, collapsing its columns. Here such a block gets a blank line before and after
it, so that it renders as a code block with its layout kept. Hanging indents (an argument's description going on
on the next lines) and list items' continuations stay in their paragraph; a list gets the blank line Markdown
needs before it; a line that starts with a name and a colon ("step_fn: ...", an argument) starts a new line. In prose, `<` before a letter (`<workdir>/checkpoints`)
is escaped, so that it is not taken for an HTML tag and hidden, and so are `*` outside a *phrase* and `_` at the
edge of a word (`s*B`, `10**d`, `__call__`, `*_bn`), so that arithmetic and names are not taken for emphasis,
and `][` (`batch["tokens"][:, :-1]`), so that indexing is not taken for a reference link.
"""
from __future__ import annotations

import re

import griffe

_LIST_ITEM = re.compile(r"\s*([-*+]|\d+[.)])\s")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_FIELD = re.compile(r"[A-Za-z_][\w.]*(, [A-Za-z_][\w.]*)*: ")   # "step_fn: the model's step ..."


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


_EMPHASIS = re.compile(r"(?<![\w*\\])(\*(?=[^\s*])[^*\n]*?(?<=[^\s*])\*)(?![\w*])")   # *a phrase*


def _escape_prose(text: str) -> str:
    """Arithmetic and names kept literal: `*` outside a *phrase* (s*B, 10**d, *args), `_` at a word's edge
    (__call__, *_bn, conv<block>_<i>) and the `][` of indexing (tokens[:, 1:][0], not a reference link) escaped."""
    parts = _EMPHASIS.split(text)
    return "".join(part if i % 2 else re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_",
                                                part.replace("*", "\\*").replace("][", "]\\["))
                   for i, part in enumerate(parts))


def _escape_tags(line: str) -> str:
    """Outside backtick code spans: `<` before a letter, and the `*` and `__` of _escape_prose, escaped."""
    parts = re.split(r"(`+[^`]*`+)", line)
    return "".join(part if part.startswith("`") else _escape_prose(_TAG.sub("&lt;", part)) for part in parts)


def as_markdown(text: str) -> str:
    """The docstring `text` with its indented blocks set apart by blank lines and its stray tags escaped."""
    out: list[str] = []
    in_list = in_code = in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if not line.strip():
            out.append(line)
            in_list = in_list and not in_code
            continue
        previous = out[-1] if out else ""
        # An indented line starts a block after a blank line or after a line that introduces it ("...:"); right
        # after other prose it is a hanging indent, the same sentence going on, and stays in the paragraph.
        code = _indent(line) >= 4 and not in_list and (in_code or not previous.strip()
                                                       or previous.rstrip().endswith(":"))
        if code and not in_code and out and out[-1].strip():
            out.append("")                      # prose right before an indented block
        if not code and in_code and out and out[-1].strip():
            out.append("")                      # prose right after an indented block
        in_code = code
        if not code:
            if _LIST_ITEM.match(line):
                if not in_list and out and out[-1].strip():
                    out.append("")              # Markdown starts a list only after a blank line
                in_list = True
            elif _indent(line) == 0 and out and not out[-1].strip():
                in_list = False                 # a new paragraph
            if _FIELD.match(line) and out and out[-1].strip():
                out[-1] += "  "                 # one field per line: a Markdown line break before it
            line = _escape_tags(line)
        out.append(line)
    return "\n".join(out)


class ProseDocstrings(griffe.Extension):
    """Rewrites each object's docstring value with `as_markdown` once griffe has read it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = as_markdown(obj.docstring.value)

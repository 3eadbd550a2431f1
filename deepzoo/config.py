"""Loading config files the way --config does, and parsing their `:variant,option` argument.

    config = deepzoo.config.load("configs/mnist1d_mlp.py:smoke", num_train_steps=20)
    config = deepzoo.config.load("mnist1d_mlp:smoke")          # by name: the configs shipped with deepzoo
    print(deepzoo.config.listing())                            # every config, its variants and options

    # in a config file: configs/char_lm.py:gru,smoke -> ("gru", {"smoke"})
    cell, options = parse_arg(arg, variants=("rnn", "gru", "lstm", "gpt"), options=("smoke",), default="lstm")
"""
import difflib
import importlib.util
import os
import sys
import textwrap
from pathlib import Path

import ml_collections

_recorded = None   # while listing: the parse_arg calls of a get_config


def parse_arg(arg: str | None, *, variants=None, options=(), default: str = "") -> tuple[str, frozenset]:
    """`variant[,option...]` -> (variant, the options given).

    The options are the trailing comma-separated words found in `options`; what precedes them is the
    variant, which may itself hold commas ("cartpole,ppo,smoke" -> ("cartpole,ppo", {"smoke"})). An
    empty variant is `default`. `variants` lists the known ones (None: any word without a comma, e.g. a
    game's name). A bad arg raises ValueError naming the known variants and options."""
    if _recorded is not None:
        _recorded.append((variants, options, default))
    words = (arg or "").split(",")
    given = set()
    while words and words[-1] in options:
        given.add(words.pop())
    variant = ",".join(words) or default
    listed = f"; options (after a comma): {', '.join(map(repr, options))}" if options else ""
    # a known variant (any name when variants is None) followed by a word that is no option
    ends = [k for k in range(1, len(words)) if variants is None or ",".join(words[:k]) in variants]
    if ends and (variants is None or variant not in variants):
        raise ValueError(f"unknown option {words[ends[0]]!r} in the config arg {arg!r}{listed or '; it takes none'}.")
    if variants is not None and variant not in variants:
        known = ", ".join(repr(v) + (" (default)" if v == default else "") for v in variants)
        raise ValueError(f"unknown variant {variant!r} in the config arg {arg!r}; known: {known}{listed}.")
    return variant, frozenset(given)


def shipped() -> Path | None:
    """The configs/ folder that comes with deepzoo (the checkout's, or the installed package's)."""
    spec = importlib.util.find_spec("configs")
    folders = list(spec.submodule_search_locations or []) if spec else []
    folders.append(Path(__file__).resolve().parents[1] / "configs")   # a checkout not installed
    return next((Path(f) for f in folders if (Path(f) / "common.py").exists()), None)


def resolve(path: str) -> str:
    """A config file's path: `path` itself if it exists, else a name (mnist1d_mlp or mnist1d_mlp.py) of
    configs/ under the current directory or of the configs shipped with deepzoo; configs/<name>.py, relative
    to a directory other than the repository, is the shipped one too."""
    if os.path.exists(path):
        return path
    name = path if path.endswith(".py") else f"{path}.py"
    folders = [f for f in (Path("configs"), shipped()) if f is not None and f.is_dir()]
    if os.sep not in path or os.path.dirname(path) == "configs":
        for folder in folders:
            if (folder / os.path.basename(name)).exists():
                return str(folder / os.path.basename(name))
    known = sorted({p.stem for folder in folders for p in folder.glob("*.py")})
    close = difflib.get_close_matches(Path(name).stem, known, n=1)
    raise FileNotFoundError(f"config file {path!r} not found: give a path, or a name that "
                            f"`python -m deepzoo.main --list` shows" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + ".")


def _module(path: str):
    # Config files import their siblings as `configs.common` (as big_vision's do): the folder above
    # configs/ must be importable, also when a script in experiments/ loads them.
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if root not in sys.path:
        sys.path.append(root)
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def listing(folder: Path | None = None) -> str:
    """Every config file of `folder` (default: the shipped configs) with its first docstring line, its
    variants (the default marked) and options, as `python -m deepzoo.main --list` prints them."""
    global _recorded
    folder = folder or shipped()
    lines = [f"Configs in {folder} (--config=<name>[:<variant>][,<option>] or a path):", ""]
    for path in sorted(folder.glob("*.py")):
        module = _module(str(path))
        if not hasattr(module, "get_config"):
            continue   # a shared part (common.py)
        _recorded = []
        try:
            module.get_config(None)
            variants, options, default = _recorded[0] if _recorded else ((), (), "")
        finally:
            _recorded = None
        about = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
        lines.append(f"{path.stem:22s}" + textwrap.shorten(about, 100, placeholder=" ..."))
        if variants is None:
            lines.append(f"{'':22s}variant: any name (default {default!r})")
        elif [v for v in variants if v]:
            shown = ", ".join(f"{v} (default)" if v == default else v for v in variants)
            lines.append(f"{'':22s}variants: {shown}")
        if options:
            lines.append(f"{'':22s}options: {', '.join(options)}")
    return "\n".join(lines)


def load(spec: str, **overrides) -> ml_collections.ConfigDict:
    """`path.py[:arg]` or `name[:arg]` -> get_config(arg), with dotted-name overrides
    ({"optimizer.learning_rate": 0.1})."""
    path, _, arg = spec.partition(":")
    path = resolve(path)
    config = _module(path).get_config(arg or None)
    for name, value in overrides.items():
        *parents, leaf = name.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        if leaf not in node:
            raise KeyError(f"config {spec} has no field {name!r}; its fields here: {', '.join(node.keys())}.")
        node[leaf] = value
    config.lock()
    return config

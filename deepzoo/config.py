"""Loading config files the way --config does, and parsing their `:variant,option` argument.

    config = deepzoo.config.load("configs/mnist1d_mlp.py:smoke", num_train_steps=20)

    # in a config file: configs/char_lm.py:gru,smoke -> ("gru", {"smoke"})
    cell, options = parse_arg(arg, variants=("rnn", "gru", "lstm", "gpt"), options=("smoke",), default="lstm")
"""
import importlib.util
import os
import sys

import ml_collections


def parse_arg(arg: str | None, *, variants=None, options=(), default: str = "") -> tuple[str, frozenset]:
    """`variant[,option...]` -> (variant, the options given).

    The options are the trailing comma-separated words found in `options`; what precedes them is the
    variant, which may itself hold commas ("cartpole,ppo,smoke" -> ("cartpole,ppo", {"smoke"})). An
    empty variant is `default`. `variants` lists the known ones (None: any word without a comma, e.g. a
    game's name). A bad arg raises ValueError naming the known variants and options."""
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


def load(spec: str, **overrides) -> ml_collections.ConfigDict:
    """`path.py[:arg]` -> get_config(arg), with dotted-name overrides ({"optimizer.learning_rate": 0.1})."""
    path, _, arg = spec.partition(":")
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file {path!r} not found (run from the repository root, "
                                f"or give an absolute path).")
    # Config files import their siblings as `configs.common` (as big_vision's do): the folder above
    # configs/ must be importable, also when a script in experiments/ loads them.
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if root not in sys.path:
        sys.path.append(root)
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    config = module.get_config(arg or None)
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

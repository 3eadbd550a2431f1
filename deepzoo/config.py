"""Loading config files the way --config does, for experiments, notebooks and tests.

    config = deepzoo.config.load("configs/mnist1d_mlp.py:smoke", num_train_steps=20)
"""
import importlib.util
import os

import ml_collections


def load(spec: str, **overrides) -> ml_collections.ConfigDict:
    """`path.py[:arg]` -> get_config(arg), with dotted-name overrides ({"optimizer.learning_rate": 0.1})."""
    path, _, arg = spec.partition(":")
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file {path!r} not found (run from the repository root, "
                                f"or give an absolute path).")
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

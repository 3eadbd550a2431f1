"""Config files: the `:variant,option` parser, the shared supervised defaults, and the kind of run."""
import glob
import importlib.util
import os
import subprocess
import sys

import pytest

from deepzoo import config as config_lib
from deepzoo.config import parse_arg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if os.path.basename(p) not in ("common.py", "imagenet_common.py"))
CELLS = ("rnn", "gru", "lstm", "gpt")


@pytest.mark.parametrize("arg, expected", [
    ("gru", ("gru", set())),
    ("gru,smoke", ("gru", {"smoke"})),
    (None, ("lstm", set())),          # no arg: the default
    ("", ("lstm", set())),
    ("smoke", ("lstm", {"smoke"})),   # only options: the default variant
    (",smoke", ("lstm", {"smoke"})),
])
def test_parse_arg_splits_variant_and_options(arg, expected):
    assert parse_arg(arg, variants=CELLS, options=("smoke",), default="lstm") == expected


def test_parse_arg_variants_may_hold_commas_and_any_name_may_be_allowed():
    recipes = ("cartpole,ppo", "cartpole,dqn")
    assert parse_arg("cartpole,dqn,smoke", variants=recipes, options=("smoke",)) == ("cartpole,dqn", {"smoke"})
    assert parse_arg(None, variants=recipes, options=("smoke",), default="cartpole,ppo") == ("cartpole,ppo", set())
    assert parse_arg("Pong,smoke", options=("smoke",), default="Breakout") == ("Pong", {"smoke"})
    assert parse_arg(None, options=("smoke",), default="Breakout") == ("Breakout", set())
    assert parse_arg("smoke", variants=("mlp", "smoke"), default="mlp") == ("smoke", set())  # a variant, no option


def test_parse_arg_errors_list_the_known_variants_and_options():
    with pytest.raises(ValueError, match=r"unknown variant 'lstn' in the config arg 'lstn,smoke'; known: 'rnn', "
                                         r"'gru', 'lstm' \(default\), 'gpt'; options \(after a comma\): 'smoke'"):
        parse_arg("lstn,smoke", variants=CELLS, options=("smoke",), default="lstm")
    with pytest.raises(ValueError, match=r"unknown option 'smok' in the config arg 'gru,smok'; options .*'smoke'"):
        parse_arg("gru,smok", variants=CELLS, options=("smoke",), default="lstm")
    with pytest.raises(ValueError, match=r"unknown option 'smok' in the config arg 'Pong,smok'"):
        parse_arg("Pong,smok", options=("smoke",))
    with pytest.raises(ValueError, match=r"unknown variant 'cartpole,foo'.*known: 'cartpole,ppo' \(default\)"):
        parse_arg("cartpole,foo", variants=("cartpole,ppo",), options=("smoke",), default="cartpole,ppo")
    with pytest.raises(ValueError, match=r"unknown variant 'resnet'.*known: 'mlp' \(default\), 'cnn'\.$"):
        parse_arg("resnet", variants=("mlp", "cnn"), default="mlp")


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_config_says_which_kind_of_run_it_is(path):
    config = config_lib.load(path)
    kind = {"double_descent.py": "sweep", "double_descent_pods.py": "sweep", "classic_control.py": "agent",
            "atari_dqn.py": "agent", "nas.py": "search"}.get(os.path.basename(path), "supervised")
    assert config.program == kind
    if kind == "supervised":  # it extends configs/common.py's defaults: it has every field they have
        defaults = _common().supervised()
        for name, value in defaults.items():
            assert name in config, name
            if hasattr(value, "keys"):
                assert set(value.keys()) <= set(config[name].keys()), name


def _common():
    spec = importlib.util.spec_from_file_location("common", os.path.join(ROOT, "configs", "common.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_config_loads_from_anywhere_with_its_sibling_imports(tmp_path):
    # configs import configs.common; load() makes that work outside the repository root too
    code = (f"from deepzoo import config; c = config.load({os.path.join(ROOT, 'configs', 'char_lm.py')!r} + "
            f"':gpt,smoke'); print(c.program, c.model.name)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["supervised", "gpt_small"]


def test_a_config_loads_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # no configs/ here: the configs shipped with deepzoo
    by_name = config_lib.load("classic_control:acrobot,dqn,smoke")
    by_path = config_lib.load(os.path.join(ROOT, "configs", "classic_control.py") + ":acrobot,dqn,smoke")
    assert by_name.to_dict() == by_path.to_dict()
    assert config_lib.load("mnist1d_mlp.py").num_train_steps == 6000


def test_a_misspelt_config_name_suggests_the_right_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'mnist1d_mpl' not found.*did you mean 'mnist1d_mlp'\?"):
        config_lib.load("mnist1d_mpl:smoke")


def test_the_listing_shows_every_config_with_its_variants_and_options():
    text = config_lib.listing()
    names = [line.split()[0] for line in text.splitlines()[2:] if line and not line.startswith(" ")]
    assert names == [os.path.basename(p)[:-3] for p in CONFIGS]
    assert "variants: cartpole,ppo (default), cartpole,reinforce, cartpole,dqn, acrobot,dqn" in text
    assert "variant: any name (default 'resnet_mnist')" in text and "options: smoke" in text


def test_the_small_option_is_the_same_recipe_shortened_in_proportion():
    from configs import common
    full = config_lib.load("mnist5k_generative:diffusion")
    small = common.shorten(config_lib.load("mnist5k_generative:diffusion"), full.num_train_steps // 4)
    assert small.num_train_steps == full.num_train_steps // 4
    assert small.optimizer.warmup_steps == full.optimizer.warmup_steps // 4
    assert small.eval_every_steps == full.eval_every_steps // 4
    # the EMA's horizon, 1 / (1 - decay) steps, shrinks with the run: 1,000 -> 250
    assert 1 / (1 - small.ema_decay) == pytest.approx(1 / (1 - full.ema_decay) / 4)
    assert (small.model, small.optimizer.learning_rate, small.batch_size) == \
        (full.model, full.optimizer.learning_rate, full.batch_size)

"""The sequence experiments' configs: every variant builds, and each family trains a few steps through
the one trainer (data prepared offline; WMT'14 through TFDS mock data) and reports its metrics."""
import math

import jax
import jax.numpy as jnp
import pytest
import tensorflow_datasets as tfds

from deepzoo import config as config_lib
from deepzoo import models
from deepzoo.analysis import complexity
from deepzoo.train import trainer

VARIANTS = ["char_lm.py:rnn", "char_lm.py:gru", "char_lm.py:lstm", "numbers_translation.py:none",
            "numbers_translation.py:bahdanau", "numbers_translation.py:luong", "mnist_captions.py",
            "wmt14_seq2seq.py:luong", "wmt14_seq2seq.py:bahdanau", "wmt14_seq2seq.py:none",
            "numbers_translation.py:transformer", "wmt14_transformer.py:base", "wmt14_transformer.py:big",
            "char_lm.py:gpt", "masked_lm.py"]


@pytest.mark.parametrize("arg", VARIANTS)
def test_every_variant_builds_its_model(arg):
    config = config_lib.load(f"configs/{arg}")
    model = models.get(config.model.name, **config.model.kwargs)
    inputs = models.example_inputs(config.model.name)
    if "max_length" in config.dataset and jnp.issubdtype(inputs[0].dtype, jnp.integer):  # the config's length
        inputs = tuple(jax.ShapeDtypeStruct((1, config.dataset.max_length), x.dtype) for x in inputs)
    variables = jax.eval_shape(lambda xs: model.init(jax.random.key(0), *xs, train=False), inputs)
    assert complexity.count_params(variables["params"]) > 0
    if "vocab_size" in config.dataset:
        assert config.model.kwargs.vocab_size == config.dataset.vocab_size


def test_wmt14_luong_is_the_papers_model():
    """4 layers of 1000 LSTM cells, 1000-dim embeddings, 32k joint pieces: the count in closed form."""
    config = config_lib.load("configs/wmt14_seq2seq.py:luong")
    model = models.get(config.model.name, **config.model.kwargs)
    tokens = jax.ShapeDtypeStruct((1, 8), "int32")
    params = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, x, train=False), tokens)["params"]
    V, E, H = 32000, 1000, 1000
    lstm = lambda d: d * 4 * H + H * 4 * H + 4 * H
    encoder = V * E + lstm(E) + 3 * lstm(H)
    decoder = V * E + lstm(E + H) + 3 * lstm(H)  # input feeding: [y; h~] enters the first layer
    attention = H * H + (H * H + H) + 2 * H * H + (H * V + V)  # W_a, bridge, W_c, output layer
    assert complexity.count_params(params) == encoder + decoder + attention
    assert config.optimizer.name == "sgd" and config.optimizer.grad_clip_norm == 5.0


# Preparing numbers_en_de (50,000 pairs and a SentencePiece model) or mnist_captions (24,000 composites)
# takes a minute or more on the CI machine: those runs are slow tests.
@pytest.mark.parametrize("arg, metric", [
    pytest.param("char_lm.py:lstm,smoke", "validation_bits_per_token", marks=pytest.mark.slow),   # ~18 s
    pytest.param("char_lm.py:gpt,smoke", "validation_bits_per_token", marks=pytest.mark.slow),    # ~37 s
    pytest.param("masked_lm.py:smoke", "validation_token_accuracy", marks=pytest.mark.slow),      # ~23 s
    pytest.param("numbers_translation.py:transformer,smoke", "validation_exact_match", marks=pytest.mark.slow),
    pytest.param("numbers_translation.py:luong,smoke", "validation_exact_match", marks=pytest.mark.slow),
    pytest.param("mnist_captions.py:smoke", "test_exact_match", marks=pytest.mark.slow),
])
def test_smoke_variants_train_through_the_trainer(arg, metric, tmp_path):
    results = trainer.train_and_evaluate(config_lib.load(f"configs/{arg}"), str(tmp_path))
    assert metric in results and math.isfinite(results[metric])
    assert math.isfinite(results["loss"]) and results["loss"] > 0


@pytest.mark.slow  # compiles a 4+4-layer LSTM encoder-decoder: ~30 s
def test_wmt14_pod_config_trains_on_mock_data(tmp_path):
    config = config_lib.load("configs/wmt14_seq2seq.py:luong,smoke", **{"dataset.data_dir": str(tmp_path)})
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        results = trainer.train_and_evaluate(config, str(tmp_path / "run"))
    assert math.isfinite(results["validation_loss"]) and results["validation_token_accuracy"] >= 0


@pytest.mark.slow  # the Transformer through the pod recipe on mock WMT data, then its sacrebleu evaluation
def test_wmt14_transformer_trains_and_evaluates_with_checkpoint_averaging_on_mock_data(tmp_path):
    from test_sequence_experiments import translation  # noqa: PLC0415 (experiments/ is not a package)
    config = config_lib.load("configs/wmt14_transformer.py:base,smoke", **{"dataset.data_dir": str(tmp_path)})
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        results = trainer.train_and_evaluate(config, str(tmp_path / "run"))
        assert math.isfinite(results["validation_loss"])
        bleu = translation.evaluate_pod_run(config, "base_smoke", str(tmp_path / "run"), tmp_path, split="test",
                                            batch_size=8)
    assert 0.0 <= bleu <= 100.0
    assert "sacreBLEU" in (tmp_path / "wmt14_base_smoke.md").read_text()

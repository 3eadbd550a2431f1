"""Neural architecture search (Zoph & Le 2017): a masked child computes its own network, the controller is causal
and samples what it scores, REINFORCE's loss against NumPy, and the search resumes to the same result."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import config as config_lib
from deepzoo import models, tasks
from deepzoo.models import nas
from deepzoo.rl import search



def sample(controller, params, key, num, uniform=False):
    return jax.jit(lambda p, k: controller.apply({"params": p}, k, num, uniform, method="sample"))(params, key)


TOKENS = jnp.asarray([2, 1, 2,  0, 1, 3,  1, 2, 1, 1,  2, 0, 0, 0, 1], jnp.int32)   # 4 layers, skips 3->1, 4->2


def test_tokens_decode_and_describe():
    assert nas.choices(4) == (3, 3, 4, 3, 3, 4, 3, 3, 4, 2, 3, 3, 4, 2, 2)
    h, w, f, skips = (np.asarray(a) for a in nas.decode(TOKENS, 4))
    assert h.tolist() == [5, 1, 3, 5] and w.tolist() == [3, 3, 5, 1] and f.tolist() == [16, 32, 8, 4]
    assert np.argwhere(skips).tolist() == [[2, 0], [3, 1]]
    assert nas.describe(TOKENS, 4) == "5x3 16; 1x3 32; 3x5 8 +1; 5x1 4 +2"


def test_a_masked_child_computes_its_own_network():
    child = models.get("nas_child_digits")
    x = jax.random.uniform(jax.random.key(0), (3, 8, 8, 1))
    variables = jax.jit(child.init)(jax.random.key(1), x, TOKENS)
    p = jax.tree.map(np.asarray, variables["params"])
    # The same network written out at its own sizes: centred kh x kw kernels, f filters, skip sums.
    conv = lambda a, k: np.asarray(jax.lax.conv_general_dilated(a, k, (1, 1), "SAME",
                                                                dimension_numbers=("NHWC", "HWIO", "NHWC")))
    sizes, outputs, a = [(5, 3, 16), (1, 3, 32), (3, 5, 8), (5, 1, 4)], [], np.asarray(x)
    for i, (kh, kw, f) in enumerate(sizes):
        if i == 2:
            a = outputs[1] + outputs[0]
        elif i == 3:
            a = outputs[2] + outputs[1]
        cin = a.shape[-1]
        k = p[f"conv{i}_kernel"][2 - kh // 2:3 + kh // 2, 2 - kw // 2:3 + kw // 2, :cin, :f]
        a = np.maximum(conv(a, k) + p[f"conv{i}_bias"][:f], 0)
        outputs.append(np.pad(a, ((0, 0), (0, 0), (0, 0), (0, 32 - f))) if i < 3 else a)
    want = outputs[3].mean((1, 2)) @ p["classifier_kernel"][:4] + p["classifier_bias"]
    np.testing.assert_allclose(jax.jit(child.apply)(variables, x), want, rtol=1e-5, atol=1e-5)
    # Each layer's own weights start He-normal for its own fan-in (5 x 3 x 1 for the first).
    used = p["conv0_kernel"][:, 1:4, :, :16]
    assert 0.7 < used.std() / np.sqrt(2 / 15) < 1.3


def _small_controller():
    controller = models.get("nas_controller", layers=3, hidden=8)          # small: 10 positions, quick to compile
    params = jax.jit(controller.init)(jax.random.key(0), TOKENS[None, :10])["params"]
    return controller, params, jax.jit(lambda tokens: controller.apply({"params": params}, tokens))


def test_the_controller_is_causal_and_masks_missing_choices():
    controller, params, apply = _small_controller()
    tokens = TOKENS[:10]
    logits, changed = apply(tokens[None]), apply(tokens.at[6:].set(0)[None])
    np.testing.assert_array_equal(logits[:, :7], changed[:, :7])       # position t sees tokens < t only
    sizes = np.asarray(nas.choices(3))
    assert bool(jnp.all((logits[0] <= nas.NO_CHOICE) == (np.arange(4)[None] >= sizes[:, None])))


@pytest.mark.slow
def test_the_controller_samples_what_it_scores_and_random_search_uniformly():
    controller, params, apply = _small_controller()
    sizes = np.asarray(nas.choices(3))
    drawn, logp = sample(controller, params, jax.random.key(1), 16)
    assert bool(jnp.all(drawn < sizes)) and drawn.shape == (16, 10)
    want, _ = tasks.sequence_reinforce.log_probs_and_entropy(apply(drawn), drawn)
    np.testing.assert_allclose(logp, want, rtol=1e-5)
    _, logp_uniform = sample(controller, params, jax.random.key(1), 4, uniform=True)
    np.testing.assert_allclose(logp_uniform, -np.log(sizes).sum(), rtol=1e-5)


def test_reinforce_loss_against_numpy():
    controller = models.get("nas_controller", layers=3, hidden=8)
    params = jax.jit(controller.init)(jax.random.key(0), TOKENS[None, :10])["params"]
    sizes = np.asarray(nas.choices(3))
    tokens = jnp.asarray((np.random.default_rng(0).uniform(size=(5, 10)) * sizes).astype(np.int32))
    advantages = jnp.asarray([0.3, -0.1, 0.0, 0.2, -0.4])
    task = tasks.get("sequence_reinforce", entropy_weight=0.01)
    loss, (_, metrics) = jax.jit(lambda p: task.loss(controller, p, {}, {"tokens": tokens, "advantages": advantages},
                                                     {"dropout": jax.random.key(0)}))(params)
    logits = np.asarray(jax.jit(controller.apply)({"params": params}, tokens), np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    chosen = np.take_along_axis(logp, np.asarray(tokens)[..., None], -1)[..., 0].sum(-1)
    entropy = -(np.exp(logp) * logp).sum((1, 2))
    np.testing.assert_allclose(loss, -(np.asarray(advantages) * chosen).mean() - 0.01 * entropy.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["entropy"][0] / 5, entropy.mean(), rtol=1e-5)


@pytest.mark.slow
def test_a_stopped_search_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    from deepzoo.train import loop
    config = config_lib.load("configs/nas.py:nas,smoke")
    config.search.update(children=2, child_steps=3)
    config.num_train_steps, config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps = 3, 1, 1, 1
    whole = search.search(config, tmp_path / "whole")

    class StopAfterFirstIteration(loop.StopSignal):
        def requested(self, sync):
            return True   # a SIGTERM arrives during the first iteration
    monkeypatch.setattr(loop, "StopSignal", StopAfterFirstIteration)
    with pytest.raises(loop.Stopped, match="at iteration 1 of 3"):
        search.search(config, tmp_path / "parts")
    monkeypatch.undo()
    resumed = search.search(config, tmp_path / "parts")
    timeless = lambda r: {k: v for k, v in r.items() if k != "seconds"}
    assert timeless(resumed) == timeless(whole)
    assert whole["children"] == 6 and 0 <= whole["best_reward"] <= 1 and len(whole["best_architectures"]) == 5
    lines = lambda d: [json.loads(r) for r in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds" and not k.endswith("_per_sec")} for r in records]
    assert strip(lines("parts")) == strip(lines("whole"))


@pytest.mark.slow
def test_nas_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("nas.py", "--variant=smoke", "--seeds=0")
    table = (out / "results.md").read_text()
    assert "| NAS (REINFORCE controller) | 1 |" in table and "| random search | 1 |" in table
    assert "| nas | 0 | 16 |" in table and (out / "nas.png").stat().st_size > 0

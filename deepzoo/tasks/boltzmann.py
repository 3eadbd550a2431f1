"""Learning rules of Boltzmann machines, each written as a loss whose gradient is the rule, so that the one
train step (train/step.py) applies it with the config's optimizer.

Boltzmann machine (Ackley, Hinton & Sejnowski 1985): the gradient of the log-likelihood is
    d log P(v) / d w_ij = <s_i s_j>_clamped - <s_i s_j>_free        (d / d b_i: <s_i>_clamped - <s_i>_free)
which is minus the gradient of   loss = E_data[F(v)] + log Z   (the negative log-likelihood, F(v) = -log
sum_h exp(-E(v, h))). method="exact" computes it by enumerating all 2^n states (the free phase) and the
2^H hidden states of each pattern (the clamped phase); method="gibbs" estimates both phases by sequential
Gibbs sampling, as the paper did, with the loss E_clamped-samples[E(s)] - E_free-samples[E(s)] (samples
under stop_gradient), whose gradient is the sampled rule. Noisy clamping (the paper's, against weights that
grow without bound on patterns that never vary): the clamped phase sees each pattern with its on units
switched off with probability clamp_noise[0] and its off units on with clamp_noise[1] (they used 0.15, 0.05),
drawn afresh at every update.

RBM, contrastive divergence (Hinton 2002): the gradient of -log p(v) is dF(v)/dtheta - E_model[dF(v')/dtheta];
CD-k replaces the model's expectation by a sample v' of k block Gibbs steps started at the data, so
    loss = mean_batch F(v) - mean F(stop_gradient(v'))
(dF/dW = -v p(h | v)^T: the rule  dW ~ <v h>_data - <v h>_k). Persistent CD (Tieleman 2008) starts the k
steps at the last step's v' instead of the data: the model's "chains" collection, returned as its new
state. The sampling key is the step's rngs["dropout"] (a fresh one every step).
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.inference import boltzmann as sampling
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.reconstruction import check_unit_range, first_images


def _variables(params, model_state):
    return {"params": params, **model_state}


@dataclasses.dataclass(frozen=True)
class BoltzmannLearning:
    """The Boltzmann machine learning rule on binary visible patterns batch["input"] (B, V): exact (all
    states enumerated) or estimated by Gibbs sampling (module docstring). Metric nll: -log P(v) (nats), exact."""
    method: str = "exact"           # "exact" or "gibbs"
    chains: int = 64                # gibbs: free-running chains (the negative phase)
    repeats: int = 16               # gibbs: clamped chains per pattern (the positive phase)
    burn_in: int = 10               # gibbs: sweeps before the states are counted
    samples: int = 10               # gibbs: sweeps whose states enter the averages
    clamp_noise: tuple = (0.0, 0.0)  # P(on -> off), P(off -> on) of a clamped visible unit (module docstring)

    def __post_init__(self):
        if self.method not in ("exact", "gibbs"):
            raise ValueError(f"method={self.method!r}: use 'exact' (enumeration) or 'gibbs' (sampling).")
        if len(self.clamp_noise) != 2 or not all(0 <= p < 1 for p in self.clamp_noise):
            raise ValueError(f"clamp_noise={self.clamp_noise!r}: give (P(on -> off), P(off -> on)), each in [0, 1).")

    def inputs(self, batch) -> tuple:
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        x = first_images(source)
        if not jnp.all((x == 0) | (x == 1)):
            raise ValueError(f"{model_name} learns binary patterns; the data holds other values: binarise it.")

    def nll(self, model, params, v):
        """-log P(v) = F(v) + log Z, exact: (B, V) -> (B,)."""
        n = model.num_visible + model.num_hidden
        variables = {"params": params}
        log_z = jax.nn.logsumexp(-model.apply(variables, sampling.all_states(n), method="energy"))
        return model.apply(variables, v) + log_z

    def phases(self, model, params, v, key):
        """Gibbs samples of the clamped phase (visibles fixed at the patterns v) and of the free phase:
        ((B * repeats * samples, n), (chains * samples, n)), under stop_gradient."""
        W, b = jax.lax.stop_gradient(model.apply({"params": params}, method="weights"))
        V, n = model.num_visible, model.num_visible + model.num_hidden
        k_clamped, k_free, k0, k1 = jax.random.split(key, 4)
        clamped = jnp.repeat(v, self.repeats, axis=0)
        clamped = jnp.concatenate([clamped, jax.random.bernoulli(k0, 0.5, (len(clamped), n - V))], -1)
        free = jax.random.bernoulli(k1, 0.5, (self.chains, n)).astype(jnp.float32)
        sweeps = self.burn_in + self.samples
        pos = sampling.bm_gibbs(k_clamped, clamped.astype(jnp.float32), W, b, (jnp.arange(n) >= V).astype(jnp.float32), sweeps)
        neg = sampling.bm_gibbs(k_free, free, W, b, jnp.ones(n), sweeps)
        return pos[self.burn_in:].reshape(-1, n), neg[self.burn_in:].reshape(-1, n)

    def noisy(self, v, key):
        """The patterns v as the clamped phase sees them: each on unit off with probability clamp_noise[0],
        each off unit on with clamp_noise[1]."""
        flip = jax.random.uniform(key, v.shape) < jnp.where(v > 0, *self.clamp_noise)
        return jnp.where(flip, 1.0 - v, v)

    def loss(self, model, params, model_state, batch, rngs):
        v = batch["input"].reshape(batch["input"].shape[0], -1).astype(jnp.float32)
        nll = self.nll(model, params, v)
        clamped = self.noisy(v, jax.random.fold_in(rngs["dropout"], 1)) if any(self.clamp_noise) else v
        if self.method == "exact":
            loss = jnp.mean(self.nll(model, params, clamped)) if any(self.clamp_noise) else jnp.mean(nll)
        else:
            pos, neg = self.phases(model, params, clamped, rngs["dropout"])
            energy = lambda s: model.apply({"params": params}, s, method="energy")
            loss = jnp.mean(energy(pos)) - jnp.mean(energy(neg))
        return loss, (model_state, {"loss": metrics_lib.pair(jnp.broadcast_to(loss, nll.shape), 1.0),
                                    "nll": metrics_lib.pair(jax.lax.stop_gradient(nll), 1.0)})

    def evaluate(self, model, params, model_state, batch):
        v = batch["input"].reshape(batch["input"].shape[0], -1).astype(jnp.float32)
        return {"nll": metrics_lib.pair(self.nll(model, params, v), batch["mask"])}


@dataclasses.dataclass(frozen=True)
class ContrastiveDivergence:
    """CD-k (Hinton 2002) and persistent CD (Tieleman 2008) for an RBM or the top RBM of a deep belief net
    (module docstring). Pixels above `binarize` become 1, the others 0 (0: the inputs are used as they are,
    as probabilities). Metrics: free_energy of the data, reconstruction (cross-entropy of one mean-field
    up-down pass, nats per example), and, for at most exact_max_hidden hidden units, the exact log_likelihood
    (log Z by enumerating the hidden states)."""
    steps: int = 1                  # k of CD-k
    persistent: bool = False
    binarize: float = 0.5
    exact_max_hidden: int = 20

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps={self.steps!r}: CD-k needs a whole number k >= 1 of Gibbs steps.")

    def inputs(self, batch) -> tuple:
        x = batch["input"].astype(jnp.float32)
        return ((x > self.binarize).astype(jnp.float32) if self.binarize else x,)

    def validate(self, output_shape, source, model_name):
        check_unit_range(first_images(source), f"the RBM ({model_name})")

    def negative_sample(self, model, params, model_state, v, key):
        """v' (B or chains, V): k block Gibbs steps from the data v, or from the persistent chains."""
        W, b, c = jax.lax.stop_gradient(model.apply(_variables(params, model_state), method="arrays"))
        if self.persistent:
            if "chains" not in model_state:
                raise ValueError("persistent contrastive divergence keeps its chains in the model: set "
                                 "--config.model.kwargs.persistent_chains (e.g. to the batch size).")
            v = model_state["chains"]["visible"]
        return jax.lax.stop_gradient(sampling.rbm_gibbs(key, v, W, b, c, self.steps)[0])

    def _metrics(self, model, variables, v, weights):
        W, b, c = model.apply(variables, method="arrays")
        free = model.apply(variables, v, method="free_energy")
        probs = sampling.rbm_visible_probs(sampling.rbm_hidden_probs(v, W, c), W, b)
        eps = 1e-7
        recon = -jnp.sum(v * jnp.log(probs + eps) + (1 - v) * jnp.log(1 - probs + eps), axis=-1)
        metrics = {"free_energy": metrics_lib.pair(free, weights), "reconstruction": metrics_lib.pair(recon, weights)}
        if W.shape[1] <= self.exact_max_hidden:
            metrics["log_likelihood"] = metrics_lib.pair(-free - sampling.rbm_log_partition(W, b, c), weights)
        return metrics

    def loss(self, model, params, model_state, batch, rngs):
        variables = _variables(params, model_state)
        v = model.apply(variables, *self.inputs(batch), method="visible")
        v_model = self.negative_sample(model, params, model_state, v, rngs["dropout"])
        free = lambda x: model.apply(variables, x, method="free_energy")
        loss = jnp.mean(free(v)) - jnp.mean(free(v_model))
        new_state = {**model_state, "chains": {"visible": v_model}} if self.persistent else model_state
        metrics = self._metrics(model, jax.lax.stop_gradient(variables), jax.lax.stop_gradient(v), 1.0)
        metrics.pop("log_likelihood", None)
        return loss, (new_state, {"loss": metrics_lib.pair(jnp.broadcast_to(loss, v.shape[:1]), 1.0), **metrics})

    def evaluate(self, model, params, model_state, batch):
        variables = _variables(params, model_state)
        v = model.apply(variables, *self.inputs(batch), method="visible")
        return self._metrics(model, variables, v, batch["mask"])

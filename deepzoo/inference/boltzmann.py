"""Sampling and partition functions of Boltzmann machines, on their parameter arrays (no Flax, no training).

Boltzmann machine (Ackley, Hinton & Sejnowski 1985): n binary units s, symmetric weights W (zero diagonal),
biases b, energy and distribution
    E(s) = -1/2 s^T W s - b^T s                 p(s) = exp(-E(s)) / Z
    p(s_i = 1 | s_-i) = sigmoid(sum_j W_ij s_j + b_i)           (one unit at a time: `bm_gibbs`)
Restricted Boltzmann machine (Smolensky 1986; Hinton 2002): visible v (V), hidden h (H), weights W (V, H),
visible biases b, hidden biases c, no visible-visible or hidden-hidden weights, so that each layer is
conditionally independent given the other (block Gibbs sampling: `rbm_gibbs`):
    E(v, h) = -v^T W h - b^T v - c^T h
    p(h_j = 1 | v) = sigmoid(c_j + v^T W_:j)    p(v_i = 1 | h) = sigmoid(b_i + W_i: h)
    F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j)          (free energy: p(v) = exp(-F(v)) / Z)
    G(h) = -c^T h - sum_i softplus(b_i + W_i: h)           (the hidden side's: p(h) = exp(-G(h)) / Z)
log Z exactly for a small hidden layer (`rbm_log_partition`, 2^H terms), and by annealed importance sampling
for a large one (`rbm_ais`, Salakhutdinov & Murray 2008).
"""
import jax
import jax.numpy as jnp
import numpy as np

MAX_ENUMERATED = 25   # 2^25 states: the most `all_states` enumerates


def all_states(n: int) -> jnp.ndarray:
    """The 2^n binary vectors of length n, (2^n, n) float32, in counting order (first unit most significant)."""
    if n > MAX_ENUMERATED:
        raise ValueError(f"enumerating 2^{n} states is out of reach (the limit is 2^{MAX_ENUMERATED}); "
                         f"use fewer units, or estimate log Z by annealed importance sampling (rbm_ais).")
    codes = np.arange(2 ** n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]
    return jnp.asarray(codes & 1, jnp.float32)


def _bernoulli(key, p):
    return jax.random.bernoulli(key, p).astype(p.dtype)


# Boltzmann machine ----------------------------------------------------------------------------------------------

def bm_energy(s, W, b):
    """E(s) = -1/2 s^T W s - b^T s for states s (..., n)."""
    return -0.5 * jnp.einsum("...i,ij,...j->...", s, W, s) - s @ b


def bm_conditional(s, W, b, i):
    """p(s_i = 1 | the other units of s) = sigmoid(sum_j W_ij s_j + b_i) (W_ii = 0), for states s (..., n)."""
    return jax.nn.sigmoid(s @ W[:, i] + b[i])


def bm_gibbs(key, s, W, b, free, sweeps: int):
    """`sweeps` sweeps of sequential Gibbs sampling (each unit in turn resampled from its conditional) of
    the units where `free` (n,) is 1; the others stay clamped at their values in s (chains, n).
    -> the states after each sweep, (sweeps, chains, n)."""
    n = s.shape[-1]

    def unit(s, xs):
        i, key = xs
        new = _bernoulli(key, bm_conditional(s, W, b, i))
        return s.at[:, i].set(jnp.where(free[i] > 0, new, s[:, i])), None

    def sweep(s, key):
        s, _ = jax.lax.scan(unit, s, (jnp.arange(n), jax.random.split(key, n)))
        return s, s

    return jax.lax.scan(sweep, s, jax.random.split(key, sweeps))[1]


# Restricted Boltzmann machine -----------------------------------------------------------------------------------

def rbm_hidden_probs(v, W, c):
    """p(h = 1 | v) = sigmoid(c + v W): (B, V) -> (B, H)."""
    return jax.nn.sigmoid(v @ W + c)


def rbm_visible_probs(h, W, b):
    """p(v = 1 | h) = sigmoid(b + h W^T): (B, H) -> (B, V)."""
    return jax.nn.sigmoid(h @ W.T + b)


def rbm_free_energy(v, W, b, c):
    """F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j): (B, V) -> (B,)."""
    return -v @ b - jnp.sum(jax.nn.softplus(v @ W + c), axis=-1)


def rbm_hidden_free_energy(h, W, b, c):
    """G(h) = -c^T h - sum_i softplus(b_i + W_i: h): (B, H) -> (B,)."""
    return -h @ c - jnp.sum(jax.nn.softplus(h @ W.T + b), axis=-1)


def rbm_gibbs(key, v, W, b, c, steps: int):
    """`steps` steps of block Gibbs sampling v -> h ~ p(h | v) -> v ~ p(v | h), from v (B, V).
    -> (the last binary v, its probabilities p(v | h)), each (B, V). steps = k of CD-k."""
    def step(v, key):
        k_h, k_v = jax.random.split(key)
        h = _bernoulli(k_h, rbm_hidden_probs(v, W, c))
        p = rbm_visible_probs(h, W, b)
        return _bernoulli(k_v, p), p

    v, probs = jax.lax.scan(step, v, jax.random.split(key, steps))
    return v, probs[-1]


def rbm_log_partition(W, b, c, chunk: int = 1 << 12):
    """log Z = log sum_h exp(-G(h)), exact, by enumerating the 2^H hidden states (in chunks of `chunk`)."""
    hidden = W.shape[1]
    states = all_states(hidden)
    chunk = min(chunk, len(states))
    blocks = states.reshape(-1, chunk, hidden)
    per_block = jax.lax.map(lambda h: jax.nn.logsumexp(-rbm_hidden_free_energy(h, W, b, c)), blocks)
    return jax.nn.logsumexp(per_block)


def base_rate_bias(v, eps: float = 1e-3):
    """The visible biases of the independent-pixel model that matches the pixels' means (AIS's base
    model: Salakhutdinov & Murray 2008 use the data's base rates), means clipped to [eps, 1 - eps]."""
    p = jnp.clip(jnp.mean(v, axis=0), eps, 1.0 - eps)
    return jnp.log(p) - jnp.log1p(-p)


def ais_betas(num_temperatures: int) -> jnp.ndarray:
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1, spaced as Salakhutdinov & Murray 2008 space
    their 14,500: 500/14,500 of them uniform in [0, 0.5], 4,000/14,500 in [0.5, 0.9], the rest in [0.9, 1]."""
    k = num_temperatures
    if k < 10:
        raise ValueError(f"num_temperatures={k}: AIS needs at least 10 intermediate distributions (thousands "
                         f"for a tight estimate).")
    n1, n2 = max(1, round(k * 500 / 14500)), max(1, round(k * 4000 / 14500))
    n3 = k - n1 - n2
    return jnp.concatenate([jnp.linspace(0.0, 0.5, n1, endpoint=False), jnp.linspace(0.5, 0.9, n2, endpoint=False),
                            jnp.linspace(0.9, 1.0, n3 + 1)])


def rbm_ais(key, W, b, c, base_bias, betas, runs: int):
    """Annealed importance sampling (Neal 2001) of log Z of the RBM (W, b, c), as in Salakhutdinov & Murray
    2008: from the base model p_A(v) of independent pixels (visible biases `base_bias`, no weights) to the
    RBM through
        p*_k(v) = exp((1 - beta_k) b_A^T v + beta_k b^T v) prod_j (1 + exp(beta_k (c_j + v^T W_:j)))
    (hidden units summed out), each step a Gibbs transition that leaves p_k invariant. `runs` chains start
    from exact draws of p_A; log Z_0 = H log 2 + sum_i softplus(b_A,i).
    -> (log Z estimate = log Z_0 + log mean_r w_r, the runs' log weights (runs,))."""
    betas = jnp.asarray(betas, jnp.float32)
    visible, hidden = W.shape

    def log_pstar(v, a, beta):   # a = c + v W, computed once per step
        return (1.0 - beta) * v @ base_bias + beta * v @ b + jnp.sum(jax.nn.softplus(beta * a), axis=-1)

    def step(carry, xs):
        v, log_w = carry
        beta_prev, beta, key = xs
        a = v @ W + c
        log_w = log_w + log_pstar(v, a, beta) - log_pstar(v, a, beta_prev)
        k_h, k_v = jax.random.split(key)
        h = _bernoulli(k_h, jax.nn.sigmoid(beta * a))
        v = _bernoulli(k_v, jax.nn.sigmoid((1.0 - beta) * base_bias + beta * (b + h @ W.T)))
        return (v, log_w), None

    k0, key = jax.random.split(key)
    v0 = _bernoulli(k0, jnp.broadcast_to(jax.nn.sigmoid(base_bias), (runs, visible)))
    keys = jax.random.split(key, len(betas) - 1)
    (_, log_w), _ = jax.lax.scan(step, (v0, jnp.zeros((runs,), jnp.float32)), (betas[:-1], betas[1:], keys))
    log_z0 = hidden * jnp.log(2.0) + jnp.sum(jax.nn.softplus(base_bias))
    return log_z0 + jax.nn.logsumexp(log_w) - jnp.log(runs), log_w

"""Boltzmann machines: the fully connected one, the restricted one and a deep belief net's stack of RBMs.

Boltzmann machine (Ackley, Hinton & Sejnowski 1985, "A learning algorithm for Boltzmann machines"):
n = V + H stochastic binary units s = (v, h), symmetric weights with a zero diagonal, biases b,
    E(s) = -sum_{i<j} w_ij s_i s_j - sum_i b_i s_i          P(s) = exp(-E(s)) / Z
    F(v) = -log sum_h exp(-E(v, h))                           (free energy of the visibles: P(v) = exp(-F(v)) / Z)
Their encoder problem: two groups V1 and V2 of visible units that talk only through the hidden units H
(`connectivity="encoder"`: no V1-V2 weights; every other pair connected), so that the hidden units must
learn a code for the patterns (4-2-4: 2 hidden units code 4 patterns).

Restricted Boltzmann machine (Smolensky 1986; Hinton 2002, "Training products of experts by minimizing
contrastive divergence"): a bipartite visible-hidden graph,
    E(v, h) = -v^T W h - b^T v - c^T h          F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j)
W is `kernel` (V, H), c `bias` (H,), b `visible_bias` (V,): named like a Dense layer's kernel and bias,
so that an MLP's hidden layer starts from an RBM (config.init_from).

Deep belief net (Hinton, Osindero & Teh 2006, "A fast learning algorithm for deep belief nets"): RBMs
stacked, each trained on the hidden probabilities p(h | v) of the one below (greedy, layer by layer).
`DeepBeliefNet(layer=k)` holds the RBMs 0..k (named hidden_0..hidden_k, as the MLP's layers); its
output is the free energy of RBM k on the data propagated up through the frozen ones below.

Each module's output is the free energy F (B,) of its visible input; sampling and partition functions
live in deepzoo/inference/boltzmann.py, learning rules in deepzoo/tasks/boltzmann.py.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _flat(x, size: int, what: str):
    """(B, ...) -> (B, size), or a ValueError naming the fix."""
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] != size:
        raise ValueError(f"{what} has {size} visible units but the input has {x.shape[1]} values per example: "
                         f"set --config.model.kwargs.num_visible={x.shape[1]}.")
    return x.astype(jnp.float32)


def connectivity_mask(num_visible: int, num_hidden: int, connectivity: str) -> np.ndarray:
    """(n, n) 0/1 mask of the weights a Boltzmann machine has: symmetric, zero diagonal. "full": every pair;
    "encoder": the visibles split into halves V1 and V2 with no V1-V2 weights (Ackley et al. 1985)."""
    n = num_visible + num_hidden
    mask = 1.0 - np.eye(n, dtype=np.float32)
    if connectivity == "encoder":
        if num_visible % 2:
            raise ValueError(f"connectivity='encoder' splits the visibles into two equal groups; "
                             f"num_visible={num_visible} is odd: use an even number (8 for the 4-2-4 encoder).")
        half = num_visible // 2
        mask[:half, half:num_visible] = mask[half:num_visible, :half] = 0.0
    elif connectivity != "full":
        raise ValueError(f"connectivity={connectivity!r}: use 'full' or 'encoder'.")
    return mask


class BoltzmannMachine(nn.Module):
    """Ackley, Hinton & Sejnowski 1985: visible inputs v (B, V) -> free energy F(v) (B,), summing exactly
    over the 2^H hidden states (small H). Units are ordered (v, h)."""
    num_visible: int = 8
    num_hidden: int = 2
    connectivity: str = "encoder"   # "full", or "encoder": V1 and V2 connected only through H
    init_scale: float = 0.1
    output_shape = ()               # one scalar per example: the free energy

    def setup(self):
        n = self.num_visible + self.num_hidden
        self.mask = jnp.asarray(np.triu(connectivity_mask(self.num_visible, self.num_hidden, self.connectivity), 1))
        self.upper = self.param("weights", nn.initializers.normal(self.init_scale), (n, n))  # w_ij, i < j used
        self.bias = self.param("bias", nn.initializers.zeros, (n,))                           # b_i

    def weights(self):
        """(W (n, n) symmetric with a zero diagonal and the masked pairs zero, b (n,))."""
        upper = self.upper * self.mask
        return upper + upper.T, self.bias

    def energy(self, s):
        """E(s) = -1/2 s^T W s - b^T s of full states s (..., n)."""
        W, b = self.weights()
        return -0.5 * jnp.einsum("...i,ij,...j->...", s, W, s) - s @ b

    def clamped_energies(self, v):
        """E(v, h) for every hidden state h: (B, V) -> (B, 2^H)."""
        h = jnp.asarray((np.arange(2 ** self.num_hidden)[:, None] >> np.arange(self.num_hidden)[::-1]) & 1,
                        jnp.float32)                                                    # (2^H, H)
        s = jnp.concatenate([jnp.broadcast_to(v[:, None, :], (v.shape[0], len(h), v.shape[1])),
                             jnp.broadcast_to(h[None], (v.shape[0], *h.shape))], -1)   # (B, 2^H, n)
        return self.energy(s)

    def __call__(self, v, *, train: bool = False):
        v = _flat(v, self.num_visible, "the Boltzmann machine")                       # (B, V)
        return -jax.nn.logsumexp(-self.clamped_energies(v), axis=-1)                  # F(v): (B,)


class RBM(nn.Module):
    """Restricted Boltzmann machine (Smolensky 1986; Hinton 2002): inputs (B, ...) flattened to v (B, V) ->
    free energy F(v) (B,). persistent_chains > 0 keeps that many fantasy particles in the "chains"
    collection for persistent contrastive divergence (Tieleman 2008)."""
    num_visible: int = 784
    num_hidden: int = 500
    persistent_chains: int = 0
    init_scale: float = 0.01        # W ~ N(0, 0.01^2), biases 0 (Hinton 2010, "A practical guide")
    output_shape = ()

    def setup(self):
        self.kernel = self.param("kernel", nn.initializers.normal(self.init_scale),
                                 (self.num_visible, self.num_hidden))                    # W (V, H)
        self.bias = self.param("bias", nn.initializers.zeros, (self.num_hidden,))          # c (H,)
        self.visible_bias = self.param("visible_bias", nn.initializers.zeros, (self.num_visible,))  # b (V,)
        if self.persistent_chains:
            self.chains = self.variable("chains", "visible", jnp.zeros,
                                        (self.persistent_chains, self.num_visible), jnp.float32)

    def arrays(self):
        """(W (V, H), b (V,), c (H,)): the arrays that deepzoo.inference.boltzmann samples with."""
        return self.kernel, self.visible_bias, self.bias

    def visible(self, x):
        """The visible vectors this RBM models: x flattened, (B, V)."""
        return _flat(x, self.num_visible, "the RBM")

    def hidden_probs(self, v):
        """p(h = 1 | v) = sigmoid(c + v W): (B, V) -> (B, H)."""
        return jax.nn.sigmoid(v @ self.kernel + self.bias)

    def visible_probs(self, h):
        """p(v = 1 | h) = sigmoid(b + h W^T): (B, H) -> (B, V)."""
        return jax.nn.sigmoid(h @ self.kernel.T + self.visible_bias)

    def free_energy(self, v):
        """F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j): (B, V) -> (B,)."""
        return -v @ self.visible_bias - jnp.sum(jax.nn.softplus(v @ self.kernel + self.bias), axis=-1)

    def __call__(self, x, *, train: bool = False):
        return self.free_energy(self.visible(x))                                       # (B,)


class DeepBeliefNet(nn.Module):
    """Hinton, Osindero & Teh 2006: RBMs of sizes[i] -> sizes[i+1] units stacked; `layer` = k is the one
    being trained, on the hidden probabilities of the data under the RBMs below it (held fixed: no gradient
    reaches them). Inputs (B, ...) -> F_k(up(x)) (B,)."""
    sizes: tuple = (784, 500, 500)
    layer: int = -1                 # which RBM is trained: 0 .. len(sizes) - 2; -1: the top one
    init_scale: float = 0.01
    output_shape = ()

    @property
    def top(self) -> int:
        top = self.layer % (len(self.sizes) - 1) if self.layer < 0 else self.layer
        if not 0 <= top < len(self.sizes) - 1:
            raise ValueError(f"layer={self.layer}: the DBN of sizes {tuple(self.sizes)} has RBMs 0.."
                             f"{len(self.sizes) - 2}; set --config.model.kwargs.layer to one of them.")
        return top

    def setup(self):
        self.rbms = [RBM(self.sizes[i], self.sizes[i + 1], init_scale=self.init_scale, name=f"hidden_{i}")
                     for i in range(self.top + 1)]

    def arrays(self):
        """(W, b, c) of the RBM being trained."""
        return self.rbms[-1].arrays()

    def visible(self, x):
        """The data as RBM `layer` sees it: p(h | v) of each RBM below in turn, (B, sizes[layer])."""
        v = _flat(x, self.sizes[0], "the deep belief net")
        for rbm in self.rbms[:-1]:
            v = jax.lax.stop_gradient(rbm.hidden_probs(v))
        return v

    def free_energy(self, v):
        """F(v) of RBM `layer`: (B, sizes[layer]) -> (B,)."""
        return self.rbms[-1].free_energy(v)

    def hidden_probs(self, v):
        """p(h = 1 | v) of RBM `layer`."""
        return self.rbms[-1].hidden_probs(v)

    def visible_probs(self, h):
        """p(v = 1 | h) of RBM `layer`."""
        return self.rbms[-1].visible_probs(h)

    def down(self, v):
        """The generative pass below RBM `layer`: its visible vectors (B, sizes[layer]) -> p(x | ...) (B, sizes[0])
        through the directed weights of the RBMs below, sampling each layer but the last (pixel probabilities)."""
        for i, rbm in reversed(list(enumerate(self.rbms[:-1]))):
            p = rbm.visible_probs(v)
            v = p if i == 0 else (p > jax.random.uniform(self.make_rng("sample"), p.shape)).astype(p.dtype)
        return v

    def __call__(self, x, *, train: bool = False):
        return self.free_energy(self.visible(x))                                       # (B,)


MODELS = {
    "boltzmann_machine": (BoltzmannMachine, (8,)),     # the 4-2-4 encoder
    "rbm_mnist": (RBM, (28, 28, 1)),
    "dbn_mnist": (DeepBeliefNet, (28, 28, 1)),
}

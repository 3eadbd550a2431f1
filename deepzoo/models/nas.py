"""Neural architecture search with a recurrent controller: Zoph & Le 2017, "Neural architecture search with
reinforcement learning", ICLR 2017 (https://arxiv.org/abs/1611.01578), section 3 and Figures 2 and 4.

The controller writes a child CNN token by token; for layer i: filter height, filter width, number of filters,
then one yes/no anchor token per earlier layer j < i - 1 (a skip connection from layer j's output):

    controller   previous token (B, T) -> embedding (B, T, 35) -> 2-layer LSTM, 35 units -> one softmax
                 classifier per position, over that position's choices (B, T, max choices)
    child        image (B, H, W, C) -> for each layer: [Conv kh x kw, f filters, stride 1 -> ReLU] on the sum of
                 the previous layer's output and the skipped-to ones -> global average pool -> Dense classes

The children of one controller batch differ only in their tokens, so they are one program: every child holds the
largest kernel and the most filters, and its tokens mask them down (kernels centred in the largest; unused filters
zero). Its tokens live in the "architecture" collection, which training carries along unchanged; trials of one
program vmap over them. Masked weights get no gradient and do nothing, so a child computes exactly its own network,
initialised as its own: He-normal with the fan-in of its own kernel and filters. Stride, pooling and the paper's
concatenation of skipped inputs (here summed, which keeps the shapes fixed) are left out; the search space is data
(KERNELS, FILTERS, the number of layers).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.layers.recurrent import LSTMCell, RNN

KERNELS = (1, 3, 5)          # filter heights and widths to choose from
NO_CHOICE = -1e9             # the logit of a choice a position does not have (finite: its gradient stays finite)
FILTERS = (4, 8, 16, 32)     # numbers of filters to choose from


def choices(layers: int) -> tuple[int, ...]:
    """The number of choices at each token position: (kernel height, kernel width, filters, skips...) per layer."""
    out = []
    for i in range(layers):
        out += [len(KERNELS), len(KERNELS), len(FILTERS)] + [2] * max(i - 1, 0)
    return tuple(out)


def decode(tokens, layers: int):
    """tokens (..., T) -> kernel heights, widths, filters (..., layers) and skips (..., layers, layers):
    skips[i, j] = 1 where layer i also takes layer j's output (j < i - 1). Works on traced arrays."""
    kernels, filters = jnp.asarray(KERNELS), jnp.asarray(FILTERS)
    heights, widths, counts, skips, t = [], [], [], [], 0
    for i in range(layers):
        heights.append(kernels[tokens[..., t]])
        widths.append(kernels[tokens[..., t + 1]])
        counts.append(filters[tokens[..., t + 2]])
        row = [tokens[..., t + 3 + j] if j < i - 1 else jnp.zeros_like(tokens[..., 0]) for j in range(layers)]
        skips.append(jnp.stack(row, -1))
        t += 3 + max(i - 1, 0)
    return jnp.stack(heights, -1), jnp.stack(widths, -1), jnp.stack(counts, -1), jnp.stack(skips, -2)


def describe(tokens, layers: int) -> str:
    """A child's layers in words, e.g. "3x5 16; 1x1 8; 5x5 32 +1; 3x3 4"."""
    h, w, f, s = (np.asarray(a) for a in decode(np.asarray(tokens), layers))
    return "; ".join(f"{h[i]}x{w[i]} {f[i]}" + "".join(f" +{j + 1}" for j in range(layers) if s[i, j])
                      for i in range(layers))


class Controller(nn.Module):
    """The controller RNN (module docstring): the tokens so far (B, T) -> each position's logits (B, T, max choices),
    NO_CHOICE beyond its choices; position t sees tokens < t only, so sampling runs it once per position."""
    layers: int = 4
    hidden: int = 35
    depth: int = 2

    @nn.compact
    def __call__(self, tokens, *, train: bool = False):
        sizes = choices(self.layers)
        T, most = len(sizes), max(sizes)
        offsets = jnp.asarray(np.cumsum((1, *sizes[:-1])))   # a token's embedding row: 0 is "start"
        previous = jnp.concatenate([jnp.zeros_like(tokens[:, :1]), tokens[:, :-1] + offsets[None, :T - 1]], 1)
        x = nn.Embed(1 + sum(sizes[:-1]), self.hidden, name="embed")(previous)                  # (B, T, hidden)
        for i in range(self.depth):
            _, x = RNN(LSTMCell(self.hidden), name=f"lstm{i}")(x)                              # (B, T, hidden)
        kernel = self.param("heads", nn.initializers.lecun_normal(), (T, self.hidden, most))
        bias = self.param("heads_bias", nn.initializers.zeros, (T, most))
        with jax.named_scope("heads"):   # models.summary's row of the heads' parameters
            logits = jnp.einsum("bth,thc->btc", x.astype(jnp.float32), kernel) + bias            # (B, T, most)
        valid = jnp.arange(most)[None, :] < jnp.asarray(sizes)[:, None]
        return jnp.where(valid[None], logits, NO_CHOICE)

    @property
    def num_tokens(self) -> int:
        """Tokens per architecture."""
        return len(choices(self.layers))

    @property
    def vocab_size(self) -> int:
        """Logits per position: the most choices any position has."""
        return max(choices(self.layers))

    def describe(self, tokens) -> str:
        """An architecture's layers in words (the module-level describe)."""
        return describe(tokens, self.layers)

    def sample(self, key, num: int, uniform: bool = False):
        """num token sequences (num, T) drawn position by position (uniform: each position's choices equally
        likely, random search), and their log-probabilities under the choice made (num,)."""
        tokens, logp = jnp.zeros((num, self.num_tokens), jnp.int32), jnp.zeros((num,))
        for t in range(self.num_tokens):
            logits = self(tokens)[:, t]
            if uniform:
                logits = jnp.where(logits > NO_CHOICE, 0.0, NO_CHOICE)
            choice = jax.random.categorical(jax.random.fold_in(key, t), logits)
            tokens = tokens.at[:, t].set(choice)
            logp = logp + jnp.take_along_axis(jax.nn.log_softmax(logits), choice[:, None], 1)[:, 0]
        return tokens, logp


class ChildCNN(nn.Module):
    """A child network (module docstring): images (B, H, W, C) -> logits (B, num_classes). Its architecture is
    `tokens` (T,) given at init (traced: the search's children), else the field `architecture` (a tuple: a child
    retrained alone); afterwards it is read from the "architecture" collection."""
    layers: int = 4
    num_classes: int = 10
    architecture: tuple = ()

    @nn.compact
    def __call__(self, x, tokens=None, *, train: bool = False):
        T = len(choices(self.layers))
        if tokens is None:
            tokens = self.architecture or (0,) * T
        if jnp.shape(tokens) != (T,):
            raise ValueError(f"a child of {self.layers} layers has {T} architecture tokens; got {jnp.shape(tokens)}.")
        stored = self.variable("architecture", "tokens", lambda: jnp.asarray(tokens, jnp.int32))
        heights, widths, counts, skips = decode(stored.value, self.layers)
        k, most = max(KERNELS), max(FILTERS)
        grid = jnp.arange(k) - k // 2
        channels = jnp.arange(most)
        inputs_in, x = x.shape[-1], x.astype(jnp.float32)
        outputs = []
        for i in range(self.layers):
            if i:
                x = outputs[-1] + sum(skips[i, j] * outputs[j] for j in range(i - 1))
            fan_in_channels = inputs_in if i == 0 else counts[i - 1]
            # Centred kh x kw window of the k x k kernel, first f of the filters: the child's own layer.
            window = ((jnp.abs(grid) <= heights[i] // 2)[:, None] & (jnp.abs(grid) <= widths[i] // 2)[None, :])
            used = channels < counts[i]
            fan_in = heights[i] * widths[i] * fan_in_channels
            cin = x.shape[-1]

            def init(key, shape, fan_in=fan_in):   # He-normal for the child's own fan-in (its tokens, traced)
                return jax.random.normal(key, shape) * jnp.sqrt(2.0 / fan_in)

            kernel = self.param(f"conv{i}_kernel", init, (k, k, cin, most))
            bias = self.param(f"conv{i}_bias", nn.initializers.zeros, (most,))
            mask = window[:, :, None, None] & used[None, None, None, :]
            x = jax.lax.conv_general_dilated(x, kernel * mask, (1, 1), "SAME",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
            x = nn.relu(x + bias * used)                                                   # (B, H, W, most)
            outputs.append(x)
        pooled = jnp.mean(x, axis=(1, 2))                                                  # (B, most)
        kernel = self.param("classifier_kernel", lambda key, shape: jax.random.normal(key, shape) / jnp.sqrt(counts[-1]),
                            (most, self.num_classes))                                      # LeCun-normal, own fan-in
        return pooled @ kernel + self.param("classifier_bias", nn.initializers.zeros, (self.num_classes,))


MODELS = {
    "nas_controller": (Controller, (jax.ShapeDtypeStruct((len(choices(4)),), jnp.int32),)),
    "nas_child_digits": (ChildCNN, (8, 8, 1)),
}

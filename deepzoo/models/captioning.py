"""Show, Attend and Tell: Xu et al. (2015), "Neural image caption generation with visual attention", ICML
(arXiv:1502.03044), the deterministic "soft" attention model.

    image (B, H, W, C) in [0, 1] -> CNN (VGG Table-1 notation) -> grid (B, h, w, D) -> annotations a_1..a_L
    [BOS, y_1, ..., y_{T-1}] -> AttentionDecoder (LSTM, additive attention over a_1..a_L) -> logits (B, T, V)

The annotations are the CNN's last feature map read as L = h * w vectors of D channels, one per image
region (the paper: VGG's conv5_4, 14 x 14 x 512, L = 196). At each step the decoder scores every region
with the previous LSTM state, e_ti = v^T tanh(W h_{t-1} + U a_i) (the paper's f_att, additive as Bahdanau's),
and feeds the context z_t = sum_i alpha_ti a_i with the previous word to the LSTM. This is the decoder of
deepzoo/models/seq2seq.py with the convolutional grid as its "source": every region is real (mask all
True) and the "summary" is the mean annotation. Differences from the paper: it initialises both c_0 and
h_0 from the mean annotation through two MLPs; the shared decoder sets h_0 = tanh(W mean(a)) and c_0 = 0;
it predicts from a deep output layer over (E y_{t-1}, h_t, z_t); ours from tanh(W_c [z_t; h_t]) like the
translation decoders; the doubly stochastic regulariser lambda sum_i (1 - sum_t alpha_ti)^2 is left to
the task (the decoder sows the weights, as every attention in the zoo does: deepzoo/layers/attention.py).

    model = ShowAttendTell()                                      # 28 x 112 MNIST composites, 35 words
    variables = model.init(key, images, previous)                 # images (B, 28, 112, 1), previous (B, T)
    logits, state = model.apply(variables, images, previous, mutable=["intermediates"])
    alpha = sown_attention_weights(state["intermediates"])["decoder"][:, 0]           # alpha (B, T, 56)
    h, w = model.grid_shape(images.shape[1:3])                    # (4, 14): alpha.reshape(B, T, h, w)
    tokens = decoding.generate(model, variables, images, max_length=8, bos_id=2, eos_id=1, beam_size=3)

(sown_attention_weights is deepzoo.layers.attention's, decoding is deepzoo.inference.decoding.)

Measured here (2 CPU cores): batch 64, Adam 3e-3 (warm-up 50 steps, cosine to 0 at 400), 400 steps in about
3 minutes; greedy captions of 512 mnist_captions test images: 62% exactly right.

Token ids follow deepzoo.data.text: PAD 0, EOS 1, BOS 2, UNK 3. The default vocabulary is its caption
WordVocab (4 specials + 31 words: zero..nineteen, twenty..ninety, hundred, thousand, and): 35 tokens.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv
from deepzoo.models.seq2seq import AttentionDecoder
from deepzoo.models.vgg import CONFIGS as VGG_CONFIGS

# 28 x 112 -> 14 x 56 -> 7 x 28 -> 4 x 14 regions of 128 channels. A region's receptive field is 38 pixels
# (a digit is 28 wide) at a stride of 8, so each region sees about one whole digit. About 12M MACs.
MNIST_CNN = ("conv3-16", "maxpool",
             "conv3-32", "maxpool",
             "conv3-64", "maxpool",
             "conv3-128")
# The paper's annotations: VGG-19 (configuration E) up to conv5_4, before its last max-pool: 14 x 14 x 512.
VGG19_CONV5_4 = tuple(VGG_CONFIGS["E"][:-1])


def _parse(layer: str) -> tuple[int, int]:
    """"conv3-64" -> (kernel 3, channels 64); anything else is an error that lists the notation."""
    try:
        if not layer.startswith("conv"):
            raise ValueError
        kernel, channels = map(int, layer.removeprefix("conv").split("-"))
    except ValueError:
        raise ValueError(f"unknown CNN layer {layer!r}; use 'conv<kernel>-<channels>' (e.g. 'conv3-64') or "
                         f"'maxpool', as in VGG's Table 1.") from None
    return kernel, channels


def grid_shape(layers: Sequence[str], image_hw) -> tuple[int, int]:
    """(h, w) of the annotation grid for an image of (H, W): each 2x2 max-pool halves, rounding up."""
    h, w = image_hw
    for layer in layers:
        if layer == "maxpool":
            h, w = -(-h // 2), -(-w // 2)
    return h, w


class ConvEncoder(nn.Module):
    """[conv(k x k, same padding) -> (BatchNorm) -> ReLU] and 2x2 max-pools, in VGG's Table-1 notation;
    layers named conv<block>_<i> as in VGG's Caffe release. Returns the last feature map (B, h, w, D)."""
    layers: Sequence[str]
    batch_norm: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        conv = functools.partial(Conv, kernel_init=nn.initializers.variance_scaling(2.0, "fan_out", "normal"),
                                 dtype=self.dtype, param_dtype=self.param_dtype)
        block, i = 1, 1
        for layer in self.layers:
            if layer == "maxpool":
                # "SAME" pads odd sizes (7 -> 4): the border column of digits is not dropped.
                x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
                block, i = block + 1, 1
                continue
            kernel, channels = _parse(layer)
            name = f"conv{block}_{i}"
            x = conv(channels, (kernel, kernel), padding=kernel // 2, use_bias=not self.batch_norm, name=name)(x)
            if self.batch_norm:  # BN has its own bias
                x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype,
                                 param_dtype=self.param_dtype, name=f"{name}_bn")(x)
            x = nn.relu(x)
            i += 1
        return x


class ShowAttendTell(nn.Module):
    """Show, Attend and Tell (Xu et al. 2015): a CNN's grid of annotations read by an LSTM
    decoder with additive attention.

    images (B, H, W, C) and decoder inputs [BOS, y_1, ..., y_{T-1}] (B, T) -> logits (B, T, vocab_size)."""
    vocab_size: int = 35               # deepzoo.data.text's caption WordVocab
    embed_dim: int = 64                # word embedding
    features: int = 128                # LSTM units (and attention width)
    cnn: Sequence[str] = MNIST_CNN     # the encoder; the grid's channels D are its last conv's
    batch_norm: bool = True            # in the CNN; trains the small encoder from scratch much faster
    dropout_rate: float = 0.0          # on the word embeddings and before the output layer
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        if not any(layer != "maxpool" for layer in self.cnn):
            raise ValueError(f"ShowAttendTell needs at least one convolution in cnn; got {tuple(self.cnn)}.")
        self.encoder = ConvEncoder(self.cnn, self.batch_norm, dtype=self.dtype, param_dtype=self.param_dtype)
        self.decoder = AttentionDecoder(self.vocab_size, self.embed_dim, self.features, cell="lstm", num_layers=1,
                                        attention="bahdanau", dropout_rate=self.dropout_rate, dtype=self.dtype,
                                        param_dtype=self.param_dtype)

    def grid_shape(self, image_hw) -> tuple[int, int]:
        """(h, w) of the attention grid for images of (H, W): attention (B, T, h * w) -> (B, T, h, w)."""
        return grid_shape(self.cnn, image_hw)

    def encode(self, image, *, train: bool = False):
        """image (B, H, W, C) -> annotations (B, L, D), mask (B, L) all True, summary (B, D) = their mean."""
        check_images(image, "ShowAttendTell")
        grid = self.encoder(image.astype(self.dtype), train=train)
        B, h, w, D = grid.shape
        annotations = grid.reshape(B, h * w, D)
        summary = jnp.mean(annotations.astype(jnp.float32), axis=1).astype(self.dtype)  # mean in f32
        return annotations, jnp.ones((B, h * w), bool), summary

    def __call__(self, image, previous, *, train: bool = False):
        """Teacher forcing: logits (B, T, vocab) of each caption word given the image and the words
        before it. Sows alpha as "decoder" / "attention_weights", (B, 1, T, L): L = h * w regions in
        row-major order."""
        if image.ndim == 4 and previous.ndim == 2 and image.shape[0] != previous.shape[0]:
            raise ValueError(f"ShowAttendTell: the batch has {image.shape[0]} images but {previous.shape[0]} "
                             f"rows of decoder inputs; they must pair up.")
        state = self.decoder.start(*self.encode(image, train=train))
        return self.decoder(state, previous, train=train)

    def start_decoding(self, image, max_length: int | None = None):  # a recurrent state needs no room per token
        """The decoder state before the first word (BOS): LSTM carry and the image's annotations."""
        return self.decoder.start(*self.encode(image))

    def decode_step(self, tokens, state):
        """tokens (N,) -> logits (N, vocab) of the next word, the new state."""
        return self.decoder.decode_step(tokens, state)


# The paper: VGG-19 conv5_4 annotations, 10,000 words; its text gives no embedding or LSTM size, so
# these (512, 1024) are ours. Images are 224 x 224 x 3 (the paper crops COCO/Flickr images to 224).
ShowAttendTellVGG = functools.partial(ShowAttendTell, vocab_size=10000, embed_dim=512, features=1024,
                                      cnn=VGG19_CONV5_4, batch_norm=False)

_CAPTION = jax.ShapeDtypeStruct((12,), jnp.int32)  # decoder inputs: BOS and up to 11 words
MODELS = {
    "show_attend_tell_mnist": (ShowAttendTell, (jax.ShapeDtypeStruct((28, 112, 1), jnp.float32), _CAPTION)),
    "show_attend_tell": (ShowAttendTellVGG, (jax.ShapeDtypeStruct((224, 224, 3), jnp.float32), _CAPTION)),
}

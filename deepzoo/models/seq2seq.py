"""Sequence to sequence with recurrent networks: without attention, with additive and with dot-product
attention.

    source ids -> Embed -> (bidirectional) StackedRNN -> memory h_1..h_S, summary c (final states)
    [BOS, y_1, ..., y_{T-1}] -> Embed -> scan over t of DecoderStep -> h~_1..h~_T -> Dense -> logits

The three decoders differ only in what the step sees of the source:
  attention="none"      Cho et al. 2014 / Sutskever et al. 2014: the same vector c (the encoder's final
                        states) at every step; the whole source must squeeze through it.
  attention="bahdanau"  Bahdanau et al. 2015, additive: before the step the previous state s_{t-1} scores
                        every h_j, e_tj = v^T tanh(W s_{t-1} + U h_j); a_t = softmax(e_t) over the real
                        source tokens; the context c_t = sum_j a_tj h_j enters the step with y_{t-1}.
  attention="luong"     Luong et al. 2015, global multiplicative with input feeding: after the step the
                        new state h_t scores every h_j, e_tj = h_t . (W_a h_j) (their "general" score:
                        a dot product once the source states are mapped to the decoder's size); h~_t is
                        fed to the next step.
All three predict from the attentional state h~_t = tanh(W_c [c_t; h_t]) (Luong's eq. 5; Bahdanau's
maxout deep output is replaced by it so that only the attention differs between the three).
The weights a_t are sown as the Transformer's are (deepzoo/layers/attention.py), one head:
"intermediates" / "decoder" / "attention_weights", (B, 1, T, S), zeros without attention; read them with
model.apply(..., mutable=["intermediates"]) and attention.sown_attention_weights.

Decoding (greedy, beam search) runs `start_decoding(source)` once and `decode_step(tokens, state)` per
token; see deepzoo/inference/decoding.py. Token ids follow deepzoo.data.text: PAD 0, EOS 1, BOS 2.
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers import recurrent
from deepzoo.layers.checks import check_tokens

CELLS = recurrent.CELLS
ATTENTIONS = ("none", "bahdanau", "luong")
PAD = 0


def _hidden(carry):
    """The hidden state h of a cell's carry: LSTM carries (c, h), GRU and vanilla RNN carry h."""
    return carry[1] if isinstance(carry, tuple) else carry


def _masked_softmax(scores, mask):
    """Attention weights over the real source positions, in float32 whatever the compute dtype."""
    scores = jnp.where(mask, scores.astype(jnp.float32), jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(scores, axis=-1)


class DecoderStep(nn.Module):
    """One decoder time step: (state, embedded y_{t-1}) -> (state, (h~_t, attention weights a_t)).

    `state` holds the per-layer cell carries, Luong's fed-back h~_{t-1}, and the source: memory (B, S, F),
    its projection `keys`, its `mask` and the `summary` c. Everything has the batch first, so beam search
    can reorder it."""
    cell: str
    features: int
    num_layers: int
    attention: str
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype, use_bias=False)
        self.cells = [CELLS[self.cell](self.features, dtype=self.dtype, param_dtype=self.param_dtype,
                                       name=f"layer{i + 1}") for i in range(self.num_layers)]
        if self.attention == "bahdanau":
            self.query = dense(self.features)  # W in v^T tanh(W s + U h)
            self.score = dense(1)              # v
        self.combine = dense(self.features)    # W_c in h~ = tanh(W_c [c; h])

    def attend(self, query, state):
        """query (B, features) -> (context (B, F) over the memory, weights (B, S) in float32,
        zero at padding): Bahdanau's additive score, or Luong's general score when attention="luong"."""
        if self.attention == "bahdanau":
            scores = self.score(jnp.tanh(state["keys"] + self.query(query)[:, None]))[..., 0]
        else:
            scores = jnp.einsum("bsf,bf->bs", state["keys"], query)
        weights = _masked_softmax(scores, state["mask"])
        return jnp.einsum("bs,bsf->bf", weights.astype(self.dtype), state["memory"]), weights

    def __call__(self, state, y):
        if self.attention == "bahdanau":
            context, weights = self.attend(_hidden(state["carry"][-1]), state)
            x = jnp.concatenate([y, context], -1)
        elif self.attention == "luong":
            x = jnp.concatenate([y, state["feed"]], -1)
        else:
            context, weights = state["summary"], jnp.zeros(state["mask"].shape, jnp.float32)
            x = jnp.concatenate([y, context], -1)
        carries = []
        for cell, carry in zip(self.cells, state["carry"]):
            carry, x = cell(carry, x)
            carries.append(carry)
        if self.attention == "luong":
            context, weights = self.attend(x, state)
        out = jnp.tanh(self.combine(jnp.concatenate([context, x], -1)))
        return {**state, "carry": carries, "feed": out}, (out, weights)


class AttentionDecoder(nn.Module):
    """Embeds the previous words, scans DecoderStep over them (teacher forcing) and predicts the next.
    Shared by Seq2Seq (recurrent encoder) and ShowAttendTell (convolutional encoder)."""
    vocab_size: int
    embed_dim: int = 256
    features: int = 512
    cell: str = "lstm"
    num_layers: int = 1
    attention: str = "bahdanau"
    dropout_rate: float = 0.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        if self.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {self.attention!r}; known: {', '.join(ATTENTIONS)}.")
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; known: {', '.join(sorted(CELLS))}.")
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        self.embed = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype, param_dtype=self.param_dtype)
        self.keys = dense(self.features, use_bias=False)  # U (Bahdanau) or W_a (Luong), applied once
        self.bridge = dense(self.features)                 # s_0 = tanh(W_s c) (Bahdanau's appendix A)
        self.step = DecoderStep(self.cell, self.features, self.num_layers, self.attention,
                                dtype=self.dtype, param_dtype=self.param_dtype)
        self.dropout = nn.Dropout(self.dropout_rate)
        self.head = dense(self.vocab_size)

    def start(self, memory, mask, summary):
        """The decoder state before the first word, from the encoded source."""
        h0 = jnp.tanh(self.bridge(summary))
        carry = (jnp.zeros_like(h0), h0) if self.cell == "lstm" else h0
        return {"carry": [carry] * self.num_layers, "feed": jnp.zeros_like(h0), "memory": memory,
                "keys": memory if self.attention == "none" else self.keys(memory), "mask": mask,
                "summary": summary}

    def __call__(self, state, previous, *, train: bool = False):
        """previous: (B, T) ids [BOS, y_1, ...] -> logits (B, T, vocab); sows the attention weights as
        one head, (B, 1, T, S)."""
        check_tokens(previous, "AttentionDecoder", self.vocab_size, "decoder inputs")
        y = self.dropout(self.embed(previous), deterministic=not train)
        scan = nn.scan(lambda step, state, y: step(state, y), variable_broadcast="params",
                       split_rngs={"params": False}, in_axes=1, out_axes=1)
        _, (out, weights) = scan(self.step, state, y)
        self.sow("intermediates", "attention_weights", weights[:, None])
        return self.head(self.dropout(out, deterministic=not train))

    def decode_step(self, tokens, state):
        """tokens: (N,) the previous word of each row -> logits (N, vocab), the next state."""
        state, (out, _) = self.step(state, self.embed(tokens))
        return self.head(out), state


class Seq2Seq(nn.Module):
    """Recurrent encoder-decoder; source and target share one vocabulary (one SentencePiece model for
    both languages, as WMT setups do) but not their embeddings."""
    vocab_size: int = 8000
    embed_dim: int = 256
    features: int = 512           # hidden units per direction of the encoder, and of the decoder
    cell: str = "gru"             # Bahdanau et al. used GRU-like gated units; "lstm" for Luong et al.
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True    # Bahdanau et al.'s annotations h_j = [forward h_j; backward h_j]
    attention: str = "bahdanau"
    dropout_rate: float = 0.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        self.source_embed = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                                     param_dtype=self.param_dtype)
        self.encoder = recurrent.StackedRNN(self.cell, self.features, num_layers=self.encoder_layers,
                                            bidirectional=self.bidirectional, dropout_rate=self.dropout_rate,
                                            dtype=self.dtype, param_dtype=self.param_dtype)
        self.dropout = nn.Dropout(self.dropout_rate)
        self.decoder = AttentionDecoder(self.vocab_size, self.embed_dim, self.features, self.cell,
                                        self.decoder_layers, self.attention, self.dropout_rate,
                                        dtype=self.dtype, param_dtype=self.param_dtype)

    def encode(self, source, *, train: bool = False):
        """source (B, S) ids, PAD after each sequence's EOS -> memory (B, S, F'), mask (B, S), summary."""
        check_tokens(source, "Seq2Seq", self.vocab_size, "source tokens")
        mask = source != PAD
        x = self.dropout(self.source_embed(source), deterministic=not train)
        _, memory = self.encoder(x, mask, train=train)
        # c: the forward state after the last real token, and the backward state after the first.
        last = jnp.maximum(jnp.sum(mask, axis=1) - 1, 0)
        forward = jnp.take_along_axis(memory, last[:, None, None], axis=1)[:, 0, :self.features]
        summary = jnp.concatenate([forward, memory[:, 0, self.features:]], -1)
        return memory, mask, summary

    def __call__(self, source, previous, *, train: bool = False):
        """Teacher forcing: logits (B, T, vocab) of each target word given the source and the words
        before it; the attention weights are sown (module docstring)."""
        if source.shape[0] != previous.shape[0]:
            raise ValueError(f"Seq2Seq: the source batch has {source.shape[0]} rows but the decoder inputs "
                             f"have {previous.shape[0]}; they must pair up.")
        state = self.decoder.start(*self.encode(source, train=train))
        return self.decoder(state, previous, train=train)

    def start_decoding(self, source, max_length: int | None = None):  # a recurrent state needs no room per token
        """The decoder state before the first target token (BOS), from the encoded
        source (B, S); max_length is unused."""
        return self.decoder.start(*self.encode(source))

    def decode_step(self, tokens, state):
        """tokens (N,): each row's previous token -> logits (N, vocab), the next state."""
        return self.decoder.decode_step(tokens, state)


# The papers' sizes. Bahdanau et al. 2015 (RNNsearch): 30,000 words per language, 620-dim embeddings,
# 1000 GRU-like units per direction; their baseline RNNencdec (Cho et al. 2014) is the same without
# attention, with a one-directional encoder. Luong et al. 2015: 4 layers of 1000 LSTM cells, 1000-dim
# embeddings, 50,000 words, dropout 0.2.
Seq2SeqNoAttention = functools.partial(Seq2Seq, attention="none", bidirectional=False, vocab_size=30000,
                                       embed_dim=620, features=1000, cell="gru")
Seq2SeqBahdanau = functools.partial(Seq2Seq, attention="bahdanau", vocab_size=30000, embed_dim=620,
                                    features=1000, cell="gru")
Seq2SeqLuong = functools.partial(Seq2Seq, attention="luong", cell="lstm", bidirectional=False, vocab_size=50000,
                                 encoder_layers=4, decoder_layers=4, features=1000, embed_dim=1000,
                                 dropout_rate=0.2)

_TOKENS = jax.ShapeDtypeStruct((50,), jnp.int32)  # 50 source and 50 target tokens (Bahdanau's RNNsearch-50)
MODELS = {
    "seq2seq": (Seq2SeqNoAttention, (_TOKENS, _TOKENS)),
    "seq2seq_bahdanau": (Seq2SeqBahdanau, (_TOKENS, _TOKENS)),
    "seq2seq_luong": (Seq2SeqLuong, (_TOKENS, _TOKENS)),
}

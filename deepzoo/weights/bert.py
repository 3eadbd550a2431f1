"""Hugging Face's BERT (transformers.BertForPreTraining) -> deepzoo.models.bert (bert_base, bert_large).

    bert.embeddings.word_embeddings                 -> bert/word_embeddings (also the masked-LM output layer)
    bert.embeddings.position_embeddings             -> bert/position_embeddings
    bert.embeddings.token_type_embeddings           -> bert/segment_embeddings
    bert.embeddings.LayerNorm                       -> bert/embeddings_norm
    bert.encoder.layer.{i}.                         -> bert/layer{i+1}/
        attention.self.query, key, value            ->     attention/query, key, value
        attention.output.dense, LayerNorm           ->     attention/out, norm1
        intermediate.dense                          ->     mlp/fc1
        output.dense, LayerNorm                     ->     mlp/fc2, norm2
    bert.pooler.dense                               -> bert/pooler
    cls.predictions.transform.dense, LayerNorm      -> transform, transform_norm
    cls.predictions.bias                            -> output_bias
    cls.predictions.decoder.weight, bias            -> nothing: tied copies of word_embeddings, cls.predictions.bias
    cls.seq_relationship                            -> nothing: the next-sentence head, which deepzoo's BERT has not

deepzoo's BERT is BertModel (pooler included) with the masked-LM head: BertForPreTraining, the layout of Google's
released checkpoints, less the next-sentence head (2 d + 2 parameters). That head is read and dropped on import and
not written on export (transformers then initialises it afresh, and says so). A BertModel file (the keys above without
"bert.", no cls.*) has no masked-LM head and a BertForMaskedLM file no pooler: bert_model.py and bert_masked_lm.py
register those layouts from `rules` below, the part they lack started afresh on import (see Converter.absent). The
hub's Google checkpoints (bert-base-uncased, ...) name the LayerNorm parameters gamma and beta: bert_google.py
registers that layout.

Linear weights (out, in) become kernels (in, out), those of the attention split into heads. deepzoo's BERT masks the
keys of token id 0 ([PAD]) itself: transformers' outputs with attention_mask = (input_ids != 0).
"""

from deepzoo.weights.rules import Converter, Rule, dense, embedding, tensor

# The tied copies of the masked-LM head, and the buffers that older files hold (after the BertModel's prefix).
TIED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
IGNORE = (*TIED, "cls.seq_relationship.*", *(f"bert.{b}" for b in BUFFERS))  # and the next-sentence head
HEAD = ("transform", "transform_norm", "output_bias")   # deepzoo's layers of the masked-LM head


def _target(path: str, leaf: str) -> tuple:
    return ("params", *path.split("/"), leaf)


def _norm(prefix: str, path: str, names: tuple) -> list[Rule]:
    """torch LayerNorm `prefix`, its parameters called `names` (weight, bias or gamma, beta) -> nn.LayerNorm."""
    weight, bias = names
    return [tensor(f"{prefix}.{weight}", _target(path, "scale")), tensor(f"{prefix}.{bias}", _target(path, "bias"))]


def _attention(prefix: str, path: str, heads: int) -> list[Rule]:
    """self.query, key, value (Linear weights (D, D), out x in) and output.dense -> MultiHeadAttention at `path`:
    query/key/value kernels (D, heads, head_dim), out kernel (heads, head_dim, D)."""
    out = []
    for name in ("query", "key", "value"):
        out += [tensor(f"{prefix}.self.{name}.weight", _target(f"{path}/{name}", "kernel"),
                       lambda w: w.T.reshape(w.shape[1], heads, -1), lambda k: k.reshape(k.shape[0], -1).T),
                tensor(f"{prefix}.self.{name}.bias", _target(f"{path}/{name}", "bias"),
                       lambda b: b.reshape(heads, -1), lambda b: b.reshape(-1))]
    return out + [tensor(f"{prefix}.output.dense.weight", _target(f"{path}/out", "kernel"),
                         lambda w: w.T.reshape(heads, -1, w.shape[0]), lambda k: k.reshape(-1, k.shape[2]).T),
                  tensor(f"{prefix}.output.dense.bias", _target(f"{path}/out", "bias"))]


def rules(model, variables, norm: tuple = ("weight", "bias"), prefix: str = "bert.", pooler: bool = True,
          head: bool = True) -> list:
    """The rules of the BertModel under `prefix` ("bert.", or "" in a BertModel file), its pooler if `pooler`, and
    the masked-LM head (cls.predictions) if `head`; LayerNorm parameters named `norm`."""
    out = (embedding(f"{prefix}embeddings.word_embeddings", "bert/word_embeddings")
           + embedding(f"{prefix}embeddings.position_embeddings", "bert/position_embeddings")
           + embedding(f"{prefix}embeddings.token_type_embeddings", "bert/segment_embeddings")
           + _norm(f"{prefix}embeddings.LayerNorm", "bert/embeddings_norm", norm))
    for i in range(model.num_layers):
        layer, block = f"{prefix}encoder.layer.{i}", f"bert/layer{i + 1}"
        out += _attention(f"{layer}.attention", f"{block}/attention", model.num_heads)
        out += _norm(f"{layer}.attention.output.LayerNorm", f"{block}/norm1", norm)
        out += dense(f"{layer}.intermediate.dense", f"{block}/mlp/fc1") + dense(f"{layer}.output.dense",
                                                                               f"{block}/mlp/fc2")
        out += _norm(f"{layer}.output.LayerNorm", f"{block}/norm2", norm)
    out += dense(f"{prefix}pooler.dense", "bert/pooler") if pooler else []
    if head:
        out += dense("cls.predictions.transform.dense", "transform")
        out += _norm("cls.predictions.transform.LayerNorm", "transform_norm", norm)
        out += [tensor("cls.predictions.bias", ("params", "output_bias"))]
    return out


NAMES = ("bert_base", "bert_large")
CONVERTERS = {name: Converter(rules, "transformers.BertForPreTraining", IGNORE) for name in NAMES}

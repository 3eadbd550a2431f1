"""deepzoo against PyTorch on the same networks: median train-step time, interleaved, same shapes and parameters.

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install -e . /path/to/torch-*-cpu-*.whl
    /tmp/peers/bin/python benchmarks/peers.py            # writes benchmarks/results/peers.json
    /tmp/peers/bin/python benchmarks/peers.py --peers=lenet5 --dtypes=float32   # replaces those rows only

PyTorch is not a dependency of deepzoo: install a CPU build in a separate environment (above) to run this.
Each peer is a network of deepzoo's zoo (models.get, the generic train step of train/step.py, SGD with momentum
0.9) and the same network written here in PyTorch (torch.optim.SGD, the same loss); the parameter counts are
compared first (the one known difference is named). Rounds alternate the two frameworks (`--steps` steps each,
after a warm-up), so that both see the same machine; the figures are the minimum and median time per step and the
ratio deepzoo / PyTorch of the medians (below 1: deepzoo faster). --dtypes=bfloat16 runs deepzoo's models with
bfloat16 compute (dtype field) and PyTorch under torch.autocast("cpu", bfloat16).

    peer            deepzoo                                   batch          paper / PyTorch reference
    lenet5          lenet5 (d2l's LeNet-5, 61,706 params)     256 x 28x28    LeCun et al. 1998
    resnet18_cifar  resnet18, stem "cifar", 10 classes        64 x 32x32     He et al. 2016, torchvision's blocks
    resnet50        resnet50                                  8 x 224x224    torchvision's resnet50 (v1.5)
    lstm_lm         char_lstm_512 (2 x 512 LSTM)              32 x 64        nn.LSTM: one more bias per gate
    transformer     transformer_base (37,000 shared tokens)   16 x 64 + 64   nn.TransformerEncoder/DecoderLayer
    gpt             gpt: 6 blocks of 384, 6 heads, 65 tokens  8 x 256        nanoGPT's Shakespeare-char model
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deepzoo import models, tasks  # noqa: E402
from deepzoo.train.state import create_train_state  # noqa: E402
from deepzoo.train.step import make_train_step  # noqa: E402

LR = 0.01


# ----------------------------------------------------------------------------------------------- PyTorch peers
def torch_peers(torch):
    nn, F = torch.nn, torch.nn.functional

    def lenet5():
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
                             nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
                             nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin, width, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
            self.down = (nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))
                         if stride != 1 or cin != width else None)

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, width, stride):
            super().__init__()
            out = 4 * width
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out)
            self.down = (nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                         if stride != 1 or cin != out else None)

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = F.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class ResNet(nn.Module):
        def __init__(self, block, sizes, classes, cifar):
            super().__init__()
            self.stem = (nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()) if cifar
                         else nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                            nn.MaxPool2d(3, 2, 1)))
            layers, cin = [], 64
            for i, n in enumerate(sizes):
                for j in range(n):
                    layers.append(block(cin, 64 * 2 ** i, 2 if j == 0 and i > 0 else 1))
                    cin = 64 * 2 ** i * block.expansion
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            return self.fc(self.layers(self.stem(x)).mean((2, 3)))

    class LSTMLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm = nn.Embedding(260, 64), nn.LSTM(64, 512, 2, batch_first=True)
            self.out = nn.Linear(512, 260)

        def forward(self, tokens):
            return self.out(self.lstm(self.embed(tokens))[0])

    class Transformer(nn.Module):
        def __init__(self, vocab=37000, d=512, heads=8, ff=2048, layers=6, dropout=0.1):
            super().__init__()
            self.d, self.embed = d, nn.Embedding(vocab, d)
            enc = nn.TransformerEncoderLayer(d, heads, ff, dropout, batch_first=True)
            dec = nn.TransformerDecoderLayer(d, heads, ff, dropout, batch_first=True)
            self.encoder = nn.TransformerEncoder(enc, layers, enable_nested_tensor=False)
            self.decoder = nn.TransformerDecoder(dec, layers)
            self.drop = nn.Dropout(dropout)
            position = torch.arange(256)[:, None] / 10000 ** (torch.arange(0, d, 2) / d)
            self.register_buffer("pe", torch.stack([position.sin(), position.cos()], -1).reshape(256, d))

        def _embed(self, tokens):
            return self.drop(self.embed(tokens) * math.sqrt(self.d) + self.pe[:tokens.shape[1]])

        def forward(self, source, target):
            memory = self.encoder(self._embed(source))
            causal = nn.Transformer.generate_square_subsequent_mask(target.shape[1])
            y = self.decoder(self._embed(target), memory, tgt_mask=causal, tgt_is_causal=True)
            return y @ self.embed.weight.T

    class Block(nn.Module):
        def __init__(self, d, heads, dropout):
            super().__init__()
            self.heads, self.dropout = heads, dropout
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d),
                                     nn.Dropout(dropout))
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
                       for z in self.c_attn(self.ln_1(x)).split(d, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
            x = x + self.drop(self.c_proj(y.transpose(1, 2).reshape(b, t, d)))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, vocab=65, context=256, d=384, heads=6, layers=6, dropout=0.1):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(context, d)
            self.drop = nn.Dropout(dropout)
            self.blocks = nn.Sequential(*[Block(d, heads, dropout) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)

        def forward(self, tokens):
            x = self.drop(self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1])))
            return self.ln_f(self.blocks(x)) @ self.wte.weight.T

    return {"lenet5": lenet5, "resnet18_cifar": lambda: ResNet(Basic, (2, 2, 2, 2), 10, True),
            "resnet50": lambda: ResNet(Bottleneck, (3, 4, 6, 3), 1000, False), "lstm_lm": LSTMLM,
            "transformer": Transformer, "gpt": GPT}


# ----------------------------------------------------------------------------------------------- the peers
# name: (deepzoo model and kwargs, task, batch, input kind, extra PyTorch parameters and why)
PEERS = {
    "lenet5": ("lenet5", {}, "classification", 256, ("image", (28, 28, 1), 10), None),
    "resnet18_cifar": ("resnet18", {"stem": "cifar", "num_classes": 10}, "classification", 64,
                       ("image", (32, 32, 3), 10), None),
    "resnet50": ("resnet50", {}, "classification", 8, ("image", (224, 224, 3), 1000), None),
    "lstm_lm": ("char_lstm_512", {}, "language_model", 32, ("tokens", 64, 260),
                (2 * 4 * 512, "nn.LSTM keeps two biases per gate (bias_ih, bias_hh), deepzoo their sum")),
    "transformer": ("transformer_base", {}, "seq2seq", 16, ("pair", 64, 37000), None),
    "gpt": ("gpt2", {"vocab_size": 65, "max_length": 256, "num_layers": 6, "d_model": 384, "num_heads": 6},
            "language_model", 8, ("tokens", 256, 65), None),
}


def make_batch(kind, batch, seed=0):
    """The same data for both frameworks, as NumPy: images NHWC (PyTorch gets NCHW) and labels, or tokens."""
    rng = np.random.default_rng(seed)
    what, shape, classes = kind
    if what == "image":
        return {"input": rng.normal(size=(batch, *shape)).astype(np.float32),
                "label": rng.integers(0, classes, batch).astype(np.int32)}
    if what == "tokens":
        return {"tokens": rng.integers(3, classes, (batch, shape + 1)).astype(np.int32)}
    return {"source": rng.integers(3, classes, (batch, shape)).astype(np.int32),
            "target": rng.integers(3, classes, (batch, shape)).astype(np.int32)}


def deepzoo_runner(name, dtype):
    model_name, kwargs, task_name, batch_size, kind, _ = PEERS[name]
    if dtype == "bfloat16":
        kwargs = {**kwargs, "dtype": jnp.bfloat16}
    model, task, tx = models.get(model_name, **kwargs), tasks.get(task_name), optax.sgd(LR, momentum=0.9)
    batch = jax.device_put(make_batch(kind, batch_size))
    state = jax.jit(lambda: create_train_state(model, tx, task.inputs(batch), seed=0))()
    step = jax.jit(make_train_step(model, task, tx, seed=0), donate_argnums=0)
    holder = [state]

    def run(n):
        for _ in range(n):
            holder[0], metrics = step(holder[0], batch)
        jax.block_until_ready(metrics)

    count = sum(x.size for x in jax.tree.leaves(state.params))
    return run, count


def torch_runner(torch, name, dtype):
    _, _, task_name, batch_size, kind, _ = PEERS[name]
    model = torch_peers(torch)[name]().train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    data = {k: torch.from_numpy(v) for k, v in make_batch(kind, batch_size).items()}
    if "input" in data:
        data["input"] = data["input"].permute(0, 3, 1, 2).contiguous()
    data = {k: v.long() if v.dtype == torch.int32 else v for k, v in data.items()}
    ce = torch.nn.functional.cross_entropy

    def loss_fn():
        if task_name == "classification":
            return ce(model(data["input"]), data["label"])
        if task_name == "language_model":
            logits = model(data["tokens"][:, :-1])
            return ce(logits.reshape(-1, logits.shape[-1]), data["tokens"][:, 1:].reshape(-1))
        target_in = torch.cat([torch.full_like(data["target"][:, :1], 2), data["target"][:, :-1]], 1)
        logits = model(data["source"], target_in)
        return ce(logits.reshape(-1, logits.shape[-1]), data["target"].reshape(-1), label_smoothing=0.1)

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
                loss = loss_fn()
            loss.backward()
            opt.step()
        loss.item()

    return run, sum(p.numel() for p in model.parameters())


def timed(run, steps):
    time.sleep(1.0)   # the other framework's idle threads stop spinning (OpenMP waits actively ~200 ms)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated, of: " + ", ".join(PEERS))
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per round and framework")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's intra-op threads")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "peers.json"))
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/peers.py needs PyTorch, which deepzoo does not depend on: install a CPU build in a "
                 "separate environment (see this file's docstring) and run it there.")
    torch.set_num_threads(args.threads)
    unknown = set(args.peers.split(",")) - set(PEERS)
    if unknown:
        sys.exit(f"unknown peers {sorted(unknown)}; known: {', '.join(PEERS)}.")
    results = {}
    for name in args.peers.split(","):
        for dtype in args.dtypes.split(","):
            ours, our_count = deepzoo_runner(name, dtype)
            theirs, their_count = torch_runner(torch, name, dtype)
            extra, why = PEERS[name][5] or (0, "")
            if their_count - extra != our_count:
                sys.exit(f"{name}: deepzoo has {our_count:,} parameters, PyTorch {their_count:,}"
                         f"{f' (less {extra:,}: {why})' if extra else ''}: the peers are not the same network.")
            ours(2), theirs(2)                                           # compile and warm up
            times = {"deepzoo": [], "pytorch": []}
            for _ in range(args.rounds):
                times["deepzoo"].append(timed(ours, args.steps))
                times["pytorch"].append(timed(theirs, args.steps))
            row = {"parameters": our_count, "batch": PEERS[name][3], "date": time.strftime("%Y-%m-%d"),
                   "rounds": args.rounds, "steps_per_round": args.steps}
            for side, t in times.items():
                row[f"{side}_ms_min"] = round(1000 * min(t), 2)
                row[f"{side}_ms_median"] = round(1000 * statistics.median(t), 2)
            row["ratio"] = round(row["deepzoo_ms_median"] / row["pytorch_ms_median"], 3)
            if extra:
                row["note"] = f"PyTorch has {extra:,} more parameters: {why}"
            results[f"{name}/{dtype}"] = row
            print(f"{name:15s} {dtype:9s} deepzoo {row['deepzoo_ms_median']:9.2f} ms  PyTorch "
                  f"{row['pytorch_ms_median']:9.2f} ms  ratio {row['ratio']:.2f}", flush=True)
    machine = {"cpu_count": os.cpu_count(), "jax": jax.__version__, "torch": torch.__version__,
               "torch_threads": torch.get_num_threads(), "devices": str(jax.devices()[0]),
               "xla_flags": os.environ.get("XLA_FLAGS", "")}
    # A run of some peers replaces their rows and keeps the others (and any notes kept beside them).
    previous = {}
    if os.path.exists(args.output):
        with open(args.output) as f:
            previous = json.load(f)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({**previous, "benchmark": "peers", "date": time.strftime("%Y-%m-%d"), "machine": machine,
                   "results": {**previous.get("results", {}), **results}}, f, indent=2)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()

"""Does attention help? English -> German number words, with and without attention, by input length.

Trains configs/numbers_translation.py for each attention (none, bahdanau, luong), then decodes the test
split greedily and with beam search and reports sacrebleu BLEU and exact match, overall and by the
length of the English input: the analogue of Bahdanau et al. 2015's Figure 2, where the encoder-decoder
without attention falls apart on long sentences. Also draws each attention model's alignment for a long
number (their Figure 3).

    python experiments/translation.py                          # ~20 min per model on 2 CPU cores
    python experiments/translation.py --attentions=none,luong --workdir=/tmp/runs

Runs are resumable (each is an ordinary workdir); writes results.md, results.csv, bleu_by_length.png
and attention_<name>.png to --output_dir (default: experiments/translation/).
"""
import csv
import functools
from pathlib import Path

import jax
import matplotlib
import numpy as np
import sacrebleu
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models  # noqa: E402
from deepzoo.data import text  # noqa: E402
from deepzoo.models import decoding  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

ATTENTIONS = ("none", "bahdanau", "luong")
# Buckets of English input length in words ("nine hundred and ninety-nine million, nine hundred and
# ninety-nine thousand, nine hundred and ninety-nine" is 14; hyphenated tens are one word).
BUCKETS = ((1, 3), (4, 6), (7, 9), (10, 12), (13, 99))

FLAGS = flags.FLAGS
flags.DEFINE_list("attentions", list(ATTENTIONS), "Which models to train and compare.")
flags.DEFINE_string("workdir", "runs/translation", "Run directories, one per model (resumable).")
flags.DEFINE_string("output_dir", str(Path(__file__).with_suffix("")), "Where tables and figures go.")
flags.DEFINE_string("variant", "", "Config variant appended to each model's arg, e.g. 'smoke' for tests.")
flags.DEFINE_string("split", "test", "The split decoded for BLEU.")
flags.DEFINE_integer("beam_size", 4, "Beam width for beam search (greedy is always reported too).")
flags.DEFINE_float("length_penalty", 0.6, "GNMT length-penalty alpha for beam search.")
flags.DEFINE_integer("batch_size", 500, "Rows decoded at once.")


def input_words(english: str) -> int:
    return len(english.replace(",", " ").split())


def bucket_of(words: int) -> str:
    for low, high in BUCKETS:
        if low <= words <= high:
            return f"{low}-{high}" if high < 99 else f"{low}+"
    raise ValueError(words)


def decode(model, variables, sources, *, beam_size, max_length, batch_size, length_penalty):
    generate = jax.jit(functools.partial(decoding.generate, model, max_length=max_length, bos_id=text.BOS,
                                         eos_id=text.EOS, beam_size=beam_size,
                                         length_penalty=length_penalty))
    return np.concatenate([np.asarray(generate(variables, sources[i:i + batch_size]))
                           for i in range(0, len(sources), batch_size)])


def score(hypotheses, references, english) -> dict:
    """BLEU, chrF and exact match overall and per input-length bucket. German writes every number
    below a million as one word, so word-level BLEU would have no 4-grams to count (it is 0 for a
    perfect system on these): BLEU is computed over characters (sacrebleu's "char" tokenizer)."""
    rows = {"all": np.arange(len(references))}
    buckets = np.array([bucket_of(input_words(e)) for e in english])
    for low, high in BUCKETS:
        name = bucket_of(low)
        if np.any(buckets == name):
            rows[name] = np.flatnonzero(buckets == name)
    result = {}
    for name, idx in rows.items():
        hyp, ref = [hypotheses[i] for i in idx], [references[i] for i in idx]
        result[name] = {"n": len(idx), "bleu": sacrebleu.corpus_bleu(hyp, [ref], tokenize="char").score,
                        "chrf": sacrebleu.corpus_chrf(hyp, [ref]).score,
                        "exact": float(np.mean([h == r for h, r in zip(hyp, ref)]))}
    return result


def plot_alignment(model, variables, source, target, vocab, path: Path, title: str):
    """Attention weights of the teacher-forced reference translation: target pieces x source pieces."""
    from deepzoo.tasks.seq2seq import shift_right  # the decoder reads [BOS, target[:-1]]
    _, weights = model.apply(variables, source[None], shift_right(target[None], text.BOS),
                             return_attention=True)
    # A piece that is only SentencePiece's word boundary decodes to "": show it as "▁".
    pieces = lambda ids: ["</s>" if i == text.EOS else vocab.decode([int(i)]) or "▁" for i in ids if i != text.PAD]
    src, tgt = pieces(source), pieces(target)
    weights = np.asarray(weights[0, :len(tgt), :len(src)])
    fig, ax = plt.subplots(figsize=(0.45 * len(src) + 2, 0.4 * len(tgt) + 1.5))
    ax.imshow(weights, cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src)), src, rotation=70, fontsize=8)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("English source (SentencePiece pieces)")
    ax.set_ylabel("German output")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_by_length(results: dict, path: Path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, by_bucket in results.items():
        buckets = [b for b in by_bucket if b != "all"]
        for ax, metric in zip(axes, ("bleu", "exact")):
            values = [by_bucket[b][metric] * (100 if metric == "exact" else 1) for b in buckets]
            ax.plot(buckets, values, marker="o", label=name)
    axes[0].set_ylabel("character BLEU (beam search)")
    axes[1].set_ylabel("exact match (%)")
    for ax in axes:
        ax.set_xlabel("English input length (words)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("English -> German number words: seq2seq without and with attention")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learning_table(workdirs: dict, eval_split: str) -> list[str]:
    """Markdown rows: each model's greedy exact match on `eval_split` at every evaluation during training."""
    curves = {name: {r["step"]: r["exact_match"] for r in read_metrics(str(path))
                     if r.get("split") == eval_split and "exact_match" in r} for name, path in workdirs.items()}
    steps = sorted(set().union(*curves.values()))
    lines = [f"Greedy exact match (%) on the {eval_split} split during training (how fast each model learns):", "",
             "| model | " + " | ".join(f"step {s}" for s in steps) + " |", "|---|" + "---|" * len(steps)]
    lines += [f"| {name} | " + " | ".join(f"{100 * curve[s]:.1f}" if s in curve else "-" for s in steps) + " |"
              for name, curve in curves.items()]
    return lines


def write_tables(results, greedy, output_dir: Path, split: str, beam_size: int, learning: list[str]):
    buckets = list(next(iter(results.values())))
    with open(output_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "decoding", "bucket", "examples", "char_bleu", "chrf", "exact_match"])
        for decoding_name, table in (("greedy", greedy), (f"beam{beam_size}", results)):
            for name, by_bucket in table.items():
                for b, r in by_bucket.items():
                    writer.writerow([name, decoding_name, b, r["n"], f"{r['bleu']:.2f}", f"{r['chrf']:.2f}",
                                     f"{r['exact']:.4f}"])
    lines = [f"# English -> German number words ({split} split)", "",
             f"sacrebleu BLEU over characters / exact match (%), beam search (width {beam_size}, GNMT length penalty) and "
             f"greedy, by English input length in words. Regenerate with `python experiments/translation.py`.",
             "", "| model | decoding | " + " | ".join(buckets) + " |", "|---|---|" + "---|" * len(buckets)]
    for decoding_name, table in ((f"beam {beam_size}", results), ("greedy", greedy)):
        for name, by_bucket in table.items():
            cells = [f"{by_bucket[b]['bleu']:.1f} / {100 * by_bucket[b]['exact']:.1f}" for b in buckets]
            lines.append(f"| {name} | {decoding_name} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{b}: {results[next(iter(results))][b]['n']}" for b in buckets)
    lines += ["", f"Examples per bucket: {counts}.", "", *learning, "",
              "![BLEU by input length](bleu_by_length.png)", ""]
    lines += [f"![alignment, {name}](attention_{name}.png)" for name in results if name != "none"]
    (output_dir / "results.md").write_text("\n".join(lines) + "\n")


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = Path(FLAGS.output_dir), Path(FLAGS.workdir)
    output_dir.mkdir(parents=True, exist_ok=True)
    unknown = set(FLAGS.attentions) - set(ATTENTIONS)
    if unknown:
        raise app.UsageError(f"unknown attentions {sorted(unknown)}; known: {', '.join(ATTENTIONS)}.")
    beam, greedy = {}, {}
    for name in FLAGS.attentions:
        config = config_lib.load(f"configs/numbers_translation.py:{name}" +
                                 (f",{FLAGS.variant}" if FLAGS.variant else ""))
        logging.info("Training %s (resumes if %s holds a checkpoint).", name, workdir / name)
        trainer.train_and_evaluate(config, workdir / name)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / name)
        ds = config.dataset
        source = data.load(ds.name, FLAGS.split, data_dir=ds.data_dir, max_length=ds.max_length,
                           vocab_size=ds.vocab_size, languages=ds.languages)
        arrays = source.read(np.arange(len(source)))
        english = data.texts(ds.name, FLAGS.split, ds.languages[0], data_dir=ds.data_dir)
        references = data.texts(ds.name, FLAGS.split, ds.languages[1], data_dir=ds.data_dir)
        kwargs = dict(max_length=ds.max_length, batch_size=FLAGS.batch_size, length_penalty=FLAGS.length_penalty)
        for table, width in ((greedy, 1), (beam, FLAGS.beam_size)):
            tokens = decode(model, variables, arrays["source"], beam_size=width, **kwargs)
            table[name] = score([source.vocab.decode(t) for t in tokens], references, english)
            logging.info("%s, beam %d: BLEU %.2f, exact match %.4f", name, width, table[name]["all"]["bleu"],
                         table[name]["all"]["exact"])
        if name != "none":
            longest = int(np.argmax([input_words(e) for e in english]))
            plot_alignment(model, variables, arrays["source"][longest], arrays["target"][longest], source.vocab,
                           output_dir / f"attention_{name}.png",
                           f"{name} attention: {english[longest]}")
    plot_by_length(beam, output_dir / "bleu_by_length.png")
    learning = learning_table({name: workdir / name for name in FLAGS.attentions}, config.dataset.eval_split)
    write_tables(beam, greedy, output_dir, FLAGS.split, FLAGS.beam_size, learning)
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    app.run(main)

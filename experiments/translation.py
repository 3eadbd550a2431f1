"""Does attention help, and is attention all you need? The recurrent seq2seq without attention, with
Bahdanau's and Luong's, and the Transformer, by input length, on two corpora (--corpus):
- numbers: English -> German number words (configs/numbers_translation.py), generated; the fast one;
- gettext_en_de, gettext_en_fr: the messages of the gettext catalogs installed on the machine, translated
  by people (configs/gettext_translation.py; deepzoo/data/gettext_builder.py).

Trains each model (none, bahdanau, luong, none_lstm, bahdanau_lstm, transformer), then decodes the test
split greedily and with beam search and reports sacreBLEU and exact match, overall and by the length of
the English input (the analogue of Bahdanau et al. 2015's Figure 2, where the encoder-decoder without
attention falls apart on long sentences), with each model's parameters and training time. Draws each
recurrent attention model's alignment for a long input (their Figure 3) and the Transformer's attention,
every layer and head.

    python experiments/translation.py                          # 10-20 min per model on 2 CPU cores
    python experiments/translation.py --variant=small          # 400 steps of none, bahdanau and transformer
    python experiments/translation.py --models=none,transformer --workdir=/tmp/runs
    python experiments/translation.py --corpus=gettext_en_de   # real messages: 40-50 min per model

Runs are resumable (each is an ordinary workdir). Writes results.md, results.csv, learning.csv,
bleu_by_length.png, attention_<name>.png and transformer_<encoder|decoder|cross>_attention.png beside the
runs in --workdir (--update_results: into experiments/translation/, the committed reference); a gettext
corpus's runs and report go into its own folder of those (e.g. experiments/translation/gettext_en_de/). A
run of some models replaces their rows and keeps the others; --report_only redraws results.md and
bleu_by_length.png from the CSVs.

A pod run (WMT'14, trained with deepzoo.main) is evaluated on newstest2014 with sacrebleu instead:

    python experiments/translation.py --config=configs/wmt14_transformer.py:base --workdir=gs://.../base

which averages the run's last config.decode.average_last checkpoints, decodes the test split with beam
search and writes wmt14_<variant>.md beside the other results.
"""
import functools
import sys
import unicodedata
from pathlib import Path

import jax
import matplotlib
import numpy as np
import sacrebleu
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models  # noqa: E402
from deepzoo.analysis import complexity  # noqa: E402
from deepzoo.data import text  # noqa: E402
from deepzoo.data.gettext_builder import GETTEXT_BUILDERS, PLACEHOLDER  # noqa: E402
from deepzoo.inference import decoding  # noqa: E402
from deepzoo.plots import attention as attention_plots  # noqa: E402
from deepzoo.tasks.seq2seq import shift_right  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import average_variables, load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

MODELS = ("none", "bahdanau", "luong", "none_lstm", "bahdanau_lstm", "transformer")
# Each corpus: its config and option, its name in titles, the buckets of English input length in words, the
# sacreBLEU tokenizer, and the longest input (in words) whose attention is drawn. The last bucket has no upper end.
# The gettext messages: median 6 English words, 90% at most 11; BLEU as WMT reports it (13a, detokenised text).
MESSAGES = dict(config="configs/gettext_translation.py", buckets=((1, 3), (4, 6), (7, 10), (11, 15), (16, None)),
                tokenize="13a", drawn_words=16)
CORPORA = {
    # "nine hundred and ninety-nine million, nine hundred and ninety-nine thousand, nine hundred and ninety-nine"
    # is 14 words (hyphenated tens are one). German writes every number below a million as one word, so
    # word-level BLEU would have no 4-grams to count (0 for a perfect system): BLEU over characters.
    "numbers": dict(config="configs/numbers_translation.py", option="", title="English -> German number words",
                    buckets=((1, 3), (4, 6), (7, 9), (10, 12), (13, None)), tokenize="char", drawn_words=99),
    "gettext_en_de": dict(MESSAGES, option="", title="English -> German gettext messages"),
    "gettext_en_fr": dict(MESSAGES, option="fr", title="English -> French gettext messages"),
}

LANGUAGES = {"de": "German", "fr": "French"}
CUT = "cut"   # the bucket of the pairs longer than the sequences (score)

FLAGS = flags.FLAGS
SMALL_MODELS = ("none", "bahdanau", "transformer")   # --variant=small's default: the three ideas, GRUs only
flags.DEFINE_list("models", None, "Which models to train and compare (default: all, or with --variant=small "
                  "none, bahdanau and transformer).")
flags.DEFINE_enum("corpus", "numbers", list(CORPORA), "Number words (generated), or the messages of the installed "
                  "gettext catalogs, English -> German or French.")
flags.DEFINE_string("config", "", "Evaluate this pod run (e.g. configs/wmt14_transformer.py:base) in --workdir "
                    "on --split instead, with sacrebleu and checkpoint averaging.")
flags.DEFINE_string("workdir", "runs/translation", "Run directories, one per model (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant appended to each model's arg, e.g. 'smoke' for tests.")
flags.DEFINE_string("split", "test", "The split decoded for BLEU.")
flags.DEFINE_integer("beam_size", 4, "Beam width for beam search (greedy is always reported too).")
flags.DEFINE_float("length_penalty", 0.6, "GNMT length-penalty alpha for beam search.")
flags.DEFINE_integer("batch_size", 500, "Rows decoded at once.")
flags.DEFINE_bool("report_only", False, "Redraw results.md and bleu_by_length.png from results.csv and "
                  "learning.csv, training and decoding nothing (after a change to how they are drawn).")


def input_words(english: str) -> int:
    return len(english.replace(",", " ").split())


def bucket_of(words: int, buckets) -> str:
    """The name of the first bucket whose upper end is at least `words` ("16+" for the open last one)."""
    low, high = next((low, high) for low, high in buckets if high is None or words <= high)
    return f"{low}+" if high is None else f"{low}-{high}"


def decode(model, variables, sources, *, beam_size, max_length, batch_size, length_penalty):
    generate = jax.jit(functools.partial(decoding.generate, model, max_length=max_length, bos_id=text.BOS,
                                         eos_id=text.EOS, beam_size=beam_size,
                                         length_penalty=length_penalty))
    return np.concatenate([np.asarray(generate(variables, sources[i:i + batch_size]))
                           for i in range(0, len(sources), batch_size)])


def score(hypotheses, references, english, corpus: dict, fits=None) -> dict:
    """BLEU (with the corpus's sacreBLEU tokenizer), chrF and exact match overall and per input-length bucket.

    The pairs that do not fit (`fits` False: the English or the reference longer than the sequences) are
    left out of the length buckets and scored as the bucket "cut": their input was truncated, so they would
    measure the truncation, not how a model copes with long inputs. References are compared NFKC-normalised,
    as SentencePiece reads them: a model can write "...", never "…"."""
    references = [unicodedata.normalize("NFKC", r) for r in references]
    fits = np.ones(len(english), bool) if fits is None else fits
    rows = {"all": np.arange(len(references))}
    buckets = np.array([bucket_of(input_words(e), corpus["buckets"]) if ok else CUT for e, ok in zip(english, fits)])
    for name in [bucket_of(low, corpus["buckets"]) for low, _ in corpus["buckets"]] + [CUT]:
        if np.any(buckets == name):
            rows[name] = np.flatnonzero(buckets == name)
    result = {}
    for name, idx in rows.items():
        hyp, ref = [hypotheses[i] for i in idx], [references[i] for i in idx]
        result[name] = {"n": len(idx), "bleu": sacrebleu.corpus_bleu(hyp, [ref], tokenize=corpus["tokenize"]).score,
                        "chrf": sacrebleu.corpus_chrf(hyp, [ref]).score,
                        "exact": float(np.mean([h == r for h, r in zip(hyp, ref)]))}
    return result


def pieces(ids, vocab) -> list[str]:
    """The SentencePiece pieces of ids up to PAD; a piece that is only the word boundary shows as "▁"."""
    return ["</s>" if i == text.EOS else vocab.decode([int(i)]) or "▁" for i in ids if i != text.PAD]


def plot_alignment(model, variables, source, target, vocab, path: Path, title: str, target_language: str):
    """Attention weights of the teacher-forced reference translation: target pieces x source pieces."""
    weights = attention_plots.collect(model, variables, source[None], shift_right(target[None], text.BOS))
    src, tgt = pieces(source, vocab), pieces(target, vocab)
    weights = weights["decoder"][0, :len(tgt), :len(src)]   # the recurrent decoder's one head
    fig, ax = plt.subplots(figsize=(0.45 * len(src) + 2, 0.4 * len(tgt) + 1.5))
    ax.imshow(weights, cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src)), src, rotation=70, fontsize=8)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("English source (SentencePiece pieces)")
    ax.set_ylabel(f"{target_language} output")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_transformer_attention(model, variables, source, target, vocab, output_dir: Path, english: str):
    """Every layer's and head's weights for one teacher-forced pair: the encoder's self-attention, the
    decoder's masked self-attention and its attention over the source, one PNG each."""
    previous = shift_right(target[None], text.BOS)
    weights = attention_plots.collect(model, variables, source[None], previous)
    src, tgt = pieces(source, vocab), pieces(target, vocab)
    inputs = ["<s>"] + tgt[:-1]   # what the decoder reads at each position
    groups = {"encoder": (lambda n: n.startswith("encoder_block"), src, src),
              "decoder": (lambda n: n.startswith("decoder_block") and n.endswith("/attention"), inputs, inputs),
              "cross": (lambda n: n.endswith("/cross_attention"), tgt, src)}
    for kind, (belongs, queries, keys) in groups.items():
        attention_plots.plot({n: w for n, w in weights.items() if belongs(n)},
                             output_dir / f"transformer_{kind}_attention.png", queries=queries, keys=keys,
                             title=f"Transformer {kind} attention, every layer and head: {english}")


def plot_by_length(rows: list[dict], path: Path, corpus: dict):
    """BLEU and exact match by input length, from the beam-search rows of results.csv."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    top = [0, 0]
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name and r["bucket"] not in ("all", CUT)]
        for i, (ax, metric, scale) in enumerate(zip(axes, ("bleu", "exact_match"), (1, 100))):
            values = [scale * float(r[metric]) for r in mine]
            ax.plot([r["bucket"] for r in mine], values, marker="o", label=name)
            top[i] = max([top[i], *values])
    axes[0].set_ylabel(("character BLEU" if corpus["tokenize"] == "char" else "BLEU") + " (beam search)")
    axes[1].set_ylabel("exact match (%)")
    for ax, highest in zip(axes, top):
        # From 0, to the full scale where scores are high: zoomed in, 0.05 points would look like a collapse.
        high = highest > 60
        ax.set_ylim(0, 102 if high else 10 * np.ceil(highest * 1.3 / 10))
        ax.set_xlabel("English input length (words)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if high else "upper right", fontsize=8)   # where scores fall with length
    fig.suptitle(f"{corpus['title']}: seq2seq without and with attention, and the Transformer")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learning_rows(name: str, workdir: Path, eval_split: str) -> list[dict]:
    """The model's greedy exact match on `eval_split` at every evaluation during training."""
    return [{"model": name, "step": r["step"], "exact_match": r["exact_match"]} for r in read_metrics(str(workdir))
            if r.get("split") == eval_split and "exact_match" in r]


def learning_table(rows: list[dict], eval_split: str) -> list[str]:
    curves = {}
    for r in rows:
        curves.setdefault(r["model"], {})[int(r["step"])] = float(r["exact_match"])
    steps = sorted(set().union(*curves.values()))
    lines = [f"Greedy exact match (%) on the {eval_split} split during training (how fast each model learns):", "",
             "| model | " + " | ".join(f"step {s}" for s in steps) + " |", "|---|" + "---|" * len(steps)]
    lines += [f"| {name} | " + " | ".join(f"{100 * curve[s]:.1f}" if s in curve else "-" for s in steps) + " |"
              for name, curve in curves.items()]
    return lines


def training_seconds(workdir) -> float:
    """Wall time of the training steps, from the step rates the trainer logged (resumed runs included)."""
    records = [r for r in read_metrics(str(workdir)) if r.get("split") == "train" and r.get("steps_per_sec")]
    steps = [0] + [r["step"] for r in records]
    return sum((s - p) / r["steps_per_sec"] for p, s, r in zip(steps, steps[1:], records))


def score_rows(name: str, decoding_name: str, by_bucket: dict, about: dict) -> list[dict]:
    """results.csv's rows of one model and decoding, one per bucket."""
    return [{"model": name, "decoding": decoding_name, "bucket": b, "examples": r["n"], "bleu": f"{r['bleu']:.2f}",
             "chrf": f"{r['chrf']:.2f}", "exact_match": f"{r['exact']:.6f}", **about} for b, r in by_bucket.items()]


def write_tables(rows: list[dict], output_dir: Path, split: str, learning: list[str], corpus: dict, name: str):
    """results.md from every row of results.csv (beam search first, then greedy)."""
    buckets = list(dict.fromkeys(r["bucket"] for r in rows))
    decodings = sorted(dict.fromkeys(r["decoding"] for r in rows), key=lambda d: (d == "greedy", d))
    bleu = "BLEU over characters" if corpus["tokenize"] == "char" else f"BLEU ({corpus['tokenize']} tokenizer)"
    command = "python experiments/translation.py" + (f" --corpus={name}" if name != "numbers" else "")
    lines = [f"# {corpus['title']} ({split} split)", "",
             f"sacreBLEU {bleu} / exact match (%), beam search (GNMT length penalty) and greedy, by English input "
             f"length in words. Regenerate with `{command} --update_results` (2 CPU cores; training time from the "
             "logged step rate, which counts whatever else ran beside it).", "",
             "| model | parameters | training steps | training time | " + " | ".join(buckets) + " |",
             "|---|---|---|---|" + "---|" * len(buckets)]
    models_run = list(dict.fromkeys(r["model"] for r in rows))
    for decoding_name in decodings:
        label = decoding_name.replace("beam", "beam ")
        for name in models_run:
            cell = {r["bucket"]: r for r in rows if r["model"] == name and r["decoding"] == decoding_name}
            if not cell:
                continue
            first = next(iter(cell.values()))
            # The exact-match count, recovered from a fraction rounded to 4 or 6 places, then shown rounded once.
            exact = lambda r: round(float(r["exact_match"]) * int(r["examples"])) / int(r["examples"])
            cells = [f"{float(cell[b]['bleu']):.1f} / {100 * exact(cell[b]):.1f}" if b in cell else "-"
                     for b in buckets]
            lines.append(f"| {name}, {label} | {int(first['params']):,} | {int(first['steps']):,} | "
                         f"{float(first['seconds']) / 60:.1f} min | " + " | ".join(cells) + " |")
    examples = {r["bucket"]: r["examples"] for r in rows}
    counts = ", ".join(f"{b}: {examples[b]}" for b in buckets)
    lines += ["", f"Examples per bucket: {counts}."]
    if CUT in buckets:
        lines.append(f"{CUT}: the pairs whose English or reference is longer than the model's sequences; their "
                     "input was truncated, so they are left out of the length buckets.")
    lines += [""]
    if name != "numbers":
        lines += ["The corpus, its catalogs and how it tokenises: [corpus.md](corpus.md).", ""]
    answers = findings(rows)
    lines += [*answers, ""] if answers else []
    lines += [*learning, "",
              "![BLEU by input length](bleu_by_length.png)", ""]
    lines += [f"![alignment, {name}](attention_{name}.png)" for name in models_run
              if (output_dir / f"attention_{name}.png").exists()]
    if "transformer" in models_run:
        lines += ["", "The Transformer's attention for the longest test input drawn, every layer (rows) and head "
                  "(columns):", ""]
        lines += [f"![Transformer {kind} attention](transformer_{kind}_attention.png)"
                  for kind in ("encoder", "decoder", "cross")]
    (output_dir / "results.md").write_text("\n".join(lines) + "\n")


def findings(rows: list[dict]) -> list[str]:
    """What the beam-search rows answer: attention's gain over the same encoder-decoder without it, overall
    and on the shortest and longest inputs, and the Transformer against the best recurrent model."""
    beam = [r for r in rows if r["decoding"] != "greedy"]
    bleu = {(r["model"], r["bucket"]): float(r["bleu"]) for r in beam}
    about = {r["model"]: r for r in beam}
    buckets = [b for b in dict.fromkeys(r["bucket"] for r in beam) if b not in ("all", CUT)] or ["all"]
    first, last = buckets[0], buckets[-1]
    lines = []
    for plain, attended in (("none", ("bahdanau", "luong")), ("none_lstm", ("bahdanau_lstm",))):
        for name in (a for a in attended if plain in about and a in about):
            gain = {b: bleu[name, b] - bleu[plain, b] for b in ("all", first, last)}
            # How far each falls on long inputs: the longest bucket's BLEU against its best bucket's.
            kept = {m: 100 * bleu[m, last] / max(1e-9, *(bleu[m, b] for b in buckets)) for m in (plain, name)}
            lines.append(f"- {name} against {plain} (the same encoder-decoder without attention): {gain['all']:+.1f} "
                         f"BLEU over all inputs, {gain[first]:+.1f} on the shortest ({first} words), "
                         f"{gain[last]:+.1f} on the longest ({last} words); on the longest {plain} keeps "
                         f"{kept[plain]:.0f}% of the BLEU of its best length, {name} {kept[name]:.0f}%.")
    recurrent = [m for m in about if m != "transformer"]
    if "transformer" in about and recurrent:
        best = max(recurrent, key=lambda m: bleu[m, "all"])
        t, b = about["transformer"], about[best]
        lines.append(f"- The Transformer: {bleu['transformer', 'all']:.1f} BLEU against {bleu[best, 'all']:.1f} for "
                     f"the best recurrent model ({best}), after {int(t['steps']):,} and {int(b['steps']):,} steps, "
                     f"{float(t['seconds']) / 60:.0f} and {float(b['seconds']) / 60:.0f} min of training as logged "
                     f"(each model's step time alone: benchmarks/translation_steps.py).")
    return ["What the table answers (beam search):", "", *lines] if lines else []


def write_corpus(ds, vocab, output_dir: Path):
    """corpus.md and catalogs.csv: what went into a gettext corpus (its builder's metadata: catalogs,
    checksums, pairs dropped per rule) and how its messages tokenise."""
    meta = GETTEXT_BUILDERS[ds.name](data_dir=data.resolve_data_dir(ds.data_dir)).info.metadata
    report.write_rows(output_dir / "catalogs.csv", [
        {k: c[k] for k in ("path", "sha256", "bytes", "charset", "messages", "pairs")} for c in meta["catalogs"]])
    source_language, target_language = ds.languages
    lines = [f"# {ds.name}: the corpus", "",
             f"{sum(meta['pairs'].values()):,} English -> {LANGUAGES[target_language]} message pairs from "
             f"{len(meta['catalogs'])} gettext catalogs under {', '.join(meta['locale_dirs'])} "
             f"({len(meta['skipped'])} unreadable; the ISO code lists left out). Each catalog with its SHA-256: "
             f"[catalogs.csv](catalogs.csv). Messages dropped: "
             + ", ".join(f"{n:,} {rule}" for rule, n in sorted(meta["dropped"].items())) + ".", "",
             f"SentencePiece pieces per message ({vocab.size:,} pieces trained on the train split; sequences cut at "
             f"{ds.max_length} with EOS):", "",
             f"| split | pairs | English words (median / 90%) | English pieces | {LANGUAGES[target_language]} pieces "
             f"| cut at {ds.max_length} (%) |", "|---|---|---|---|---|---|"]
    for split in ("train", "validation", "test"):
        english = data.texts(ds.name, split, source_language, data_dir=ds.data_dir)
        target = data.texts(ds.name, split, target_language, data_dir=ds.data_dir)
        words = [input_words(e) for e in english]
        lengths = [np.array([len(i) + 1 for i in vocab.encode_batch(t)]) for t in (english, target)]
        cut = np.mean((lengths[0] > ds.max_length) | (lengths[1] > ds.max_length))
        median_90 = lambda x: f"{np.median(x):.0f} / {np.percentile(x, 90):.0f}"
        lines.append(f"| {split} | {len(english):,} | {median_90(words)} | {median_90(lengths[0] - 1)} | "
                     f"{median_90(lengths[1] - 1)} | {100 * cut:.1f} |")
    pieces_all = [vocab.processor.id_to_piece(i).lstrip("\u2581") for i in range(vocab.size)]
    kept = list(dict.fromkeys(p for p in pieces_all if PLACEHOLDER.fullmatch(p)))
    largest = sorted(meta["catalogs"], key=lambda c: -c["pairs"])[:10]
    shown = f" ({' '.join(kept[:30])}{' ...' if len(kept) > 30 else ''})" if kept else ""
    lines += ["", f"Format placeholders that are pieces of their own: {len(kept)}{shown}.", "",
              "The largest catalogs (pairs kept): " + ", ".join(
                  f"{Path(c['path']).stem} {c['pairs']:,}" for c in largest) + "."]
    (output_dir / "corpus.md").write_text("\n".join(lines) + "\n")


def evaluate_pod_run(config, name: str, workdir: str, output_dir: Path, *, split: str, batch_size: int) -> float:
    """newstest2014 (the test split) with sacrebleu: the average of the last checkpoints, beam search.
    Writes wmt14_<name>.md; returns the BLEU."""
    ds, decode_cfg = config.dataset, config.decode
    model = models.get(config.model.name, **config.model.kwargs)
    variables = average_variables(workdir, decode_cfg.average_last)
    source = data.load(ds.name, split, data_dir=ds.data_dir, max_length=ds.max_length,
                       vocab_size=ds.vocab_size, languages=ds.languages)
    tokens = decode(model, variables, source.read(np.arange(len(source)))["source"], beam_size=decode_cfg.beam_size,
                    max_length=ds.max_length, batch_size=batch_size, length_penalty=decode_cfg.length_penalty)
    hypotheses = [source.vocab.decode(t) for t in tokens]
    references = data.texts(ds.name, split, ds.languages[1], data_dir=ds.data_dir)
    bleu = sacrebleu.corpus_bleu(hypotheses, [references])   # detokenised, 13a: comparable across papers
    (output_dir / f"wmt14_{name}.md").write_text(
        f"# {config.model.name} ({name}) on the {split} split ({len(references)} sentences)\n\n"
        f"sacreBLEU {bleu.score:.2f} (`{bleu.format(signature=True)}`), beam {decode_cfg.beam_size}, length "
        f"penalty {decode_cfg.length_penalty}, average of the last {decode_cfg.average_last} checkpoints of "
        f"{workdir}.\n\nExpected: {config.reference}.\n")
    logging.info("%s: sacreBLEU %.2f on %s", name, bleu.score, split)
    return bleu.score


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("split", "beam_size", "length_penalty")


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = report.output_dir(__file__, fixed=FIXED), Path(FLAGS.workdir)
    if FLAGS.config:
        name = FLAGS.config.rpartition(":")[2].replace(",", "_") or "run"
        evaluate_pod_run(config_lib.load(FLAGS.config), name, FLAGS.workdir, output_dir, split=FLAGS.split,
                         batch_size=FLAGS.batch_size)
        return
    corpus = CORPORA[FLAGS.corpus]
    if FLAGS.corpus != "numbers":   # its own folder beside the number words' report and runs
        output_dir, workdir = output_dir / FLAGS.corpus, workdir / FLAGS.corpus
        output_dir.mkdir(parents=True, exist_ok=True)
    chosen = FLAGS.models or (SMALL_MODELS if FLAGS.variant == "small" else MODELS)
    unknown = set(chosen) - set(MODELS)
    if unknown:
        raise app.UsageError(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}.")
    report.check_mergeable(output_dir, ["results.csv", "learning.csv"], set(chosen) != set(MODELS))
    load_config = lambda name: config_lib.load(
        f"{corpus['config']}:" + ",".join(o for o in (name, corpus["option"], FLAGS.variant) if o))
    if FLAGS.report_only:
        if not (output_dir / "results.csv").exists():
            raise app.UsageError(f"--report_only redraws {output_dir / 'results.md'} from results.csv, and "
                                 f"{output_dir} has none: run the experiment first.")
        publish([], [], output_dir, corpus, load_config(chosen[0]).dataset.eval_split)
        print((output_dir / "results.md").read_text())
        return
    if FLAGS.corpus != "numbers":
        ds = load_config(chosen[0]).dataset
        write_corpus(ds, data.load(ds.name, FLAGS.split, data_dir=ds.data_dir, max_length=ds.max_length,
                                   vocab_size=ds.vocab_size, languages=ds.languages).vocab, output_dir)
    for name in chosen:
        config = load_config(name)
        logging.info("Training %s (resumes if %s holds a checkpoint).", name, workdir / name)
        trainer.train_and_evaluate(config, workdir / name)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / name)
        about = {"params": complexity.count_params(variables["params"]), "steps": config.num_train_steps,
                 "seconds": f"{training_seconds(workdir / name):.1f}"}
        ds = config.dataset
        source = data.load(ds.name, FLAGS.split, data_dir=ds.data_dir, max_length=ds.max_length,
                           vocab_size=ds.vocab_size, languages=ds.languages)
        arrays = source.read(np.arange(len(source)))
        english = data.texts(ds.name, FLAGS.split, ds.languages[0], data_dir=ds.data_dir)
        references = data.texts(ds.name, FLAGS.split, ds.languages[1], data_dir=ds.data_dir)
        kwargs = dict(max_length=ds.max_length, batch_size=FLAGS.batch_size, length_penalty=FLAGS.length_penalty)
        # A pair fits when its pieces do, EOS included (the last position is PAD).
        fits = (arrays["source"][:, -1] == text.PAD) & (arrays["target"][:, -1] == text.PAD)
        rows = []
        for decoding_name, width in ((f"beam{FLAGS.beam_size}", FLAGS.beam_size), ("greedy", 1)):
            tokens = decode(model, variables, arrays["source"], beam_size=width, **kwargs)
            scores = score([source.vocab.decode(t) for t in tokens], references, english, corpus, fits)
            rows += score_rows(name, decoding_name, scores, about)
            logging.info("%s, %s: BLEU %.2f, exact match %.4f", name, decoding_name, scores["all"]["bleu"],
                         scores["all"]["exact"])
        learning = learning_rows(name, workdir / name, ds.eval_split)
        # The longest input drawn whole: it fits and has at most drawn_words words.
        words = np.array([input_words(e) if ok and input_words(e) <= corpus["drawn_words"] else 0
                          for e, ok in zip(english, fits)])
        longest = int(np.argmax(words))
        pair = (arrays["source"][longest], arrays["target"][longest], source.vocab)
        if name == "transformer":
            plot_transformer_attention(model, variables, *pair, output_dir, english[longest])
        elif config.model.kwargs.attention != "none":
            plot_alignment(model, variables, *pair, output_dir / f"attention_{name}.png",
                           f"{name} attention: {english[longest]}", LANGUAGES[ds.languages[1]])
        # Written after every model, so a long run that is stopped keeps the models it finished.
        publish(rows, learning, output_dir, corpus, ds.eval_split)
    print((output_dir / "results.md").read_text())


def publish(rows: list[dict], learning: list[dict], output_dir: Path, corpus: dict, eval_split: str):
    """The rows merged into results.csv and learning.csv (the models run before, here or in the committed
    reference, keep theirs), and results.md and bleu_by_length.png drawn from all of them."""
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("model",), order=MODELS)
    learning = report.merge_rows(output_dir / "learning.csv", learning, key=("model",), order=MODELS)
    plot_by_length([r for r in rows if r["decoding"] != "greedy"], output_dir / "bleu_by_length.png", corpus)
    write_tables(rows, output_dir, FLAGS.split, learning_table(learning, eval_split), corpus, FLAGS.corpus)


if __name__ == "__main__":
    cli.run(main)

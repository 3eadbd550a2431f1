"""SimCLR on MNIST-5k: contrastive pre-training without labels, then linear probes.

    python experiments/simclr.py              # ~10 min here: pre-training, then the probes

Pre-trains (or resumes) configs/mnist5k_simclr.py under --workdir, then fits a linear classifier
(multinomial logistic regression, scikit-learn, on standardised features) on the encoder's frozen
representation h of the training digits, with all 4,000 labels and with 10 per class, and scores it on
the 1,000 test digits; against the same probe on a randomly initialised encoder of the same
architecture and on raw pixels. Writes to --output_dir (default --workdir; --update_results:
experiments/simclr/): results.md, embeddings.png (the test digits' h projected on the two linear
discriminant directions of the training digits' h, for SimCLR and the random encoder).
"""
import sys
from pathlib import Path

import jax
import matplotlib
import numpy as np
from absl import flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models  # noqa: E402
from deepzoo.data.sources import select  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/simclr", "Run directory (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant, e.g. 'smoke' for tests.")
flags.DEFINE_integer("labels_per_class", 10, "The few-label probe's labelled digits per class.")


def probe(train_x, train_y, test_x, test_y) -> float:
    """Test accuracy of a logistic-regression probe on standardised features."""
    scaler = StandardScaler().fit(train_x)
    classifier = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(train_x), train_y)
    return float(classifier.score(scaler.transform(test_x), test_y))


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("labels_per_class",)


def main(argv):
    del argv
    quiet_orbax_logs()
    out = report.output_dir(__file__, fixed=FIXED)
    config = config_lib.load("configs/mnist5k_simclr.py" + (f":{FLAGS.variant}" if FLAGS.variant else ""))
    results = trainer.train_and_evaluate(config, Path(FLAGS.workdir) / "pretrain")
    model = models.get(config.model.name, **config.model.kwargs)
    train, test = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    few = select(train, num_examples=10 * FLAGS.labels_per_class, seed=0)
    trained = load_variables(Path(FLAGS.workdir) / "pretrain")
    random = model.init(jax.random.key(1), train.arrays["input"][:2])
    embed = jax.jit(lambda v, x: model.apply(v, x, method="embed"))

    def features(variables, source):
        x = source.arrays["input"]
        return np.concatenate([np.asarray(embed(variables, x[i:i + 500])) for i in range(0, len(x), 500)])

    pixels = lambda source: source.arrays["input"].reshape(len(source), -1)
    encoders = {"SimCLR encoder": lambda s: features(trained, s), "random encoder": lambda s: features(random, s),
                "raw pixels": pixels}
    rows, embeddings = [], {}
    for name, featurize in encoders.items():
        test_x, train_x = featurize(test), featurize(train)
        accuracies = [probe(x, s.arrays["label"], test_x, test.arrays["label"])
                      for x, s in ((train_x, train), (featurize(few), few))]
        rows.append((name, test_x.shape[1], *accuracies))
        embeddings[name] = train_x, test_x
        logging.info("%s: probe %.1f%% (all labels), %.1f%% (%d per class)", name, 100 * accuracies[0],
                     100 * accuracies[1], FLAGS.labels_per_class)

    # The two linear directions that best separate the digits, fitted on the training features: a picture of
    # what a linear probe can use (the largest-variance directions, PCA, need not separate classes at all).
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax, name in zip(axes, ("SimCLR encoder", "random encoder")):
        train_x, test_x = embeddings[name]
        scaler = StandardScaler().fit(train_x)
        lda = LinearDiscriminantAnalysis(n_components=2).fit(scaler.transform(train_x), train.arrays["label"])
        points = lda.transform(scaler.transform(test_x))
        points = ax.scatter(points[:, 0], points[:, 1], c=test.arrays["label"], cmap="tab10", s=6)
        ax.set_title(name, fontsize=10)
    fig.suptitle("h of the 1,000 test digits on the two linear discriminant directions of the training digits' h",
                 fontsize=10)
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    fig.savefig(out / "embeddings.png", dpi=120)
    plt.close(fig)

    lines = ["# SimCLR on MNIST-5k: linear probes of the learned representation", "",
             f"Regenerate with `python experiments/simclr.py --update_results` (configs/mnist5k_simclr.py: {config.num_train_steps} "
             f"steps of batch {config.batch_size}, no labels). Final NT-Xent on the test digits: "
             f"{results['test_loss']:.3f}; the positive is the nearest of the {2 * config.eval_batch_size - 1} "
             f"other views for {100 * results['test_positive_accuracy']:.1f}% of them. Probe: logistic "
             f"regression on standardised frozen features, test accuracy on the 1,000 test digits.", "",
             f"| features | dimensions | probe, 4,000 labels | probe, {FLAGS.labels_per_class} labels per class |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {dims} | {100 * full:.1f}% | {100 * low:.1f}% |" for name, dims, full, low in rows]
    lines += ["", "![embeddings](embeddings.png)", ""]
    (out / "results.md").write_text("\n".join(lines))
    logging.info("Wrote %s", out / "results.md")
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

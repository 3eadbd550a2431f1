"""Transfer learning with LeNet-5: features learned on MNIST digits 0-4 reused for new digits.

    python -m deepzoo.main --config=configs/mnist5k_transfer.py:pretrain --workdir=runs/transfer/pretrain
    python -m deepzoo.main --config=configs/mnist5k_transfer.py:frozen,digits59 --workdir=runs/transfer/x \\
        --config.init_from.workdir=runs/transfer/pretrain --config.dataset.train_examples=50
    python experiments/transfer.py            # every method and target at 10..1,000 training examples

arg: "pretrain" (LeNet-5 on the 2,000 training digits 0-4 of MNIST-5k, 5 classes), or
"<method>,<target>" with
  method  scratch    random initialisation
          finetune   c1..f6 from the pretrained run, every layer trained at the full rate
          lower_lr   c1..f6 from the pretrained run, c1, c3, c5 at a tenth of the rate
          frozen     c1..f6 from the pretrained run, c1, c3, c5 frozen (the feature extractor): only
                     f6 and the new output layer learn
  target  digits59   MNIST-5k digits 5-9 (relabelled 0-4), tested on their 500 test digits
          digits28   scikit-learn's 8x8 digits framed like MNIST's (all ten), tested on 360
The output layer always starts fresh. config.dataset.train_examples sets the (class-balanced) number
of training examples, 0 for all; config.init_from.workdir the pretrained run. ",smoke": a few steps.
Recipe: Adam 1e-3, batch 32, 300 steps whatever the training-set size.
"""
import ml_collections

METHODS = ("scratch", "finetune", "lower_lr", "frozen")
TARGETS = {"digits59": dict(name="mnist5k", classes=(5, 6, 7, 8, 9), num_classes=5),
           "digits28": dict(name="digits28", classes=(), num_classes=10)}
FEATURES = ("c1", "c3", "c5")          # LeNet-5's convolutional feature extractor
TRANSFERRED = FEATURES + ("f6",)       # everything but the output layer


def get_config(arg: str | None = None):
    parts = (arg or "pretrain").split(",")
    smoke = parts[-1] == "smoke"
    parts = parts[:-1] if smoke else parts
    config = ml_collections.ConfigDict()
    config.seed = 0
    if parts == ["pretrain"]:
        method, target = "scratch", dict(name="mnist5k", classes=(0, 1, 2, 3, 4), num_classes=5)
    elif len(parts) == 2 and parts[0] in METHODS and parts[1] in TARGETS:
        method, target = parts[0], TARGETS[parts[1]]
    else:
        raise ValueError(f"unknown variant {arg!r} of mnist5k_transfer; known: 'pretrain' or '<method>,<target>' "
                         f"with method in {', '.join(METHODS)} and target in {', '.join(TARGETS)} (then ',smoke').")

    config.dataset = ml_collections.ConfigDict(dict(
        name=target["name"], train_split="train", eval_split="test", data_dir="", cache=True, prefetch=0,
        classes=target["classes"], train_examples=0, subset_seed=0))
    config.model = ml_collections.ConfigDict(dict(name="lenet_mnist", kwargs=ml_collections.ConfigDict(dict(
        num_classes=target["num_classes"], dtype="float32"))))
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.optimizer = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=1e-3, schedule="constant", warmup_steps=0, b1=0.9, b2=0.999, eps=1e-8,
        weight_decay=0.0, grad_clip_norm=0.0,
        layer_lr={"frozen": {f: 0.0 for f in FEATURES}, "lower_lr": {f: 0.1 for f in FEATURES}}.get(method, {})))
    config.init_from = ml_collections.ConfigDict(dict(
        workdir="" if method == "scratch" else "runs/transfer/pretrain",
        layers=() if method == "scratch" else TRANSFERRED))
    config.batch_size = 32
    config.num_train_steps = 300
    config.eval_batch_size = 512
    config.grad_accum_steps = 1
    config.ema_decay = 0.0
    config.log_every_steps = 100
    config.eval_every_steps = 0
    config.checkpoint_every_steps = 300
    config.keep_checkpoints = 1
    if smoke:
        config.num_train_steps = config.log_every_steps = config.checkpoint_every_steps = 4
        config.batch_size = 16
    return config

"""The optimizer from config.optimizer: learning-rate schedule, clipping, weight decay, as an optax chain.

Gradient accumulation is not here: the train step averages microbatch gradients itself (step.py),
so one optimizer update is one step and the schedule counts updates.
"""
import jax.numpy as jnp
import optax
from flax import traverse_util

from deepzoo.registry import lookup


def rsqrt_schedule(peak: float, warmup: int):
    """The Transformer's lrate (Vaswani et al. 2017, eq. 3) = d^-0.5 min(step^-0.5, step warmup^-1.5):
    linear up to `peak` at step `warmup`, then proportional to 1/sqrt(step). The paper's step counts
    from 1; optax's from 0, hence count + 1. Its peak is d^-0.5 warmup^-0.5 (7.0e-4 for base)."""
    def lr(count):
        step = jnp.asarray(count, jnp.float32) + 1.0
        return peak * jnp.minimum(step / warmup, jnp.sqrt(warmup / step))
    return lr


def schedule(cfg, num_steps: int, peak: float | None = None):
    """Learning rate as a function of the update count: optional linear warmup, then `cfg.schedule`;
    its peak is cfg.learning_rate unless `peak` is given."""
    lr, warmup = cfg.learning_rate if peak is None else peak, cfg.get("warmup_steps", 0)
    if cfg.get("schedule") == "rsqrt":  # its warmup is part of the formula
        if not warmup:
            raise ValueError("schedule 'rsqrt' needs config.optimizer.warmup_steps > 0 (4000 in the paper).")
        return rsqrt_schedule(lr, warmup)
    decay_steps = max(num_steps - warmup, 1)
    after_warmup = lookup("schedule", cfg.get("schedule", "constant"), {
        "constant": lambda: optax.constant_schedule(lr),
        "cosine": lambda: optax.cosine_decay_schedule(lr, decay_steps),
        "linear": lambda: optax.linear_schedule(lr, 0.0, decay_steps),
        "rsqrt": None,  # handled above; listed so that a misspelling names it
        # Multiply by decay_factor every decay_every_steps (AlexNet/VGG: 0.1 per 30 epochs; GoogLeNet:
        # 0.96 per 8 epochs; Inception-v3: 0.94 per 2 epochs), from decay_begin_steps on (Luong et al.
        # 2015: halve every epoch after the fifth).
        "step": lambda: optax.exponential_decay(lr, cfg.decay_every_steps, cfg.decay_factor, staircase=True,
                                                transition_begin=cfg.get("decay_begin_steps", 0)),
    })()
    if not warmup:
        return after_warmup
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), after_warmup], [warmup])


def in_layer(path: str, layer: str) -> bool:
    """Whether parameter `path` ("c1/kernel") is `layer` or lies below it ("c1")."""
    return path == layer or path.startswith(layer.rstrip("/") + "/")


def _matching(path: str, prefixes) -> str | None:
    """The longest of `prefixes` that names `path` or a layer above it, or None."""
    hits = [p for p in prefixes if in_layer(path, p)]
    return max(hits, key=len) if hits else None


def per_layer(optimizer, multipliers: dict):
    """`optimizer` with the learning rate of some layers scaled (optax.multi_transform): multipliers
    maps a parameter path or a layer ("c1", "bert/layer1") to a factor; 0 freezes the layer (its
    update is zero, and it keeps no optimizer state). The other parameters train at the full rate."""
    def labels(params):
        flat = traverse_util.flatten_dict(params, sep="/")
        unmatched = [p for p in multipliers if not any(in_layer(k, p) for k in flat)]
        if unmatched:
            layers = sorted({k.split("/")[0] for k in flat})
            raise ValueError(f"config.optimizer.layer_lr names {unmatched}, which match no parameter; the "
                             f"model's layers are {layers}.")
        return traverse_util.unflatten_dict(
            {k: _matching(k, multipliers) or "" for k in flat}, sep="/")

    transforms = {"": optimizer}
    for prefix, factor in multipliers.items():
        transforms[prefix] = optax.set_to_zero() if factor == 0 else optax.chain(optimizer, optax.scale(factor))
    return optax.multi_transform(transforms, labels)


# These hyperparameters live in the optimizer state (optax.inject_hyperparams), so that trials of a sweep
# that differ only in them share one program: vmapped, each trial's state holds its own values. Adam's
# b1, b2 and eps stay plain numbers: as arrays, 1 - b1 would round differently from optax's own update.
SWEEPABLE = ("learning_rate", "momentum", "weight_decay")


def create(cfg, num_steps: int):
    """Returns (tx, schedule) for config.optimizer; `layer_lr` scales or freezes layers (see per_layer).

    The peak learning rate, momentum and weight decay are hyperparameters in the optimizer state; the
    schedule is built around the peak inside each update, so the arithmetic is bitwise that of the
    optimizer built from plain numbers."""
    b1, b2, eps = cfg.get("b1", 0.9), cfg.get("b2", 0.999), cfg.get("eps", 1e-8)
    decay, momentum = cfg.get("weight_decay", 0.0), cfg.get("momentum") or None
    lr = lambda peak: schedule(cfg, num_steps, peak=peak)
    inject = optax.inject_hyperparams
    optimizer = lookup("optimizer", cfg.name, {
        "sgd": lambda: inject(lambda learning_rate, momentum: optax.sgd(
            lr(learning_rate), momentum=momentum, nesterov=cfg.get("nesterov", False)))(cfg.learning_rate, momentum),
        "adam": lambda: inject(lambda learning_rate: optax.adam(lr(learning_rate), b1, b2, eps))(cfg.learning_rate),
        "adamw": lambda: inject(lambda learning_rate, weight_decay: optax.adamw(  # decoupled decay
            lr(learning_rate), b1, b2, eps, weight_decay=weight_decay))(cfg.learning_rate, decay),
        # centered: divides by the gradient's running std, not its rms (Graves 2013; the Nature DQN)
        "rmsprop": lambda: inject(lambda learning_rate, momentum: optax.rmsprop(
            lr(learning_rate), decay=cfg.get("rms_decay", 0.9), eps=eps, momentum=momentum,
            centered=cfg.get("centered", False)))(cfg.learning_rate, momentum),
        # Zeiler 2012; Bahdanau et al. 2015 trained RNNsearch with rho 0.95, eps 1e-6, learning rate 1.
        "adadelta": lambda: inject(lambda learning_rate: optax.adadelta(lr(learning_rate), rho=cfg.get("rho", 0.9),
                                                                         eps=eps))(cfg.learning_rate),
    })()
    chain = []
    if cfg.get("grad_clip_norm"):
        chain.append(optax.clip_by_global_norm(cfg.grad_clip_norm))
    body = [optimizer]
    if decay and cfg.name != "adamw":  # classic L2 penalty, added to the gradient
        body.insert(0, inject(optax.add_decayed_weights)(decay))
    if cfg.get("layer_lr"):
        body = [per_layer(optax.chain(*body), dict(cfg.layer_lr))]
    return optax.chain(*chain, *body), schedule(cfg, num_steps)

"""The one train step and the one eval step, written once for every model: what differs lives in the
task (loss and metrics) and in the config.

    train_step(state, batch[, seed]) -> (state, metrics)    # metrics: {name: (sum, count)}
    eval_step(state, batch) -> metrics

Both are pure; the trainer jits them with explicit shardings (see trainer.py).
"""
import jax
import jax.numpy as jnp
import optax

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train.state import TrainState


def _microbatches(x, k: int):
    """(B, ...) -> (k, B/k, ...) with microbatch j = rows j, j+k, j+2k, ...

    Strided rather than contiguous so that every device keeps its own rows: a batch sharded in
    contiguous blocks over n devices stays sharded in each microbatch, with no data movement.
    """
    if x.shape[0] % k:
        raise ValueError(f"batch of {x.shape[0]} rows does not split into {k} accumulation steps; "
                         f"make config.batch_size a multiple of config.grad_accum_steps.")
    return jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1)


def _gradients(loss_fn, params, model_state, batch, rng, grad_accum_steps: int):
    """-> (loss, grads, model_state, metrics) of loss_fn(params, model_state, batch, rng), the gradients
    averaged over grad_accum_steps microbatches (model state threaded through them in order)."""
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    if grad_accum_steps == 1:
        (loss, (model_state, metrics)), grads = grad_fn(params, model_state, batch, rng)
        return loss, grads, model_state, metrics
    micro = jax.tree.map(lambda x: _microbatches(x, grad_accum_steps), batch)
    keys = jax.random.split(rng, grad_accum_steps)

    def accumulate(carry, xs):
        loss_sum, grad_sum, model_state, metric_sum = carry
        (loss, (model_state, m)), g = grad_fn(params, model_state, *xs)
        return (loss_sum + loss, jax.tree.map(jnp.add, grad_sum, g), model_state,
                metrics_lib.add(metric_sum, m)), None

    first = jax.tree.map(lambda x: x[0], micro)
    metric_shapes = jax.eval_shape(loss_fn, params, model_state, first, rng)[1][1]
    zeros = lambda tree: jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), tree)
    init = (jnp.zeros((), jnp.float32), zeros(params), model_state, zeros(metric_shapes))
    (loss, grads, model_state, metrics), _ = jax.lax.scan(accumulate, init, (micro, keys))
    scale = 1.0 / grad_accum_steps
    return loss * scale, jax.tree.map(lambda g: g * scale, grads), model_state, metrics


def make_train_step(model, task, tx, *, seed: int, grad_accum_steps: int = 1, ema_decay: float = 0.0):
    """Returns train_step(state, batch, seed=None) -> (state, metrics).

    The dropout key of step s is fold_in(key(seed), s), so a resumed run draws the same masks; a
    `seed` given to the step (an array under vmap: one per trial of a sweep) replaces this one. With
    grad_accum_steps = k the batch is cut into k microbatches whose gradients are averaged (model
    state such as BatchNorm statistics is threaded through them in order) before one update. A step
    whose loss, gradients or update are not finite leaves the state unchanged and says so in its
    metrics (nonfinite_loss / _grads / _update). The EMA averages parameters only: evaluated with
    the EMA, BatchNorm uses the running statistics of the live parameters.

    A task with `players` (a GAN's ("discriminator", "generator")) is a game: params and opt_state
    hold one entry per player, and a step updates the players in turn, each by the gradient of its
    own loss task.loss(..., player=p) with respect to its own parameters, seeing the others' latest
    ones (the alternating updates of Goodfellow et al. 2014 with k = 1). Each player has its own
    state of the same optimizer `tx`. All players draw from the same key, so they see the same noise.
    A task with `uses_step = True` gets the step number, `loss(..., step=state.step)`, for a schedule of its
    own (the shrinking neighbourhood of a Kohonen map).
    """
    players = tuple(getattr(task, "players", ()))

    def update(state, batch, rng):
        """-> (loss, grads, updates, params, opt_state, model_state, metrics) of one optimizer step."""
        if not players:
            extra = {"step": state.step} if getattr(task, "uses_step", False) else {}
            loss_fn = lambda p, ms, b, r: task.loss(model, p, ms, b, {"dropout": r}, **extra)
            loss, grads, model_state, metrics = _gradients(loss_fn, state.params, state.model_state, batch, rng,
                                                           grad_accum_steps)
            updates, opt_state = tx.update(grads, state.opt_state, state.params)
            return loss, grads, updates, optax.apply_updates(state.params, updates), opt_state, model_state, metrics
        params, opt_state, model_state = dict(state.params), dict(state.opt_state), state.model_state
        loss, grads, updates, metrics = 0.0, {}, {}, {}
        for player in players:
            def loss_fn(own, ms, b, r, player=player):
                return task.loss(model, {**params, player: own}, ms, b, {"dropout": r}, player=player)
            player_loss, grads[player], model_state, m = _gradients(loss_fn, params[player], model_state, batch,
                                                                    rng, grad_accum_steps)
            updates[player], opt_state[player] = tx.update(grads[player], opt_state[player], params[player])
            params[player] = optax.apply_updates(params[player], updates[player])
            loss, metrics = loss + player_loss, {**metrics, **m}
        return loss, grads, updates, params, opt_state, model_state, metrics

    def train_step(state: TrainState, batch, seed=seed):
        rng = jax.random.fold_in(jax.random.key(seed), state.step)
        loss, grads, updates, params, opt_state, model_state, metrics = update(state, batch, rng)
        ema_params = state.ema_params
        if ema_params is not None:
            ema_params = optax.incremental_update(params, ema_params, step_size=1.0 - ema_decay)

        grad_norm = optax.global_norm(grads)
        finite = {"loss": jnp.isfinite(loss), "grads": jnp.isfinite(grad_norm),
                  "update": jnp.isfinite(optax.global_norm(updates))}  # e.g. overflow of a huge lr
        ok = finite["loss"] & finite["grads"] & finite["update"]
        # A non-finite step changes nothing but the step count: no NaN ever reaches a checkpoint.
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)
        new_state = state.replace(
            step=state.step + 1, params=keep(params, state.params),
            opt_state=keep(opt_state, state.opt_state), model_state=keep(model_state, state.model_state),
            ema_params=keep(ema_params, state.ema_params))
        one = jnp.ones((), jnp.float32)
        metrics = {**metrics, "grad_norm": (grad_norm, one),
                   **{f"nonfinite_{k}": (1.0 - v.astype(jnp.float32), one) for k, v in finite.items()}}
        return new_state, metrics

    return train_step


def make_eval_step(model, task, *, use_ema: bool = False):
    """Returns eval_step(state, batch) -> metrics (sums and counts over the real, unmasked rows)."""
    def eval_step(state: TrainState, batch):
        params = state.ema_params if use_ema else state.params
        return task.evaluate(model, params, state.model_state, batch)
    return eval_step

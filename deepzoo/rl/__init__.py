"""Deep RL inside jit: environments (envs.py, atari.py), DQN (dqn.py), PPO/REINFORCE (ppo.py), the loop (loop.py)."""
import os

from absl import logging

_SINGLE_THREAD_EIGEN = "--xla_cpu_multi_thread_eigen=false"


def avoid_cpu_pool_hang():
    """XLA:CPU's multi-threaded Eigen pool can wedge on vmapped programs such as a population of agents:
    the run then waits forever at 0% CPU (seen here twice in ~15 agent runs; PyAutoLabs/PyAutoFit#1528
    traced it to this pool, and single-threaded Eigen avoids it). Call before JAX's first computation;
    it does not change GPU or TPU runs. The agents' small networks lose nothing by it."""
    from jax._src import xla_bridge  # noqa: PLC0415

    flags = os.environ.get("XLA_FLAGS", "")
    if _SINGLE_THREAD_EIGEN in flags:
        return
    if xla_bridge.backends_are_initialized():
        logging.warning("JAX's backends are already up: XLA:CPU keeps its multi-threaded Eigen pool, which can "
                        "wedge on vmapped agents; set XLA_FLAGS=%s before the first computation.", _SINGLE_THREAD_EIGEN)
        return
    os.environ["XLA_FLAGS"] = f"{flags} {_SINGLE_THREAD_EIGEN}".strip()

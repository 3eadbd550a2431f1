"""Entry point: python -m deepzoo.main --config=configs/<file>.py:<arg> --workdir=<dir> [--config.<field>=<value>]

Multi-host: on TPU pods and SLURM, jax.distributed.initialize() finds its peers by itself
(--distributed); elsewhere give --coordinator_address, --num_processes and --process_id.

Exit status (deepzoo/cli.py): 0 done; 143 (SIGTERM) or 130 (SIGINT) stopped after a checkpoint (rerun to
resume); 1 the run failed; 2 bad input, told in one line with the fix.
"""
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from deepzoo import cli
from deepzoo import config as config_lib
from deepzoo.registry import lookup

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file and its arg, e.g. configs/mnist1d_mlp.py:smoke "
                                          "or by name mnist1d_mlp:smoke (--list shows them all).", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics; resumes if it has them.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (TPU pod, SLURM).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-process).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process).")
_ALLOW_CHANGES = flags.DEFINE_bool("allow_config_changes", False, "Resume a run whose config changed beyond its "
                                   "length and cadences; the changes are recorded in config_changes.jsonl.")
flags.DEFINE_bool("list", False, "List the configs shipped with deepzoo, their variants and options, and exit.")
flags.mark_flags_as_required(["config", "workdir"])


def initialize_distributed():
    """Joins the other processes of a multi-host run (--coordinator_address or --distributed); else nothing."""
    import jax  # noqa: PLC0415  (after absl has parsed flags and XLA_FLAGS are final)
    if _COORDINATOR.value:
        # Lets CPU devices of several processes talk (no effect on GPU/TPU collectives).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(_COORDINATOR.value, num_processes=_NUM_PROCESSES.value,
                                   process_id=_PROCESS_ID.value)
    elif _DISTRIBUTED.value:
        jax.distributed.initialize()


def _supervised(config, workdir):
    from deepzoo.train.trainer import train_and_evaluate  # noqa: PLC0415
    results = train_and_evaluate(config, workdir, allow_changes=_ALLOW_CHANGES.value)
    split = config.dataset.eval_split
    if f"{split}_accuracy" in results:
        reference = f" ({config.reference})" if config.get("reference") else ""
        logging.info("%s accuracy: %.2f%%%s", split, 100 * results[f"{split}_accuracy"], reference)
        print(f"{split} accuracy: {100 * results[f'{split}_accuracy']:.2f}%{reference}")
    print(f"metrics, checkpoints and learning_curves.png in {workdir}")


def _sweep(config, workdir):
    from deepzoo.train.sweep import run_sweep  # noqa: PLC0415
    rows = run_sweep(config, workdir, allow_changes=_ALLOW_CHANGES.value)
    print(f"{len(rows)} trials done; results.csv and curves.csv in {workdir}/{config.sweep.name}")


def _agent(config, workdir):
    from deepzoo.rl.agents import train_agent  # noqa: PLC0415
    results = train_agent(config, workdir, allow_changes=_ALLOW_CHANGES.value)
    print(f"greedy return of the last policies {results['eval_return']:.1f} (lowest seed "
          f"{results['eval_return_min_seed']:.1f}), of each seed's best {results['best_return']:.1f} (lowest "
          f"{results['best_return_min_seed']:.1f}); metrics, checkpoints and learning_curves.png in {workdir}")


def _search(config, workdir):
    from deepzoo.rl.search import search  # noqa: PLC0415
    results = search(config, workdir, allow_changes=_ALLOW_CHANGES.value)
    print(f"{results['children']} children trained; the best reached {results['best_reward']:.2%} "
          f"({results['best_architectures'][0]}), the top {len(results['best_architectures'])} "
          f"{results['top5_reward']:.2%} on average; metrics and checkpoints in {workdir}")


def _rlhf(config, workdir):
    from deepzoo.rl.rlhf import train_rlhf  # noqa: PLC0415
    results = train_rlhf(config, workdir, allow_changes=_ALLOW_CHANGES.value)
    print(f"answers to the test prompts: reward model {results['proxy_reward']:.3f}, true score "
          f"{results['true_score']:.3f} ({results['exact']:.1%} sorted), KL to the SFT policy {results['kl']:.2f} "
          f"nats; metrics and checkpoints in {workdir}")


# config.program: the kind of run, each a program of the one run loop (deepzoo/train/loop.py).
PROGRAMS = {"supervised": _supervised,   # one model, one dataset, one task (train/trainer.py)
            "sweep": _sweep,             # a grid of trials, vmapped where they can share one program (train/sweep.py)
            "agent": _agent,             # RL agents, seeds vmapped, acting in jitted environments (rl/agents.py)
            "search": _search,           # architecture search: a controller rewarded by its children (rl/search.py)
            "rlhf": _rlhf}               # PPO of a language model against a reward model (rl/rlhf.py)


def run(argv):
    """Runs the program that config.program names on --config in --workdir."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = _CONFIG.value
    if "program" not in config:
        raise app.UsageError(f"the config has no field `program`; set config.program to one of "
                             f"{', '.join(PROGRAMS)} in its get_config().")
    try:
        program = lookup("program", config.program, PROGRAMS)
    except KeyError as e:
        raise app.UsageError(f"config.program: {e.args[0]}") from None
    initialize_distributed()
    program(config, _WORKDIR.value)


def _by_name(arg: str) -> str:
    """--config=mnist1d_mlp:smoke -> --config=<the shipped configs>/mnist1d_mlp.py:smoke."""
    if not arg.startswith("--config="):
        return arg
    path, colon, rest = arg.removeprefix("--config=").partition(":")
    try:
        return f"--config={config_lib.resolve(path)}{colon}{rest}"
    except FileNotFoundError as e:
        print(f"error: --config: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    if "--list" in sys.argv[1:]:   # before parsing: --config and --workdir are required otherwise
        try:
            print(config_lib.listing())
        except Exception as e:  # noqa: BLE001  a config that cannot be read: one line, as every error
            print(f"error: --list: {type(e).__name__}: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        raise SystemExit(0)
    sys.argv = [_by_name(a) for a in sys.argv]
    cli.run(run)

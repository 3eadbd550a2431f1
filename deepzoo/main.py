"""Entry point: python -m deepzoo.main --config=configs/<file>.py:<arg> --workdir=<dir> [--config.<field>=<value>]

Multi-host: on TPU pods and SLURM, jax.distributed.initialize() finds its peers by itself
(--distributed); elsewhere give --coordinator_address, --num_processes and --process_id.

Exit status: 0 done; 143 (SIGTERM) or 130 (SIGINT) stopped by a signal after a checkpoint (rerun to
resume); 1 the run failed (non-finite loss, an internal error); 2 bad input (a name, a value, a path,
the disk), told in one line with the fix, the traceback saved to a file (--verbose prints it).
"""
import datetime
import os
import re
import signal
import sys
import tempfile
import traceback

from absl import app, flags, logging
from ml_collections import config_flags

from deepzoo.registry import lookup
from deepzoo.train import files

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file, e.g. configs/mnist1d_mlp.py:smoke.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics; resumes if it has them.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (TPU pod, SLURM).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-process).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process).")
_ALLOW_CHANGES = flags.DEFINE_bool("allow_config_changes", False, "Resume a run whose config changed beyond its "
                                   "length and cadences; the changes are recorded in config_changes.jsonl.")
_VERBOSE = flags.DEFINE_bool("verbose", False, "Print the full traceback of an error.")
flags.mark_flags_as_required(["config", "workdir"])


def initialize_distributed():
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


# config.program: the kind of run, each a program of the one run loop (deepzoo/train/loop.py).
PROGRAMS = {"supervised": _supervised,   # one model, one dataset, one task (train/trainer.py)
            "sweep": _sweep,             # a grid of trials, vmapped where they can share one program (train/sweep.py)
            "agent": _agent}             # RL agents, seeds vmapped, acting in jitted environments (rl/agents.py)


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and (fix := files.disk_error_fix(e)):
        return fix
    if isinstance(e, KeyError) and e.args and isinstance(e.args[0], str):
        return e.args[0]   # str(KeyError) would quote and escape it
    return str(e) or type(e).__name__


def _save_traceback(e: BaseException) -> str:
    """Writes the traceback next to the run (or to the temp folder) and returns where."""
    workdir = _WORKDIR.value
    folder = workdir if workdir and "://" not in workdir and os.path.isdir(workdir) else tempfile.gettempdir()
    text = "".join(traceback.format_exception(e))
    for path in (os.path.join(folder, "error.log" if folder == workdir else f"deepzoo_error_{os.getpid()}.log"),
                 os.path.join(tempfile.gettempdir(), f"deepzoo_error_{os.getpid()}.log")):
        try:
            with open(path, "a") as f:
                f.write(f"=== {datetime.datetime.now():%Y-%m-%d %H:%M:%S} {' '.join(sys.argv)}\n{text}")
            return path
        except OSError:
            continue
    return "nowhere (no writable folder)"


def _fail(e: BaseException, status: int):
    if _VERBOSE.value:
        traceback.print_exception(e)
    else:
        print(f"error: {_message(e)}\n(traceback in {_save_traceback(e)}; --verbose prints it)", file=sys.stderr)
    raise SystemExit(status) from None


def main(argv):
    from deepzoo.train.loop import NonFiniteError, Stopped  # noqa: PLC0415
    try:
        run(argv)
    except Stopped as e:  # preempted: the checkpoint is saved; 128 + the signal's number, as a shell reports it
        logging.warning("%s", e)
        print(e)
        raise SystemExit(128 + signal.Signals[e.signal]) from None
    except app.UsageError:
        raise
    except (NonFiniteError, KeyboardInterrupt) as e:
        _fail(e, 1)
    except (ValueError, KeyError, TypeError, OSError) as e:  # the input: a name, a value, a path, the disk
        _fail(e, 2)
    except Exception as e:  # noqa: BLE001  a failure of deepzoo itself
        _fail(e, 1)


def _unknown_field(e: Exception, argv) -> str:
    """ml_collections' error for an override of a field the config lacks, as one line naming the flag."""
    text = str(e).replace("\\n", "\n").replace("\\'", "'")
    field, hint = re.search(r"'(\w+)'", text), re.search(r'Did you mean "(\w+)"', text)
    if not field:
        return text
    flag = next((a.split("=")[0] for a in argv if a.startswith("--config.") and
                 re.search(rf"\.{field[1]}(\.|$)", a.split("=")[0])), "a --config.<field> flag")
    return f"{flag}: the config has no field {field[1]!r}." + (f" Did you mean {hint[1]!r}?" if hint else "")


def parse_flags(argv):
    """absl's flag parsing, with every bad flag told in one line (exit status 2)."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        message = str(e)
    except (AttributeError, KeyError) as e:  # a --config.<field> that the config does not have
        message = _unknown_field(e, argv)
    print(f"error: {message}\nPass --helpshort or --helpfull to see help on flags.", file=sys.stderr)
    raise SystemExit(2)


def run(argv):
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


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)

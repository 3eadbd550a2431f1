"""What a deepzoo command tells its user: every error in one line with its fix, and exit statuses that a
shell or a scheduler can act on. `cli.run(main)` is `absl.app.run(main)` for deepzoo.main and every
experiment script.

Exit status: 0 done; 143 (SIGTERM) or 130 (SIGINT) stopped by a signal after a checkpoint (rerun to
resume); 1 the run failed (non-finite loss, an internal error); 2 bad input (a flag, a name, a value, a
path, the disk), told in one line with the fix, the traceback saved to a file (--verbose prints it).
"""
import datetime
import os
import re
import signal
import sys
import tempfile
import traceback

from absl import app, flags, logging

from deepzoo.train import files

_VERBOSE = flags.DEFINE_bool("verbose", False, "Print the full traceback of an error.")


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and (fix := files.disk_error_fix(e)):
        return fix
    if isinstance(e, KeyError) and e.args and isinstance(e.args[0], str):
        return e.args[0]   # str(KeyError) would quote and escape it
    return str(e) or type(e).__name__


def _save_traceback(e: BaseException) -> str:
    """Writes the traceback next to the run (--workdir, where the command has one) or to the temp folder;
    returns where."""
    workdir = flags.FLAGS.workdir if "workdir" in flags.FLAGS else None
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


def _guarded(main):
    def guarded(argv):
        from deepzoo.train.loop import NonFiniteError, Stopped  # noqa: PLC0415  (imports jax: after flags)
        try:
            main(argv)
        except Stopped as e:  # preempted: the checkpoint is saved; 128 + the signal's number, as a shell reports it
            logging.warning("%s", e)
            print(e)
            raise SystemExit(128 + signal.Signals[e.signal]) from None
        except KeyboardInterrupt:  # Ctrl-C outside a run loop (which turns it into Stopped)
            print("interrupted", file=sys.stderr)
            raise SystemExit(128 + signal.SIGINT) from None
        except app.UsageError as e:   # a flag's value that the command cannot use
            print(f"error: {e}\nPass --helpshort to see the flags.", file=sys.stderr)
            raise SystemExit(2) from None
        except NonFiniteError as e:
            _fail(e, 1)
        except (ValueError, KeyError, TypeError, OSError) as e:  # the input: a name, a value, a path, the disk
            _fail(e, 2)
        except Exception as e:  # noqa: BLE001  a failure of deepzoo itself
            _fail(e, 1)
    return guarded


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


def run(main):
    """absl.app.run(main) with the exits above."""
    app.run(_guarded(main), flags_parser=parse_flags)

"""Orbax checkpoints in <workdir>/checkpoints: save periodically, on a stop signal and at the end;
restore the newest one that reads back, warning about any damaged newer one."""
import jax
import orbax.checkpoint as ocp
from absl import logging


class Checkpoints:

    def __init__(self, directory: str, *, max_to_keep: int = 3):
        self.manager = ocp.CheckpointManager(
            directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

    def save(self, state):
        step = int(jax.device_get(state.step.addressable_data(0)))
        if step not in self.manager.all_steps():
            self.manager.save(step, args=ocp.args.StandardSave(state))

    def restore(self, abstract_state):
        """The newest readable checkpoint restored onto `abstract_state`'s shardings, or None."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
            except Exception as e:  # noqa: BLE001  a damaged checkpoint: say so, fall back
                logging.warning("Checkpoint at step %d in %s cannot be read (%s: %s); trying the "
                                "previous one.", step, self.manager.directory, type(e).__name__, e)
        return None

    def wait(self):
        self.manager.wait_until_finished()

    def close(self):
        self.manager.close()

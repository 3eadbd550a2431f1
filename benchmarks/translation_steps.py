"""Train-step time of each model of the gettext translation experiment, alone on this machine.

    .venv/bin/python benchmarks/translation_steps.py     # writes benchmarks/results/translation_steps.json

experiments/translation.py reports each run's training time from the step rates it logged, which count
whatever else shared the machine (the runs of a corpus are often trained two at a time). This measures
the step itself with nothing else running: configs/gettext_translation.py's models, their batch of real
EN -> DE messages (the corpus must be prepared: run the experiment once), best of 3 timings of 20 steps,
so that the same number of training steps can be compared as wall time.
"""
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import build, steps_per_second, write  # noqa: E402

from configs.numbers_translation import MODELS  # noqa: E402  (the experiment's six, defined once)
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, tasks  # noqa: E402
from deepzoo.train import sharding  # noqa: E402

STEPS = 20


def main():
    figures = {}
    for name in MODELS:
        config = config_lib.load(f"configs/gettext_translation.py:{name}")
        ds = config.dataset
        source = data.load(ds.name, "train", data_dir=ds.data_dir, max_length=ds.max_length,
                           vocab_size=ds.vocab_size, languages=ds.languages)
        batch = jax.device_put(source.read(np.arange(config.batch_size)))
        mesh = sharding.make_mesh()
        state, step = build(config, tasks.get(config.task.name, **config.task.kwargs).inputs(batch), mesh)
        holder = [state]

        def run(n):
            for _ in range(n):
                holder[0], metrics = step(holder[0], batch)
            jax.block_until_ready(metrics)

        rate = steps_per_second(run, STEPS)
        figures[name] = {"ms_per_step": round(1000 / rate, 1),
                         "minutes_per_run": round(config.num_train_steps / rate / 60, 1),
                         "steps": config.num_train_steps}
        print(name, figures[name], flush=True)
    write("translation_steps", {"batch_size": config.batch_size, "max_length": ds.max_length,
                                "models": figures})


if __name__ == "__main__":
    main()

"""What is learned: a task gives the loss (with metrics) for training and the metrics for evaluation.

    inputs(batch) -> tuple                                         # the model's positional inputs
    loss(model, params, model_state, batch, rngs) -> (scalar, (new_model_state, metrics))
    players                                  # optional: a game's players, e.g. a GAN's; loss then takes
                                             # player=p, and the step updates each in turn (train/step.py)
    uses_step                                # optional: True gives loss step=, for a schedule of its own
    evaluate(model, params, model_state, batch) -> metrics        # batch["mask"] marks real examples
Metrics are {name: (sum, count)} (see metrics.py).
The RL agents' losses are tasks too (rl.py): the replay sample or the rollout's minibatch is their batch.
The closed-form learners here (hebbian, counting, kmeans, least_squares) are not tasks: they give statistics
and a solve to deepzoo/train/fit.py.
"""
from deepzoo.registry import lookup
from deepzoo.tasks.bit_sequence import BitSequence
from deepzoo.tasks.boltzmann import BoltzmannLearning, ContrastiveDivergence
from deepzoo.tasks.capsule import CapsuleLoss
from deepzoo.tasks.classification import Classification
from deepzoo.tasks.contrastive import Contrastive
from deepzoo.tasks.diffusion import Diffusion
from deepzoo.tasks.flow import Flow
from deepzoo.tasks.inverse_graphics import InverseGraphicsTraining
from deepzoo.tasks.gan import GAN
from deepzoo.tasks.language_model import LanguageModel
from deepzoo.tasks.masked_lm import MaskedLM
from deepzoo.tasks.perceptron import PerceptronCriterion
from deepzoo.tasks.preference import Preference
from deepzoo.tasks.reconstruction import Reconstruction
from deepzoo.tasks.regression import Regression
from deepzoo.tasks.rl import PolicyGradientLoss, QLearning, TokenPPO
from deepzoo.tasks.seq2seq import Seq2Seq
from deepzoo.tasks.sequence_reinforce import SequenceReinforce
from deepzoo.tasks.som import SelfOrganizingMapTask
from deepzoo.tasks.super_resolution import SuperResolution
from deepzoo.tasks.vae import VariationalAutoencoder

_TASKS = {"bit_sequence": BitSequence, "boltzmann": BoltzmannLearning, "capsule": CapsuleLoss, "classification": Classification, "contrastive": Contrastive,
          "contrastive_divergence": ContrastiveDivergence, "diffusion": Diffusion, "flow": Flow, "gan": GAN,
          "inverse_graphics": InverseGraphicsTraining,
          "language_model": LanguageModel, "masked_lm": MaskedLM, "perceptron": PerceptronCriterion, "preference": Preference,
          "policy_gradient": PolicyGradientLoss, "q_learning": QLearning, "reconstruction": Reconstruction,
          "regression": Regression, "seq2seq": Seq2Seq, "sequence_reinforce": SequenceReinforce, "som": SelfOrganizingMapTask,
          "super_resolution": SuperResolution, "token_ppo": TokenPPO, "vae": VariationalAutoencoder}


def names() -> list[str]:
    """The registered task names, sorted: what `get` accepts."""
    return sorted(_TASKS)


def get(name: str, **kwargs):
    """The task registered as `name`, built with `kwargs` (its dataclass fields)."""
    return lookup("task", name, _TASKS)(**kwargs)

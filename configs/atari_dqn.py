"""DQN on Atari 2600 games as Mnih et al. 2015 ("Human-level control through deep reinforcement
learning", Nature 518; Extended Data Table 1). A pod/GPU recipe: it needs the Arcade Learning
Environment (pip install ale-py, which ships the ROMs) and a device with about 40 GB for the replay
memory (1M transitions of 84x84 frames, 5 per transition: deepzoo/rl/dqn.py's stacked_frames).

    python -m deepzoo.main --config=configs/atari_dqn.py:Breakout --workdir=gs://.../dqn_breakout
    python -m deepzoo.main --config=configs/atari_dqn.py:Pong,smoke --workdir=/tmp/pong   # a minute on a CPU

arg: a game as ale-py names it (Breakout, Pong, SpaceInvaders, ...), optionally ",smoke". The paper's
table, in its units (an agent step = 4 frames; one agent step here steps 4 games, so one gradient step
per iteration keeps the paper's 4 agent steps per update):
  minibatch 32, replay memory 1,000,000, history 4 frames, target network copied every 10,000 updates,
  discount 0.99, action repeat 4, update frequency 4, RMSProp (centred; gradient and squared-gradient
  momentum 0.95, min squared gradient 0.01) at 2.5e-4, epsilon 1 -> 0.1 over the first 1M steps, replay
  start 50,000, up to 30 no-ops, 50M steps (200M frames). Rewards clipped to [-1, 1] and a lost life
  ends a training episode; evaluation plays whole games greedily with the raw score (the paper: epsilon
  0.05). Expected (the paper's Extended Data Table 2): Breakout 401.2, Pong 18.9, Space Invaders 1,976,
  Seaquest 5,286, Enduro 301.8.
"""
import ml_collections

from deepzoo.config import parse_arg

# The games' minimal action sets (the network's outputs); another game: --config.model.kwargs.num_actions
ACTIONS = {"Breakout": 4, "Pong": 6, "SpaceInvaders": 6, "Seaquest": 18, "Enduro": 9, "BeamRider": 9,
           "Qbert": 6}


def get_config(arg: str | None = None):
    game, options = parse_arg(arg, options=("smoke",), default="Breakout")   # any game of ale-py
    config = ml_collections.ConfigDict()
    config.program = "agent"  # the kind of run: supervised | sweep | agent (deepzoo/main.py)
    config.seed = 0
    config.seeds = 1                      # the games run on the host: one agent per run
    config.eval_episodes = 30
    config.env = ml_collections.ConfigDict(dict(name=f"ALE/{game}-v5", num_envs=4))
    config.agent = ml_collections.ConfigDict(dict(name="dqn", kwargs=dict(
        buffer_size=1_000_000, batch_size=32, gamma=0.99, learning_starts=50_000, train_every=1, gradient_steps=1,
        target_every=10_000, tau=1.0, eps_start=1.0, eps_end=0.1, eps_decay_steps=250_000, double=False,
        huber_delta=1.0, stacked_frames=True)))       # eps over 250k iterations = 1M agent steps
    config.model = ml_collections.ConfigDict(dict(name="dqn_nature", kwargs=dict(num_actions=ACTIONS.get(game, 18))))
    config.optimizer = ml_collections.ConfigDict(dict(
        name="rmsprop", learning_rate=2.5e-4, schedule="constant", warmup_steps=0, rms_decay=0.95, eps=0.01,
        centered=True, grad_clip_norm=0.0))
    config.iterations_per_chunk, config.num_chunks = 250_000, 50       # 50M agent steps, evaluated every 1M
    if "smoke" in options:
        config.env.max_frames = 400       # 100 agent steps per episode
        config.eval_episodes = 2
        config.agent.kwargs.update(buffer_size=512, learning_starts=64, target_every=8, eps_decay_steps=50)
        config.iterations_per_chunk, config.num_chunks = 40, 2
    return config

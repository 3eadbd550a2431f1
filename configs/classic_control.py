"""Agents on gymnax's classic-control tasks (environments, buffers and learners all inside jit).

    python -m deepzoo.main --config=configs/classic_control.py:cartpole,ppo --workdir=runs/control/cartpole_ppo
    python experiments/control.py            # every recipe below: table, learning curves

arg: <env>,<agent>[,small (one seed)][,smoke] with the recipes below. Three seeds train at once (vmap); after every chunk of
iterations each seed's greedy policy plays config.eval_episodes episodes, and the run keeps each seed's
best policy (rl/agents.py). Solved (gym's thresholds, a mean over 100 episodes): CartPole-v1 475,
Acrobot-v1 -100, MountainCar-v0 -110.

  cartpole,ppo        rl-baselines3-zoo's tuned recipe: 8 environments x 32 steps, 20 epochs of the whole
                      rollout, clip 0.2, GAE lambda 0.8, gamma 0.98, no entropy bonus, Adam 1e-3 annealed
                      to 0, global-norm clip 0.5, 100k steps
  cartpole,reinforce  4 environments x 128 steps, lambda = 1, one update per rollout, Adam 1e-3, 500k steps
  cartpole,dqn        rl-baselines3-zoo's tuned recipe: 1 environment, 256 steps then 128 gradient steps
                      of batch 64, the target network copied after each burst, a 100,000-transition buffer,
                      learning after 1,000, epsilon 1 -> 0.04 over 8,000 steps, Huber loss, Adam 2.3e-3
                      annealed to 0, a 256-256 MLP; Double DQN; 100k steps
  acrobot,dqn         rl-baselines3-zoo's: 4 steps then 4 gradient steps of batch 128, target every 248,
                      buffer 50,000, epsilon 1 -> 0.1 over 12,000 steps, Adam 6.3e-4, 100k steps
  acrobot,ppo         the PPO paper's Atari settings scaled down (CleanRL/PureJaxRL's CartPole ones):
                      4 environments x 128 steps, 4 epochs of 4 minibatches, clip 0.2, GAE 0.95,
                      entropy 0.01, Adam 2.5e-4 annealed to 0, 500k steps
  mountaincar,dqn     rl-baselines3-zoo's: 16 steps then 8 gradient steps of batch 128, target every 300,
                      buffer 10,000, gamma 0.98, epsilon 1 -> 0.07 over 24,000 steps, Adam 4e-3, 120k steps
"""
import ml_collections

from deepzoo.config import parse_arg

ENVS = {"cartpole": ("CartPole-v1", 475.0), "acrobot": ("Acrobot-v1", -100.0),
        "mountaincar": ("MountainCar-v0", -110.0)}
RECIPES = ("cartpole,ppo", "cartpole,reinforce", "cartpole,dqn", "acrobot,dqn", "acrobot,ppo", "mountaincar,dqn")


def dqn(**changes):
    kwargs = dict(buffer_size=100_000, batch_size=64, gamma=0.99, learning_starts=1_000, train_every=256,
                  gradient_steps=128, target_every=128, tau=1.0, eps_start=1.0, eps_end=0.04, eps_decay_steps=8_000,
                  double=True, huber_delta=1.0)
    return ml_collections.ConfigDict({**kwargs, **changes})


def ppo(**changes):
    kwargs = dict(num_steps=128, epochs=4, minibatches=4, gamma=0.99, gae_lambda=0.95, clip=0.2, vf_coef=0.5,
                  ent_coef=0.01)
    return ml_collections.ConfigDict({**kwargs, **changes})


def get_config(arg: str | None = None):
    recipe, options = parse_arg(arg, variants=RECIPES, options=("smoke", "small"), default="cartpole,ppo")
    env, agent = recipe.split(",")
    config = ml_collections.ConfigDict()
    config.program = "agent"  # the kind of run: supervised | sweep | agent (deepzoo/main.py)
    config.seed = 0
    config.seeds = 3
    config.eval_episodes = 100
    config.env = ml_collections.ConfigDict(dict(name=ENVS[env][0], num_envs=4, solved_at=ENVS[env][1]))
    config.agent = ml_collections.ConfigDict(dict(name=agent))
    config.optimizer = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=2.5e-4, schedule="linear", warmup_steps=0, eps=1e-5, grad_clip_norm=0.5))
    network = "qnet" if agent == "dqn" else "actor_critic"
    config.model = ml_collections.ConfigDict(dict(name=f"{network}_{env}", kwargs=dict(hidden=(64, 64))))
    # an iteration: DQN's train_every steps of every environment, the policy gradients' rollout
    if agent == "dqn":
        config.env.num_envs = 1
        config.model.kwargs.hidden = (256, 256)
        config.optimizer.update(eps=1e-8, grad_clip_norm=10.0)
    if (env, agent) == ("cartpole", "dqn"):
        config.agent.kwargs = dqn()
        config.optimizer.learning_rate = 2.3e-3
        config.iterations_per_chunk, config.num_chunks = 10, 40               # 102,400 environment steps
    elif (env, agent) == ("acrobot", "dqn"):
        config.agent.kwargs = dqn(buffer_size=50_000, batch_size=128, learning_starts=0, train_every=4,
                                  gradient_steps=4, target_every=248, eps_end=0.1, eps_decay_steps=12_000)
        config.optimizer.update(learning_rate=6.3e-4, schedule="constant")
        config.iterations_per_chunk, config.num_chunks = 625, 40              # 100k environment steps
    elif (env, agent) == ("mountaincar", "dqn"):
        config.agent.kwargs = dqn(buffer_size=10_000, batch_size=128, gamma=0.98, train_every=16,
                                  gradient_steps=8, target_every=300, eps_end=0.07, eps_decay_steps=24_000)
        config.optimizer.update(learning_rate=4e-3, schedule="constant")
        config.iterations_per_chunk, config.num_chunks = 250, 30              # 120k environment steps
    elif (env, agent) == ("cartpole", "ppo"):
        config.env.num_envs = 8
        config.agent.kwargs = ppo(num_steps=32, epochs=20, minibatches=1, gamma=0.98, gae_lambda=0.8, ent_coef=0.0)
        config.optimizer.learning_rate = 1e-3
        config.iterations_per_chunk, config.num_chunks = 26, 15               # 99,840 environment steps
    else:  # cartpole,reinforce and acrobot,ppo
        config.agent.kwargs = ppo()
        if agent == "reinforce":
            config.optimizer.learning_rate = 1e-3
        config.iterations_per_chunk, config.num_chunks = 61, 16               # 499,712 environment steps
    if "small" in options:
        config.seeds = 1
    if "smoke" in options:
        config.seeds, config.eval_episodes = 2, 4
        config.iterations_per_chunk, config.num_chunks = 3, 2
        if agent == "dqn":
            config.agent.kwargs.update(learning_starts=20, buffer_size=64, batch_size=8, train_every=4,
                                       gradient_steps=2, target_every=2)
    return config

"""Agents on gymnax's CartPole-v1 (all inside jit): PPO, REINFORCE with a baseline, DQN.

    python -m deepzoo.main --config=configs/cartpole.py:ppo --workdir=runs/cartpole/ppo

arg: ppo | reinforce | dqn, optionally ",smoke". Three seeds train at once (vmap); after every chunk
of iterations each seed's greedy policy plays config.eval_episodes episodes (solved: a mean return of
at least 475 over 100). Recipes:
  ppo        Schulman et al. 2017's Atari settings scaled to CartPole (the usual CleanRL/PureJaxRL
             ones): 4 environments x 128 steps per rollout, 4 epochs of 4 minibatches, clip 0.2, GAE
             lambda 0.95, gamma 0.99, entropy 0.01, Adam 2.5e-4 annealed to 0, global-norm clip 0.5
  reinforce  the same network and rollouts, lambda = 1, one update per rollout, Adam 1e-3
  dqn        10 environments, a 10,000-transition buffer, batch 128, learning after 10,000 transitions,
             Double DQN, Huber loss, target copied every 500 gradient steps, epsilon 1 -> 0.05 over half
             the run, Adam 2.5e-4 (CleanRL's CartPole settings, with its train-every-10-env-steps ratio)
"""
import ml_collections

AGENTS = ("ppo", "reinforce", "dqn")


def get_config(arg: str | None = None):
    name, _, variant = (arg or "ppo").partition(",")
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r} in configs/cartpole.py; known: {', '.join(AGENTS)}.")
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.seeds = 3
    config.eval_episodes = 100
    config.env = ml_collections.ConfigDict(dict(name="CartPole-v1", num_envs=4))
    config.agent = ml_collections.ConfigDict(dict(name=name))
    config.optimizer = ml_collections.ConfigDict(dict(
        name="adam", learning_rate=2.5e-4, schedule="linear", warmup_steps=0, eps=1e-5, grad_clip_norm=0.5))
    if name == "dqn":
        config.env.num_envs = 10
        config.model = ml_collections.ConfigDict(dict(name="qnet_cartpole", kwargs=dict(hidden=(120, 84))))
        config.agent.kwargs = ml_collections.ConfigDict(dict(
            buffer_size=10_000, batch_size=128, gamma=0.99, learning_starts=10_000, train_every=1,
            target_every=500, tau=1.0, eps_start=1.0, eps_end=0.05, eps_decay_steps=25_000, double=True,
            huber_delta=1.0))
        config.optimizer.update(schedule="constant", eps=1e-8, grad_clip_norm=10.0)
        config.iterations_per_chunk, config.num_chunks = 5_000, 10          # 500k environment steps
    else:
        config.model = ml_collections.ConfigDict(dict(name="actor_critic_cartpole", kwargs=dict(hidden=(64, 64))))
        config.agent.kwargs = ml_collections.ConfigDict(dict(
            num_steps=128, epochs=4, minibatches=4, gamma=0.99, gae_lambda=0.95, clip=0.2, vf_coef=0.5,
            ent_coef=0.01))
        config.iterations_per_chunk, config.num_chunks = 61, 16            # 500k environment steps
        if name == "reinforce":
            config.optimizer.update(learning_rate=1e-3)
    if variant == "smoke":
        config.seeds, config.eval_episodes = 2, 4
        config.iterations_per_chunk, config.num_chunks = 3, 2
        if name == "dqn":
            config.agent.kwargs.update(learning_starts=20, buffer_size=64, batch_size=8)
    elif variant:
        raise ValueError(f"unknown variant {variant!r} of configs/cartpole.py; known: '' and 'smoke'.")
    return config

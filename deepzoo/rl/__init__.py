"""Deep RL inside jit: environments (envs.py, atari.py), DQN (dqn.py), PPO/REINFORCE (ppo.py), the loop (loop.py)."""

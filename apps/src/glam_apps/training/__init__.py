"""Training runs: the loop that composes env, policy and PPO/DRRN, distributed launch, cloning."""

"""Expert demonstrations (glam_env) feed behavioural cloning (glam_policy) of the offline
model, and the cloned policy saves, loads and continues with PPO (glam_ppo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from glam_apps.config.packaged import default_train_config
from glam_apps.games.envs import make_game_vector_env
from glam_apps.models.policies import build_policy
from glam_env.demonstrations import collect_demonstrations, read_demonstrations
from glam_policy import LLMPolicy
from glam_policy.behavior_cloning import BCConfig, train_behavior_cloning
from glam_ppo import PPO, PPOConfig


def test_expert_demonstrations_clone_into_the_offline_policy(
    tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    quickstart_env = default_train_config().env  # GoToRedBallNoDists, history 1, 20 steps
    path = tmp_path / "demos.jsonl"
    header = collect_demonstrations(quickstart_env, 10, 0, path)
    demos = read_demonstrations(path)
    assert header.episodes == 10 and len(demos) == header.steps > 10

    # The nano offline model of the integration tests' tiny run (a shared cache entry).
    config = default_train_config(tiny_args()[1::2])
    policy = build_policy(config)
    state = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train_behavior_cloning(
            policy,
            demos.steps,
            BCConfig(epochs=4, batch_size=8, learning_rate=3e-3, validation_fraction=0.3),
        )
    finally:
        torch.set_num_threads(state)
    assert result.initial is not None and result.validation_size > 0
    final = result.epochs[-1].validation
    assert final is not None
    assert final.expert_probability > result.initial.expert_probability + 0.05
    assert final.loss < result.initial.loss

    # The same object saves with the usual serialization and PPO continues from it.
    saved = policy.save_pretrained(tmp_path / "bc-policy")
    loaded = LLMPolicy.from_pretrained(saved)
    observations = [step["observation"] for step in demos.steps[:4]]
    with torch.no_grad():
        torch.testing.assert_close(loaded(observations)[0], policy(observations)[0])
    env = make_game_vector_env(quickstart_env, num_envs=2)
    try:
        ppo = PPO(
            loaded,
            env,
            PPOConfig(total_steps=8, num_steps=4, minibatch_size=4, num_epochs=1, seed=0),
            param_groups=loaded.param_groups(1e-4, 1e-3),
        )
        metrics = ppo.learn()
    finally:
        env.close()
    assert ppo.global_step == 8 and "approx_kl" in metrics

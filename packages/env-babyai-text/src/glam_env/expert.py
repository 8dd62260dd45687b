"""An expert for BabyAI-Text: MiniGrid's BabyAI bot, speaking in text-action indices.

The bot plans on the true MiniGrid state of the level being played and replans
after every step from the action actually taken, so it can advise any policy
(behaviour cloning, DAgger, sanity checks of a level). This wrapper only keeps
it in step with the text environment and translates its MiniGrid action into
the index of the matching admissible action. Whenever the bot cannot help (it
crashes, wants an action the env does not offer, or believes the mission done
while the episode goes on) an :class:`~glam_env.errors.ExpertFailure` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from minigrid.core.actions import Actions
from minigrid.utils.baby_ai_bot import BabyAIBot

from glam_env.errors import ExpertFailure
from glam_env.text_env import BabyAITextEnv

__all__ = ["ExpertAgent", "ExpertEpisode", "ExpertFailure"]


@dataclass(frozen=True)
class ExpertEpisode:
    """What happened when the expert played one episode alone."""

    actions: tuple[int, ...]
    """Text action indices played, in order."""
    success: bool
    reward: float
    """Reward of the last step (the episode's return: BabyAI rewards only at the end)."""
    mission: str
    family: str | None = None
    """Task family of the episode (paper levels), else ``None``."""
    failure: str | None = None
    """Why the expert did not succeed (``None`` on success)."""

    @property
    def steps(self) -> int:
        return len(self.actions)


class ExpertAgent:
    """Expert action indices for a BabyAI-Text environment (paper and MiniGrid levels).

    Call :meth:`act` once at every step of the episode (after ``reset`` and after
    each ``step``), whatever action the agent then takes: the bot replans from the
    action actually played. ``env`` may be the text env or any wrapper of it.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        text_env = env.unwrapped
        if not isinstance(text_env, BabyAITextEnv):
            raise TypeError(
                "ExpertAgent needs a BabyAITextEnv (or a wrapper of one), "
                f"got {type(text_env).__name__}"
            )
        self.env = env
        self.text_env: BabyAITextEnv = text_env
        self._bot: BabyAIBot | None = None
        self._episode = -1
        self._step = -1
        self._suggestion = 0

    def act(self) -> int:
        """The expert's action index for the current state of the running episode."""
        text_env = self.text_env
        if not text_env.episode_running:
            raise ExpertFailure("no running episode: reset the environment first")
        base = text_env.minigrid_env
        step = base.step_count
        if self._episode != text_env.episode_index:
            if getattr(base, "instrs", None) is None:
                raise ExpertFailure(
                    f"the BabyAI bot needs a BabyAI level with instructions; "
                    f"{text_env.level_name} has none"
                )
            if step != 0:
                raise ExpertFailure(
                    "the expert must follow an episode from its first step "
                    "(create it, or call act(), right after reset)"
                )
            self._bot = self._guarded(lambda: BabyAIBot(base))
            self._episode = text_env.episode_index
            self._step = step
            self._suggestion = self._replan(None)
        elif step == self._step + 1:
            self._step = step
            self._suggestion = self._replan(text_env.last_minigrid_action)
        elif step != self._step:
            raise ExpertFailure(
                f"the expert missed {step - self._step - 1} step(s) of this episode: "
                "call act() at every step"
            )
        return self._suggestion

    def play_episode(self, seed: int | None = None) -> ExpertEpisode:
        """Reset ``env`` (with ``seed``) and let the expert play until the episode ends."""
        self.env.reset(seed=seed)
        mission, family = self.text_env.mission, self.text_env.family
        actions: list[int] = []
        reward = 0.0
        while True:
            try:
                action = self.act()
            except ExpertFailure as failure:
                return ExpertEpisode(
                    tuple(actions), False, reward, mission, family, failure=str(failure)
                )
            _, reward, terminated, truncated, info = self.env.step(action)
            actions.append(action)
            if terminated or truncated:
                success = bool(info.get("success", False))
                failure = None
                if not success:
                    failure = "time limit reached" if truncated else "mission failed"
                return ExpertEpisode(
                    tuple(actions), success, float(reward), mission, family, failure
                )

    # ------------------------------------------------------------------ internals
    def _guarded(self, call: Any) -> Any:
        try:
            return call()
        except ExpertFailure:
            raise
        except Exception as error:  # the bot signals every dead end with a different exception
            raise ExpertFailure(
                f"the BabyAI bot failed on {self.text_env.level_name} "
                f"({type(error).__name__}: {error})"
            ) from error

    def _replan(self, action_taken: int | None) -> int:
        bot = self._bot
        assert bot is not None
        suggested = int(self._guarded(lambda: bot.replan(action_taken)))
        if suggested == int(Actions.done):
            raise ExpertFailure(
                "the BabyAI bot believes the mission accomplished but the episode goes on"
            )
        try:
            return self.text_env.minigrid_actions.index(suggested)
        except ValueError:
            raise ExpertFailure(
                f"the bot wants MiniGrid action {Actions(suggested).name!r}, which none of this "
                f"env's actions {list(self.text_env.admissible_actions)} plays"
            ) from None

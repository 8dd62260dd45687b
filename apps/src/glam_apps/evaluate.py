"""``glam evaluate``: an agent on a named suite of tests over fixed seeds.

Agents: a trained run directory, a saved policy, a Hugging Face model (zero-shot,
by hub name or local directory), the BabyAI bot (``"bot"``) or a uniform random
agent (``"random"``). Every test plays the same seeds (``seed``, ``seed + 1``,
...), so tests and agents are compared on the same episodes.

Suites:

* ``paper``: the paper's generalization tests (Carta et al. 2023, Q2/Q3) on the
  base level (default MixedTrainLocal): no change, renamed nouns, adjective
  synonyms, invented nouns, invented adjectives, invented words, goal phrasing
  (two prompt templates), new objects (MixedTestLocal), new composition
  (PickUpSeqPickUpLocal), synonym actions, French; plus the per-task-family
  breakdown of the no-change test when the base level mixes families.
* ``quick``: no change, invented words, synonym actions and new objects (a
  smoke test of generalization in a fraction of the time).
* ``level``: the base level alone.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glam_apps.agents import Agent, BotAgent, PolicyAgent, RandomAgent
from glam_apps.config import GameSection
from glam_apps.config_io import compose
from glam_apps.errors import UserError
from glam_apps.games import EnvSpec, env_label, make_game
from glam_apps.policies import (
    POLICY_CONFIG,
    device_override,
    load_policy_from_config,
    load_run_policy,
    load_saved_policy,
    looks_like_path,
)
from glam_apps.report import EvalResult, EvaluationReport, write_report
from glam_apps.rundir import RunDir
from glam_apps.stats import summarize
from glam_apps.suites import (
    DEFAULT_BASE_LEVEL,
    SUITES,
    TestSpec,
    env_config_for_test,
    suite_tests,
)

__all__ = [
    "SUITES",
    "EpisodeOutcome",
    "LoadedAgent",
    "TestSpec",
    "env_config_for_test",
    "evaluate",
    "evaluate_agent",
    "load_agent",
    "run_episodes",
    "suite_tests",
]
from glam_env import BabyAITextConfig

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------- episodes


@dataclass(frozen=True)
class EpisodeOutcome:
    """One evaluation episode."""

    index: int
    seed: int
    success: bool
    episode_return: float
    length: int
    family: str | None


def run_episodes(
    env_config: EnvSpec,
    agent: Agent,
    seeds: Sequence[int],
    *,
    num_envs: int = 8,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> list[EpisodeOutcome]:
    """Play one episode per seed, ``num_envs`` side by side; outcomes in seed order.

    Each environment takes the next seed from the queue when its episode ends,
    so the result depends only on the seeds, the agent and ``num_envs``. Success is
    the game's ``info["success"]`` (the win, for board games).
    """
    if not seeds:
        return []
    envs = [make_game(env_config) for _ in range(min(num_envs, len(seeds)))]
    queue = deque(enumerate(seeds))
    active: dict[int, dict[str, Any]] = {}
    outcomes: list[EpisodeOutcome] = []

    def start(slot: int) -> None:
        index, seed = queue.popleft()
        obs, info = envs[slot].reset(seed=int(seed))
        agent.start(slot, envs[slot])
        active[slot] = {
            "index": index,
            "seed": int(seed),
            "obs": obs,
            "return": 0.0,
            "length": 0,
            "family": info.get("family"),
        }

    try:
        for slot in range(len(envs)):
            start(slot)
        while active:
            slots = sorted(active)
            actions = agent.act(slots, [active[s]["obs"] for s in slots])
            for slot, action in zip(slots, actions, strict=True):
                state = active[slot]
                obs, reward, terminated, truncated, info = envs[slot].step(action)
                state["obs"] = obs
                state["return"] += float(reward)
                state["length"] += 1
                if not (terminated or truncated):
                    continue
                outcome = EpisodeOutcome(
                    index=state["index"],
                    seed=state["seed"],
                    success=bool(info.get("success", False)),
                    episode_return=state["return"],
                    length=state["length"],
                    family=state["family"],
                )
                outcomes.append(outcome)
                if on_episode is not None:
                    on_episode(outcome)
                del active[slot]
                if queue:
                    start(slot)
    finally:
        for env in envs:
            env.close()
    return sorted(outcomes, key=lambda o: o.index)


# ---------------------------------------------------------------------- agents


@dataclass
class LoadedAgent:
    """An agent and what the evaluation should know about it."""

    agent: Agent
    label: str
    env_config: BabyAITextConfig
    base_level: str | None = None
    metadata: dict[str, Any] | None = None
    game: GameSection | None = None
    """Another text game (``TrainConfig.game``) to play instead of ``env_config``."""


def load_agent(
    spec: str,
    *,
    greedy: bool = False,
    seed: int = 0,
    checkpoint: str = "auto",
    device: str | None = None,
    policy_overrides: dict[str, Any] | None = None,
) -> LoadedAgent:
    """``random``, ``bot``, a run directory, a saved policy, or a model (hub name or dir).

    ``device`` (e.g. ``cpu``, ``cuda:1``) replaces the policy's own, ``auto`` included.
    """
    overrides = device_override(device)
    if spec == "random":
        return LoadedAgent(RandomAgent(seed), "random", BabyAITextConfig())
    if spec == "bot":
        return LoadedAgent(BotAgent(seed), "bot", BabyAITextConfig())
    path = Path(spec).expanduser()
    if RunDir.at(path).is_run():
        policy, config, kind = load_run_policy(path, checkpoint, device=device)  # type: ignore[arg-type]
        agent = PolicyAgent(policy, greedy=greedy, seed=seed, name=f"run {path.name}")
        return LoadedAgent(
            agent,
            f"{path.name} ({kind})",
            config.env,
            base_level=config.eval_level if config.game is not None else config.env.level,
            metadata={"run_dir": str(path.resolve()), "checkpoint": kind},
            game=config.game,
        )
    if (path / POLICY_CONFIG).is_file():
        policy = load_saved_policy(path, **overrides)
        return LoadedAgent(
            PolicyAgent(policy, greedy=greedy, seed=seed, name=path.name),
            path.name,
            BabyAITextConfig(),
            metadata={"policy_dir": str(path.resolve())},
        )
    if looks_like_path(spec) and not path.is_dir():
        raise UserError(
            f"agent not found: {spec} (not 'random', 'bot', a run or a model directory)"
        )
    from glam_policy import LLMPolicyConfig

    values: dict[str, Any] = {"model": str(path.resolve()) if path.is_dir() else spec}
    values.update(overrides)
    values.update(policy_overrides or {})
    try:
        policy_config = LLMPolicyConfig(**values)
    except ValueError as error:
        raise UserError(f"invalid policy settings for {spec}: {error}") from error
    policy = load_policy_from_config(policy_config)
    return LoadedAgent(
        PolicyAgent(policy, greedy=greedy, seed=seed, name=spec),
        f"{spec} (zero-shot)",
        BabyAITextConfig(),
        metadata={"model": spec, "zero_shot": True},
    )


# ---------------------------------------------------------------------- evaluation


def evaluate_agent(
    loaded: LoadedAgent,
    *,
    suite: str = "quick",
    level: str | None = None,
    episodes: int = 50,
    seed: int = 0,
    greedy: bool = False,
    num_envs: int = 8,
    on_test: Callable[[TestSpec, int, int], None] | None = None,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> EvaluationReport:
    """Run every test of ``suite`` with ``loaded``'s agent; return the report."""
    if episodes < 1:
        raise UserError(f"episodes must be >= 1, got {episodes}")
    if num_envs < 1:
        raise UserError(f"num_envs must be >= 1, got {num_envs}")
    if loaded.game is not None:
        return _evaluate_game(loaded, suite, level, episodes, seed, greedy, num_envs, on_episode)
    base_level = level or loaded.base_level or DEFAULT_BASE_LEVEL
    base_env = loaded.env_config
    if base_env.level != base_level:
        base_env = env_config_for_test(base_env, TestSpec("base", base_level))
    tests = suite_tests(suite, base_level)
    seeds = [seed + i for i in range(episodes)]
    results: list[EvalResult] = []
    agent = loaded.agent
    greedy = bool(getattr(agent, "greedy", greedy))  # the agent decides how it acts
    for position, test in enumerate(tests):
        if on_test is not None:
            on_test(test, position, len(tests))
        env_config = env_config_for_test(base_env, test)
        agent.reseed(seed)
        logger.info("evaluating %s on %s (%s)", loaded.label, test.name, env_config.level)
        outcomes = _run_test(agent, env_config, test, seeds, num_envs, on_episode)
        results.append(_result(test.name, env_config, test, outcomes))
        if test.name == "no change":
            results.extend(_family_breakdown(env_config, outcomes))
    return EvaluationReport(
        agent=loaded.label,
        suite=suite,
        episodes=episodes,
        seed=seed,
        greedy=greedy,
        results=results,
        metadata={**(loaded.metadata or {}), "base_level": base_level},
    )


def _evaluate_game(
    loaded: LoadedAgent,
    suite: str,
    level: str | None,
    episodes: int,
    seed: int,
    greedy: bool,
    num_envs: int,
    on_episode: Callable[[EpisodeOutcome], None] | None,
) -> EvaluationReport:
    """The ``level`` suite on a game other than BabyAI-Text (its only suite)."""
    game = loaded.game
    assert game is not None
    if suite != "level":
        raise UserError(
            f"suite {suite!r} holds BabyAI-Text tests; {game.gym_id} has only the 'level' suite "
            "(--suite level)"
        )
    if level is not None and level != game.gym_id:
        raise UserError(f"level {level!r} is a BabyAI-Text level; this agent plays {game.gym_id}")
    agent = loaded.agent
    agent.reseed(seed)
    seeds = [seed + i for i in range(episodes)]
    test = TestSpec("no change", game.gym_id)
    logger.info("evaluating %s on %s", loaded.label, game.gym_id)
    outcomes = _run_test(agent, game, test, seeds, num_envs, on_episode)
    return EvaluationReport(
        agent=loaded.label,
        suite=suite,
        episodes=episodes,
        seed=seed,
        greedy=bool(getattr(agent, "greedy", greedy)),
        results=[_result(test.name, game, test, outcomes)],
        metadata={**(loaded.metadata or {}), "base_level": game.gym_id},
    )


def _run_test(
    agent: Agent,
    env_config: EnvSpec,
    test: TestSpec,
    seeds: Sequence[int],
    num_envs: int,
    on_episode: Callable[[EpisodeOutcome], None] | None,
) -> list[EpisodeOutcome]:
    if isinstance(agent, PolicyAgent):
        with agent.evaluating(), agent.template(test.template):
            return run_episodes(env_config, agent, seeds, num_envs=num_envs, on_episode=on_episode)
    return run_episodes(env_config, agent, seeds, num_envs=num_envs, on_episode=on_episode)


def _result(
    name: str,
    env_config: EnvSpec,
    test: TestSpec,
    outcomes: Sequence[EpisodeOutcome],
    group: str = "test",
) -> EvalResult:
    return EvalResult(
        name=name,
        level=env_label(env_config),
        summary=summarize(
            [o.success for o in outcomes],
            [o.episode_return for o in outcomes],
            [o.length for o in outcomes],
        ),
        variant=test.variant,
        template=test.template,
        group=group,
    )


def _family_breakdown(
    env_config: BabyAITextConfig, outcomes: Sequence[EpisodeOutcome]
) -> list[EvalResult]:
    by_family: dict[str, list[EpisodeOutcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.family is not None:
            by_family[outcome.family].append(outcome)
    if len(by_family) < 2:
        return []
    return [
        _result(
            f"family: {family}", env_config, TestSpec(family, env_config.level), items, "family"
        )
        for family, items in sorted(by_family.items())
    ]


def evaluate(
    agent: str,
    *,
    suite: str = "quick",
    level: str | None = None,
    episodes: int = 50,
    seed: int = 0,
    greedy: bool = False,
    num_envs: int = 8,
    checkpoint: str = "auto",
    device: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    env_overrides: Sequence[str] = (),
    on_test: Callable[[TestSpec, int, int], None] | None = None,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> tuple[EvaluationReport, list[Path]]:
    """Load ``agent``, evaluate it on ``suite``, write JSON + Markdown; return both.

    ``env_overrides`` (``key=value``, fields of ``BabyAITextConfig``) adjust the
    environment every test starts from. Reports go to ``output_dir`` if given,
    else to ``<run>/eval`` for a run directory, else nowhere (the report is still
    returned).
    """
    if suite not in SUITES:
        raise UserError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    loaded = load_agent(agent, greedy=greedy, seed=seed, checkpoint=checkpoint, device=device)
    if env_overrides and loaded.game is not None:
        raise UserError(f"--env-set changes BabyAI-Text settings; {loaded.game.gym_id} has none")
    if env_overrides:
        loaded.env_config = compose(
            BabyAITextConfig, base=loaded.env_config.model_dump(), overrides=env_overrides
        )
    report = evaluate_agent(
        loaded,
        suite=suite,
        level=level,
        episodes=episodes,
        seed=seed,
        greedy=greedy,
        num_envs=num_envs,
        on_test=on_test,
        on_episode=on_episode,
    )
    target: Path | None = Path(output_dir) if output_dir is not None else None
    if target is None and loaded.metadata and "run_dir" in loaded.metadata:
        target = RunDir.at(loaded.metadata["run_dir"]).eval
    written: list[Path] = []
    if target is not None:
        stem = f"{suite}-{'greedy' if greedy else 'sampled'}-seed{seed}"
        written = list(write_report(report, target, stem))
    return report, written

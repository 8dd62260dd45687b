"""``glam evaluate``: an agent on a named suite of tests over fixed seeds.

Agents: a trained run directory, a saved policy, a Hugging Face model (zero-shot,
by hub name or local directory), the BabyAI bot (``"bot"``), a scripted keyword
rule (``"keyword"``, :class:`~glam_apps.evaluation.agents.KeywordAgent`) or a uniform random
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

Seeds and protocols: ``seeds`` repeats every test; seed ``k`` plays the episode
seeds ``seed + k * episodes`` onwards and restarts the agent's sampling from the
first of them, so one seed is exactly the single-seed evaluation. With more than
one, each result also holds the spread of the per-seed success rates
(:func:`glam_apps.evaluation.stats.across_seeds`). ``protocol="paper"`` is the paper's test
protocol (its ``experiments/campaign/Mixed_tests_no-change/*.slurm`` running
``experiments/post-training_tests.py``): 2 seeds, 1000 episodes per test and
seed, 32 environments side by side, sampled actions, mean of the per-seed
success rates reported with ``z * std / sqrt(2)`` (``experiments/test_results.py``).
The paper's two seeds are two trained models (training and test seed are the
same number); here they are two evaluations of one agent, so their spread shows
the evaluation's own noise, not the training's.

Failures: with ``keep_going`` (what ``glam evaluate`` uses) a test that raises is
recorded with its error and the suite goes on; ``on_progress`` receives the
report after every test, which :func:`evaluate` writes at once (atomically), so
a run stopped mid-suite keeps every finished test.

A run directory brings its own defaults (:func:`run_eval_defaults`): suite,
level, evaluation seed, episodes, actions and environments of the run's final
evaluation, so that ``glam evaluate RUN`` plays exactly the episodes of its
``eval/final.json``. Baselines (``random``, ``bot``, ``keyword``) play the same
tests and seeds beside the agent and land in the same report.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from glam_apps.config.loading import compose
from glam_apps.config.schema import GameSection
from glam_apps.errors import IncompatibleCheckpointError, UserError
from glam_apps.evaluation.agents import Agent, BotAgent, KeywordAgent, PolicyAgent, RandomAgent
from glam_apps.evaluation.report import EvalResult, EvaluationReport, TestFailure, write_report
from glam_apps.evaluation.stats import EpisodeOutcome, across_seeds, summarize_outcomes
from glam_apps.evaluation.suites import (
    DEFAULT_BASE_LEVEL,
    SUITES,
    TestSpec,
    env_config_for_test,
    suite_tests,
)
from glam_apps.games.envs import EnvSpec, env_label, make_game
from glam_apps.models.policies import (
    POLICY_CONFIG,
    TRUST_HINT,
    check_checkpoint_choice,
    device_override,
    is_saved_baseline,
    load_baseline_saved,
    load_policy_from_config,
    load_run_policy,
    load_saved_policy,
    looks_like_path,
    read_run_config,
)
from glam_apps.runs.rundir import RunDir

__all__ = [
    "BASELINES",
    "EVALUATIONS_DIR",
    "PROTOCOLS",
    "SUITES",
    "EpisodeOutcome",
    "EvalProtocol",
    "EvalSettings",
    "LoadedAgent",
    "RunEvalDefaults",
    "TestSpec",
    "baseline_agent",
    "default_output_dir",
    "env_config_for_test",
    "evaluate",
    "evaluate_agent",
    "load_agent",
    "parse_baselines",
    "resolve_settings",
    "run_episodes",
    "run_eval_defaults",
    "suite_tests",
]
from glam_env import BabyAITextConfig

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------- episodes


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
    reads_prompt: bool = True
    """Whether the agent reads a prompt template: the goal-phrasing tests change only
    the template, so for an agent that does not (symbolic, DRRN) they are left out."""


def load_agent(
    spec: str,
    *,
    greedy: bool = False,
    seed: int = 0,
    checkpoint: str = "auto",
    device: str | None = None,
    policy_overrides: Sequence[str] = (),
    trust_remote_code: bool = False,
) -> LoadedAgent:
    """``random``, ``bot``, a run directory, a saved policy, or a model (hub name or dir).

    ``device`` (e.g. ``cpu``, ``cuda:1``) replaces the policy's own, ``auto`` included.
    ``policy_overrides`` (``key=value``, fields of ``LLMPolicyConfig``) configure a
    model evaluated zero-shot (a run or a saved policy keeps its own settings).
    ``trust_remote_code`` lets the model run Python code shipped with it; only this
    argument turns it on (a run, a saved policy or ``--policy-set`` that asks is refused).
    """
    check_checkpoint_choice(checkpoint)  # also for agents without one: a typo is an error
    overrides = device_override(device)
    if policy_overrides and not _is_bare_model(spec):
        raise UserError(
            f"--policy-set configures a model evaluated zero-shot; {spec} keeps the settings "
            "it was trained with (--device still applies)"
        )
    if spec == "random":
        return LoadedAgent(RandomAgent(seed), "random", BabyAITextConfig())
    if spec == "bot":
        return LoadedAgent(BotAgent(seed), "bot", BabyAITextConfig())
    if spec == "keyword":
        return LoadedAgent(KeywordAgent(seed), "keyword", BabyAITextConfig())
    path = Path(spec).expanduser()
    if RunDir.at(path).is_run():
        policy, config, kind = load_run_policy(
            path,
            checkpoint,  # type: ignore[arg-type]
            device=device,
            trust_remote_code=trust_remote_code,
        )
        agent = PolicyAgent(policy, greedy=greedy, seed=seed, name=f"run {path.name}")
        return LoadedAgent(
            agent,
            f"{path.name} ({kind})",
            config.env,
            base_level=config.eval_level if config.game is not None else config.env.level,
            metadata={"run_dir": str(path.resolve()), "checkpoint": kind, "agent": config.agent},
            game=config.game,
            reads_prompt=config.agent == "glam",
        )
    if is_saved_baseline(path):
        policy, extra = load_baseline_saved(path)
        try:
            env_config = BabyAITextConfig.model_validate(extra.get("env") or {})
            game = extra.get("game")
            game = None if game is None else GameSection.model_validate(game)
        except ValueError as error:
            raise IncompatibleCheckpointError(
                f"saved policy {path} names an environment this version cannot build: "
                f"{_one_line(error)}"
            ) from error
        return LoadedAgent(
            PolicyAgent(policy, greedy=greedy, seed=seed, name=path.name),
            path.name,
            env_config,
            base_level=game.gym_id if game is not None else env_config.level,
            metadata={"policy_dir": str(path.resolve())},
            game=game,
            reads_prompt=False,
        )
    if (path / POLICY_CONFIG).is_file():
        policy = load_saved_policy(path, trust_remote_code=trust_remote_code, **overrides)
        return LoadedAgent(
            PolicyAgent(policy, greedy=greedy, seed=seed, name=path.name),
            path.name,
            BabyAITextConfig(),
            metadata={"policy_dir": str(path.resolve())},
        )
    if looks_like_path(spec) and not path.is_dir():
        raise UserError(
            f"agent not found: {spec} (not 'random', 'bot', 'keyword', a run or a model directory)"
        )
    from glam_policy import LLMPolicyConfig

    values: dict[str, Any] = {"model": str(path.resolve()) if path.is_dir() else spec}
    values.update(overrides)
    try:
        policy_config = compose(LLMPolicyConfig, base=values, overrides=policy_overrides)
    except ValueError as error:
        raise UserError(f"invalid policy settings for {spec}: {error}") from error
    if policy_config.trust_remote_code and not trust_remote_code:
        raise UserError(
            "--policy-set trust_remote_code cannot turn on running a model's own code; "
            + TRUST_HINT
        )
    policy_config = policy_config.model_copy(update={"trust_remote_code": trust_remote_code})
    policy = load_policy_from_config(policy_config)
    return LoadedAgent(
        PolicyAgent(policy, greedy=greedy, seed=seed, name=spec),
        f"{spec} (zero-shot)",
        BabyAITextConfig(),
        metadata={"model": spec, "zero_shot": True},
    )


def _is_bare_model(spec: str) -> bool:
    """Whether ``spec`` names a model (hub name or directory), not a run, policy or baseline."""
    if spec in ("random", "bot", "keyword"):
        return False
    path = Path(spec).expanduser()
    return not (RunDir.at(path).is_run() or (path / POLICY_CONFIG).is_file())


# ---------------------------------------------------------------------- protocols


@dataclass(frozen=True)
class EvalProtocol:
    """How many seeds, episodes and side-by-side environments each test gets."""

    name: str
    seeds: int
    episodes: int
    num_envs: int
    greedy: bool = False


#: Today's defaults of ``glam evaluate`` (no protocol named).
DEFAULT_PROTOCOL = EvalProtocol("default", seeds=1, episodes=50, num_envs=8)

#: Named protocols. ``paper``: the reference's post-training tests, 2 seeds x 1000
#: episodes per test, 32 envs, actions sampled (see the module docstring).
PROTOCOLS: dict[str, EvalProtocol] = {
    "paper": EvalProtocol("paper", seeds=2, episodes=1000, num_envs=32),
}


@dataclass(frozen=True)
class EvalSettings:
    """The settings an evaluation runs with, and the protocol they came from."""

    seeds: int
    episodes: int
    num_envs: int
    greedy: bool
    protocol: str | None = None
    overridden: tuple[str, ...] = field(default_factory=tuple)

    def metadata(self) -> dict[str, Any]:
        """What the report records about the protocol (nothing without one)."""
        if self.protocol is None:
            return {}
        return {
            "protocol": {
                "name": self.protocol,
                "seeds": self.seeds,
                "episodes_per_seed": self.episodes,
                "num_envs": self.num_envs,
                "actions": "greedy" if self.greedy else "sampled",
                "overridden": list(self.overridden),
            }
        }


def resolve_settings(
    protocol: str | None = None,
    *,
    seeds: int | None = None,
    episodes: int | None = None,
    num_envs: int | None = None,
    greedy: bool | None = None,
) -> EvalSettings:
    """The protocol's settings (default: today's), each replaced by a value given here.

    A value given explicitly wins over the protocol's and is listed in
    ``overridden`` (``--protocol paper --episodes 100`` is the paper's shape at a
    tenth of the cost, and the report says so). ``greedy=None``: the protocol's actions.
    """
    if protocol is None:
        base = DEFAULT_PROTOCOL
    elif protocol in PROTOCOLS:
        base = PROTOCOLS[protocol]
    else:
        raise UserError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    given = {"seeds": seeds, "episodes": episodes, "num_envs": num_envs}
    for name, value in given.items():
        if value is not None and value < 1:
            raise UserError(f"{name} must be >= 1, got {value}")
    overridden = [
        name for name, value in given.items() if value is not None and value != getattr(base, name)
    ]
    if greedy is None:
        greedy = base.greedy
    elif greedy != base.greedy:
        overridden.append("greedy" if greedy else "sampled")
    return EvalSettings(
        seeds=base.seeds if seeds is None else seeds,
        episodes=base.episodes if episodes is None else episodes,
        num_envs=base.num_envs if num_envs is None else num_envs,
        greedy=greedy,
        protocol=protocol,
        overridden=tuple(overridden) if protocol is not None else (),
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
    seeds: int = 1,
    keep_going: bool = False,
    metadata: dict[str, Any] | None = None,
    on_test: Callable[[TestSpec, int, int], None] | None = None,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
    on_test_failed: Callable[[TestSpec, str], None] | None = None,
    on_progress: Callable[[EvaluationReport], None] | None = None,
    record: int = 0,
    record_dir: str | os.PathLike[str] | None = None,
) -> EvaluationReport:
    """Run every test of ``suite`` with ``loaded``'s agent over ``seeds`` seeds; return the report.

    ``record`` > 0 keeps that many episodes' transcripts per test (JSONL, see
    :func:`glam_apps.watching.recording.record_transcripts`) in
    ``record_dir/<test>/``: the test's first seeds, replayed one at a time after it.

    A test that raises stops the evaluation, unless ``keep_going``: then it is
    recorded in the report's ``failures`` (its error on one line, its traceback
    in the debug log), ``on_test_failed`` hears of it, and the next test runs.
    ``on_progress`` receives the report so far after every test.
    """
    if episodes < 1:
        raise UserError(f"episodes must be >= 1, got {episodes}")
    if num_envs < 1:
        raise UserError(f"num_envs must be >= 1, got {num_envs}")
    if seeds < 1:
        raise UserError(f"seeds must be >= 1, got {seeds}")
    if record < 0:
        raise UserError(f"record must be >= 0 episodes per test, got {record}")
    if record and record_dir is None:
        raise UserError("keeping transcripts (record) needs a folder for them (record_dir)")
    base_env, base_level, tests, not_applicable = _plan(loaded, suite, level)
    if not_applicable:
        metadata = {
            **(metadata or {}),
            "not_applicable": not_applicable,
            "not_applicable_reason": "they change the prompt template, which this agent "
            "does not read",
        }
    agent = loaded.agent
    greedy = bool(getattr(agent, "greedy", greedy))  # the agent decides how it acts
    results: list[EvalResult] = []
    failures: list[TestFailure] = []

    def report(pending: Sequence[TestSpec]) -> EvaluationReport:
        return EvaluationReport(
            agent=loaded.label,
            suite=suite,
            episodes=episodes,
            seed=seed,
            greedy=greedy,
            results=list(results),
            metadata={**(loaded.metadata or {}), "base_level": base_level, **(metadata or {})},
            seeds=seeds,
            num_envs=num_envs,
            failures=list(failures),
            pending=[test.name for test in pending],
        )

    for position, test in enumerate(tests):
        if on_test is not None:
            on_test(test, position, len(tests))
        try:
            env_config = _test_env(loaded, base_env, test)
            logger.info("evaluating %s on %s (%s)", loaded.label, test.name, env_label(env_config))
            per_seed = _play_seeds(
                agent, env_config, test, seed, seeds, episodes, num_envs, on_episode
            )
            if record:
                _record_test(agent, env_config, test, seed, min(record, episodes), record_dir)
        except Exception as error:
            if not keep_going:
                raise
            message = _one_line(error)
            logger.info("test %r failed: %s", test.name, message)
            logger.debug("traceback of the failed test %r", test.name, exc_info=True)
            failures.append(TestFailure(test.name, test.level, message))
            if on_test_failed is not None:
                on_test_failed(test, message)
        else:
            results.append(_result(test.name, env_config, test, per_seed))
            if test.name == "no change" and isinstance(env_config, BabyAITextConfig):
                results.extend(_family_breakdown(env_config, per_seed))
        if on_progress is not None:
            on_progress(report(tests[position + 1 :]))
    return report(())


def _record_test(
    agent: Agent,
    env_config: EnvSpec,
    test: TestSpec,
    seed: int,
    count: int,
    record_dir: str | os.PathLike[str] | None,
) -> None:
    """Transcripts of the test's first ``count`` seeds in ``record_dir/<test slug>/``."""
    # Imported here: glam_apps.watching loads agents through this module.
    from glam_apps.watching.recording import record_transcripts

    assert record_dir is not None
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in test.name)
    record_transcripts(
        agent,
        env_config,
        [seed + i for i in range(count)],
        Path(record_dir) / slug,
        template=test.template,
        metadata={"test": test.name, "level": test.level},
    )


def _plan(
    loaded: LoadedAgent, suite: str, level: str | None
) -> tuple[BabyAITextConfig, str, list[TestSpec], list[str]]:
    """Base environment, base level, the tests to play, and those left out (not applicable)."""
    base_env = loaded.env_config
    if loaded.game is not None:
        _check_game_suite(loaded.game, suite, level)
        base_level = loaded.game.gym_id
        tests = [TestSpec("no change", base_level)]
    else:
        base_level = level or loaded.base_level or DEFAULT_BASE_LEVEL
        if base_env.level != base_level:
            base_env = env_config_for_test(base_env, TestSpec("base", base_level))
        tests = suite_tests(suite, base_level)
    not_applicable = (
        []
        if loaded.reads_prompt
        else [test.name for test in tests if _only_changes_the_prompt(test, base_level)]
    )
    tests = [test for test in tests if test.name not in not_applicable]
    return base_env, base_level, tests, not_applicable


#: Longest error message a failed test keeps in the report.
MAX_ERROR_CHARS = 500


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line, cut to :data:`MAX_ERROR_CHARS`."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _only_changes_the_prompt(test: TestSpec, base_level: str) -> bool:
    """A goal-phrasing test: the base level's game, another prompt template only."""
    return (
        test.template is not None
        and test.variant is None
        and not test.level_kwargs
        and test.level == base_level
    )


def _test_env(loaded: LoadedAgent, base_env: BabyAITextConfig, test: TestSpec) -> EnvSpec:
    """The environment a test plays: another game itself, else the base env moved to the test."""
    if loaded.game is not None:
        return loaded.game
    return env_config_for_test(base_env, test)


def _check_game_suite(game: GameSection, suite: str, level: str | None) -> None:
    """A game other than BabyAI-Text has the ``level`` suite only, on its own level."""
    if suite != "level":
        raise UserError(
            f"suite {suite!r} holds BabyAI-Text tests; {game.gym_id} has only the 'level' suite "
            "(--suite level)"
        )
    if level is not None and level != game.gym_id:
        raise UserError(f"level {level!r} is a BabyAI-Text level; this agent plays {game.gym_id}")


def _play_seeds(
    agent: Agent,
    env_config: EnvSpec,
    test: TestSpec,
    seed: int,
    seeds: int,
    episodes: int,
    num_envs: int,
    on_episode: Callable[[EpisodeOutcome], None] | None,
) -> list[list[EpisodeOutcome]]:
    """Each seed's episodes: seed ``k`` plays ``seed + k * episodes`` onwards, reseeded there."""
    per_seed = []
    for k in range(seeds):
        start = seed + k * episodes
        agent.reseed(start)
        block = [start + i for i in range(episodes)]
        per_seed.append(_run_test(agent, env_config, test, block, num_envs, on_episode))
    return per_seed


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
    per_seed: Sequence[Sequence[EpisodeOutcome]],
    group: str = "test",
) -> EvalResult:
    """Pooled episodes of every seed, and the spread across seeds when there are several.

    No spread when a seed has no episode of its own (a task family it never drew).
    """
    outcomes = [o for block in per_seed for o in block]
    spread = None
    if len(per_seed) > 1 and all(per_seed):
        spread = across_seeds([sum(o.success for o in block) / len(block) for block in per_seed])
    return EvalResult(
        name=name,
        level=env_label(env_config),
        summary=summarize_outcomes(outcomes),
        variant=test.variant,
        template=test.template,
        group=group,
        across_seeds=spread,
    )


def _family_breakdown(
    env_config: BabyAITextConfig, per_seed: Sequence[Sequence[EpisodeOutcome]]
) -> list[EvalResult]:
    by_family: dict[str, list[list[EpisodeOutcome]]] = defaultdict(lambda: [[] for _ in per_seed])
    for k, block in enumerate(per_seed):
        for outcome in block:
            if outcome.family is not None:
                by_family[outcome.family][k].append(outcome)
    if len(by_family) < 2:
        return []
    return [
        _result(
            f"family: {family}", env_config, TestSpec(family, env_config.level), blocks, "family"
        )
        for family, blocks in sorted(by_family.items())
    ]


def report_stem(suite: str, greedy: bool, seed: int, seeds: int = 1) -> str:
    """``<suite>-<greedy|sampled>-seed<S>``, with ``-<N>seeds`` when several were played."""
    stem = f"{suite}-{'greedy' if greedy else 'sampled'}-seed{seed}"
    return stem if seeds == 1 else f"{stem}-{seeds}seeds"


# ---------------------------------------------------------------------- defaults

#: The suite of a run's final evaluation: training evaluates its level alone.
RUN_FINAL_SUITE = "level"

#: Where ``glam evaluate`` writes the reports of an agent that is not a run (a run's go
#: to its own ``eval/``): under ``runs/``, where runs go and which the repository's
#: ``.gitignore`` covers, never into a folder of its own in the working directory.
EVALUATIONS_DIR = Path("runs") / "evaluations"

#: Agents that can play beside another one as baselines (``--baselines``).
BASELINES: tuple[str, ...] = ("random", "bot", "keyword")


@dataclass(frozen=True)
class RunEvalDefaults:
    """What a run's final evaluation played; ``glam evaluate RUN`` starts from it.

    ``source`` names the files the values were read from: the final report where
    it exists (what was played), the run's ``config.yaml`` (``run.eval_*``) for the
    rest. The environment settings always come from the run (see :func:`load_agent`).
    """

    suite: str
    level: str
    seed: int
    episodes: int
    greedy: bool
    num_envs: int
    source: str

    def settings(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "level": self.level,
            "seed": self.seed,
            "episodes": self.episodes,
            "actions": "greedy" if self.greedy else "sampled",
            "num_envs": self.num_envs,
        }


def run_eval_defaults(
    run_dir: str | os.PathLike[str], *, trust_remote_code: bool = False
) -> RunEvalDefaults:
    """The suite, level, seed, episodes, actions and environments of a run's final evaluation."""
    run = RunDir.at(run_dir)
    config = read_run_config(run, trust_remote_code=trust_remote_code)
    values: dict[str, Any] = {
        "suite": RUN_FINAL_SUITE,
        "level": config.eval_level,
        "seed": config.run.eval_seed,
        "episodes": config.run.eval_episodes,
        "greedy": config.run.eval_greedy,
        "num_envs": config.run.eval_num_envs,
    }
    sources = [f"{run.config.name} (run.eval_*)"]
    final = _final_report_settings(run.eval / "final.json")
    if final:
        values.update(final)
        sources.insert(0, "eval/final.json")
    return RunEvalDefaults(**values, source=" and ".join(sources))


def _final_report_settings(path: Path) -> dict[str, Any]:
    """Seed, episodes, actions and level the final report says it played (``{}``: none)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        logger.warning(
            "%s cannot be read (%s): the run's config.yaml gives the defaults", path, error
        )
        return {}
    found: dict[str, Any] = {}
    if not isinstance(data, dict):
        return found
    if isinstance(data.get("seed"), int):
        found["seed"] = data["seed"]
    if isinstance(data.get("episodes_per_test"), int) and data.get("seeds", 1) == 1:
        found["episodes"] = data["episodes_per_test"]
    if data.get("actions") in ("greedy", "sampled"):
        found["greedy"] = data["actions"] == "greedy"
    metadata = data.get("metadata")
    level = metadata.get("base_level") if isinstance(metadata, dict) else None
    if isinstance(level, str):
        found["level"] = level
    return found


def default_output_dir(agent: str) -> Path:
    """Where ``glam evaluate AGENT`` writes: a run's ``eval/``, else ``runs/evaluations/<name>``."""
    path = Path(agent).expanduser()
    run = RunDir.at(path)
    if run.is_run():
        return run.eval
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.name or agent)
    return EVALUATIONS_DIR / (slug if slug.strip(".") else "agent")


def parse_baselines(names: Sequence[str], agent: str | None = None) -> list[str]:
    """Baseline names, comma-separated or not, checked, in order, without repeats."""
    chosen: list[str] = []
    for item in names:
        for name in (part.strip() for part in item.split(",")):
            if not name:
                continue
            if name not in BASELINES:
                raise UserError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
            if name == agent:
                raise UserError(f"baseline {name!r} is the evaluated agent itself")
            if name not in chosen:
                chosen.append(name)
    return chosen


def baseline_agent(name: str, like: LoadedAgent, *, seed: int) -> LoadedAgent:
    """Baseline ``name`` set up to play what ``like`` plays: its game, environment, level
    and tests (an agent that reads no prompt leaves out the same tests)."""
    if like.game is not None and name != "random":
        raise UserError(
            f"baseline {name!r} plays BabyAI-Text only; {like.game.gym_id} has only 'random'"
        )
    loaded = load_agent(name, seed=seed)
    loaded.env_config = like.env_config
    loaded.game = like.game
    loaded.base_level = like.base_level
    loaded.reads_prompt = like.reads_prompt
    return loaded


def evaluate(
    agent: str,
    *,
    suite: str | None = None,
    level: str | None = None,
    episodes: int | None = None,
    seed: int | None = None,
    greedy: bool | None = None,
    num_envs: int | None = None,
    seeds: int | None = None,
    protocol: str | None = None,
    checkpoint: str = "auto",
    device: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    env_overrides: Sequence[str] = (),
    policy_overrides: Sequence[str] = (),
    baselines: Sequence[str] = (),
    record: int = 0,
    on_test: Callable[[TestSpec, int, int], None] | None = None,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
    on_test_failed: Callable[[TestSpec, str], None] | None = None,
    on_baseline: Callable[[str], None] | None = None,
    trust_remote_code: bool = False,
) -> tuple[EvaluationReport, list[Path]]:
    """Load ``agent``, evaluate it on ``suite``, write JSON + Markdown; return both.

    Settings left ``None`` take the defaults: for a run directory, those of its
    final evaluation (:func:`run_eval_defaults`; the report's
    ``metadata.defaults_from_run`` lists them), so its numbers are those of
    ``eval/final.json``; otherwise the ``quick`` suite, seed 0, sampled actions.
    ``protocol`` (``"paper"``) sets seeds, episodes, environments and actions, each
    overridable, and wins over a run's own. Without either: 1 seed, 50 episodes, 8
    environments. ``env_overrides`` (``key=value``, fields of ``BabyAITextConfig``)
    adjust the environment every test starts from; ``policy_overrides`` (fields of
    ``LLMPolicyConfig``) configure a model evaluated zero-shot. ``baselines``
    (``random``, ``bot``, ``keyword``) play the same tests and seeds after the agent
    (``on_baseline`` hears when each starts) and are in ``report.baselines``.
    Reports go to ``output_dir`` if given, else to ``<run>/eval`` for a run
    directory, else nowhere (the report is still returned; the CLI uses
    :func:`default_output_dir`). They are rewritten after every test, so a stopped
    run keeps the finished tests. A test that raises does not stop the others: it
    is in the report's failures (:attr:`EvaluationReport.all_failures`), which the
    caller must check. ``trust_remote_code`` (``--trust-remote-code``) is the only
    way to let the agent's model run Python code of its own (see :func:`load_agent`).
    ``record`` > 0 keeps that many transcripts per test, for the agent (not the
    baselines), in ``<report stem>-transcripts/<test>/`` beside the reports.
    """
    if suite is not None and suite not in SUITES:
        raise UserError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    baseline_names = parse_baselines(baselines, agent)
    from_run: dict[str, Any] = {}
    defaults_source = None
    if RunDir.at(Path(agent).expanduser()).is_run():
        defaults = run_eval_defaults(agent, trust_remote_code=trust_remote_code)
        defaults_source = defaults.source
        given = {"suite": suite, "level": level, "seed": seed}
        if protocol is None:  # a named protocol sets these itself
            given.update(episodes=episodes, num_envs=num_envs, greedy=greedy)
        run_values = {**defaults.settings(), "greedy": defaults.greedy}
        from_run = {name: run_values[name] for name, value in given.items() if value is None}
        suite = from_run.get("suite", suite)
        level = from_run.get("level", level)
        seed = from_run.get("seed", seed)
        episodes = from_run.get("episodes", episodes)
        num_envs = from_run.get("num_envs", num_envs)
        greedy = from_run.get("greedy", greedy)
    suite = "quick" if suite is None else suite
    seed = 0 if seed is None else seed
    settings = resolve_settings(
        protocol, seeds=seeds, episodes=episodes, num_envs=num_envs, greedy=greedy
    )
    loaded = load_agent(
        agent,
        greedy=settings.greedy,
        seed=seed,
        checkpoint=checkpoint,
        device=device,
        policy_overrides=policy_overrides,
        trust_remote_code=trust_remote_code,
    )
    if env_overrides and loaded.game is not None:
        raise UserError(f"--env-set changes BabyAI-Text settings; {loaded.game.gym_id} has none")
    if env_overrides:
        loaded.env_config = compose(
            BabyAITextConfig, base=loaded.env_config.model_dump(), overrides=env_overrides
        )
    others = [baseline_agent(name, loaded, seed=seed) for name in baseline_names]
    metadata = settings.metadata()
    if from_run:
        if "greedy" in from_run:
            from_run["actions"] = "greedy" if from_run.pop("greedy") else "sampled"
        metadata["defaults_from_run"] = {"source": defaults_source, "settings": from_run}
    target: Path | None = Path(output_dir) if output_dir is not None else None
    if target is None and loaded.metadata and "run_dir" in loaded.metadata:
        target = RunDir.at(loaded.metadata["run_dir"]).eval
    written: list[Path] = []
    planned = [test.name for test in _plan(loaded, suite, level)[2]] if others else []
    played: list[EvaluationReport] = []

    def save(main: EvaluationReport, current: EvaluationReport | None = None) -> None:
        if target is None:
            return
        waiting = [
            EvaluationReport(
                agent=other.label,
                suite=suite,
                episodes=main.episodes,
                seed=seed,
                greedy=False,
                results=[],
                pending=list(planned),
            )
            for other in others[len(played) + (current is not None) :]
        ]
        partial = replace(
            main, baselines=[*played, *([current] if current is not None else []), *waiting]
        )
        stem = report_stem(suite, partial.greedy, seed, partial.seeds)
        written[:] = write_report(partial, target, stem)

    common: dict[str, Any] = {
        "suite": suite,
        "level": level,
        "episodes": settings.episodes,
        "seed": seed,
        "num_envs": settings.num_envs,
        "seeds": settings.seeds,
        "keep_going": True,
        "on_test": on_test,
        "on_episode": on_episode,
        "on_test_failed": on_test_failed,
    }
    record_dir = None
    if record:
        if target is None:
            raise UserError("--record keeps transcripts beside the reports: give --out")
        stem = report_stem(suite, settings.greedy, seed, settings.seeds)
        record_dir = target / f"{stem}-transcripts"
        metadata["transcripts"] = str(record_dir)
    report = evaluate_agent(
        loaded,
        greedy=settings.greedy,
        metadata=metadata,
        on_progress=save,
        record=record,
        record_dir=record_dir,
        **common,
    )
    for other in others:
        if on_baseline is not None:
            on_baseline(other.label)
        played.append(
            evaluate_agent(
                other,
                greedy=False,
                metadata=settings.metadata(),
                on_progress=lambda partial, main=report: save(main, partial),
                **common,
            )
        )
    if others:
        report = replace(report, baselines=list(played))
        save(report)
    return report, list(written)

"""The DRRN trainer (He et al., 2016): epsilon-greedy play, replay, Q-learning, target network.

``DRRN(vector_env, config).learn()`` repeats :meth:`DRRN.train_iteration`:
``num_steps`` vector steps, each followed by the gradient steps that fall due
(one per ``train_every`` environment steps once ``learning_starts`` steps were
played) and by a copy of the network into the target network every
``target_update_every`` environment steps. Each iteration reports its metrics
to the callbacks (``glam_ppo.callbacks``: ``JSONLWriter``, ``TensorBoardWriter``
work unchanged; ``on_rollout_end`` is not called, there is no PPO batch) and
checkpoints every ``checkpoint_every`` iterations.

The vector env must use Gymnasium's SAME_STEP autoreset: the step that ends an
episode returns the next episode's first observation and puts the final one in
``info["final_obs"]``, which is the ``s'`` of that last transition (so a
truncated episode is bootstrapped from its real final state).

Seeds. Everything random flows from ``config.seed``: network initialisation
(torch's global generator, seeded and restored around it), exploration and
replay sampling (two NumPy generators), environment resets
(``SeedSequence(seed, spawn_key=(0, stream, iteration))``, as glam_ppo's PPO)
and torch's global generator during each iteration (reseeded per iteration).

Exact resume. As in glam_ppo's PPO, environments are not saved: after every
checkpoint all environments are reset with seeds derived from the iteration,
and a resumed run does the same reset. Everything else (both networks, Adam,
vocabulary, replay buffer, generators, counters) is in the checkpoint, so a run
resumed from a checkpoint ends with the parameters of the run not interrupted.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from glam_ppo import checkpoint as ckpt
from glam_ppo.callbacks import Callback, CallbackList
from glam_ppo.collector import autoreset_mode
from glam_ppo.drrn.config import DRRNConfig
from glam_ppo.drrn.exploration import epsilon_greedy
from glam_ppo.drrn.learner import q_learning_step
from glam_ppo.drrn.policy import DRRNPolicy, admissible_actions, state_text
from glam_ppo.drrn.replay import ReplayBuffer
from glam_ppo.episode_replay import (
    EpisodeReplayError,
    episodes_snapshot,
    restore_episodes_snapshot,
    supports_replay,
    warn_not_exact,
)
from glam_ppo.episodes import EpisodeRecord, EpisodeTracker
from glam_ppo.errors import CheckpointError, EnvironmentSpecError
from glam_ppo.observations import policy_input, split_observations
from glam_ppo.rng import (
    global_rng_json,
    global_rng_tensors,
    restore_global_rng_json,
    restore_global_rng_tensors,
    seeded_torch_rng,
)

logger = logging.getLogger(__name__)

FORMAT = "glam_ppo.drrn.checkpoint/1"
_ENV_STREAM, _EXPLORE_STREAM, _REPLAY_STREAM, _INIT_STREAM, _TORCH_STREAM, _EVAL_STREAM = range(6)
_UPDATE_KEYS = ("loss", "q_mean", "target_mean", "td_error_abs", "grad_norm")


def _generator(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, stream)))


def _multiples(lo: int, hi: int, every: int) -> int:
    """How many multiples of ``every`` lie in ``(lo, hi]`` (``lo >= -1``)."""
    return hi // every - lo // every


class DRRN:
    """Deep Reinforcement Relevance Network trained by Q-learning on a text vector env.

    Args:
        env: a Gymnasium 1.x vector env in SAME_STEP autoreset mode whose
            observations are dicts of texts with ``"admissible_actions"`` (glam_env's
            protocol) and whose single action space is ``Discrete``.
        config: hyperparameters (copied); defaults to ``DRRNConfig()``.
        policy: a ready :class:`DRRNPolicy`; default: built from the config.
        callbacks: glam_ppo callbacks (metrics writers, checkpoint hooks).
    """

    def __init__(
        self,
        env: VectorEnv,
        config: DRRNConfig | None = None,
        *,
        policy: DRRNPolicy | None = None,
        callbacks: Iterable[Callback] = (),
    ) -> None:
        if not isinstance(env, VectorEnv):
            raise EnvironmentSpecError(
                f"DRRN needs a gymnasium.vector.VectorEnv, got {type(env).__name__}"
            )
        if not isinstance(env.single_action_space, spaces.Discrete):
            raise EnvironmentSpecError(
                f"the single action space must be Discrete, got {env.single_action_space}"
            )
        if autoreset_mode(env) is not AutoresetMode.SAME_STEP:
            raise EnvironmentSpecError(
                "DRRN needs autoreset_mode=AutoresetMode.SAME_STEP (final observations in "
                "info['final_obs'])"
            )
        self.config = (config or DRRNConfig()).model_copy(deep=True)
        self.env = env
        self.num_envs = env.num_envs
        self.action_offset = int(env.single_action_space.start)
        seed = self.config.seed
        if policy is None:
            init_seed = int(
                np.random.SeedSequence(seed, spawn_key=(0, _INIT_STREAM)).generate_state(
                    1, dtype=np.uint64
                )[0]
                >> 1
            )
            with seeded_torch_rng(init_seed):
                policy = DRRNPolicy.from_config(self.config)
        self.policy = policy
        self.target_network = copy.deepcopy(policy.network)
        self.target_network.requires_grad_(False)
        self.target_network.eval()
        self.optimizer = torch.optim.Adam(
            policy.network.parameters(), lr=self.config.learning_rate, eps=self.config.adam_eps
        )
        self.replay = ReplayBuffer(self.config.replay_capacity)
        self.explore_rng = _generator(seed, _EXPLORE_STREAM)
        self.replay_rng = _generator(seed, _REPLAY_STREAM)
        self.eval_rng = _generator(seed, _EVAL_STREAM)
        self.tracker = EpisodeTracker(self.num_envs)
        #: Whether the running episodes can be saved (sub-envs wrapped in EpisodeReplay).
        self._can_save_episodes = supports_replay(env)
        self.callbacks = CallbackList(callbacks)
        self.iteration = 0
        self.global_step = 0
        self.num_episodes = 0
        self.num_updates = 0
        self._obs: list[dict[str, Any]] | None = None
        self._stop_requested = False

    # --- properties ----------------------------------------------------------------

    @property
    def is_main_process(self) -> bool:
        """Always True (no data parallelism); glam_ppo's writers ask."""
        return True

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_steps * self.num_envs

    @property
    def num_iterations(self) -> int:
        """Iterations needed to reach ``config.total_steps``."""
        return math.ceil(self.config.total_steps / self.steps_per_iteration)

    @property
    def epsilon(self) -> float:
        """The exploration rate now."""
        return self.config.epsilon(self.global_step)

    # --- training loop -------------------------------------------------------------

    def request_stop(self) -> None:
        """End :meth:`learn` after the current iteration (e.g. from a callback)."""
        self._stop_requested = True

    def learn(self, total_steps: int | None = None) -> dict[str, float]:
        """Train until ``total_steps`` (default ``config.total_steps``) env steps in all.

        Continues from the counters (after :meth:`load_checkpoint`, the same call
        finishes the interrupted run). ``total_steps`` also sets the length of the
        exploration schedule. Returns the last iteration's metrics.
        """
        if total_steps is not None:
            self.config.total_steps = total_steps
        self._stop_requested = False
        self.callbacks.on_training_start(self)  # type: ignore[arg-type]
        metrics: dict[str, float] = {}
        try:
            while self.iteration < self.num_iterations and not self._stop_requested:
                metrics = self.train_iteration()
        finally:
            self.callbacks.on_training_end(self)  # type: ignore[arg-type]
        return metrics

    def train_iteration(self) -> dict[str, float]:
        """``num_steps`` vector steps with their updates; returns the metrics."""
        start = time.perf_counter()
        if self._obs is None:
            self._reset_envs()
        self.callbacks.on_rollout_start(self)  # type: ignore[arg-type]
        episodes: list[EpisodeRecord] = []
        stats: list[dict[str, float]] = []
        update_seconds = 0.0
        self.policy.train(False)
        with seeded_torch_rng(self._stream_seed(_TORCH_STREAM)):
            for _ in range(self.config.num_steps):
                episodes += self._vector_step()
                before = self.global_step - self.num_envs
                tick = time.perf_counter()
                stats += self._train(before, self.global_step)
                update_seconds += time.perf_counter() - tick
        for episode in episodes:
            self.callbacks.on_episode_end(self, episode)  # type: ignore[arg-type]
        self.iteration += 1
        elapsed = time.perf_counter() - start
        metrics = self._metrics(episodes, stats)
        metrics.update(
            {
                "iteration": float(self.iteration),
                "global_step": float(self.global_step),
                "rollout_seconds": elapsed - update_seconds,
                "update_seconds": update_seconds,
                "steps_per_second": self.steps_per_iteration / max(elapsed, 1e-9),
            }
        )
        self.callbacks.on_update_end(self, metrics)  # type: ignore[arg-type]
        every = self.config.checkpoint_every
        if every is not None and (
            self.iteration % every == 0 or self.iteration == self.num_iterations
        ):
            self.save_checkpoint()
        return metrics

    def _reset_envs(self) -> None:
        seeds = self._sequence(_ENV_STREAM).generate_state(self.num_envs)
        obs, _ = self.env.reset(seed=[int(s) for s in seeds])
        self._obs = self._split(obs)
        self.tracker.reset()
        self.policy.observe(self._obs)

    def _split(self, batch: Any) -> list[dict[str, Any]]:
        return list(
            policy_input(self.env.single_observation_space, self.env.observation_space, batch)
        )

    def _vector_step(self) -> list[EpisodeRecord]:
        """Act epsilon-greedily in every env, store the transitions; return ended episodes."""
        assert self._obs is not None
        obs = self._obs
        with torch.no_grad():
            q = self.policy.q_values(obs)
        counts = np.array([len(o["admissible_actions"]) for o in obs], dtype=np.int64)
        actions = epsilon_greedy(q, counts, self.epsilon, self.explore_rng)
        next_batch, rewards, terminated, truncated, info = self.env.step(
            actions + self.action_offset
        )
        next_obs = self._split(next_batch)
        rewards = np.asarray(rewards, dtype=np.float32)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        ended = terminated | truncated
        finals: list[dict[str, Any] | None] = [None] * self.num_envs
        for i in np.flatnonzero(ended):
            finals[i] = dict(info["final_obs"][i])
        self.policy.observe([final for final in finals if final is not None])
        self.policy.observe(next_obs)
        keys = self.policy.state_keys
        for i in range(self.num_envs):
            successor = finals[i] if ended[i] else next_obs[i]
            assert successor is not None
            self.replay.add(
                state_text(obs[i], keys),
                admissible_actions(obs[i]),
                int(actions[i]),
                float(rewards[i]),
                state_text(successor, keys),
                admissible_actions(successor),
                bool(terminated[i]),
            )
        valid = np.ones(self.num_envs, dtype=bool)
        episodes = self.tracker.step(rewards, terminated, truncated, valid, info, True)
        self.global_step += self.num_envs
        self._obs = next_obs
        return episodes

    def _train(self, before: int, after: int) -> list[dict[str, float]]:
        """The gradient steps and target copies due between env steps ``before`` and ``after``."""
        config = self.config
        lo = max(before, config.learning_starts - 1)
        due = _multiples(lo, after, config.train_every) if after >= config.learning_starts else 0
        stats = []
        if due and len(self.replay):
            self.policy.train(True)
            for _ in range(due):
                stats.append(self.update())
            self.policy.train(False)
        if _multiples(before, after, config.target_update_every):
            self.sync_target()
        return stats

    def update(self) -> dict[str, float]:
        """One gradient step on a batch sampled from the replay buffer."""
        config = self.config
        sample = self.replay.sample(config.batch_size, self.replay_rng)
        device = self.policy.device
        stats = q_learning_step(
            self.policy.network,
            self.target_network,
            self.optimizer,
            self.policy.encode(sample.states, sample.actions),
            self.policy.encode(sample.next_states, sample.next_actions),
            torch.from_numpy(sample.action).to(device),
            torch.from_numpy(sample.reward).to(device),
            torch.from_numpy(sample.terminated).to(device),
            config.gamma,
            config.loss,
            config.max_grad_norm,
        )
        self.num_updates += 1
        return stats

    def sync_target(self) -> None:
        """Copy the network's parameters into the target network."""
        self.target_network.load_state_dict(self.policy.network.state_dict())

    def _metrics(
        self, episodes: list[EpisodeRecord], stats: list[dict[str, float]]
    ) -> dict[str, float]:
        """This iteration's episode statistics (as glam_ppo's PPO names them) and update means."""
        successes = [e.success for e in episodes if e.success is not None]
        count = len(episodes)
        self.num_episodes += count
        metrics = {
            "episodes": float(count),
            "episodes_total": float(self.num_episodes),
            "episode_return_mean": (
                sum(e.episode_return for e in episodes) / count if count else math.nan
            ),
            "episode_length_mean": sum(e.length for e in episodes) / count if count else math.nan,
            "success_rate": sum(successes) / len(successes) if successes else math.nan,
            "updates": float(len(stats)),
            "updates_total": float(self.num_updates),
            "epsilon": self.epsilon,
            "replay_size": float(len(self.replay)),
            "vocabulary_size": float(len(self.policy.tokenizer)),
            "learning_rate": float(self.optimizer.param_groups[0]["lr"]),
        }
        for key in _UPDATE_KEYS:
            metrics[key] = float(np.mean([s[key] for s in stats])) if stats else math.nan
        return metrics

    def _sequence(self, stream: int) -> np.random.SeedSequence:
        """Seeds of one stream at this iteration: (seed; 0, stream, iteration), as the PPO."""
        return np.random.SeedSequence(self.config.seed, spawn_key=(0, stream, self.iteration))

    def _stream_seed(self, stream: int) -> int:
        return int(self._sequence(stream).generate_state(1, dtype=np.uint64)[0] >> 1)

    # --- acting --------------------------------------------------------------------

    def act(
        self,
        observations: Sequence[Mapping[str, Any]] | Mapping[str, Any],
        greedy: bool = True,
        epsilon: float | None = None,
    ) -> np.ndarray:
        """Action indices for a batch of observations (a list of dicts, or the vector
        env's batched dict). ``greedy``: argmax Q; else epsilon-greedy with ``epsilon``
        (default: the current exploration rate) drawn from an evaluation generator
        that training never touches."""
        if isinstance(observations, Mapping):
            obs = split_observations(self.env.observation_space, observations)
        else:
            obs = list(observations)
        was_training = self.policy.training
        self.policy.train(False)
        try:
            with torch.no_grad():
                q = self.policy.q_values(obs)
        finally:
            self.policy.train(was_training)
        if greedy:
            return q.argmax(dim=1).cpu().numpy().astype(np.int64)
        counts = np.array([len(o["admissible_actions"]) for o in obs], dtype=np.int64)
        rate = self.epsilon if epsilon is None else epsilon
        return epsilon_greedy(q, counts, rate, self.eval_rng)

    # --- checkpoints -----------------------------------------------------------------

    def save_checkpoint(self, directory: str | Path | None = None) -> Path:
        """Save the full training state atomically; the envs are reset before the next step.

        Layout of ``<dir>/iteration_NNNNNN``: ``model.safetensors`` (the policy's
        network), ``target.safetensors``, ``optimizer.safetensors``,
        ``replay.safetensors`` + ``replay.json`` (slots and their distinct texts),
        ``vocab.json``, ``rank0.safetensors`` + ``rank0.json`` (generator states),
        ``state.json`` (format, config, counters, optimizer groups).
        """
        target = directory if directory is not None else self.config.checkpoint_dir
        if target is None:
            raise CheckpointError("no checkpoint directory: pass one or set checkpoint_dir")
        root = Path(target)
        name = ckpt.checkpoint_name(self.iteration)
        tmp = ckpt.temporary_dir(root, name)
        model, model_aliases = ckpt.module_tensors(self.policy, trainable_only=False)
        ckpt.save_tensors(tmp / "model.safetensors", model)
        target_tensors, target_aliases = ckpt.module_tensors(
            self.target_network, trainable_only=False
        )
        ckpt.save_tensors(tmp / "target.safetensors", target_tensors)
        optimizer_tensors, optimizer_json = ckpt.optimizer_state(self.optimizer)
        ckpt.save_tensors(tmp / "optimizer.safetensors", optimizer_tensors)
        replay_tensors, replay_json = self.replay.state_dict()
        ckpt.save_tensors(tmp / "replay.safetensors", replay_tensors)
        ckpt.write_json_atomic(tmp / "replay.json", replay_json)
        ckpt.write_json_atomic(tmp / "vocab.json", self.policy.tokenizer.state_dict())
        ckpt.save_tensors(tmp / "rank0.safetensors", global_rng_tensors())
        episodes = self._episode_state()
        ckpt.write_json_atomic(
            tmp / "rank0.json",
            {
                "rng": global_rng_json(),
                "explore": self.explore_rng.bit_generator.state,
                "replay": self.replay_rng.bit_generator.state,
                "eval": self.eval_rng.bit_generator.state,
                "episodes": episodes,
            },
        )
        ckpt.write_json_atomic(
            tmp / "state.json",
            {
                "format": FORMAT,
                "config": self.config.model_dump(mode="json"),
                "iteration": self.iteration,
                "global_step": self.global_step,
                "num_episodes": self.num_episodes,
                "num_updates": self.num_updates,
                "model": {"aliases": model_aliases, "trainable_only": False},
                "target": {"aliases": target_aliases},
                "optimizer": optimizer_json,
            },
        )
        self.callbacks.on_checkpoint_staged(self, tmp)  # type: ignore[arg-type]
        path = ckpt.commit(root, tmp, name, self.config.keep_checkpoints)
        logger.info("DRRN checkpoint written: %s", path)
        if episodes is None:  # not saved: continue from seeded resets, as a resume does
            self._obs = None
        self.callbacks.on_checkpoint(self, path)  # type: ignore[arg-type]
        return path

    def load_checkpoint(self, path: str | Path) -> Path:
        """Restore the training state from a checkpoint (or a root whose ``latest`` names one)."""
        path = ckpt.resolve(path)
        state = ckpt.read_json(path / "state.json")
        if state.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a DRRN checkpoint (format {state.get('format')!r})")
        saved = state["config"]
        current = self.config.model_dump(mode="json")
        changed = sorted(k for k in saved if saved[k] != current.get(k))
        if changed:
            logger.warning("resuming with changed config fields: %s", ", ".join(changed))
        try:
            self.policy.tokenizer.load_state_dict(ckpt.read_json(path / "vocab.json"))
            replay_json = ckpt.read_json(path / "replay.json")
            self.replay.load_state_dict(ckpt.load_tensors(path / "replay.safetensors"), replay_json)
        except (KeyError, ValueError, IndexError) as error:
            raise CheckpointError(f"{path}: vocabulary or replay does not fit: {error}") from error
        ckpt.load_module_tensors(
            self.policy,
            ckpt.load_tensors(path / "model.safetensors"),
            state["model"]["aliases"],
            trainable_only=False,
        )
        ckpt.load_module_tensors(
            self.target_network,
            ckpt.load_tensors(path / "target.safetensors"),
            state["target"]["aliases"],
            trainable_only=False,
        )
        ckpt.load_optimizer_state(
            self.optimizer, ckpt.load_tensors(path / "optimizer.safetensors"), state["optimizer"]
        )
        restore_global_rng_tensors(ckpt.load_tensors(path / "rank0.safetensors"))
        generators = ckpt.read_json(path / "rank0.json")
        restore_global_rng_json(generators["rng"])
        self.explore_rng.bit_generator.state = generators["explore"]
        self.replay_rng.bit_generator.state = generators["replay"]
        self.eval_rng.bit_generator.state = generators["eval"]
        self.iteration = int(state["iteration"])
        self.global_step = int(state["global_step"])
        self.num_episodes = int(state["num_episodes"])
        self.num_updates = int(state["num_updates"])
        self._obs = None
        self._restore_episodes(generators.get("episodes"))
        logger.info("DRRN resumed from %s at iteration %d", path, self.iteration)
        return path

    def _episode_state(self) -> dict[str, Any] | None:
        """The running episodes (see ``glam_ppo.episode_replay``), or ``None`` if unsaveable."""
        if self._obs is None or not self._can_save_episodes:
            return None
        return episodes_snapshot(self.env, self.tracker)

    def _restore_episodes(self, episodes: dict[str, Any] | None) -> None:
        """Continue the saved episodes; without them (or if replay fails) reset the envs."""
        if episodes is None:
            return
        if not self._can_save_episodes:
            warn_not_exact("the environments are not wrapped in EpisodeReplay")
            return
        try:
            observations = restore_episodes_snapshot(self.env, episodes, self.tracker)
        except EpisodeReplayError as error:
            warn_not_exact(str(error))
            return
        self._obs = list(observations)

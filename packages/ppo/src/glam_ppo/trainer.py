"""The PPO trainer: rollouts, update, metrics, checkpoints, in one readable loop.

``PPO(policy, vector_env, config).learn()`` repeats :meth:`PPO.train_iteration`:
collect ``num_steps`` vector steps, compute GAE, run the update, report metrics
to the callbacks, and checkpoint every ``checkpoint_every`` iterations.

Seeds. Everything random flows from ``config.seed`` and the rank: the action
sampler (a ``torch.Generator``), minibatch shuffling (a NumPy ``Generator``), the
environment resets (``SeedSequence(seed, spawn_key=(rank, 0, iteration))``), and
torch's global generator while collecting and while updating (reseeded per phase
and iteration and restored afterwards, so that a policy's dropout does not depend
on what the program did with the global generator in between, e.g. evaluations).

Exact resume. Everything the run depends on is in the checkpoint: parameters,
optimizer state, RNG states, reward-normalisation statistics, counters, and the
episodes in progress. A Gymnasium environment's state cannot be saved in general,
so the episodes are saved by how they came about (``glam_ppo.episode_replay``:
each sub-env's random state at its reset and the actions since) and rebuilt on
resume by a replay that is checked against the saved observation and random
state. Checkpointing then does not change training: a run that checkpoints every
iteration ends with the same parameters as one that never does, and a run
interrupted and resumed from any checkpoint ends as the uninterrupted one.

Environments whose sub-envs are not wrapped in
:class:`~glam_ppo.episode_replay.EpisodeReplay` (or whose replay fails the
check) cannot be saved; for them the trainer falls back to cutting the running
episodes at every checkpoint: right after it, all environments are reset with
seeds derived from the iteration, and a resumed run performs the same reset. The
cut episodes are treated as if truncated by a time limit (their last transition
is bootstrapped from the value of the last observation) and are not counted in the
episode statistics. Resume is exact then too, but the checkpoint schedule is part
of the training.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from glam_ppo import checkpoint as ckpt
from glam_ppo.buffer import Batch, RolloutBuffer
from glam_ppo.callbacks import Callback, CallbackList
from glam_ppo.collector import RolloutCollector
from glam_ppo.config import PPOConfig
from glam_ppo.distributed import DistributedContext
from glam_ppo.episode_replay import EpisodeReplayError, warn_not_exact
from glam_ppo.episodes import EpisodeRecord
from glam_ppo.errors import CheckpointError, EnvironmentSpecError
from glam_ppo.optim import apply_lr_factor, build_optimizer, remember_base_lrs
from glam_ppo.policy import ActorCriticPolicy
from glam_ppo.reward_scaling import RewardScaler
from glam_ppo.rng import (
    global_rng_json,
    global_rng_tensors,
    restore_global_rng_json,
    restore_global_rng_tensors,
    seeded_torch_rng,
)
from glam_ppo.schedules import schedule_factor
from glam_ppo.sharding import check_optimizer, gathered, is_sharded, sum_gradients
from glam_ppo.update import ppo_update

logger = logging.getLogger(__name__)

_ENV_STREAM, _SAMPLER_STREAM, _SHUFFLE_STREAM, _ROLLOUT_TORCH, _UPDATE_TORCH = range(5)


class PPO:
    """Proximal Policy Optimization for any :class:`ActorCriticPolicy`.

    Args:
        policy: ``policy(observations) -> (logits, values)``; see ``glam_ppo.policy``.
        env: a Gymnasium 1.x vector environment (sync or async) with a ``Discrete``
            single action space; NEXT_STEP or SAME_STEP autoreset.
        config: hyperparameters (copied); defaults to ``PPOConfig()``.
        param_groups: optional torch-style groups, e.g. ``[{"params": lm.parameters(),
            "lr": 1e-6}, {"params": head.parameters(), "lr": 1e-4, "name": "head"}]``;
            groups without ``lr`` use ``config.learning_rate``.
        optimizer: a ready optimizer instead (then ``param_groups`` must be None).
        callbacks: receive events and each update's metrics.
    """

    def __init__(
        self,
        policy: ActorCriticPolicy,
        env: VectorEnv,
        config: PPOConfig | None = None,
        *,
        param_groups: Sequence[dict[str, Any]] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        callbacks: Iterable[Callback] = (),
    ) -> None:
        if not isinstance(env, VectorEnv):
            raise EnvironmentSpecError(
                "PPO needs a gymnasium.vector.VectorEnv (gymnasium.make_vec, SyncVectorEnv, "
                f"AsyncVectorEnv), got {type(env).__name__}"
            )
        if optimizer is not None and param_groups is not None:
            raise ValueError("give either param_groups or a ready optimizer, not both")
        self.config = (config or PPOConfig()).model_copy(deep=True)
        self.policy = policy
        self.env = env
        self.dist = DistributedContext()
        self.optimizer = optimizer or build_optimizer(
            policy.parameters(), self.config, param_groups
        )
        remember_base_lrs(self.optimizer)
        #: FSDP2-sharded policy (glam_ppo.sharding): rollouts run gathered, checkpoints
        #: gather full tensors, and FSDP reduces the gradients in the backward.
        self.sharded = is_sharded(policy)
        if isinstance(policy, torch.nn.Module) and self.sharded:
            # The parameters are shards (shard_policy synchronised them first); the
            # gradients must be summed over ranks, as the unsharded all-reduce does.
            check_optimizer(policy, self.optimizer)
            sum_gradients(policy)
            self.dist.broadcast_parameters(policy.buffers())
        elif isinstance(policy, torch.nn.Module):
            self.dist.broadcast_parameters([*policy.parameters(), *policy.buffers()])
        seed = self.config.seed
        rank = self.dist.rank
        sampler_seed = np.random.SeedSequence(seed, spawn_key=(rank, _SAMPLER_STREAM))
        self.sampler = torch.Generator(device="cpu")
        self.sampler.manual_seed(int(sampler_seed.generate_state(1, dtype=np.uint64)[0] >> 1))
        self.shuffle_rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(rank, _SHUFFLE_STREAM))
        )
        self.reward_scaler = RewardScaler(
            env.num_envs, self.config.reward_scale, self.config.normalize_rewards, self.config.gamma
        )
        self.collector = RolloutCollector(
            env, policy, self.reward_scaler, self.sampler, self.config.rollout_eval_mode
        )
        self.buffer = RolloutBuffer(
            self.config.num_steps, env.num_envs, env.single_observation_space
        )
        self.callbacks = CallbackList(callbacks)
        self.iteration = 0
        self.global_step = 0
        self.num_episodes = 0
        self._stop_requested = False

    # --- properties ----------------------------------------------------------------

    @property
    def is_main_process(self) -> bool:
        """Rank 0 (or the only process): the one that writes files."""
        return self.dist.is_main

    @property
    def steps_per_iteration(self) -> int:
        """Environment steps per iteration over all environments and ranks."""
        return self.config.num_steps * self.env.num_envs * self.dist.world_size

    @property
    def num_iterations(self) -> int:
        """Iterations needed to reach ``config.total_steps``."""
        return math.ceil(self.config.total_steps / self.steps_per_iteration)

    # --- training loop -------------------------------------------------------------

    def request_stop(self) -> None:
        """End :meth:`learn` after the current iteration (e.g. from a callback)."""
        self._stop_requested = True

    def learn(self, total_steps: int | None = None) -> dict[str, float]:
        """Train until ``total_steps`` (default ``config.total_steps``) env steps in all.

        Continues from the current counters: after :meth:`load_checkpoint`, the same
        call finishes the interrupted run. Returns the last iteration's metrics.
        """
        if total_steps is not None:
            self.config.total_steps = total_steps
        self._stop_requested = False
        self.callbacks.on_training_start(self)
        metrics: dict[str, float] = {}
        try:
            while self.iteration < self.num_iterations and not self._stop_requested:
                metrics = self.train_iteration()
        finally:
            self.callbacks.on_training_end(self)
        return metrics

    def train_iteration(self) -> dict[str, float]:
        """One rollout and one update; returns the metrics given to the callbacks."""
        config = self.config
        apply_lr_factor(
            self.optimizer, schedule_factor(config.lr_schedule, self.iteration, self.num_iterations)
        )
        clip_coef = config.clip_coef * schedule_factor(
            config.clip_schedule, self.iteration, self.num_iterations
        )
        start = time.perf_counter()
        batch, episodes = self.collect_rollout()
        collected = time.perf_counter()
        metrics = self.update(batch, clip_coef)
        updated = time.perf_counter()
        self.iteration += 1
        self.global_step += self.steps_per_iteration
        metrics.update(self._episode_metrics(episodes))
        metrics.update(
            {
                "iteration": float(self.iteration),
                "global_step": float(self.global_step),
                "batch_size": float(batch.size),
                "rollout_seconds": collected - start,
                "update_seconds": updated - collected,
                "steps_per_second": self.steps_per_iteration / max(updated - start, 1e-9),
            }
        )
        for index, group in enumerate(self.optimizer.param_groups):
            suffix = "" if index == 0 else f"/{group.get('name', index)}"
            metrics["learning_rate" + suffix] = float(group["lr"])
        self.callbacks.on_update_end(self, metrics)
        every = config.checkpoint_every
        if every is not None and (
            self.iteration % every == 0 or self.iteration == self.num_iterations
        ):
            self.save_checkpoint()
        return metrics

    def collect_rollout(self) -> tuple[Batch, list[EpisodeRecord]]:
        """Collect one rollout (resetting the envs first if needed); GAE included."""
        if self.collector.needs_reset:
            self.collector.reset(self._env_seeds())
        self.callbacks.on_rollout_start(self)
        # A sharded policy is gathered for the whole rollout: its forwards then need no
        # collective, whatever number of calls each rank makes.
        with seeded_torch_rng(self._stream_seed(_ROLLOUT_TORCH)), gathered(self.policy):
            episodes = self.collector.collect(self.buffer)
        batch = self.buffer.finish(self.config.gamma, self.config.gae_lambda)
        for episode in episodes:
            self.callbacks.on_episode_end(self, episode)
        self.callbacks.on_rollout_end(self, batch, episodes)
        return batch, episodes

    def update(self, batch: Batch, clip_coef: float | None = None) -> dict[str, float]:
        """The PPO update on ``batch`` (see ``glam_ppo.update.ppo_update``)."""
        if clip_coef is None:
            clip_coef = self.config.clip_coef * schedule_factor(
                self.config.clip_schedule, self.iteration, self.num_iterations
            )
        with seeded_torch_rng(self._stream_seed(_UPDATE_TORCH)):
            return ppo_update(
                self.policy,
                self.optimizer,
                batch,
                self.config,
                clip_coef,
                self.shuffle_rng,
                self.dist,
            )

    def _sequence(self, stream: int) -> np.random.SeedSequence:
        """Seeds of one random stream at this iteration: (seed; rank, stream, iteration)."""
        return np.random.SeedSequence(
            self.config.seed, spawn_key=(self.dist.rank, stream, self.iteration)
        )

    def _stream_seed(self, stream: int) -> int:
        return int(self._sequence(stream).generate_state(1, dtype=np.uint64)[0] >> 1)

    def _env_seeds(self) -> list[int]:
        return [int(s) for s in self._sequence(_ENV_STREAM).generate_state(self.env.num_envs)]

    def _episode_metrics(self, episodes: list[EpisodeRecord]) -> dict[str, float]:
        """Episode statistics of this iteration, over all ranks."""
        successes = [e.success for e in episodes if e.success is not None]
        sums = torch.tensor(
            [
                len(episodes),
                sum(e.episode_return for e in episodes),
                sum(e.length for e in episodes),
                len(successes),
                sum(successes),
            ],
            dtype=torch.float64,
        )
        count, returns, lengths, judged, succeeded = self.dist.all_reduce_sum(sums).tolist()
        self.num_episodes += int(count)
        return {
            "episodes": count,
            "episodes_total": float(self.num_episodes),
            "episode_return_mean": returns / count if count else math.nan,
            "episode_length_mean": lengths / count if count else math.nan,
            "success_rate": succeeded / judged if judged else math.nan,
        }

    # --- checkpoints -----------------------------------------------------------------

    def save_checkpoint(self, directory: str | Path | None = None) -> Path:
        """Save the full training state atomically, the episodes in progress included.

        Where the episodes cannot be saved (see the module docstring) the envs are
        reset before the next rollout instead.

        Every rank must call this (it synchronises). Rank 0 alone writes: the other
        ranks' RNG states are gathered to it, so no other rank touches the directory.
        """
        module = self._module()
        target = directory if directory is not None else self.config.checkpoint_dir
        if target is None:
            raise CheckpointError("no checkpoint directory: pass one or set checkpoint_dir")
        root = Path(target)
        name = ckpt.checkpoint_name(self.iteration)
        tmp = root / f".tmp-{name}"
        episodes = self.collector.episode_state()
        rank_states = self._gather_rank_states(episodes)
        # Every rank takes the same branch: the episodes are saved only if all can be.
        saved_episodes = all(self.dist.all_gather_json(episodes is not None))
        # Shards differ by design: only unsharded replicas can be compared.
        in_sync = self.dist.replicas_identical([] if self.sharded else module.parameters())
        if not in_sync:
            logger.error(
                "the ranks hold different parameters at iteration %d: data parallel "
                "training has diverged (the checkpoint holds rank 0's)",
                self.iteration,
            )
        trainable_only = self.config.checkpoint_trainable_only
        model_state = optimizer_state = None
        if self.sharded:  # collectives: the full tensors are gathered on rank 0
            model_state = ckpt.full_module_tensors(module, trainable_only)
            optimizer_state = ckpt.full_optimizer_state(module, self.optimizer)
        path = root / name
        if self.is_main_process:
            ckpt.temporary_dir(root, name)
            for rank, (tensors, payload) in enumerate(rank_states):
                ckpt.save_tensors(tmp / f"rank{rank}.safetensors", tensors)
                ckpt.write_json_atomic(tmp / f"rank{rank}.json", payload)
            tensors, aliases = model_state or ckpt.module_tensors(module, trainable_only)
            ckpt.save_tensors(tmp / "model.safetensors", tensors)
            optimizer_tensors, optimizer_json = optimizer_state or ckpt.optimizer_state(
                self.optimizer
            )
            ckpt.save_tensors(tmp / "optimizer.safetensors", optimizer_tensors)
            ckpt.write_json_atomic(
                tmp / "state.json",
                {
                    "format": ckpt.FORMAT,
                    "config": self.config.model_dump(mode="json"),
                    "iteration": self.iteration,
                    "global_step": self.global_step,
                    "num_episodes": self.num_episodes,
                    "world_size": self.dist.world_size,
                    "replicas_identical": in_sync,
                    "model": {"aliases": aliases, "trainable_only": trainable_only},
                    "optimizer": optimizer_json,
                },
            )
            self.callbacks.on_checkpoint_staged(self, tmp)
            path = ckpt.commit(root, tmp, name, self.config.keep_checkpoints)
            logger.info("checkpoint written: %s", path)
        self.dist.barrier()
        if not saved_episodes:  # start the next rollout from seeded resets, as a resume will
            self.collector.invalidate()
        self.callbacks.on_checkpoint(self, path)
        return path

    def _rank_state(
        self, episodes: dict[str, Any] | None
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """This rank's random state, reward statistics and episodes (what differs by rank)."""
        tensors = {**global_rng_tensors(), "sampler": self.sampler.get_state()}
        payload = {
            "rng": global_rng_json(),
            "shuffle": self.shuffle_rng.bit_generator.state,
            "reward_scaler": self.reward_scaler.state_dict(),
            "episodes": episodes,
        }
        return tensors, payload

    def _gather_rank_states(
        self, episodes: dict[str, Any] | None
    ) -> list[tuple[dict[str, torch.Tensor], dict[str, Any]]]:
        """Every rank's :meth:`_rank_state`, in rank order (complete on rank 0 only)."""
        mine = self._rank_state(episodes)
        states = []
        for src in range(self.dist.world_size):
            tensors = self.dist.broadcast_tensors(mine[0] if src == self.dist.rank else None, src)
            payload = self.dist.broadcast_json(mine[1] if src == self.dist.rank else None, src)
            states.append((tensors, payload))
        return states

    def load_checkpoint(self, path: str | Path, restore_episodes: bool = True) -> Path:
        """Restore the training state from a checkpoint (or a root's ``latest``).

        Every rank must call this. Rank 0 reads the files and broadcasts their
        content, so the other ranks need not see the directory.
        ``restore_episodes=False`` drops the saved episodes in progress (e.g. the
        environments changed): the next rollout starts from seeded resets.
        """
        module = self._module()
        main = self.is_main_process
        world = self.dist.world_size
        state: dict[str, Any] | None = None
        model: dict[str, torch.Tensor] | None = None
        optimizer: dict[str, torch.Tensor] | None = None
        ranks: dict[str, torch.Tensor] = {}
        rank_json: dict[str, Any] = {}
        error = ""
        if main:
            try:
                path = ckpt.resolve(path)
                state = ckpt.read_json(path / "state.json")
                if state.get("format") != ckpt.FORMAT:
                    raise CheckpointError(
                        f"{path}: unknown checkpoint format {state.get('format')!r}"
                    )
                if state["world_size"] != world:
                    raise CheckpointError(
                        f"{path} was written by {state['world_size']} rank(s); this run has {world}"
                    )
                model = ckpt.load_tensors(path / "model.safetensors")
                if self.sharded:  # checked before the collective that loads it
                    ckpt.check_module_tensors(
                        module, model, state["model"]["aliases"], state["model"]["trainable_only"]
                    )
                optimizer = ckpt.load_tensors(path / "optimizer.safetensors")
                for rank in range(world):
                    for key, value in ckpt.load_tensors(path / f"rank{rank}.safetensors").items():
                        ranks[f"{rank}/{key}"] = value
                    rank_json[str(rank)] = ckpt.read_json(path / f"rank{rank}.json")
            except Exception as failure:
                if not self.dist.active:
                    raise
                error = f"{type(failure).__name__}: {failure}"
        error = self.dist.broadcast_json(error)
        if error:
            raise CheckpointError(error)
        path = Path(self.dist.broadcast_json(str(path)))
        state = self.dist.broadcast_json(state)
        assert state is not None
        saved = state["config"]
        current = self.config.model_dump(mode="json")
        changed = sorted(k for k in saved if saved[k] != current.get(k))
        if changed:
            logger.warning("resuming with changed config fields: %s", ", ".join(changed))
        if self.sharded:  # collectives: rank 0 broadcasts, every rank keeps its shards
            ckpt.load_full_module_tensors(
                module, model or {}, state["model"]["aliases"], state["model"]["trainable_only"]
            )
            ckpt.load_full_optimizer_state(
                module, self.optimizer, optimizer or {}, state["optimizer"]
            )
        else:
            if main:
                assert model is not None
                ckpt.load_module_tensors(
                    module, model, state["model"]["aliases"], state["model"]["trainable_only"]
                )
            self.dist.broadcast_parameters([*module.parameters(), *module.buffers()])
            optimizer = self.dist.broadcast_tensors(optimizer)
            ckpt.load_optimizer_state(self.optimizer, optimizer, state["optimizer"])
        ranks = self.dist.broadcast_tensors(ranks if main else None)
        rank_json = self.dist.broadcast_json(rank_json if main else None)
        prefix = f"{self.dist.rank}/"
        rank_tensors = {k[len(prefix) :]: v for k, v in ranks.items() if k.startswith(prefix)}
        mine = rank_json[str(self.dist.rank)]
        self.sampler.set_state(rank_tensors.pop("sampler"))
        restore_global_rng_tensors(rank_tensors)
        restore_global_rng_json(mine["rng"])
        self.shuffle_rng.bit_generator.state = mine["shuffle"]
        self.reward_scaler.load_state_dict(mine["reward_scaler"])
        self.iteration = int(state["iteration"])
        self.global_step = int(state["global_step"])
        self.num_episodes = int(state["num_episodes"])
        if restore_episodes:
            self._restore_episodes([rank_json[str(r)].get("episodes") for r in range(world)])
        else:
            self.collector.invalidate()
        logger.info("resumed from %s at iteration %d", path, self.iteration)
        return path

    def _restore_episodes(self, saved: list[dict[str, Any] | None]) -> None:
        """Continue the saved episodes on every rank, or reset every rank's envs.

        The ranks agree: if one rank cannot replay its episodes, all reset, so that
        every rank starts its next rollout the way an uninterrupted run with the
        same fallback would.
        """
        self.collector.invalidate()
        mine = saved[self.dist.rank]
        reason = ""
        if any(state is None for state in saved):
            reason = "the checkpoint holds no episodes in progress"
        elif not self.collector.can_save_episodes:
            reason = "the environments are not wrapped in EpisodeReplay"
        else:
            assert mine is not None
            try:
                self.collector.restore_episodes(mine)
            except (EpisodeReplayError, KeyError, TypeError, ValueError) as error:
                reason = f"rank {self.dist.rank}: {error}"
        reasons = [r for r in self.dist.all_gather_json(reason) if r]
        if reasons:
            self.collector.invalidate()
            if saved[0] is not None:  # the episodes were saved but cannot be continued
                warn_not_exact(reasons[0])

    def _module(self) -> torch.nn.Module:
        if not isinstance(self.policy, torch.nn.Module):
            raise CheckpointError(
                f"checkpoints need the policy to be a torch.nn.Module, got {type(self.policy)}"
            )
        return self.policy

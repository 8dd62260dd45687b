"""CartPole-v1: glam_ppo against Stable-Baselines3 and CleanRL, each with its own settings.

Three comparisons, all in the same interleaved rounds (round r = seed r; every
system runs once per round, the order rotated each round, one torch thread each):

* **rl-zoo settings** (preset ``sb3_cartpole``: 8 envs x 32 steps, 20 epochs of one
  256-sample minibatch, gamma 0.98, lambda 0.8, lr 1e-3 and clip 0.2 annealed
  linearly, no entropy): ``glam_ppo`` with Gymnasium's SAME_STEP autoreset (every
  counted step is learned from, as in SB3's vector env) against ``sb3``, SB3's PPO
  with the same hyperparameters;
* the same glam_ppo run with Gymnasium's default NEXT_STEP autoreset
  (``glam_ppo_next_step``: one unlearned reset step per episode end);
* **CleanRL's settings** (preset ``cleanrl``: 4 envs x 128 steps, 4 epochs of 4
  minibatches, lr 2.5e-4 annealed, entropy 0.01, clipped value loss):
  ``glam_ppo_cleanrl`` against CleanRL 1.2.0's own ``ppo.py`` (``cleanrl``), run
  unmodified in CleanRL's own environment (``bash benchmarks/cleanrl_env.sh``) by
  ``benchmarks/cleanrl_runner.py``. Both run ppo.py's 195 updates (99,840 steps of
  the 100k: ppo.py rounds the update count down).

Wall time covers env creation to the end of training (CPU time beside it); then 20
greedy episodes per run. The MLP actor-critic is 64x64 tanh, separate networks,
orthogonal init, on every side.

SB3 comes with glam's dev requirements (``requirements-dev.txt``); it is not a
dependency of glam_ppo. Without SB3 or CleanRL's environment their rows are skipped,
with the reason in the report.

    python packages/ppo/benchmarks/cartpole.py                     # 3 rounds, 100k steps
    python packages/ppo/benchmarks/cartpole.py --rounds 1 --steps 2048 --eval-episodes 1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from glam_ppo import PPO, MLPActorCritic, PPOConfig


def import_harness() -> Any:
    """The shared benchmark harness, ``benchmarks/harness.py`` at the repository root."""
    root = Path(__file__).resolve().parents[3]
    sys.path.insert(0, str(root / "benchmarks"))
    import harness

    return harness


H = import_harness()

ENV_ID = "CartPole-v1"
#: CleanRL ppo.py's batch: 4 envs x 128 steps; it runs total_steps // batch updates.
CLEANRL_BATCH = 4 * 128
EVAL_SEED = 10_000
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CLEANRL_PYTHON = ROOT / ".venv-cleanrl" / "bin" / "python"
CLEANRL_RUNNER = ROOT / "benchmarks" / "cleanrl_runner.py"

Act = Callable[[np.ndarray], int]
#: The comparisons of the report: (title, glam system, baseline system).
PAIRS = (
    ("rl-zoo settings, SAME_STEP autoreset", "glam_ppo", "sb3"),
    ("CleanRL's settings", "glam_ppo_cleanrl", "cleanrl"),
)
LABELS = {
    "glam_ppo": "glam_ppo, rl-zoo settings, SAME_STEP",
    "sb3": "Stable-Baselines3, rl-zoo settings",
    "glam_ppo_next_step": "glam_ppo, rl-zoo settings, NEXT_STEP",
    "glam_ppo_cleanrl": "glam_ppo, CleanRL's settings",
    "cleanrl": "CleanRL ppo.py (defaults)",
}

SHORT = {"sb3": "Stable-Baselines3", "cleanrl": "CleanRL's ppo.py"}


def greedy_return(act: Act, episodes: int, seed: int) -> float:
    """Mean return of ``episodes`` greedy episodes on fresh envs seeded seed, seed+1, ..."""
    env = gym.make(ENV_ID)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def run_glam_ppo(seed: int, steps: int, preset: str, autoreset: str, episodes: int) -> Any:
    """Train (timed) then play greedily: ``Timed(train seconds, greedy return)``."""
    measured = H.measure(lambda: _train_glam(seed, steps, preset, autoreset))
    policy = measured.value

    def act(obs: np.ndarray) -> int:
        with torch.no_grad():
            return int(policy(obs[None])[0].argmax())

    return H.Timed(measured.wall_s, measured.cpu_s, greedy_return(act, episodes, EVAL_SEED))


def _train_glam(seed: int, steps: int, preset: str, autoreset: str) -> MLPActorCritic:
    torch.manual_seed(seed)
    env = gym.make_vec(
        ENV_ID,
        num_envs=PPOConfig.preset_num_envs(preset),
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode(autoreset)},
    )
    policy = MLPActorCritic.for_spaces(env.single_observation_space, env.single_action_space)
    PPO(policy, env, PPOConfig.preset(preset, seed=seed, total_steps=steps)).learn()
    env.close()
    return policy


def run_sb3(seed: int, steps: int, episodes: int) -> Any:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(initial: float) -> Callable[[float], float]:
        return lambda progress_remaining: progress_remaining * initial  # rl-zoo's schedule

    def train() -> Any:
        env = make_vec_env(ENV_ID, n_envs=PPOConfig.preset_num_envs("sb3_cartpole"), seed=seed)
        model = SB3PPO(
            "MlpPolicy",
            env,
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=linear(1e-3),
            clip_range=linear(0.2),
            seed=seed,
            device="cpu",
            verbose=0,
        )
        model.learn(total_timesteps=steps)
        env.close()
        return model

    measured = H.measure(train)
    model = measured.value

    def act(obs: np.ndarray) -> int:
        return int(model.predict(obs, deterministic=True)[0])

    return H.Timed(measured.wall_s, measured.cpu_s, greedy_return(act, episodes, EVAL_SEED))


def run_cleanrl(python: Path, seed: int, steps: int, episodes: int, threads: int) -> Any:
    """CleanRL's ppo.py in its own venv; the times are the ones measured in there."""
    command = [str(python), str(CLEANRL_RUNNER), "--seed", str(seed), "--steps", str(steps)]
    command += ["--eval-episodes", str(episodes), "--eval-seed", str(EVAL_SEED)]
    command += ["--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"CleanRL run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return H.Timed(result["wall_s"], result["cpu_s"], result["greedy_return"])


def sb3_version() -> str | None:
    if importlib.util.find_spec("stable_baselines3") is None:
        return None
    import stable_baselines3

    return str(stable_baselines3.__version__)


def cleanrl_version(python: Path) -> str | None:
    if not python.exists():
        return None
    code = "from importlib.metadata import version; print(version('cleanrl'), version('gym'))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip().replace(" ", ", gym ") if done.returncode == 0 else None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; round r uses seed r")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every system")
    parser.add_argument(
        "--systems",
        default=",".join(LABELS),
        help=f"comma-separated subset of {', '.join(LABELS)}",
    )
    parser.add_argument(
        "--cleanrl-python",
        type=Path,
        default=DEFAULT_CLEANRL_PYTHON,
        help="python of CleanRL's venv (made by benchmarks/cleanrl_env.sh)",
    )
    parser.add_argument("--out-dir", default="", help="write cartpole.md and cartpole.json here")
    args = parser.parse_args(argv)
    unknown = set(args.systems.split(",")) - set(LABELS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(LABELS)}")
    return args


def available_systems(args: argparse.Namespace) -> tuple[dict[str, Callable[[int], Any]], dict]:
    """The runnable systems (name -> run of round r) and the skipped ones with why."""
    steps, episodes = args.steps, args.eval_episodes
    cleanrl_steps = max(CLEANRL_BATCH, steps // CLEANRL_BATCH * CLEANRL_BATCH)
    makers: dict[str, Callable[[int], Any]] = {
        "glam_ppo": lambda r: run_glam_ppo(r, steps, "sb3_cartpole", "SameStep", episodes),
        "sb3": lambda r: run_sb3(r, steps, episodes),
        "glam_ppo_next_step": lambda r: run_glam_ppo(
            r, steps, "sb3_cartpole", "NextStep", episodes
        ),
        "glam_ppo_cleanrl": lambda r: run_glam_ppo(
            r, cleanrl_steps, "cleanrl", "SameStep", episodes
        ),
        "cleanrl": lambda r: run_cleanrl(
            args.cleanrl_python, r, cleanrl_steps, episodes, args.threads
        ),
    }
    skipped: dict[str, str] = {}
    if sb3_version() is None:
        skipped["sb3"] = "stable-baselines3 is not installed in this environment"
    if cleanrl_version(args.cleanrl_python) is None:
        skipped["cleanrl"] = (
            f"no CleanRL environment at {args.cleanrl_python} "
            "(create it with `bash benchmarks/cleanrl_env.sh`)"
        )
    wanted = args.systems.split(",")
    systems = {n: makers[n] for n in wanted if n not in skipped}
    return systems, {n: why for n, why in skipped.items() if n in wanted}


def report(
    args: argparse.Namespace,
    results: dict[str, list[Any]],
    skipped: dict[str, str],
    provenance: Any,
) -> tuple[str, dict[str, Any]]:
    """The Markdown tables and the JSON record of every round."""
    cleanrl_steps = max(CLEANRL_BATCH, args.steps // CLEANRL_BATCH * CLEANRL_BATCH)
    rows = []
    for name, runs in results.items():
        returns = [run.value for run in runs]
        steps = cleanrl_steps if name in ("glam_ppo_cleanrl", "cleanrl") else args.steps
        rows.append(
            [
                LABELS[name],
                f"{steps:,}",
                H.Spread.of(H.walls(runs)).format(".1f"),
                H.Spread.of(H.cpus(runs)).format(".1f"),
                " / ".join(f"{x:.1f}" for x in returns),
            ]
        )
    lines = [
        f"CartPole-v1, {args.rounds} interleaved round(s) (round r: seed r), "
        f"{args.eval_episodes} greedy episodes per run.",
        "",
        provenance.markdown(),
        "",
        H.markdown_table(
            [
                "system",
                "env steps",
                "wall s, median [range]",
                "CPU s, median [range]",
                "greedy return per seed",
            ],
            rows,
        ),
        "",
    ]
    ratios: dict[str, Any] = {}
    ratio_rows = []
    for title, glam, baseline in PAIRS:
        if glam in results and baseline in results:
            ratio = H.Ratio.paired(H.walls(results[glam]), H.walls(results[baseline]))
            cpu_ratio = H.Ratio.paired(H.cpus(results[glam]), H.cpus(results[baseline]))
            ratios[title] = {"wall": ratio.to_json(), "cpu": cpu_ratio.to_json()}
            ratio_rows.append([title, f"{glam} / {baseline}", ratio.headline(), cpu_ratio.format()])
    if ratio_rows:
        lines += [
            H.markdown_table(
                ["comparison", "time ratio", "wall, per-round median [range]", "CPU"],
                ratio_rows,
            ),
            "",
        ]
    for name, why in skipped.items():
        lines.append(f"- {LABELS[name]}: not run, {why}.")
    data = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "provenance": provenance.to_json(),
        "runs": {
            name: [
                {"seed": r, "wall_s": t.wall_s, "cpu_s": t.cpu_s, "greedy_return": t.value}
                for r, t in enumerate(runs)
            ]
            for name, runs in results.items()
        },
        "ratios": ratios,
        "skipped": skipped,
        "headlines": headlines(results, ratios),
    }
    return "\n".join(lines), data


def headlines(results: dict[str, list[Any]], ratios: dict[str, Any]) -> list[str]:
    """One-line results for the top README's table of measured figures."""
    out = []
    for title, glam, baseline in PAIRS:
        if title not in ratios:
            continue
        ratio = H.Ratio(tuple(ratios[title]["wall"]["per_round"]))
        returns = ", ".join(f"{x:.0f}" for x in (r.value for r in results[glam]))
        base_returns = ", ".join(f"{x:.0f}" for x in (r.value for r in results[baseline]))
        out.append(
            f"PPO on CartPole-v1, {title}, glam_ppo vs {SHORT[baseline]}: wall-clock ratio "
            f"{ratio.headline()}; greedy returns per seed {returns} vs {base_returns}"
        )
    if "glam_ppo_next_step" in results:
        returns = ", ".join(f"{r.value:.0f}" for r in results["glam_ppo_next_step"])
        out.append(
            f"PPO on CartPole-v1, glam_ppo with NEXT_STEP autoreset: greedy returns per seed "
            f"{returns}"
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    H.set_threads(args.threads)
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # one-time torch imports, untimed
    systems, skipped = available_systems(args)
    versions = {"gymnasium": gym.__version__}
    if sb3_version():
        versions["SB3"] = str(sb3_version())
    if "cleanrl" in systems:
        versions["CleanRL"] = str(cleanrl_version(args.cleanrl_python))
    machine = H.Machine.current(args.threads, **versions)
    provenance = H.Provenance.start(H.command_line(__file__, argv), machine)
    print(f"machine: {machine.describe()}")
    print(f"load average before: {H.format_load(provenance.load_before)}")
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")

    def progress(r: int, name: str, timed: Any) -> None:
        print(
            f"round {r} (seed {r}) {name}: {timed.wall_s:.1f} s wall, {timed.cpu_s:.1f} s CPU, "
            f"greedy return {timed.value:.1f}",
            flush=True,
        )

    results = H.interleave(systems, args.rounds, on_result=progress)
    provenance.finish()
    markdown, data = report(args, results, skipped, provenance)
    print()
    print(markdown)
    if args.out_dir:
        print(f"wrote {H.write_report(args.out_dir, 'cartpole', markdown, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

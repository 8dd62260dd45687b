"""`glam train` under torchrun: 2 gloo ranks on the CPU, launched as a user would.

One run directory written by rank 0 alone, global step counts, identical replicas,
the same update as one process on the same transitions, exact resume, the refusal
of another world size, one message for an error every rank meets, and a dead rank
that ends the launch instead of hanging it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from glam_apps.runs.rundir import RunDir, read_jsonl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed"),
]

#: The tiny run (conftest.TINY_RUN) on 2 ranks: 1 env each, one whole-batch minibatch
#: per epoch (8 global = 4 per rank), an update every 8 global env steps.
TWO_RANKS: tuple[str, ...] = (
    "run.num_envs=2",
    "ppo.minibatch_size=8",
    "run.eval_every=1000000",
    "run.eval_baselines=[]",
)
STEPS_PER_UPDATE = 8


def _torchrun_command(args: list[str], nproc: int = 2) -> list[str]:
    module = ["-m", "glam_apps", *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*launcher, "--nproc_per_node", str(nproc), *module]


#: The ranks' environment: one thread each, gloo over the loopback interface.
RANK_ENV = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def _torchrun(
    args: list[str], *, nproc: int = 2, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _torchrun_command(args, nproc),
        env={**os.environ, **RANK_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _model(run: Path, iteration: int) -> dict[str, torch.Tensor]:
    return load_file(
        str(run / "checkpoints" / "periodic" / f"iteration_{iteration:06d}" / "model.safetensors")
    )


def _state(run: Path, iteration: int) -> dict[str, object]:
    import json

    path = run / "checkpoints" / "periodic" / f"iteration_{iteration:06d}" / "state.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def straight_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_args: Callable[..., list[str]]
) -> Path:
    """A 2-rank run of 2 updates, checkpointed after each."""
    run = tmp_path_factory.mktemp("torchrun") / "straight"
    args = ["train", *tiny_args(*TWO_RANKS), "--steps", str(2 * STEPS_PER_UPDATE)]
    _ok(_torchrun([*args, "--run-dir", str(run), "--no-progress"]))
    return run


def test_rank_zero_alone_writes_one_run_with_global_counts(straight_run: Path) -> None:
    records = read_jsonl(straight_run / "metrics.jsonl")
    assert [r["global_step"] for r in records] == [STEPS_PER_UPDATE, 2 * STEPS_PER_UPDATE]
    assert [r["iteration"] for r in records] == [1, 2]
    status = RunDir.at(straight_run).read_status()
    assert status["status"] == "finished"
    assert status["global_step"] == 2 * STEPS_PER_UPDATE
    assert status["world_size"] == 2
    for iteration in (1, 2):
        state = _state(straight_run, iteration)
        assert state["world_size"] == 2
        assert state["global_step"] == iteration * STEPS_PER_UPDATE
        assert state["replicas_identical"] is True
    # One final evaluation, one final policy: nothing written twice or by rank 1.
    assert len(list((straight_run / "eval").glob("final.json"))) == 1
    leftovers = [p.name for p in straight_run.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_two_ranks_update_as_one_process_on_the_same_transitions(
    straight_run: Path, tiny_args: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay both ranks' first rollouts in this process, update once on their union."""
    from glam_apps.config.loading import compose
    from glam_apps.config.schema import TrainConfig
    from glam_apps.games.envs import make_game_vector_env
    from glam_apps.models.policies import build_policy
    from glam_apps.training.distributed import Launch
    from glam_apps.training.train import StopFlag, TrainHooks, _Session
    from glam_ppo import PPO, ppo_update
    from glam_ppo import trainer as trainer_module
    from glam_ppo.buffer import Batch
    from glam_ppo.distributed import DistributedContext
    from glam_ppo.optim import build_optimizer

    config = compose(TrainConfig, path=straight_run / "config.yaml")
    torch.manual_seed(config.run.seed)
    policy = build_policy(config)
    batches = []
    ppo_config = None
    for rank in (0, 1):

        class RankOfTwo(DistributedContext):
            """Rank ``rank`` of 2 for the seeds, with no process group (no collectives)."""

            def __init__(self, rank: int = rank) -> None:
                super().__init__()
                self.enabled, self.rank, self.world_size = False, rank, 2

        monkeypatch.setattr(trainer_module, "DistributedContext", RankOfTwo)
        session = _Session(
            config, RunDir.at(straight_run), TrainHooks(), StopFlag(), Launch(rank, 2, 0)
        )
        ppo_config = session.ppo_config()
        env = make_game_vector_env(config.env, num_envs=session.per_rank()[0])
        trainer = PPO(policy, env, ppo_config)
        batch, _ = trainer.collect_rollout()
        batches.append(batch)
        env.close()
    assert ppo_config is not None
    union = Batch.concatenate(batches)
    single = ppo_config.model_copy(update={"minibatch_size": config.ppo.minibatch_size})
    groups = policy.param_groups(config.ppo.learning_rate, config.run.head_learning_rate)
    optimizer = build_optimizer(policy.parameters(), single, groups)
    ppo_update(policy, optimizer, union, single, single.clip_coef, np.random.default_rng(0), None)
    expected = _model(straight_run, 1)
    compared = 0
    for name, tensor in policy.state_dict().items():
        if name in expected:
            torch.testing.assert_close(tensor, expected[name], rtol=1e-5, atol=1e-6, msg=name)
            compared += 1
    assert compared == len(expected)


def test_resume_of_a_two_rank_run_is_exact(
    straight_run: Path, tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    run = tmp_path / "stopped"
    args = ["train", *tiny_args(*TWO_RANKS), "--steps", str(STEPS_PER_UPDATE)]
    _ok(_torchrun([*args, "--run-dir", str(run), "--no-progress"]))
    assert RunDir.at(run).read_status()["global_step"] == STEPS_PER_UPDATE

    # Another world size is refused with one line, before anything is built.
    refused = glam(
        "train", "--resume", str(run), "--set", f"run.total_steps={2 * STEPS_PER_UPDATE}"
    )
    assert refused.code == 2
    assert "trained with 2 rank(s) and this launch has 1" in refused.stderr
    assert "Traceback" not in refused.stderr

    more = ["train", "--resume", str(run), "--set", f"run.total_steps={2 * STEPS_PER_UPDATE}"]
    _ok(_torchrun([*more, "--no-progress"]))
    resumed, straight = _model(run, 2), _model(straight_run, 2)
    assert resumed.keys() == straight.keys()
    for name in straight:
        assert torch.equal(resumed[name], straight[name]), name


def test_fsdp_run_resumes_and_matches_data_parallel(
    straight_run: Path, tmp_path: Path, tiny_args: Callable[..., list[str]], glam: Callable
) -> None:
    """FSDP over 2 ranks: the same training as data parallel, resumable, loadable in one."""
    run = tmp_path / "fsdp"
    sharded = tiny_args(*TWO_RANKS, "distributed.strategy=fsdp")
    first = ["train", *sharded, "--steps", str(STEPS_PER_UPDATE), "--run-dir", str(run)]
    _ok(_torchrun([*first, "--no-progress"]))
    more = ["train", "--resume", str(run), "--set", f"run.total_steps={2 * STEPS_PER_UPDATE}"]
    result = _torchrun([*more, "--no-progress"])
    _ok(result)
    assert "returned a view tensor" not in result.stderr
    fsdp, data_parallel = _model(run, 2), _model(straight_run, 2)
    assert fsdp.keys() == data_parallel.keys()
    for name in data_parallel:
        torch.testing.assert_close(fsdp[name], data_parallel[name], rtol=1e-5, atol=1e-6)
    # The policy written by the sharded run is whole: one CPU process evaluates it.
    evaluated = glam("evaluate", str(run), "--suite", "level", "--episodes", "2", "--device", "cpu")
    assert evaluated.code == 0, evaluated.stderr


def test_an_error_all_ranks_meet_is_reported_once(straight_run: Path) -> None:
    result = _torchrun(["train", "--run-dir", str(straight_run), "--no-progress"])
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.count("already holds a run") == 1, output
    assert "rank 0: error:" in output
    # torchrun's own summary has a traceback of the launcher; the ranks print none.
    assert "src/glam_apps" not in output and "site-packages/glam_apps" not in output


def test_a_diverged_two_rank_run_is_reported_once_and_marked_failed(
    tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    """Learning rates of 1e38 make the second update's loss NaN on every rank."""
    run = tmp_path / "diverged"
    args = tiny_args(*TWO_RANKS, "ppo.learning_rate=1e38", "run.head_learning_rate=1e38")
    result = _torchrun(["train", *args, "--steps", "32", "--run-dir", str(run), "--no-progress"])
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "exitcode  : 3" in output  # each rank exits with the diverged code
    assert output.count("training diverged in update") == 1, output
    assert "rank 0: error: training diverged" in output
    assert "src/glam_apps" not in output and "site-packages/glam_apps" not in output
    status = RunDir.at(run).read_status()
    assert status["status"] == "failed"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _rank_of(pid: int) -> int | None:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"RANK="):
            return int(item[5:])
    return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the rank's process")
def test_a_dead_rank_ends_the_launch_naming_it(
    tmp_path: Path, tiny_args: Callable[..., list[str]]
) -> None:
    run = tmp_path / "killed"
    args = [*tiny_args(*TWO_RANKS), "--steps", str(10_000 * STEPS_PER_UPDATE)]
    command = _torchrun_command(["train", *args, "--run-dir", str(run), "--no-progress"])
    env = {**os.environ, **RANK_ENV}
    launcher = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while not read_jsonl(run / "metrics.jsonl"):  # training has started
            assert launcher.poll() is None, launcher.communicate()[0]
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.5)
        victims = [pid for pid in _children(launcher.pid) if _rank_of(pid) == 1]
        assert victims, "rank 1's process not found"
        os.kill(victims[0], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=120)  # not a hang
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
    assert launcher.returncode != 0
    assert "rank" in output and "1" in output
    assert "Signal 9 (SIGKILL) received by PID" in output or "exitcode  : -9" in output, output

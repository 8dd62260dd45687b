"""Study files: the packaged studies, the cells they expand to, and every refused input
(one line naming the key, the value and what is allowed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from glam_apps.errors import ConfigError, UserError
from glam_apps.runs.rundir import RunDir, RunLock
from glam_apps.study.config import KINDS, StudyConfig, load_study, packaged_study_names
from glam_apps.study.plan import RECIPES, plan_study
from glam_apps.study.runner import (
    check_study_folder,
    run_study,
    thread_share,
    visible_gpus,
    worker_env,
)
from glam_env import PAPER_ACTIONS

#: The agent kinds issue 12 asks every study machinery to know.
REQUIRED = {"glam", "glam-scratch", "npae", "symbolic-ppo", "drrn", "bc", "bc+ppo", "random", "bot"}


def _study(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tiny",
        "levels": ["GoToLocal"],
        "seeds": [0, 1],
        "steps": 64,
        "agents": {"glam": None, "random": None},
    }
    data.update(changes)
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _error(tmp_path: Path, **changes: Any) -> str:
    with pytest.raises(ConfigError) as error:
        plan_study(load_study(_write(tmp_path, _study(**changes))), tmp_path / "out")
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# ---------------------------------------------------------------------- packaged studies


def test_packaged_studies_load_and_plan(tmp_path: Path) -> None:
    assert {"smoke", "quickstart", "laptop", "paper"} <= set(packaged_study_names())
    for name in packaged_study_names():  # every packaged study is valid and plans
        assert plan_study(load_study(name), tmp_path / name).cells
    smoke = plan_study(load_study("smoke"), tmp_path / "smoke")
    assert {cell.kind for cell in smoke.cells} >= REQUIRED
    assert len(smoke.study.seeds) >= 2
    paper = load_study("paper")
    assert paper.levels == ["MixedTrainLocal"] and paper.steps == 1_500_000
    assert len(paper.seeds) == 2 and set(paper.agents) >= REQUIRED
    laptop = load_study("laptop")
    assert set(laptop.agents) >= REQUIRED
    # The study docs/results.md reports: 3 seeds or more per agent, GoToLocal, its budget.
    assert laptop.levels == ["GoToLocal"] and len(laptop.seeds) >= 3 and laptop.steps == 51_200
    text = Path(str(Path(__file__).parents[1] / "src/glam_apps/studies/laptop.yaml")).read_text()
    assert "docs/results.md" in text


def test_every_kind_has_a_recipe() -> None:
    assert tuple(RECIPES) == KINDS
    assert {RECIPES[k].role for k in KINDS} == {"trained", "cloned", "evaluated"}


def test_cells_and_their_resolved_configs(tmp_path: Path) -> None:
    study = StudyConfig.model_validate(
        _study(
            levels=["GoToLocal", "BabyAI-Text/MixedTrainLocal-v0"],
            agents={k: None for k in KINDS},
            set={"run.eval_episodes": 7},
        )
    )
    assert study.levels == ["GoToLocal", "MixedTrainLocal"]  # canonical names
    plan = plan_study(study, tmp_path / "s")
    cells = {cell.key: cell for cell in plan.cells}
    # Agents that do not learn: one cell per level, first; then seed by seed.
    assert [c.key for c in plan.cells[:2]] == ["random/GoToLocal", "random/MixedTrainLocal"]
    assert plan.cells[6].key == "glam/GoToLocal/seed-0" and plan.cells[-1].seed == 1
    assert len(plan.cells) == 3 * 2 + 7 * 2 * 2
    glam = cells["glam/MixedTrainLocal/seed-1"].config
    assert (glam.env.level, glam.run.seed, glam.run.total_steps) == ("MixedTrainLocal", 1, 64)
    assert glam.run.run_dir == tmp_path / "s" / "runs" / "glam" / "MixedTrainLocal" / "seed-1"
    assert glam.run.eval_episodes == 7 and glam.policy.pretrained is True
    assert cells["glam-scratch/GoToLocal/seed-0"].config.policy.pretrained is False
    npae = cells["npae/GoToLocal/seed-0"].config.policy
    assert npae.head == "action_heads" and npae.pretrained is False
    assert npae.actions == list(PAPER_ACTIONS)
    symbolic = cells["symbolic-ppo/GoToLocal/seed-0"].config
    assert symbolic.agent == "symbolic-ppo" and symbolic.env.observation == "both"
    assert symbolic.run.eval_episodes == 7  # the study's set reaches every agent
    assert cells["drrn/GoToLocal/seed-0"].config.agent == "drrn"
    assert cells["bc+ppo/GoToLocal/seed-0"].config.bc.episodes == 100
    assert cells["bc/GoToLocal/seed-0"].role == "cloned"
    assert cells["bot/GoToLocal"].seed is None and cells["bot/GoToLocal"].role == "evaluated"


def test_agent_set_wins_over_the_study_set_and_config_paths_are_relative(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("run:\n  eval_episodes: 3\nppo:\n  num_epochs: 3\n")
    data = _study(
        set={"ppo.num_epochs": 2},
        agents={"fast": {"kind": "glam", "config": "mine.yaml", "set": {"ppo.num_epochs": 1}},
                "slow": {"kind": "glam", "config": "mine.yaml"}},
    )  # fmt: skip
    study = load_study(_write(tmp_path, data))
    assert study.agents["fast"].config == str((tmp_path / "mine.yaml").resolve())
    plan = plan_study(study, tmp_path / "out")
    configs = {cell.agent: cell.config for cell in plan.cells}
    assert configs["fast"].ppo.num_epochs == 1 and configs["slow"].ppo.num_epochs == 2
    assert configs["fast"].run.eval_episodes == 3


def test_agents_as_a_list(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, _study(agents=["glam", "bot"])))
    assert list(study.agents) == ["glam", "bot"] and study.kind_of("bot") == "bot"


# ---------------------------------------------------------------------- refused input


def test_unknown_agent_kind(tmp_path: Path) -> None:
    message = _error(tmp_path, agents={"mine": {"kind": "glamm"}})
    assert "unknown agent kind 'glamm'" in message and "did you mean glam" in message
    message = _error(tmp_path, agents={"my-agent": None})
    assert "agents.my-agent" in message and "Kinds: glam" in message


def test_unknown_level_names_close_matches(tmp_path: Path) -> None:
    message = _error(tmp_path, levels=["GoToLocl"])
    assert "levels" in message and "unknown level 'GoToLocl'" in message
    assert "Did you mean" in message and "GoToLocal" in message and len(message) < 700


def test_empty_or_repeated_seeds(tmp_path: Path) -> None:
    assert "give at least one seed" in _error(tmp_path, seeds=[])
    assert "seeds repeated: 1" in _error(tmp_path, seeds=[1, 1])


def test_unknown_keys(tmp_path: Path) -> None:
    assert "unknown config key 'stepz'; did you mean 'steps'?" in _error(tmp_path, stepz=3)
    message = _error(tmp_path, agents={"glam": {"sett": {}}})
    assert "'agents.glam.sett'" in message and "'agents.glam.set'" in message
    message = _error(tmp_path, set={"ppo.lerning_rate": 1e-4})
    assert "(random), level GoToLocal: unknown config key" in message
    assert "ppo.learning_rate" in message


def test_keys_the_study_sets(tmp_path: Path) -> None:
    message = _error(tmp_path, set={"env.level": "GoToObj"})
    assert "env.level is set by the study; use levels" in message
    message = _error(tmp_path, agents={"glam": {"set": {"run": {"seed": 3}}}})
    assert "run.seed is set by the study; use seeds" in message


def test_cloning_needs_episodes(tmp_path: Path) -> None:
    message = _error(tmp_path, agents={"bc": {"set": {"bc.episodes": 0}}})
    assert "bc clones the bot: set bc.episodes > 0" in message


def test_a_missing_study_or_train_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"study not found: nosuch\.yaml .*packaged study: "):
        load_study("nosuch.yaml")
    message = _error(tmp_path, agents={"glam": {"config": "missing.yaml"}})
    assert "agents.glam.config: train config not found: missing.yaml" in message


def test_only_names_agents_of_the_study(tmp_path: Path) -> None:
    plan = plan_study(StudyConfig.model_validate(_study()), tmp_path / "s")
    assert {c.agent for c in plan.select(["random"])} == {"random"}
    with pytest.raises(UserError, match=r"--only glamm: no such agent .*did you mean glam"):
        plan.select(["glamm"])


# ---------------------------------------------------------------------- study folder


def test_a_folder_holds_one_study_that_may_only_grow(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    study = StudyConfig.model_validate(_study())
    assert check_study_folder(root, study) is None
    (root / "study.yaml").write_text(yaml.safe_dump(study.to_yaml_dict()))
    assert check_study_folder(root, study) == study
    grown = StudyConfig.model_validate(
        _study(seeds=[0, 1, 2], levels=["GoToLocal", "GoToObj"], agents=["glam", "random", "bot"])
    )
    assert check_study_folder(root, grown) == study
    for changes, named in (
        ({"steps": 128}, "steps"),
        ({"seeds": [0]}, "seeds (removed 1)"),
        ({"agents": ["glam"]}, "agents (removed random)"),
        ({"agents": {"glam": {"set": {"ppo.num_epochs": 1}}, "random": None}}, "agents.glam"),
    ):
        with pytest.raises(UserError) as error:
            check_study_folder(root, StudyConfig.model_validate(_study(**changes)))
        assert f"differs in {named}:" in str(error.value) and "only new" in str(error.value)


def test_a_folder_that_is_not_a_study_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not a study folder"):
        check_study_folder(tmp_path, StudyConfig.model_validate(_study()))


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = run_study(StudyConfig.model_validate(_study()), tmp_path / "s", dry_run=True)
    assert not (tmp_path / "s").exists()
    assert {c.state for c in result.cells} == {"new"} and len(result.cells) == 1 + 2
    assert result.ran == [] and result.dry_run


def test_one_study_process_per_folder(tmp_path: Path) -> None:
    root = tmp_path / "s"
    with (
        RunLock(RunDir(root)),
        pytest.raises(UserError, match=r"study folder .* is in use by another process"),
    ):
        run_study(StudyConfig.model_validate(_study()), root)


def test_threads_split_between_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [thread_share(jobs, cores=8) for jobs in (1, 2, 3, 16)] == [8, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_share(1, cores=8) == 2


def test_each_job_slot_gets_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    gpus = visible_gpus()
    assert gpus == ["2", "5"]
    assert [worker_env(4, slot, gpus)["CUDA_VISIBLE_DEVICES"] for slot in range(3)] == [
        "2",
        "5",
        "2",
    ]
    assert worker_env(4, 1, gpus)["OMP_NUM_THREADS"] == "4"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    assert worker_env(1, 1, visible_gpus())["CUDA_VISIBLE_DEVICES"] == "7"  # one GPU: shared


def test_cli_errors_are_one_line(run_glam: Callable[..., tuple[int, str, str]], tmp_path) -> None:
    code, _, err = run_glam("study", str(_write(tmp_path, _study(seeds=[]))), "--dry-run")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "give at least one seed" in lines[0], err
    code, _, err = run_glam("study", "smoke", "--only", "nobody", "--dry-run", "--out",
                            str(tmp_path / "x"))  # fmt: skip
    assert code == 2 and "--only nobody: no such agent" in err and "Traceback" not in err


def test_cli_dry_run_lists_the_cells(
    run_glam: Callable[..., tuple[int, str, str]], tmp_path
) -> None:
    code, out, err = run_glam("study", "smoke", "--dry-run", "--out", str(tmp_path / "x"))
    assert code == 0, err
    assert "glam/GoToRedBallNoDists/seed-1" in out and "dry run" in out
    assert not (tmp_path / "x").exists()

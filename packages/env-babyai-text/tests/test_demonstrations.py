"""Expert demonstrations: collected through the agent's own env stack, written atomically,
read back with every bad line named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glam_env import BabyAITextConfig, make_env
from glam_env.demonstrations import (
    FORMAT,
    FORMAT_VERSION,
    DemonstrationFormatError,
    collect_demonstrations,
    read_demonstrations,
)

CONFIG = BabyAITextConfig(level="GoToLocal", history_length=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "gotolocal.jsonl"
    collect_demonstrations(CONFIG, 6, 10, path)
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_header_and_steps_round_trip(dataset: Path) -> None:
    demos = read_demonstrations(dataset)
    header = demos.header
    assert (header.format, header.version, header.level) == (FORMAT, FORMAT_VERSION, "GoToLocal")
    assert header.env_config() == CONFIG
    assert header.seed == 10 and header.episodes_played == 6
    assert header.episodes + header.skipped == 6
    assert header.episode_seeds == [
        10 + i for i in range(6) if 10 + i not in {s.seed for s in header.skipped_episodes}
    ]
    assert len(demos) == header.steps == len(_lines(dataset)) - 1
    episodes = list(demos.episodes())
    assert len(episodes) == header.episodes
    for index, episode in enumerate(episodes):
        assert [s["step"] for s in episode] == list(range(len(episode)))
        assert {s["episode"] for s in episode} == {index}
        assert episode[-1]["done"] and episode[-1]["success"] and episode[-1]["reward"] > 0
        assert not any(s["done"] for s in episode[:-1])


def test_observations_are_exactly_what_the_agent_sees(dataset: Path) -> None:
    """Replaying the expert's actions from each seed gives the recorded observation dicts."""
    demos = read_demonstrations(dataset)
    env = make_env(CONFIG)
    for episode in demos.episodes():
        obs, _ = env.reset(seed=episode[0]["seed"])
        for step in episode:
            assert step["observation"] == obs  # tuples of strings, like the env's
            assert step["admissible_actions"] == obs["admissible_actions"]
            assert step["action_text"] == obs["admissible_actions"][step["action"]]
            obs, reward, *_ = env.step(step["action"])
            assert reward == step["reward"]
    first = demos.steps[0]["observation"]
    assert set(first) == {
        "mission",
        "observation",
        "admissible_actions",
        "observation_history",
        "action_history",
    }
    assert first["action_history"] == () and len(first["observation_history"]) == 1


def test_same_seed_same_bytes_other_seed_other_episodes(tmp_path: Path, dataset: Path) -> None:
    again = tmp_path / "again.jsonl"
    collect_demonstrations(CONFIG, 6, 10, again)
    assert again.read_bytes() == dataset.read_bytes()
    other = tmp_path / "other.jsonl"
    collect_demonstrations(CONFIG, 6, 11, other)
    assert other.read_bytes() != dataset.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.jsonl", "other.jsonl"]


def test_unsolved_episodes_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "short.jsonl"
    header = collect_demonstrations({"level": "GoToLocal", "max_steps": 3}, 8, 0, path)
    assert header.skipped > 0 and header.episodes + header.skipped == 8
    assert all(s.reason == "time limit reached" for s in header.skipped_episodes)
    demos = read_demonstrations(path)
    assert demos.header == header
    assert {s["seed"] for s in demos.steps} == set(header.episode_seeds)
    assert all(s["step"] < 3 for s in demos.steps)


def test_bot_failures_are_skipped_with_the_bots_reason(tmp_path: Path) -> None:
    path = tmp_path / "move3.jsonl"
    config = {"level": "MixedTrainLocal", "actions": "move3", "family_weights": {"pick_up": 1.0}}
    header = collect_demonstrations(config, 2, 0, path)
    assert header.episodes == 0 and header.steps == 0 and header.skipped == 2
    assert "'pickup'" in header.skipped_episodes[0].reason
    assert len(read_demonstrations(path)) == 0


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        collect_demonstrations(CONFIG, 1, 0, path)

    import glam_env.demonstrations as module

    def broken(*args: Any) -> Any:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(module, "_play", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        collect_demonstrations(CONFIG, 2, 0, path, overwrite=True)
    assert path.read_text(encoding="utf-8") == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.jsonl"]
    monkeypatch.undo()
    collect_demonstrations(CONFIG, 1, 0, path, overwrite=True)
    assert len(read_demonstrations(path)) > 0


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_episode_counts_are_refused(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="num_episodes"):
        collect_demonstrations(CONFIG, bad, 0, tmp_path / "d.jsonl")


def _set(record: dict[str, Any], key: str, value: Any) -> None:
    target = record
    *parents, last = key.split(".")
    for part in parents:
        target = target[part]
    target[last] = value


@pytest.mark.parametrize(
    ("line", "key", "value", "message"),
    [
        (2, "action", 9, "action 9 is not an index"),
        (2, "action", "2", "action: Input should be a valid integer"),
        (2, "action", True, "action: Input should be a valid integer"),
        (2, "action_text", "jump", "action_text 'jump' is not admissible action"),
        (2, "observation.mission", 3, "observation.mission: Input should be a valid string"),
        (2, "observation.secret", "x", "observation.secret: Extra inputs are not permitted"),
        (2, "done", "yes", "done: Input should be a valid boolean"),
        (2, "step", 4, "expected step 0 of episode 0"),
        (3, "episode", 50, "episode 50 is not one of the header's"),
        (3, "seed", 999, "seed 999 is not the header's seed"),
        (1, "version", 99, "format version 99 is not supported"),
        (1, "format", "pickle", "format 'pickle' is not a 'glam-demonstrations' dataset"),
        (1, "steps", 1000, "the header announces 1000 steps"),
        (1, "episodes", 1, "the header's counts disagree"),
    ],
)
def test_a_bad_record_names_the_file_and_line(
    dataset: Path, tmp_path: Path, line: int, key: str, value: Any, message: str
) -> None:
    records = _lines(dataset)
    _set(records[line - 1], key, value)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(DemonstrationFormatError, match=message) as error:
        read_demonstrations(bad)
    if key != "steps":  # a count mismatch is about the whole file
        assert str(error.value).startswith(f"{bad}, line {line}: ")
        assert error.value.line == line
    assert error.value.path == bad


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file: no header"),
        ("not json\n", "line 1: not JSON"),
        ('{"type": "step"}\n', "line 1: the first line must be the header"),
        ("[1, 2]\n", "line 1: the first line must be the header"),
    ],
)
def test_files_that_are_not_datasets(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DemonstrationFormatError, match=message):
        read_demonstrations(path)


def test_truncated_blank_and_binary_files(dataset: Path, tmp_path: Path) -> None:
    lines = dataset.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(DemonstrationFormatError, match=r"announces \d+ steps, the file holds"):
        read_demonstrations(cut)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("".join([*lines[:2], "\n", *lines[2:]]), encoding="utf-8")
    with pytest.raises(DemonstrationFormatError, match="line 3: empty line"):
        read_demonstrations(blank)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\x80\x04\x95 pickled")
    with pytest.raises(DemonstrationFormatError, match="not UTF-8"):
        read_demonstrations(binary)
    with pytest.raises(FileNotFoundError):
        read_demonstrations(tmp_path / "missing.jsonl")

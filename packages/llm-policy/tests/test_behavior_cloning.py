"""Behavioural cloning: the loss by hand, and cloning that raises the expert's probability
on held-out decisions without touching what the fine-tuning mode keeps fixed."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from glam_policy import LLMPolicy
from glam_policy.behavior_cloning import (
    BCConfig,
    BCRecord,
    behavior_cloning_loss,
    evaluate_behavior_cloning,
    split_records,
    train_behavior_cloning,
)
from glam_policy.errors import PolicyInputError

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
OBJECTS = ("ball", "box", "key")
EXPERT = {"left": 0, "right": 1, "forward": 2}
NEG_INF = float("-inf")


def synthetic_records(count: int, seed: int, steps_per_episode: int = 3) -> list[BCRecord]:
    """BabyAI-Text-shaped decisions of a simple expert: turn towards the target, else go.

    Shaped like glam_env's observation dicts with a history of 2 (this package may not
    import glam_env); the expert's action follows from the side the target is on.
    """
    rng = random.Random(seed)
    records: list[BCRecord] = []
    for index in range(count):
        color, noun = rng.choice(COLORS), rng.choice(OBJECTS)
        side = rng.choice(tuple(EXPERT))
        distance = rng.randint(1, 4)
        unit = "step" if distance == 1 else "steps"
        seen = f"You see a {color} {noun} {distance} {unit} {side}"
        wall = f"You see a wall {rng.randint(1, 5)} steps forward"
        observation = {
            "mission": f"go to the {color} {noun}",
            "observation": seen,
            "admissible_actions": ACTIONS,
            "observation_history": (wall, seen),
            "action_history": (rng.choice(ACTIONS[:3]),),
        }
        records.append(
            {
                "observation": observation,
                "action": EXPERT[side],
                "episode": index // steps_per_episode,
            }
        )
    return records


def make_policy(model_dir: Path, **overrides: Any) -> LLMPolicy:
    config = {"model": str(model_dir), "template": "compact", "value_hidden_sizes": [8]}
    return LLMPolicy.from_config({**config, **overrides})


FAST = BCConfig(epochs=3, batch_size=16, learning_rate=2e-3, validation_fraction=0.25, seed=3)


# ---------------------------------------------------------------------- loss


def test_loss_by_hand_with_masked_actions() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0, NEG_INF], [0.5, 0.5, NEG_INF, NEG_INF]])
    loss = behavior_cloning_loss(logits, [2, 1], reduction="none")
    row0 = -(3.0 - math.log(math.exp(1.0) + math.exp(2.0) + math.exp(3.0)))
    row1 = math.log(2.0)  # two equal admissible actions: probability 1/2 each
    assert loss.tolist() == pytest.approx([row0, row1], abs=1e-6)
    assert float(behavior_cloning_loss(logits, torch.tensor([2, 1]))) == pytest.approx(
        (row0 + row1) / 2, abs=1e-6
    )
    assert float(behavior_cloning_loss(logits, [2, 1], reduction="sum")) == pytest.approx(
        row0 + row1, abs=1e-6
    )


def test_loss_gradient_is_softmax_minus_one_hot_and_zero_on_masked_columns() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0, NEG_INF]], requires_grad=True)
    behavior_cloning_loss(logits, [0]).backward()
    probabilities = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), dim=0)
    expected = [*(probabilities - torch.tensor([1.0, 0.0, 0.0])).tolist(), 0.0]
    assert logits.grad is not None
    assert logits.grad[0].tolist() == pytest.approx(expected, abs=1e-6)


def test_loss_equals_cross_entropy_on_unmasked_logits() -> None:
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 3, 1, 2, 2])
    reference = torch.nn.functional.cross_entropy(logits, targets)
    assert float(behavior_cloning_loss(logits, targets)) == pytest.approx(float(reference))


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        ([3, 0], "masked"),
        ([0, 4], "outside the 4 action columns"),
        ([-1, 0], "outside"),
        ([0], "one expert index per row"),
        ([True, False], "integers"),
        ([0.0, 1.0], "integers"),
    ],
)
def test_loss_refuses_bad_indices(indices: list[Any], message: str) -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0, NEG_INF], [0.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=message):
        behavior_cloning_loss(logits, indices)


# ---------------------------------------------------------------------- records


def test_split_holds_out_whole_episodes_deterministically() -> None:
    records = synthetic_records(30, seed=0)
    train, held = split_records(records, 0.2, seed=1)
    assert len(train) + len(held) == 30
    assert len({r["episode"] for r in held}) == 2  # ceil(0.2 * 10 episodes)
    assert not {r["episode"] for r in train} & {r["episode"] for r in held}
    assert split_records(records, 0.2, seed=1) == (train, held)
    assert split_records(records, 0.0, seed=1) == (records, [])
    loose = [{k: v for k, v in r.items() if k != "episode"} for r in records]
    assert len(split_records(loose, 0.1, seed=0)[1]) == 3  # one record is one group


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"observation": {}}, "record 1 has no action"),
        ({"action": 0}, "record 1 has no observation"),
        (
            {
                "observation": {"mission": "x", "observation": "y", "admissible_actions": ["a"]},
                "action": 1,
            },
            "record 1: action 1 is not an index of the 1 admissible",
        ),
        (
            {
                "observation": {"mission": "x", "observation": "y", "admissible_actions": ["a"]},
                "action": True,
            },
            "record 1: action must be an integer",
        ),
        (
            {"observation": {"mission": "x", "admissible_actions": ["a"]}, "action": 0},
            "record 1: missing key for the observations",
        ),
    ],
)
def test_bad_records_are_named_before_training(
    tiny_decoder_dir: Path, record: dict[str, Any], message: str
) -> None:
    records = [synthetic_records(1, seed=0)[0], record]
    policy = make_policy(tiny_decoder_dir)
    with pytest.raises(PolicyInputError, match=message):
        train_behavior_cloning(policy, records, FAST, validation=[])


# ---------------------------------------------------------------------- training


def test_cloning_raises_the_expert_probability_on_held_out_decisions(
    tiny_decoder_dir: Path, tmp_path: Path
) -> None:
    policy = make_policy(tiny_decoder_dir)
    records = synthetic_records(96, seed=0)
    held_out = synthetic_records(24, seed=1)
    before = evaluate_behavior_cloning(policy, held_out)
    value_head = {n: p.clone() for n, p in policy.value_head.state_dict().items()}
    seen: list[int] = []
    result = train_behavior_cloning(
        policy, records, FAST, validation=held_out, on_epoch=lambda m: seen.append(m.epoch)
    )
    after = evaluate_behavior_cloning(policy, held_out)
    assert result.policy is policy and not policy.training
    assert seen == [1, 2, 3] and result.updates == 3 * 6
    assert result.initial == before and result.epochs[-1].validation == after
    assert after.expert_probability > before.expert_probability + 0.1
    assert after.loss < before.loss
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert result.epochs[-1].to_dict()["validation_expert_probability"] == (
        after.expert_probability
    )
    # BC gives the critic no gradient: it is left as it was.
    for name, tensor in policy.value_head.state_dict().items():
        assert torch.equal(tensor, value_head[name]), name
    # The cloned policy saves and loads with the usual serialization, unchanged.
    loaded = LLMPolicy.from_pretrained(policy.save_pretrained(tmp_path / "bc"))
    observations = [r["observation"] for r in held_out[:4]]
    with torch.no_grad():
        torch.testing.assert_close(loaded(observations)[0], policy(observations)[0])


def test_cloning_is_deterministic_and_leaves_the_global_rng_alone(tiny_decoder_dir: Path) -> None:
    records = synthetic_records(40, seed=2)
    config = FAST.model_copy(update={"epochs": 1})
    results = []
    for _ in range(2):
        policy = make_policy(tiny_decoder_dir)
        state = torch.get_rng_state()
        result = train_behavior_cloning(policy, records, config)
        assert torch.equal(torch.get_rng_state(), state)
        results.append((result, [p.detach().clone() for p in policy.lm_parameters()]))
    (first, weights_a), (second, weights_b) = results
    train, held = split_records(records, config.validation_fraction, config.seed)
    assert (first.train_size, first.validation_size) == (len(train), len(held))
    assert len({r["episode"] for r in held}) == 4  # ceil(0.25 * 14 episodes)
    assert [m.to_dict() | {"seconds": 0} for m in first.epochs] == [
        m.to_dict() | {"seconds": 0} for m in second.epochs
    ]
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b, strict=True))


def test_max_updates_stops_early(tiny_decoder_dir: Path) -> None:
    policy = make_policy(tiny_decoder_dir)
    config = FAST.model_copy(update={"max_updates": 2, "validation_fraction": 0.0})
    result = train_behavior_cloning(policy, synthetic_records(64, seed=0), config)
    assert result.updates == 2 and len(result.epochs) == 1
    assert result.initial is None and result.epochs[0].validation is None
    assert result.epochs[0].train_samples == 32


def test_lora_clones_through_the_adapters_only(tiny_decoder_dir: Path) -> None:
    policy = make_policy(tiny_decoder_dir, finetuning="lora")
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    config = FAST.model_copy(update={"max_updates": 2})
    train_behavior_cloning(policy, synthetic_records(32, seed=0), config)
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all("lora_" in n for n in moved), moved


def test_frozen_lm_trains_the_action_head_or_refuses(tiny_decoder_dir: Path) -> None:
    with pytest.raises(ValueError, match="nothing to train"):
        train_behavior_cloning(
            make_policy(tiny_decoder_dir, finetuning="frozen"), synthetic_records(8, seed=0)
        )
    policy = make_policy(
        tiny_decoder_dir,
        finetuning="frozen",
        head="action_heads",
        actions=list(ACTIONS),
        action_head_hidden_sizes=[16],
    )
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    config = FAST.model_copy(update={"max_updates": 2, "head_learning_rate": 1e-2})
    train_behavior_cloning(policy, synthetic_records(32, seed=0), config)
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved and {n.split(".")[0] for n in moved} == {"action_head"}


def test_encoder_decoder_policies_clone_too(tiny_encoder_decoder_dir: Path) -> None:
    policy = make_policy(tiny_encoder_decoder_dir)
    records = synthetic_records(32, seed=0)
    config = FAST.model_copy(update={"max_updates": 3, "validation_fraction": 0.0})
    result = train_behavior_cloning(policy, records, config, validation=records[:8])
    assert result.initial is not None and result.epochs[0].validation is not None
    assert result.epochs[0].validation.loss < result.initial.loss


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        BCConfig(validation_fraction=1.0)
    with pytest.raises(ValueError, match="unknown"):
        BCConfig.model_validate({"unknown": 1})
    assert BCConfig.model_validate({"epochs": 2}).epochs == 2

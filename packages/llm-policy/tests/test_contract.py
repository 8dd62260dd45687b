"""The policy satisfies the PPO package's policy contract by shape, without importing it.

The contract (packages/ppo/src/glam_ppo/policy.py) is copied here as a local
Protocol; when the monorepo is checked out, the copy is compared with the
original's source text so that the two cannot drift apart silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pytest
import torch

from glam_policy import LLMPolicy

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "ppo" / "src" / "glam_ppo" / "policy.py"


@runtime_checkable
class ActorCriticPolicy(Protocol):
    """Local copy of glam_ppo.policy.ActorCriticPolicy."""

    def __call__(self, observations: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...


@runtime_checkable
class ValuePredictor(Protocol):
    """Local copy of glam_ppo.policy.ValuePredictor (the optional value-only pass)."""

    def predict_values(self, observations: Sequence[Any]) -> torch.Tensor: ...


OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation": "You see a red ball 1 step left",
        "admissible_actions": ["turn left", "turn right", "go forward"],
    },
    {
        "mission": "go to the red ball",
        "observation": "You see a red ball 1 step forward",
        "admissible_actions": ["go forward"],
    },
]


@pytest.fixture(scope="module", params=["scoring", "action_heads"])
def policy(request, tiny_decoder_dir) -> LLMPolicy:
    return LLMPolicy.from_config(
        {
            "model": str(tiny_decoder_dir),
            "head": request.param,
            "actions": ["turn left", "turn right", "go forward"],
            "value_hidden_sizes": [16],
            "action_head_hidden_sizes": [16],
        }
    )


def _protocols(path: Path) -> dict[str, dict[str, list[str]]]:
    """Protocol classes of a source file: their method names and argument names."""
    protocols: dict[str, dict[str, list[str]]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "Protocol" for base in node.bases
        ):
            protocols[node.name] = {
                item.name: [a.arg for a in item.args.args]
                for item in node.body
                if isinstance(item, ast.FunctionDef)
            }
    return protocols


def test_local_copy_matches_the_ppo_contract() -> None:
    if not CONTRACT_FILE.is_file():
        pytest.skip("the ppo package's source is not next to this one")
    original = _protocols(CONTRACT_FILE)
    local = _protocols(Path(__file__))
    assert "ActorCriticPolicy" in original
    for name, methods in original.items():
        assert local.get(name) == methods, f"{name} changed in glam_ppo: update the copy"


def test_policy_is_an_actor_critic_policy(policy) -> None:
    assert isinstance(policy, ActorCriticPolicy)
    assert isinstance(policy, ValuePredictor)


def test_call_returns_masked_logits_and_values(policy) -> None:
    policy.train()
    logits, values = policy(OBSERVATIONS)
    policy.eval()
    assert isinstance(logits, torch.Tensor) and isinstance(values, torch.Tensor)
    assert logits.shape == (2, 3) and values.shape == (2,)
    assert logits.is_floating_point() and values.is_floating_point()
    assert torch.isneginf(logits[1, 1:]).all() and torch.isfinite(logits[1, 0])
    dist = torch.distributions.Categorical(logits=logits)
    chosen = dist.sample()
    assert (chosen[1] == 0).item()  # the only admissible action
    log_prob = dist.log_prob(chosen)
    assert log_prob.requires_grad and torch.isfinite(log_prob).all()
    assert policy.predict_values(OBSERVATIONS).shape == (2,)
    assert any(p.requires_grad for p in policy.parameters())

"""The tokens the paper scored with Flan-T5: prompt and action each with the tokenizer's
special tokens, so T5's ``</s>`` closes the encoder input and every candidate.

The paper-era Lamorel (flowersteam/lamorel d76c7c2, ``HF_LLM.forward``) called
``tokenizer(context)`` and ``tokenizer(candidate)`` with the default
``add_special_tokens=True``; its ``__score`` module read the decoder's predictions of
every candidate token after the pad start token, ``</s>`` included. glam gives
prompts the special tokens always and actions the ``</s>`` with ``append_eos``.
"""

from __future__ import annotations

import pytest
import torch

from glam_policy import LLMPolicy, build_prompt

OBSERVATION = {
    "mission": "pick up the blue key",
    "observation_history": (
        "You see a wall 3 steps forward, You see a blue key 1 step left",
        "You see a blue key 1 step forward",
    ),
    "action_history": ("turn left",),
    "admissible_actions": ("turn left", "turn right", "go forward", "pick up", "drop", "toggle"),
}


@pytest.fixture(scope="module")
def t5_policies(tiny_encoder_decoder_dir) -> dict[bool, LLMPolicy]:
    return {
        eos: LLMPolicy.from_config(
            {
                "model": str(tiny_encoder_decoder_dir),
                "template": "paper",
                "append_eos": eos,
                "value_hidden_sizes": [8],
            }
        )
        for eos in (False, True)
    }


def test_paper_ids_are_the_tokenizers_with_its_special_tokens(t5_policies) -> None:
    policy = t5_policies[True]
    tokenizer = policy.tokenizer
    eos = tokenizer.eos_token_id
    encoded = policy.encoder.encode([OBSERVATION])
    prompt = build_prompt("paper", OBSERVATION)
    # What the paper's Lamorel tokenized: tokenizer(text) with the default special tokens.
    assert encoded.prompt_ids[0] == tokenizer(prompt)["input_ids"]
    assert encoded.prompt_ids[0][-1] == eos
    for action, ids in zip(OBSERVATION["admissible_actions"], encoded.action_ids[0], strict=True):
        assert ids == tokenizer(action)["input_ids"]
        assert ids[-1] == eos and eos not in ids[:-1]


def test_without_append_eos_the_action_has_no_eos_but_the_prompt_keeps_it(t5_policies) -> None:
    policy = t5_policies[False]
    eos = policy.tokenizer.eos_token_id
    encoded = policy.encoder.encode([OBSERVATION])
    assert encoded.prompt_ids[0][-1] == eos
    assert all(eos not in ids for ids in encoded.action_ids[0])


def manual_t5_scores(policy: LLMPolicy, with_eos: bool) -> list[float]:
    """Sum of the decoder's log-probabilities of each action's tokens (and ``</s>``)."""
    model, tokenizer = policy.hf_model, policy.tokenizer
    prompt = torch.tensor([tokenizer(build_prompt("paper", OBSERVATION))["input_ids"]])
    start = model.config.decoder_start_token_id
    scores = []
    for action in OBSERVATION["admissible_actions"]:
        ids = tokenizer(action, add_special_tokens=with_eos)["input_ids"]
        with torch.no_grad():
            logits = model(
                input_ids=prompt, decoder_input_ids=torch.tensor([[start, *ids[:-1]]])
            ).logits[0]
        logp = torch.log_softmax(logits, -1)[torch.arange(len(ids)), torch.tensor(ids)]
        scores.append(float(logp.sum()))
    return scores


@pytest.mark.parametrize("with_eos", [False, True])
def test_scores_are_the_sum_over_the_scored_tokens(t5_policies, with_eos) -> None:
    scores = t5_policies[with_eos].score([OBSERVATION])[0]
    expected = torch.tensor(manual_t5_scores(t5_policies[with_eos], with_eos))
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=1e-6)


def test_append_eos_adds_the_log_probability_of_eos_after_the_action(t5_policies) -> None:
    """Both policies load the same weights: the difference is log p(</s> | prompt, action)."""
    plain, with_eos = t5_policies[False], t5_policies[True]
    model, tokenizer = plain.hf_model, plain.tokenizer
    prompt = torch.tensor([tokenizer(build_prompt("paper", OBSERVATION))["input_ids"]])
    start = model.config.decoder_start_token_id
    eos = tokenizer.eos_token_id
    with torch.no_grad():
        difference = with_eos.score([OBSERVATION])[0] - plain.score([OBSERVATION])[0]
    for index, action in enumerate(OBSERVATION["admissible_actions"]):
        ids = tokenizer(action, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(
                input_ids=prompt, decoder_input_ids=torch.tensor([[start, *ids]])
            ).logits[0, -1]
        eos_logp = float(torch.log_softmax(logits, -1)[eos])
        assert eos_logp < 0
        assert float(difference[index]) == pytest.approx(eos_logp, abs=1e-4)

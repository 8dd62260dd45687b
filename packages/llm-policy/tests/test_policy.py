"""LLMPolicy end to end: prompts, separate tokenization, normalisation, heads, bad inputs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from transformers.utils import logging as transformers_logging

from glam_policy import (
    LLMPolicy,
    PolicyInput,
    PolicyInputError,
    build_prompt,
    make_tiny_model_dir,
)
from glam_policy.encoding import PolicyEncoder

ACTIONS = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]
OBSERVATIONS = [
    {
        "mission": "go to the red ball",
        "observation_history": [
            "You see a wall 2 steps forward",
            "You see a red ball 1 step left and 2 steps forward",
            "You see a red ball 1 step left",
        ],
        "action_history": ["go forward", "turn left"],
        "admissible_actions": ACTIONS,
    },
    {
        "mission": "pick up the blue key",
        "observation": "You see a blue key 3 steps forward",
        "admissible_actions": ["go forward", "toggle"],
    },
    {
        "mission": "open the door",
        "observation": "You see a locked yellow door 1 step forward, You carry a yellow key",
        "admissible_actions": ["toggle", "pick up", "drop"],
    },
]


def small(model: Path | str, **fields) -> LLMPolicy:
    return LLMPolicy.from_config({"model": str(model), "value_hidden_sizes": [16], **fields})


@pytest.fixture(scope="module", params=["decoder", "encoder-decoder"])
def policy(request, tiny_decoder_dir, tiny_encoder_decoder_dir) -> LLMPolicy:
    directory = tiny_decoder_dir if request.param == "decoder" else tiny_encoder_decoder_dir
    return small(directory)


def manual_scores(policy: LLMPolicy, observation) -> list[float]:
    """Sum of log-softmax over the action's tokens, prompt and action tokenized apart."""
    model, tokenizer = policy.hf_model, policy.tokenizer
    prompt = tokenizer(build_prompt("paper", observation))["input_ids"]
    # The paper's prompt ends "Action 2: ": no space before the action, for both families.
    prefix = ""
    scores = []
    for action in observation["admissible_actions"]:
        ids = tokenizer(prefix + action, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            if policy.architecture == "decoder":
                logits = model(input_ids=torch.tensor([prompt + ids])).logits[
                    0, len(prompt) - 1 : -1
                ]
            else:
                start = model.config.decoder_start_token_id
                logits = model(
                    input_ids=torch.tensor([prompt]),
                    decoder_input_ids=torch.tensor([[start, *ids[:-1]]]),
                ).logits[0]
        logp = torch.log_softmax(logits, -1)[torch.arange(len(ids)), torch.tensor(ids)]
        scores.append(float(logp.sum()))
    return scores


def test_forward_shapes_and_masking(policy) -> None:
    logits, values = policy(OBSERVATIONS)
    assert logits.shape == (3, 6) and logits.dtype == torch.float32
    assert values.shape == (3,) and values.dtype == torch.float32
    assert torch.isfinite(logits[0]).all()
    assert torch.isinf(logits[1, 2:]).all() and torch.isfinite(logits[1, :2]).all()
    assert torch.isinf(logits[2, 3:]).all()
    probs = torch.distributions.Categorical(logits=logits).probs
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    assert (probs[1, 2:] == 0).all()


def test_scores_are_log_likelihoods_of_separately_tokenized_actions(policy) -> None:
    logits, _ = policy(OBSERVATIONS)
    for i, observation in enumerate(OBSERVATIONS):
        expected = torch.tensor(manual_scores(policy, observation))
        torch.testing.assert_close(logits[i, : len(expected)], expected, atol=1e-4, rtol=1e-6)


def test_policy_input_and_mapping_give_the_same_result(policy) -> None:
    as_inputs = [PolicyInput.from_any(o) for o in OBSERVATIONS]
    first, values_first = policy(as_inputs)
    second, values_second = policy(OBSERVATIONS)
    assert torch.equal(first, second) and torch.equal(values_first, values_second)


def test_predict_values_equals_forward_values(policy) -> None:
    _, values = policy(OBSERVATIONS)
    torch.testing.assert_close(policy.predict_values(OBSERVATIONS), values, atol=1e-6, rtol=1e-6)


def test_train_mode_gives_eval_mode_outputs(policy) -> None:
    expected, _ = policy(OBSERVATIONS)
    policy.train()
    try:
        again, _ = policy(OBSERVATIONS)
    finally:
        policy.eval()
    torch.testing.assert_close(again, expected)


def test_normalization_modes(policy) -> None:
    sums = policy.score(OBSERVATIONS, normalization="sum")
    per_token = policy.score(OBSERVATIONS, normalization="token")
    per_word = policy.score(OBSERVATIONS, normalization="word")
    for i, observation in enumerate(OBSERVATIONS):
        actions = observation["admissible_actions"]
        tokens = torch.tensor(
            [len(policy.encoder.action_ids(a)) for a in actions], dtype=torch.float
        )
        words = torch.tensor([len(a.split()) for a in actions], dtype=torch.float)
        assert sums[i].shape == (len(actions),)
        torch.testing.assert_close(per_token[i], sums[i] / tokens)
        torch.testing.assert_close(per_word[i], sums[i] / words)
    with pytest.raises(ValueError, match="unknown normalization"):
        policy.score(OBSERVATIONS, normalization="max")


def test_config_normalization_drives_forward(tiny_decoder_dir) -> None:
    base = small(tiny_decoder_dir)
    word = small(tiny_decoder_dir, normalization="word")
    logits, _ = word(OBSERVATIONS[:1])
    expected = base.score(OBSERVATIONS[:1], normalization="word")[0]
    torch.testing.assert_close(logits[0], expected)


def test_append_eos_scores_one_more_token(tiny_decoder_dir) -> None:
    plain = small(tiny_decoder_dir)
    with_eos = small(tiny_decoder_dir, append_eos=True)
    eos = with_eos.tokenizer.eos_token_id
    for action in ACTIONS:
        assert with_eos.encoder.action_ids(action) == [*plain.encoder.action_ids(action), eos]
    assert (with_eos.score(OBSERVATIONS[:1])[0] < plain.score(OBSERVATIONS[:1])[0]).all()


def test_value_gradient_reaches_the_lm_unless_detached(tiny_decoder_dir) -> None:
    for detach in (False, True):
        policy = small(tiny_decoder_dir, detach_value=detach)
        _, values = policy(OBSERVATIONS)
        values.sum().backward()
        lm_grad = policy.hf_model.get_input_embeddings().weight.grad
        assert policy.value_head.mlp[0].weight.grad is not None
        assert (lm_grad is None or not lm_grad.any()) == detach


def test_value_head_shape_follows_config(tiny_decoder_dir) -> None:
    policy = small(tiny_decoder_dir, value_hidden_sizes=[8, 4], value_activation="tanh")
    linears = [m for m in policy.value_head.mlp if isinstance(m, torch.nn.Linear)]
    assert [layer.out_features for layer in linears] == [8, 4, 1]
    assert isinstance(policy.value_head.mlp[1], torch.nn.Tanh)
    default = LLMPolicy.from_config({"model": str(tiny_decoder_dir)})
    linears = [m for m in default.value_head.mlp if isinstance(m, torch.nn.Linear)]
    assert [layer.out_features for layer in linears] == [1024, 1024, 1]  # the paper's head


@pytest.mark.parametrize("kind", ["decoder", "encoder-decoder"])
def test_action_heads(kind, tiny_decoder_dir, tiny_encoder_decoder_dir) -> None:
    directory = tiny_decoder_dir if kind == "decoder" else tiny_encoder_decoder_dir
    policy = small(directory, head="action_heads", actions=ACTIONS, action_head_hidden_sizes=[16])
    logits, values = policy(OBSERVATIONS)
    full = policy.action_head(policy.scorer([[1, 2, 3]], [[]]).hidden)  # shape check only
    assert full.shape == (1, len(ACTIONS))
    assert logits.shape == (3, 6) and values.shape == (3,)
    # Observation 2's admissible actions, in its own order, picked from the fixed list.
    encoded = policy.encoder.encode(OBSERVATIONS, with_actions=False)
    all_logits = policy.action_head(policy.scorer(encoded.prompt_ids, encoded.action_ids).hidden)
    wanted = [ACTIONS.index(a) for a in OBSERVATIONS[2]["admissible_actions"]]
    torch.testing.assert_close(logits[2, :3], all_logits[2, wanted])
    assert torch.isinf(logits[2, 3:]).all()
    bad = dict(OBSERVATIONS[1], admissible_actions=["go forward", "jump"])
    with pytest.raises(PolicyInputError, match="'jump' are not in the action heads' fixed list"):
        policy([OBSERVATIONS[0], bad])


def test_action_heads_need_actions(tiny_decoder_dir) -> None:
    with pytest.raises(ValueError, match="needs the fixed action list"):
        small(tiny_decoder_dir, head="action_heads")


def test_empty_action_list_is_a_clear_error(policy) -> None:
    bad = dict(OBSERVATIONS[1], admissible_actions=[])
    with pytest.raises(PolicyInputError, match="observation 1: admissible_actions is empty"):
        policy([OBSERVATIONS[0], bad])


def test_blank_action_is_a_clear_error(policy) -> None:
    bad = dict(OBSERVATIONS[1], admissible_actions=["go forward", "  "])
    with pytest.raises(PolicyInputError, match="observation 0: action '  ' is blank"):
        policy([bad])


def test_action_that_tokenizes_to_nothing_is_a_clear_error(tiny_tokenizer) -> None:
    class DroppingTokenizer:
        """A tokenizer that drops what it does not know, as some sentencepiece models do."""

        eos_token_id = tiny_tokenizer.eos_token_id

        def __call__(self, text, add_special_tokens=True, **kwargs):
            if "☃" in text:
                return {"input_ids": []}
            return tiny_tokenizer(text, add_special_tokens=add_special_tokens, **kwargs)

    encoder = PolicyEncoder(DroppingTokenizer(), "paper", "encoder-decoder")
    bad = dict(OBSERVATIONS[1], admissible_actions=["go forward", "☃"])
    with pytest.raises(PolicyInputError, match="observation 1: action '☃' encodes to no token"):
        encoder.encode([OBSERVATIONS[0], bad])


def test_malformed_batches_are_clear_errors(policy) -> None:
    with pytest.raises(PolicyInputError, match="batch of observations is empty"):
        policy([])
    with pytest.raises(PolicyInputError, match="got a single dict"):
        policy(OBSERVATIONS[0])
    with pytest.raises(PolicyInputError, match="observation 1: missing key for the goal"):
        policy([OBSERVATIONS[0], {"observation": "x", "admissible_actions": ["drop"]}])


def test_over_long_prompt_is_cut_from_the_left_with_a_warning(tiny_decoder_dir, caplog) -> None:
    policy = small(tiny_decoder_dir, max_prompt_tokens=12)
    with caplog.at_level(logging.WARNING):
        logits, _ = policy(OBSERVATIONS[:1])
    assert "exceeds the limit of 12" in caplog.text
    assert torch.isfinite(logits[0]).all()
    encoded = policy.encoder.encode(OBSERVATIONS[:1])
    full = small(tiny_decoder_dir).encoder.encode(OBSERVATIONS[:1])
    assert encoded.truncated == [True]
    assert encoded.prompt_ids[0] == full.prompt_ids[0][-12:]  # the end (query) is kept


def test_decoder_position_limit_leaves_room_for_the_action(tmp_path, caplog) -> None:
    directory = make_tiny_model_dir(
        tmp_path / "short", kind="decoder", size="nano", max_positions=24
    )
    policy = small(directory)
    with caplog.at_level(logging.WARNING):
        logits, _ = policy(OBSERVATIONS)  # prompts of ~60 tokens: GPT-2 would fail without the cut
    assert torch.isfinite(logits[0]).all()
    encoded = policy.encoder.encode(OBSERVATIONS)
    for prompt, actions in zip(encoded.prompt_ids, encoded.action_ids, strict=True):
        assert len(prompt) + max(len(a) for a in actions) <= 24
    assert "exceeds the limit" in caplog.text


def test_decoder_over_its_position_table_is_cut_even_past_a_longer_tokenizer_limit(
    tmp_path, caplog
) -> None:
    """GPT-2's n_positions is a real limit: it bounds prompts, with the warning."""
    directory = make_tiny_model_dir(
        tmp_path / "short", kind="decoder", size="nano", max_positions=24
    )
    config = json.loads((directory / "config.json").read_text())
    assert config["n_positions"] == 24
    tokenizer_config = directory / "tokenizer_config.json"
    data = json.loads(tokenizer_config.read_text())
    data["model_max_length"] = 4096  # the tokenizer's word is not what bounds the prompt
    tokenizer_config.write_text(json.dumps(data))
    policy = small(directory)
    assert policy.encoder.position_limit == 24
    with caplog.at_level(logging.WARNING, logger="glam_policy"):
        encoded = policy.encoder.encode(OBSERVATIONS[:1])
    assert encoded.truncated == [True]
    assert len(encoded.prompt_ids[0]) + max(map(len, encoded.action_ids[0])) == 24
    assert "exceeds the limit of" in caplog.text


@pytest.fixture
def long_t5_dir(tmp_path) -> Path:
    """A nano T5 whose tokenizer says 24 tokens and whose config carries n_positions 24,
    as the hub's T5 configs carry n_positions 512: neither is a limit of T5."""
    directory = make_tiny_model_dir(
        tmp_path / "t5", kind="encoder-decoder", size="nano", max_positions=24
    )
    config_file = directory / "config.json"
    config = json.loads(config_file.read_text())
    config["n_positions"] = 24
    config_file.write_text(json.dumps(config))
    return directory


def test_t5_prompts_are_never_cut_whatever_the_nominal_length(long_t5_dir, caplog) -> None:
    policy = small(long_t5_dir)
    assert policy.tokenizer.model_max_length == 24
    assert policy.hf_model.config.n_positions == 24
    assert policy.encoder.position_limit is None
    full = policy.tokenizer(build_prompt("paper", OBSERVATIONS[0]), verbose=False)["input_ids"]
    assert len(full) > 3 * 24  # the whole prompt is far past the nominal length
    transformers_logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            encoded = policy.encoder.encode(OBSERVATIONS)
            logits, _ = policy(OBSERVATIONS[:1])
    finally:
        transformers_logging.disable_propagation()
    assert encoded.truncated == [False, False, False]
    assert encoded.prompt_ids[0] == full  # scored whole, </s> at the end included
    assert caplog.text == ""  # neither glam's cut warning nor the tokenizer's length warning
    torch.testing.assert_close(
        logits[0], torch.tensor(manual_scores(policy, OBSERVATIONS[0])), atol=1e-4, rtol=1e-6
    )


def test_an_explicit_max_prompt_tokens_still_cuts_t5_prompts(long_t5_dir, caplog) -> None:
    policy = small(long_t5_dir, max_prompt_tokens=30)
    with caplog.at_level(logging.WARNING, logger="glam_policy"):
        encoded = policy.encoder.encode(OBSERVATIONS[:1])
    assert encoded.truncated == [True] and len(encoded.prompt_ids[0]) == 30
    assert "exceeds the limit of 30" in caplog.text


def test_param_groups(tiny_decoder_dir) -> None:
    policy = small(tiny_decoder_dir)
    groups = policy.param_groups(lm_lr=1e-6, head_lr=1e-4)
    assert [(g["name"], g["lr"]) for g in groups] == [("lm", 1e-6), ("heads", 1e-4)]
    n_lm = sum(p.numel() for p in groups[0]["params"])
    n_heads = sum(p.numel() for p in groups[1]["params"])
    assert n_lm + n_heads == sum(p.numel() for p in policy.parameters())
    torch.optim.Adam(groups)  # a valid optimizer specification
    frozen = small(tiny_decoder_dir, finetuning="frozen")
    assert [g["name"] for g in frozen.param_groups(1e-6)] == ["heads"]

"""Converse and ConverseStream on the model that ships with hpjobs: response shapes as botocore
models them, usage counted in bytes of the chat prompt, seeds and top-k through
``additionalModelRequestFields``, stop sequences, model ids, the invocation log and
``$HPJOBS_HOME/models.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import torch

from hpjobs.algorithms.lm import END_OF_TEXT, ByteTransformer, ModelConfig
from hpjobs.bedrock._records import invocations
from hpjobs.bedrock.runtime import converse, converse_stream, invoke_model
from hpjobs.errors import ValidationException
from hpjobs.generation.registry import local_model_path
from hpjobs.shapes import operation_model

FOLDER = local_model_path("jargon")


pytestmark = pytest.mark.skipif(
    not (FOLDER / "model.pt").is_file(), reason=f"the shipped jargon model is not in {FOLDER}"
)

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
QUESTION = "What is a kludge?"
#: The chat prompt of a one-question conversation (reference: "User: …\n\nAssistant:").
ASKED = f"User: {QUESTION}\n\nAssistant:"
FAMILY_MODELS = {
    "anthropic": CLAUDE,
    "titan": "amazon.titan-text-express-v1",
    "llama": "meta.llama3-8b-instruct-v1:0",
    "mistral": "mistral.mistral-7b-instruct-v0:2",
    "cohere": "cohere.command-r-v1:0",
    "nova": "amazon.nova-micro-v1:0",
}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"text": text}]}


def request(model_id: str = CLAUDE, **fields: Any) -> dict[str, Any]:
    return {"modelId": model_id, "messages": [user(QUESTION)], **fields}


def config(**inference: Any) -> dict[str, Any]:
    return {"inferenceConfig": inference}


def text_of(response: Mapping[str, Any]) -> str:
    content = response["output"]["message"]["content"]
    assert len(content) == 1
    text: str = content[0]["text"]
    return text


def conforms(value: Any, shape: Any, where: str = "") -> None:
    """``value`` fits botocore's ``shape``: known members only, required ones present, the
    modelled types and enums."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        if getattr(shape, "is_document_type", False):
            return
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members {unknown} are not in {shape.name}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{where}: required {missing} missing"
        if shape.is_tagged_union:
            assert len(value) == 1, where
        for name, item in value.items():
            conforms(item, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            conforms(item, shape.member, f"{where}[{index}]")
    elif kind == "map":
        assert isinstance(value, dict), where
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
        assert value >= 0, where
    elif kind in ("float", "double"):
        assert isinstance(value, (int, float)), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    else:
        raise AssertionError(f"{where}: unexpected shape type {kind}")


def stream_events(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    assert set(response) == {"stream"}
    events = list(response["stream"])
    shape = operation_model("bedrock-runtime", "ConverseStream").output_shape.members["stream"]
    for event in events:
        assert len(event) == 1
        conforms(event, shape, "stream")
    return events


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )


# -- Converse ------------------------------------------------------------------------------------


def test_response_has_botocores_shape() -> None:
    response = converse(request(**config(maxTokens=20)))
    conforms(response, operation_model("bedrock-runtime", "Converse").output_shape)
    assert set(response) == {"output", "stopReason", "usage", "metrics"}
    assert response["output"]["message"]["role"] == "assistant"
    assert set(response["usage"]) == {"inputTokens", "outputTokens", "totalTokens"}
    assert set(response["metrics"]) == {"latencyMs"}
    assert response["stopReason"] == "max_tokens"


def test_usage_counts_bytes_of_the_chat_prompt_and_output() -> None:
    response = converse(request(**config(maxTokens=30, temperature=0)))
    usage = response["usage"]
    assert usage["inputTokens"] == len(ASKED.encode("utf-8")) == 35
    assert usage["outputTokens"] == len(text_of(response).encode("utf-8")) == 30
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_usage_of_a_conversation_with_system_text_and_non_ascii() -> None:
    messages = [user("Hi “there”"), assistant("Hello — yes?"), user("Define café")]
    response = converse(
        {
            "modelId": CLAUDE,
            "system": [{"text": "Be terse."}, {"text": "Use ASCII."}],
            "messages": messages,
            "inferenceConfig": {"maxTokens": 10, "temperature": 0},
        }
    )
    prompt = (
        "Be terse.\n\nUse ASCII.\n\nUser: Hi “there”\n\nAssistant: Hello — yes?\n\n"
        "User: Define café\n\nAssistant:"
    )
    assert response["usage"]["inputTokens"] == len(prompt.encode("utf-8")) == len(prompt) + 7


def test_conversation_ending_with_assistant_continues_its_turn() -> None:
    messages = [user(QUESTION), assistant("A kludge is")]
    response = converse({"modelId": CLAUDE, "messages": messages, **config(maxTokens=5)})
    prompt = f"User: {QUESTION}\n\nAssistant: A kludge is"
    assert response["usage"]["inputTokens"] == len(prompt)


def test_temperature_zero_is_repeatable_and_matches_invoke_model() -> None:
    first = converse(request(**config(maxTokens=40, temperature=0)))
    second = converse(request(**config(maxTokens=40, temperature=0)))
    assert text_of(first) == text_of(second)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 40,
        "temperature": 0,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    native = json.loads(invoke_model({"modelId": CLAUDE, "body": json.dumps(body)})["body"].read())
    assert native["content"][0]["text"] == text_of(first)


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_seed_makes_sampling_repeatable_for_every_family(family: str) -> None:
    def reply(seed: int) -> str:
        fields = {"additionalModelRequestFields": {"seed": seed}}
        options = config(maxTokens=30, temperature=1.0, topP=1.0)
        return text_of(converse(request(FAMILY_MODELS[family], **options, **fields)))

    assert reply(7) == reply(7)
    assert len({reply(7), reply(8), reply(9)}) == 3


@pytest.mark.parametrize(
    "model_id, fields",
    [
        (CLAUDE, {"top_k": 1}),
        ("mistral.mistral-large-2402-v1:0", {"top_k": 1}),
        ("cohere.command-r-v1:0", {"k": 1}),
        ("amazon.nova-micro-v1:0", {"inferenceConfig": {"topK": 1}}),
    ],
)
def test_top_k_one_through_additional_fields_is_greedy(
    model_id: str, fields: dict[str, Any]
) -> None:
    greedy = text_of(converse(request(model_id, **config(maxTokens=40, temperature=0))))
    for seed in (1, 2):
        extra = {"additionalModelRequestFields": {**fields, "seed": seed}}
        sampled = converse(request(model_id, **config(maxTokens=40, temperature=1), **extra))
        assert text_of(sampled) == greedy


@pytest.mark.parametrize(
    "model_id, key",
    [
        ("amazon.titan-text-express-v1", "top_k"),
        ("meta.llama3-8b-instruct-v1:0", "top_k"),
        ("cohere.command-r-v1:0", "top_k"),
        (CLAUDE, "k"),
        (CLAUDE, "x"),
    ],
)
def test_fields_a_family_does_not_know_are_refused(model_id: str, key: str) -> None:
    with pytest.raises(ValidationException) as caught:
        converse(request(model_id, additionalModelRequestFields={key: 1}))
    assert caught.value.message == (
        "The model returned the following errors: Malformed input request: "
        f"#: extraneous key [{key}] is not permitted, please reformat your input and try again."
    )


def test_stop_sequence_ends_the_reply_and_is_reported() -> None:
    fields: dict[str, Any] = {
        "additionalModelRequestFields": {"seed": 3},
        "additionalModelResponseFieldPaths": ["/stop_sequence"],
    }
    full = text_of(converse(request(**config(maxTokens=60), **fields)))
    assert " " in full
    stopped = converse(request(**config(maxTokens=60, stopSequences=[" "]), **fields))
    assert text_of(stopped) == full[: full.index(" ")]
    assert stopped["stopReason"] == "stop_sequence"
    assert stopped["additionalModelResponseFields"] == {"stop_sequence": " "}
    assert stopped["usage"]["outputTokens"] == len(text_of(stopped).encode()) + 1
    conforms(stopped, operation_model("bedrock-runtime", "Converse").output_shape)


def test_stop_sequence_field_is_null_without_a_match() -> None:
    fields: dict[str, Any] = {"additionalModelResponseFieldPaths": ["/stop_sequence"]}
    response = converse(request(**config(maxTokens=5), **fields))
    assert response["stopReason"] == "max_tokens"
    assert response["additionalModelResponseFields"] == {"stop_sequence": None}


def test_filling_the_context_gives_model_context_window_exceeded() -> None:
    question = "Tell me about hackers. " * 9  # the chat prompt is 225 bytes
    prompt = f"User: {question}\n\nAssistant:"
    assert len(prompt) == 225
    response = converse(
        {"modelId": CLAUDE, "messages": [user(question)], **config(maxTokens=100, topP=0.5)}
    )
    assert response["stopReason"] in ("model_context_window_exceeded", "end_turn")
    if response["stopReason"] == "model_context_window_exceeded":
        assert response["usage"]["outputTokens"] == 31
        assert response["usage"]["totalTokens"] == 256


def test_default_max_tokens_is_what_the_context_leaves() -> None:
    question = "Tell me about hackers. " * 9
    response = converse({"modelId": CLAUDE, "messages": [user(question)], **config(topP=0.5)})
    assert response["usage"]["totalTokens"] <= 256
    if response["stopReason"] != "end_turn":
        assert response["usage"]["totalTokens"] == 256


def test_multi_block_message_prompts_like_the_nova_body() -> None:
    messages = [{"role": "user", "content": [{"text": "Hi"}, {"text": "there"}]}]
    options = {"maxTokens": 1, "temperature": 0}
    via_converse = converse(
        {"modelId": FAMILY_MODELS["nova"], "messages": messages, "inferenceConfig": options}
    )
    body = {"messages": messages, "inferenceConfig": {"maxTokens": 1, "topK": 1}}
    native = invoke_model({"modelId": FAMILY_MODELS["nova"], "body": json.dumps(body)})
    assert json.loads(native["body"].read())["usage"] == via_converse["usage"]


# -- ConverseStream ------------------------------------------------------------------------------


def test_stream_events_in_order() -> None:
    # seeded: an unseeded draw can end on the first byte of a multi-byte character, whose text
    # is then U+FFFD (3 bytes) for the 1 token generated
    seeded = {"additionalModelRequestFields": {"seed": 1}}
    events = stream_events(converse_stream(request(**config(maxTokens=30), **seeded)))
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart"
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert all(
        e["contentBlockDelta"]["contentBlockIndex"] == 0 for e in events if "contentBlockDelta" in e
    )
    assert events[-3]["contentBlockStop"] == {"contentBlockIndex": 0}
    assert events[-2]["messageStop"] == {"stopReason": "max_tokens"}
    metadata = events[-1]["metadata"]
    assert set(metadata) == {"usage", "metrics"}
    assert metadata["usage"] == {"inputTokens": 35, "outputTokens": 30, "totalTokens": 65}
    assert len(streamed_text(events).encode("utf-8")) == 30


@pytest.mark.parametrize("family", ["anthropic", "nova", "llama"])
def test_stream_deltas_concatenate_to_the_converse_text(family: str) -> None:
    model_id = FAMILY_MODELS[family]
    fields = {"additionalModelRequestFields": {"seed": 11}}
    whole = converse(request(model_id, **config(maxTokens=60), **fields))
    events = stream_events(converse_stream(request(model_id, **config(maxTokens=60), **fields)))
    assert streamed_text(events) == text_of(whole)
    assert events[-2]["messageStop"]["stopReason"] == whole["stopReason"]
    assert events[-1]["metadata"]["usage"] == whole["usage"]


@pytest.mark.parametrize("stop", [" ", "e", "in", "er"])
def test_stream_never_leaks_a_stop_sequence(stop: str) -> None:
    for seed in range(3):
        fields: dict[str, Any] = {"additionalModelRequestFields": {"seed": seed}}
        full = text_of(converse(request(**config(maxTokens=80, temperature=1), **fields)))
        options = config(maxTokens=80, temperature=1, stopSequences=[stop])
        events = stream_events(converse_stream(request(**options, **fields)))
        deltas = [
            e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
        ]
        text = "".join(deltas)
        assert stop not in text
        assert all(stop not in delta for delta in deltas)
        assert text == (full[: full.index(stop)] if stop in full else full)
        reason = events[-2]["messageStop"]["stopReason"]
        assert reason == ("stop_sequence" if stop in full else "max_tokens")


def test_stream_reports_the_stop_sequence_field() -> None:
    fields: dict[str, Any] = {
        "additionalModelRequestFields": {"seed": 3},
        "additionalModelResponseFieldPaths": ["/stop_sequence"],
    }
    events = stream_events(converse_stream(request(**config(stopSequences=[" "]), **fields)))
    stop = events[-2]["messageStop"]
    assert stop["stopReason"] == "stop_sequence"
    assert stop["additionalModelResponseFields"] == {"stop_sequence": " "}


def test_stream_reports_the_claude_delta_stop_sequence_path() -> None:
    fields: dict[str, Any] = {
        "additionalModelRequestFields": {"seed": 3},
        "additionalModelResponseFieldPaths": ["/delta/stop_sequence"],
    }
    events = stream_events(converse_stream(request(**config(stopSequences=[" "]), **fields)))
    stop = events[-2]["messageStop"]
    assert stop["additionalModelResponseFields"] == {"delta": {"stop_sequence": " "}}


def test_stream_request_errors_come_before_the_stream() -> None:
    with pytest.raises(ValidationException) as caught:
        converse_stream(request(**config(temperature=1.5)))
    assert "inferenceConfig.temperature" in caught.value.message
    with pytest.raises(ValidationException) as caught:
        converse_stream(request("anthropic.claude-nothing-v1:0"))
    assert caught.value.message == "The provided model identifier is invalid."


# -- model ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id",
    [
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        "apac.amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-8b-instruct-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
        "us.anthropic.claude-3-haiku-20240307-v1:0",
    ],
)
def test_profiles_and_arns_resolve(model_id: str) -> None:
    response = converse(request(model_id, **config(maxTokens=3, temperature=0)))
    assert response["usage"]["outputTokens"] == 3
    assert invocations(1)[0].model_id == model_id


def test_profile_answers_like_the_bare_id() -> None:
    options = config(maxTokens=30, temperature=0)
    bare = converse(request(CLAUDE, **options))
    profile = converse(request("us." + CLAUDE, **options))
    assert text_of(profile) == text_of(bare)


# -- the invocation log --------------------------------------------------------------------------


def test_every_invocation_is_recorded() -> None:
    started = datetime.now().astimezone()
    fields: dict[str, Any] = {"additionalModelRequestFields": {"seed": 5, "top_k": 40}}
    options = config(maxTokens=12, temperature=0.5, topP=0.8, stopSequences=["\n\nUser:"])
    response = converse(request(**options, **fields))
    events = stream_events(converse_stream(request("us." + CLAUDE, **config(maxTokens=4))))
    rows = invocations()
    assert [row.operation for row in rows] == ["ConverseStream", "Converse"]
    streamed, whole = rows
    assert whole.model_id == CLAUDE
    assert whole.local_model == str(FOLDER)
    assert whole.parameters == {
        "maxTokens": 12,
        "temperature": 0.5,
        "topP": 0.8,
        "topK": 40,
        "stopSequences": ["\n\nUser:"],
        "seed": 5,
    }
    assert whole.input_tokens == response["usage"]["inputTokens"]
    assert whole.output_tokens == response["usage"]["outputTokens"]
    assert whole.latency_ms == response["metrics"]["latencyMs"]
    assert whole.stop_reason == response["stopReason"]
    assert started <= whole.time <= streamed.time <= datetime.now().astimezone()
    assert streamed.model_id == "us." + CLAUDE
    assert streamed.parameters["temperature"] == 1.0  # Claude's default
    assert streamed.parameters["topP"] == 0.999
    assert streamed.parameters["maxTokens"] == 4
    assert streamed.output_tokens == events[-1]["metadata"]["usage"]["outputTokens"]
    assert streamed.latency_ms == events[-1]["metadata"]["metrics"]["latencyMs"]


def test_family_defaults_are_recorded() -> None:
    for family, (temperature, top_p) in {
        "titan": (0.7, 0.9),
        "llama": (0.5, 0.9),
        "cohere": (0.3, 0.75),
    }.items():
        converse(request(FAMILY_MODELS[family], **config(maxTokens=2)))
        row = invocations(1)[0]
        assert (row.parameters["temperature"], row.parameters["topP"]) == (temperature, top_p)
        assert row.parameters["maxTokens"] == 2


def test_refused_requests_are_not_recorded() -> None:
    with pytest.raises(ValidationException):
        converse(request(**config(temperature=1.5)))
    with pytest.raises(ValidationException):
        converse(request("anthropic.claude-nothing-v1:0"))
    assert invocations() == []


# -- models.json ---------------------------------------------------------------------------------


@pytest.fixture
def ending_model(tmp_path: Path) -> Path:
    """A tiny saved model whose every next token is end of text (context 32)."""
    model_config = ModelConfig(context_length=32, width=8, depth=1, heads=2, dropout=0.0)
    model = ByteTransformer(model_config)
    with torch.no_grad():
        model.norm.weight.zero_()
        model.norm.bias.fill_(1.0)
        model.token_embedding.weight.zero_()
        model.token_embedding.weight[END_OF_TEXT] = 10.0
    folder = tmp_path / "ending"
    folder.mkdir()
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(asdict(model_config)), encoding="utf-8")
    return folder


def write_models(home: Path, models: dict[str, Any]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.json").write_text(json.dumps({"models": models}), encoding="utf-8")


def test_models_json_maps_a_new_id_to_a_local_model(home: Path, ending_model: Path) -> None:
    write_models(
        home,
        {
            "acme.ending-v1:0": {"name": "Ending", "provider": "Acme", "path": str(ending_model)},
            "acme.jargon-v1:0": {"family": "nova", "path": "jargon"},
        },
    )
    response = converse(request("acme.ending-v1:0", messages=[user("Hi")]))
    assert text_of(response) == ""
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 20, "outputTokens": 1, "totalTokens": 21}
    row = invocations(1)[0]
    assert (row.model_id, row.local_model) == ("acme.ending-v1:0", str(ending_model))
    # the family decides the native body; "jargon" names the shipped model
    body = {"messages": [user(QUESTION)], "inferenceConfig": {"maxTokens": 5, "topK": 1}}
    native = invoke_model({"modelId": "acme.jargon-v1:0", "body": json.dumps(body)})
    answer = json.loads(native["body"].read())
    assert answer["usage"] == {"inputTokens": 35, "outputTokens": 5, "totalTokens": 40}
    assert invocations(1)[0].local_model == str(FOLDER)
    # inference-profile prefixes work for configured ids too
    assert converse(request("us.acme.ending-v1:0", messages=[user("Hi")]))["stopReason"] == (
        "end_turn"
    )


def test_models_json_limits_come_from_the_local_model(home: Path, ending_model: Path) -> None:
    write_models(home, {"acme.ending-v1:0": {"path": str(ending_model)}})
    with pytest.raises(ValidationException) as caught:
        converse(request("acme.ending-v1:0", **config(maxTokens=33)))
    assert caught.value.message == (
        "The maximum tokens you requested exceeds the model limit of 32. Try again with a "
        "maximum tokens value that is lower than 32."
    )
    with pytest.raises(ValidationException) as caught:
        converse(request("acme.ending-v1:0", messages=[user("x" * 20)]))
    assert caught.value.message == "Input is too long for requested model."


def test_models_json_can_replace_a_well_known_id(home: Path, ending_model: Path) -> None:
    write_models(home, {CLAUDE: {"family": "anthropic", "path": str(ending_model)}})
    short = [user("Hi")]
    assert converse(request(messages=short, **config(temperature=1)))["stopReason"] == "end_turn"
    write_models(home, {})
    assert converse(request(**config(maxTokens=3)))["stopReason"] == "max_tokens"


def test_end_turn_in_every_stream_shape(home: Path, ending_model: Path) -> None:
    write_models(home, {"acme.ending-v1:0": {"path": str(ending_model)}})
    events = stream_events(converse_stream(request("acme.ending-v1:0", messages=[user("Hi")])))
    assert [next(iter(e)) for e in events] == [
        "messageStart",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[2]["messageStop"]["stopReason"] == "end_turn"
    assert events[3]["metadata"]["usage"]["outputTokens"] == 1

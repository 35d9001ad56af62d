"""The Bedrock faces of the CLI, run as real subprocesses against the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = json.dumps([{"role": "user", "content": [{"text": "What is a hacker?"}]}])


def hpjobs(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpjobs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        input=stdin,
    )


def _converse(*extra: str) -> dict[str, object]:
    result = hpjobs(
        "bedrock-runtime", "converse", "--model-id", MODEL, "--messages", MESSAGES, *extra
    )
    assert result.returncode == 0, result.stderr
    reply: dict[str, object] = json.loads(result.stdout)
    return reply


def test_converse_prints_the_json_the_aws_cli_prints() -> None:
    reply = _converse("--inference-config", '{"temperature": 0, "maxTokens": 24}')
    assert set(reply) == {"output", "stopReason", "usage", "metrics"}
    usage = reply["usage"]
    assert isinstance(usage, dict) and usage["outputTokens"] <= 24
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_chat_streams_the_same_text_as_greedy_converse() -> None:
    reply = _converse("--inference-config", '{"temperature": 0, "maxTokens": 40}')
    output = reply["output"]
    assert isinstance(output, dict)
    text = output["message"]["content"][0]["text"]
    chat = hpjobs("chat", "What is a hacker?", "--temperature", "0", "--max-tokens", "40")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == text + "\n"


def test_chat_reads_turns_until_bye() -> None:
    result = hpjobs(
        "chat", "--temperature", "0", "--max-tokens", "10", "--verbose",
        stdin="Hello\nWhat is a kludge?\n/bye\nnever read\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("[max_tokens]") + result.stderr.count("[end_turn]") == 2


def test_converse_stream_prints_events_in_order() -> None:
    result = hpjobs(
        "bedrock-runtime", "converse-stream", "--model-id", MODEL, "--messages", MESSAGES,
        "--inference-config", '{"temperature": 0, "maxTokens": 16}',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == [
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert set(kinds[1:-3]) == {"contentBlockDelta"}


def test_invoke_model_writes_the_body_to_the_outfile(tmp_path: Path) -> None:
    outfile = tmp_path / "reply.json"
    result = hpjobs(
        "bedrock-runtime", "invoke-model", "--model-id", MODEL,
        "--body", "file://templates/bedrock/invoke-anthropic.json", str(outfile),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"contentType": "application/json"}
    body = json.loads(outfile.read_text())
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["stop_reason"] in ("end_turn", "max_tokens", "stop_sequence")


def test_unknown_model_is_an_aws_error() -> None:
    result = hpjobs(
        "bedrock-runtime", "converse", "--model-id", "acme.nothing-v1:0", "--messages", MESSAGES
    )
    assert result.returncode == 254
    assert result.stderr == (
        "\nAn error occurred (ValidationException) when calling the Converse operation: "
        "The provided model identifier is invalid.\n"
    )


def test_list_foundation_models() -> None:
    result = hpjobs(
        "bedrock",
        "list-foundation-models",
        "--by-provider",
        "Meta",
        "--query",
        "modelSummaries[].modelId",
    )
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)
    assert "meta.llama3-8b-instruct-v1:0" in ids and all(i.startswith("meta.") for i in ids)

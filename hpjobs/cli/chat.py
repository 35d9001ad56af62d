"""``hpjobs chat``: talk to a model, the text streamed to the terminal as it is generated.

With a PROMPT it answers once and exits (as ``ollama run MODEL PROMPT`` does); without one it
reads turns from the terminal until end of input or ``/bye``. Every turn is a ConverseStream call
with the conversation so far; when the conversation no longer fits the model's context, the oldest
turns are left out.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from hpjobs.cli.aws import aws_errors
from hpjobs.cli.cloud import region_option, setup_errors, target_option

__all__ = ["chat"]

_DEFAULT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
_TOO_LONG = "Input is too long for requested model."


def _request(model_id: str, turns: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, name in (
        ("max_tokens", "maxTokens"),
        ("temperature", "temperature"),
        ("top_p", "topP"),
    ):
        if options[key] is not None:
            config[name] = options[key]
    if options["stop"]:
        config["stopSequences"] = list(options["stop"])
    extra: dict[str, Any] = {}
    if options["top_k"] is not None:
        extra["top_k"] = options["top_k"]
    if options["seed"] is not None:
        extra["seed"] = options["seed"]
    request: dict[str, Any] = {"modelId": model_id, "messages": turns, "inferenceConfig": config}
    if options["system"]:
        request["system"] = [{"text": options["system"]}]
    if extra:
        request["additionalModelRequestFields"] = extra
    return request


def _answer(model_id: str, turns: list[dict[str, Any]], options: dict[str, Any]) -> str:
    """Stream one reply to stdout; the reply's text."""
    from hpjobs.bedrock.runtime import converse_stream
    from hpjobs.errors import ValidationException

    while True:
        try:
            request = _request(model_id, turns, options)
            if options["target"] == "aws":
                from hpjobs.bedrock.remote import invoke_bedrock

                response = invoke_bedrock("ConverseStream", request, options["region"])
            else:
                response = converse_stream(request)
            break
        except ValidationException as error:
            if error.message != _TOO_LONG or len(turns) < 3:
                raise
            del turns[:2]  # forget the oldest exchange
    pieces = []
    for event in response["stream"]:
        delta = event.get("contentBlockDelta")
        if delta is not None:
            pieces.append(delta["delta"]["text"])
            click.echo(pieces[-1], nl=False)
        elif "messageStop" in event and options["verbose"]:
            click.echo(f"\n[{event['messageStop']['stopReason']}]", nl=False, err=True)
    click.echo()
    return "".join(pieces)


@click.command()
@click.argument("prompt", required=False)
@click.option("--model-id", default=_DEFAULT_MODEL, show_default=True, help="A Bedrock model id.")
@click.option("--system", default=None, help="A system prompt.")
@click.option("--temperature", type=click.FloatRange(0, 1), default=None, help="0 is greedy.")
@click.option("--top-p", type=click.FloatRange(0, 1), default=None, help="Nucleus sampling.")
@click.option("--top-k", type=click.IntRange(0), default=None, help="Keep the k likeliest tokens.")
@click.option(
    "--max-tokens", type=click.IntRange(1), default=None, help="Tokens (bytes) to generate."
)
@click.option("--stop", multiple=True, help="A stop sequence (repeatable).")
@click.option("--seed", type=click.IntRange(0), default=None, help="Makes sampling repeatable.")
@click.option("--verbose", is_flag=True, help="Show each reply's stop reason.")
@target_option
@region_option
def chat(prompt: str | None, model_id: str, **options: Any) -> None:
    """Chat with a model; the reply is streamed as it is generated.

    With --target aws the same ConverseStream requests go to Amazon Bedrock through boto3.
    """
    turns: list[dict[str, Any]] = []
    if prompt is None:  # a conversation goes on for long: collect garbage while it does
        from hpjobs._settle import settle

        settle()
    with setup_errors(), aws_errors("ConverseStream"):
        while True:
            text = prompt if prompt is not None else _read_turn()
            if text is None:
                return
            turns.append({"role": "user", "content": [{"text": text}]})
            reply = _answer(model_id, turns, options)
            if prompt is not None:
                return
            turns.append({"role": "assistant", "content": [{"text": reply or " "}]})


def _read_turn() -> str | None:
    """The next non-empty line from the terminal; None at end of input or ``/bye``."""
    while True:
        if sys.stdin.isatty():
            click.echo(">>> ", nl=False)
        line = sys.stdin.readline()
        if not line or line.strip() == "/bye":
            return None
        if line.strip():
            return line.rstrip("\n")

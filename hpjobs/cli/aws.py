"""AWS-CLI-shaped commands, generated from botocore's operation models.

``hpjobs sagemaker create-training-job --cli-input-json file://job.json`` behaves like
``aws sagemaker create-training-job``: every member of the operation's request is a
``--kebab-case`` option (structures, lists and maps as JSON, ``file://`` accepted), booleans are
``--flag/--no-flag``, ``--cli-input-json`` supplies the whole request (options given beside it win),
``--generate-cli-skeleton`` prints a request template, ``--query`` takes a JMESPath expression.
Operations botocore can paginate are paginated as the AWS CLI does: every page is fetched and the
results are merged, unless ``--no-paginate`` is given or the request sets the page token or size
itself (``--next-token``, ``--max-results``; the paging options below are then refused, as the
AWS CLI refuses them); ``--max-items`` caps the items (printing a
``NextToken`` that ``--starting-token`` goes on from, in botocore's encoding) and ``--page-size``
sets the size of each page.
``--output json|text|table`` prints the response as the AWS CLI does (JSON with a 4-space indent,
tab-separated text, or boxed tables; ISO 8601 timestamps in each), after ``--query``; text output of
a paginated operation is printed page by page, as the AWS CLI prints it. A service error is printed
as the AWS CLI prints it and exits with 254, a malformed parameter exits with 252.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from hpjobs.errors import ServiceError

__all__ = [
    "aws_errors",
    "bedrock",
    "bedrock_runtime",
    "call_operation",
    "print_json",
    "print_response",
    "read_json_argument",
    "read_text_argument",
    "sagemaker",
]

PARSE_ERROR_EXIT = 252
#: The AWS CLI's exit status when it cannot print a response in the chosen format, or when its
#: paging options contradict each other.
FORMAT_ERROR_EXIT = 255
#: The AWS CLI's own paging options, in the order its refusal names them.
_PAGING_OPTIONS = [
    ("--starting-token", "starting_token"),
    ("--page-size", "page_size"),
    ("--max-items", "max_items"),
]


def _kebab(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name, "-"))


def read_text_argument(option: str, value: str) -> str:
    """An option value given inline or as ``file://path`` (exit 252 when the file is unreadable)."""
    if not value.startswith("file://"):
        return value
    try:
        return Path(value[len("file://") :]).expanduser().read_text(encoding="utf-8")
    except OSError as error:
        _parse_error(
            f"Error parsing parameter '{option}': Unable to load paramfile {value}: {error}"
        )


def read_json_argument(option: str, value: str) -> Any:
    """A JSON option value, given inline or as ``file://path`` (exit 252 when it is not JSON)."""
    text = read_text_argument(option, value)
    try:
        return json.loads(text)
    except ValueError as error:
        _parse_error(
            f"Error parsing parameter '{option}': Invalid JSON: {error}\nJSON received: {text}"
        )
    except RecursionError:
        _parse_error(
            f"Error parsing parameter '{option}': Invalid JSON: nested too deeply\n"
            f"JSON received: {text}"
        )


def _parse_error(message: str) -> NoReturn:
    click.echo(f"\n{message}", err=True)
    sys.exit(PARSE_ERROR_EXIT)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def print_json(response: Mapping[str, Any], query: str | None = None) -> None:
    """Print a response as the AWS CLI's JSON (nothing at all for an empty response)."""
    print_response(response, query)


def print_response(
    response: Mapping[str, Any],
    query: str | None = None,
    output: str = "json",
    operation: str = "",
) -> None:
    """Print a response as the AWS CLI does with ``--query`` and ``--output``: ``operation``
    titles a table. Data the AWS CLI cannot print in that format either exits 255."""
    from hpjobs.cli.formats import FormatError, render

    data: Any = _jsonable(dict(response))
    if query:
        import jmespath

        data = jmespath.search(query, data)
    try:
        text = render(data, output, operation)
    except FormatError as error:
        click.echo(f"\n{error}", err=True)
        sys.exit(FORMAT_ERROR_EXIT)
    if text:
        click.echo(text, nl=False)


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Print a service error raised inside as the AWS CLI does for ``operation``, and exit 254."""
    try:
        yield
    except ServiceError as error:
        click.echo(f"\n{error.cli_text(operation)}", err=True)
        sys.exit(error.exit_code)


def call_operation(
    function: Callable[[Mapping[str, Any]], dict[str, Any]],
    operation: str,
    request: Mapping[str, Any],
) -> dict[str, Any]:
    """Call an operation the AWS CLI way: a service error is printed and exits 254."""
    with aws_errors(operation):
        return function(request)
    raise AssertionError("unreachable")


def _first_sentence(documentation: str) -> str:
    text = re.sub(r"<[^>]+>", "", documentation or "").strip()
    text = re.sub(r"\s+", " ", text)
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _convert(option: str, shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if value is None or kind in ("string", "timestamp", "boolean", "blob"):
        return value
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            _parse_error(
                f"Error parsing parameter '{option}': expected an integer, received '{value}'"
            )
    if kind in ("float", "double"):
        try:
            return float(value)
        except ValueError:
            _parse_error(
                f"Error parsing parameter '{option}': expected a number, received '{value}'"
            )
    return read_json_argument(option, value)


class _Pages:
    """The pages of a paginated operation as the AWS CLI walks them (botocore's ``PageIterator``):
    from ``--starting-token`` on, until the last page or ``--max-items`` items, each page's result
    list cut to what is printed. :attr:`resume_token` is then the ``NextToken`` the AWS CLI prints
    for ``--starting-token`` to go on from: botocore's own encoding of the service's token and of
    how many items of that page were already printed (``boto_truncate_amount``)."""

    def __init__(
        self,
        function: Callable[[Mapping[str, Any]], dict[str, Any]],
        name: str,
        request: dict[str, Any],
        pages: Mapping[str, Any],
        options: Mapping[str, Any],
        members: Iterable[str],
    ) -> None:
        self.function, self.name, self.request = function, name, request
        self.members = list(members)
        self.key, self.token_in = pages["result_key"], pages["input_token"]
        self.token_out = pages["output_token"]
        self.limit: int | None = options["max_items"]
        self.starting: str | None = options.get("starting_token")
        self.resume_token: str | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        start, skip = self._start()
        # as botocore does, every member of the starting token goes into the first request;
        # one the operation does not have fails as the AWS CLI's parameter validation fails
        unknown = [key for key in start if key not in self.members]
        if unknown:
            from hpjobs.shapes import unknown_parameter

            lines = [unknown_parameter(key, self.members) for key in unknown]
            _parse_error("Parameter validation failed:\n" + "\n".join(lines))
        self.request.update({key: value for key, value in start.items() if value is not None})
        asked_with = start.get(self.token_in)
        total = 0
        while True:
            page = call_operation(self.function, self.name, self.request)
            items = list(page.get(self.key, []))[skip:]
            if self.limit is not None and total + len(items) > self.limit:
                keep = self.limit - total
                page[self.key] = items[:keep]
                self.resume_token = _encode_token(
                    {self.token_in: asked_with, "boto_truncate_amount": skip + keep}
                )
                yield page
                return
            page[self.key] = items
            following = page.get(self.token_out) or None
            yield page
            total, skip = total + len(items), 0
            if following is None:
                return
            if self.limit is not None and total == self.limit:
                self.resume_token = _encode_token({self.token_in: following})
                return
            self.request[self.token_in] = asked_with = following

    def _start(self) -> tuple[dict[str, Any], int]:
        """The request members the first page is asked with (the service's token, by name), and
        how many of its items were printed before, from ``--starting-token``: botocore's
        encoding, else its older ``TOKEN___N`` form, else the service's own token as it is."""
        if self.starting is None:
            return {}, 0
        from botocore.paginate import TokenDecoder

        try:
            token = TokenDecoder().decode(self.starting)
        except (ValueError, TypeError, LookupError):
            token = None
        if isinstance(token, dict):
            skip = token.pop("boto_truncate_amount", 0)
            return token, skip if isinstance(skip, int) else 0
        parts = self.starting.split("___")
        if len(parts) == 2 and parts[1].isdigit():
            service_token = None if parts[0] == "None" else parts[0]
            return {self.token_in: service_token}, int(parts[1])
        return {self.token_in: self.starting}, 0


def _refuse_paging_options(options: Mapping[str, Any]) -> None:
    """With paging off (``--no-paginate``, or the request's own page token or size), the AWS CLI
    refuses its paging options; so does this."""
    used = [flag for flag, key in _PAGING_OPTIONS if options.get(key)]
    if used:
        click.echo(
            "\nError during pagination: Cannot specify --no-paginate along with pagination "
            f"arguments: {', '.join(used)}",
            err=True,
        )
        sys.exit(FORMAT_ERROR_EXIT)


def _encode_token(token: dict[str, Any]) -> str:
    from botocore.paginate import TokenEncoder

    return str(TokenEncoder().encode(token))


def _all_pages(walk: _Pages) -> dict[str, Any]:
    """Every page's results merged into one response, as the AWS CLI prints JSON and tables;
    ``NextToken`` where ``--max-items`` left items unprinted."""
    merged: dict[str, Any] = {walk.key: []}
    for page in walk:
        merged[walk.key] += page.pop(walk.key)
        page.pop(walk.token_out, None)
        merged.update(page)
    if walk.resume_token is not None:
        merged["NextToken"] = walk.resume_token
    return merged


def skeleton(shape: Any, depth: int = 0) -> Any:
    """A request template for ``shape``, as ``--generate-cli-skeleton`` prints it."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        return {name: skeleton(member, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        return [skeleton(shape.member, depth + 1)]
    if kind == "map":
        return {"KeyName": skeleton(shape.value, depth + 1)}
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        return 0
    if kind in ("float", "double"):
        return 0.0
    if kind == "string" and shape.enum:
        return shape.enum[0]
    return ""


def _member_options(members: Mapping[str, Any]) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for member, shape in members.items():
        flag = f"--{_kebab(member)}"
        doc = _first_sentence(shape.documentation)
        if shape.type_name == "boolean":
            params.append(click.Option([f"{flag}/--no-{flag[2:]}"], default=None, help=doc))
        else:
            metavar = shape.type_name.upper()
            params.append(click.Option([flag], default=None, metavar=metavar, help=doc))
    return params


def _common_options(pages: Mapping[str, Any] | None, blob_input: bool) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    if pages is not None:
        params += [
            click.Option(["--no-paginate"], is_flag=True, help="Fetch only the first page."),
            click.Option(["--max-items"], type=click.IntRange(1), help="Items to print at most."),
            click.Option(["--page-size"], type=click.IntRange(1), help="Items in each page."),
            click.Option(
                ["--starting-token"],
                help="Go on from where an earlier --max-items stopped (the NextToken it printed).",
            ),
        ]
    if blob_input:
        params.append(
            click.Option(
                ["--cli-binary-format"],
                type=click.Choice(["raw-in-base64-out", "base64"]),
                default="raw-in-base64-out",
                help="How binary parameters are given: as they are, or base64-encoded.",
            )
        )
    return [
        *params,
        click.Option(
            ["--cli-input-json"], help="The whole request as JSON, inline or file://path."
        ),
        click.Option(["--generate-cli-skeleton"], is_flag=True, help="Print a request template."),
        click.Option(["--query"], default=None, help="A JMESPath query applied to the response."),
        click.Option(
            ["--output"],
            type=click.Choice(["json", "text", "table"]),
            default="json",
            show_default=True,
            help="Output format, as the AWS CLI's.",
        ),
    ]


def _blob(option: str, value: str, binary_format: str) -> bytes:
    """A binary parameter: ``fileb://`` (bytes), ``file://`` (text) or the value itself."""
    if value.startswith("fileb://"):
        try:
            return Path(value[len("fileb://") :]).expanduser().read_bytes()
        except OSError as error:
            _parse_error(
                f"Error parsing parameter '{option}': Unable to load paramfile {value}: {error}"
            )
    if value.startswith("file://"):
        value = read_text_argument(option, value)
    if binary_format == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            _parse_error(f"Error parsing parameter '{option}': Invalid base64: {value}")
    return value.encode("utf-8")


def _request(members: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if options["cli_input_json"]:
        loaded = read_json_argument("--cli-input-json", options["cli_input_json"])
        if not isinstance(loaded, dict):
            _parse_error("Error parsing parameter '--cli-input-json': the JSON must be an object")
        request.update(loaded)
    for member, shape in members.items():
        flag = f"--{_kebab(member)}"
        value = options[_kebab(member).replace("-", "_")]
        if value is None:
            continue
        if shape.type_name == "blob":
            request[member] = _blob(flag, value, options.get("cli_binary_format", ""))
        else:
            request[member] = _convert(flag, shape, value)
    return request


def _payload(model: Any) -> tuple[str | None, bool]:
    """The output member that is the response payload (a body or an event stream), if any, and
    whether it is an event stream."""
    name = model.output_shape.metadata.get("payload")
    if name is None:
        return None, False
    shape = model.output_shape.members[name]
    return name, bool(shape.metadata.get("eventstream"))


def _emit(
    response: dict[str, Any],
    payload: str | None,
    stream: bool,
    options: Mapping[str, Any],
    operation: str,
) -> None:
    """Print a response; a binary payload goes to the ``outfile`` argument, as the AWS CLI does,
    and an event stream is printed event by event as it arrives (one JSON line each, or each in
    the text or table format)."""
    response.pop("ResponseMetadata", None)
    output = options["output"]
    if payload is not None and payload in response:
        body = response.pop(payload)
        if stream and options.get("outfile") is None:
            for event in body:
                if output == "json":
                    click.echo(json.dumps(_jsonable(event), ensure_ascii=False))
                else:
                    print_response(event, None, output, operation)
        else:
            _write_outfile(options["outfile"], body, stream)
    print_response(response, options["query"], output, operation)


def _print_text_pages(walk: _Pages, query: str | None) -> None:
    """Text output of a paginated operation, as the AWS CLI prints it: each page as it comes, on
    its own (its result list alone, ``--query`` applied to it), up to ``--max-items`` in all,
    then a ``NEXTTOKEN`` line where items were left. ``--query`` is not applied to that line
    (older AWS CLI versions did, and printed ``None`` in its place; aws-cli#10486 mended it)."""
    for page in walk:
        print_response({walk.key: page[walk.key]}, query, "text", walk.name)
    if walk.resume_token is not None:
        print_response({"NextToken": {"NextToken": walk.resume_token}}, None, "text", walk.name)


def _write_outfile(path: str, body: Any, stream: bool) -> None:
    with open(path, "wb") as out:
        if not stream:
            out.write(body.read())
            return
        for event in body:
            chunk = event.get("chunk", {}).get("bytes")
            if chunk is not None:
                out.write(chunk + b"\n")


def _operation_command(service: str, operation_name: str) -> click.Command:
    from hpjobs import shapes
    from hpjobs._service_models import paginator
    from hpjobs.operations import operation

    model = shapes.operation_model(service, operation_name)
    members = model.input_shape.members
    pages = paginator(service, operation_name)
    blob_input = any(shape.type_name == "blob" for shape in members.values())
    payload, stream = _payload(model)
    params = _member_options(members) + _common_options(pages, blob_input)
    forwardable = _FORWARDABLE.get((service, operation_name))
    if forwardable is not None:
        params += forwardable()
    if payload is not None and (not stream or blob_input):
        params.append(click.Argument(["outfile"], required=not stream))

    def callback(**options: Any) -> None:
        if options.pop("generate_cli_skeleton"):
            click.echo(json.dumps(skeleton(model.input_shape), indent=4))
            return
        request = _request(members, options)
        function = operation(service, operation_name)
        if forwardable is not None:
            function = _on_target(service, operation_name, function, options)
        manual = pages is not None and (
            pages["input_token"] in request or pages["limit_key"] in request
        )
        if pages is not None and (options["no_paginate"] or manual):
            _refuse_paging_options(options)
        if pages is not None and options["page_size"]:
            request[pages["limit_key"]] = options["page_size"]
        if pages is None or options["no_paginate"] or manual:
            response = call_operation(function, operation_name, request)
        else:
            walk = _Pages(function, operation_name, request, pages, options, members)
            if options["output"] == "text":
                _print_text_pages(walk, options["query"])
                return
            response = _all_pages(walk)
        with aws_errors(operation_name):
            _emit(response, payload, stream, options, operation_name)

    return click.Command(
        _kebab(operation_name),
        params=params,
        callback=callback,
        help=_first_sentence(model.documentation),
    )


def _target_params(bucket: bool) -> Callable[[], list[click.Parameter]]:
    def params() -> list[click.Parameter]:
        from hpjobs.cli.cloud import bucket_options, region_option, target_option

        def collect(**_: Any) -> None:
            """Gathers the options' parameters."""

        decorated = bucket_options(collect, role=False) if bucket else collect
        decorated = target_option(region_option(decorated))
        return list(reversed(getattr(decorated, "__click_params__", [])))

    return params


#: Operations that ``--target aws`` sends to AWS, and the options each takes for it.
_FORWARDABLE: dict[tuple[str, str], Callable[[], list[click.Parameter]]] = {
    ("sagemaker", "CreateTrainingJob"): _target_params(bucket=True),
    ("sagemaker", "CreateHyperParameterTuningJob"): _target_params(bucket=True),
    ("bedrock-runtime", "Converse"): _target_params(bucket=False),
    ("bedrock-runtime", "ConverseStream"): _target_params(bucket=False),
    ("bedrock-runtime", "InvokeModel"): _target_params(bucket=False),
    ("bedrock-runtime", "InvokeModelWithResponseStream"): _target_params(bucket=False),
}


def _on_target(
    service: str,
    operation_name: str,
    local: Callable[[Mapping[str, Any]], dict[str, Any]],
    options: dict[str, Any],
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The operation as ``--target`` says: ``local`` as it is, ``aws`` through boto3."""
    from hpjobs.cli.cloud import forwarded_operation

    if options.pop("target") == "local":
        for key in ("region", "bucket", "prefix", "framework_version"):
            options.pop(key, None)
        return local
    return forwarded_operation(service, operation_name, options)


class ServiceGroup(click.Group):
    """The operations hpjobs implements for one AWS service, as AWS CLI subcommands."""

    def __init__(self, service: str, operations: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.operations = {_kebab(name): name for name in operations}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.operations)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = self.operations.get(cmd_name)
        return None if name is None else _operation_command(self.service, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Operations"):
            formatter.write_dl([(cmd, "") for cmd in self.list_commands(ctx)])


def _service_group(service: str, description: str) -> click.Group:
    from hpjobs.operations import SERVICES

    return ServiceGroup(service, SERVICES[service], name=service, help=description)


sagemaker = _service_group(
    "sagemaker", "SageMaker operations, run on this machine. Options mirror the AWS CLI."
)
bedrock_runtime = _service_group(
    "bedrock-runtime", "Bedrock runtime operations, answered by a local model."
)
bedrock = _service_group(
    "bedrock", "Bedrock control-plane operations: foundation models, customization jobs."
)

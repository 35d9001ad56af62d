"""Runs every command of the user guide, ``docs/guide.md``, so that the guide cannot go stale.

How the guide is read
---------------------
- Each ``## `` heading starts a section; each section is one test (``test_guide[<slug>]``).
  Sections run in the order written, in one temporary working folder with one temporary
  HPJOBS_HOME for the whole module. Each section only uses files and jobs it creates itself, so
  a section also passes alone (``pytest -k``, or on its own xdist worker).
- Commands are in fenced blocks marked ```` ```console ````. A line starting with ``$ `` is a
  command; a command line ending with a backslash continues on the next line. Every other line
  of the block is output shown to the reader and is not compared.
- Each command runs with ``bash -c`` in the working folder, with this environment's ``hpjobs``,
  ``python`` and ``aws`` (the virtual environment's ``bin``) first on PATH. It must exit 0, or
  with N when its last line ends with the comment ``# exit N`` (a documented error).
- A command ending with `` &`` runs in the background: the test starts it, waits until its
  ``--port`` accepts connections when it names one, and ends it (SIGTERM to its process group)
  when the section is over.
- HTML comments on their own lines, just before a fenced block (blank lines between are allowed),
  are instructions to this test and invisible in the rendered guide:

  - ``<!-- expect: TEXT -->``: the stdout of the block's last command contains TEXT.
  - ``<!-- expect-error: TEXT -->``: the same for its stderr.
  - ``<!-- file: NAME -->``: the block's content is saved as NAME in the working folder when the
    test reaches the block (the guide tells the reader to save it), e.g. a request to run or a
    Python script that a later command runs. A block of any language may carry it.

  A marker anywhere else, an unknown marker, a console block without commands, or a shell block
  not marked ``console`` (which would escape the test) fails the test.
- Port 8080 in commands and saved files is replaced by a free port, so the guide can say
  ``hpjobs serve --port 8080`` while the test never collides with a port in use.

The environment
---------------
No HPJOBS_* or AWS_* variable of the caller's environment reaches the commands. Dummy AWS
credentials and the region us-east-1 stand for the reader's own (the AWS CLI and boto3 need some
to sign requests to ``hpjobs serve``); AWS configuration files are not read.
HPJOBS_STOP_GRACE_SECONDS is 10, so a job that ignores SIGTERM cannot hold the test for minutes.

In the section "Going to AWS" (``AWS_SECTION``), AWS_ENDPOINT_URL points boto3 and the AWS CLI at
moto's server, started by the test, and CloudWatch Logs holds the log lines SageMaker would have
written for the job that section runs (moto runs no jobs). At the end of the module, training
and tuning jobs still running are stopped and waited for, so no process outlives the tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"
BIN = Path(sys.executable).parent
REGION = "us-east-1"
#: The section that runs against moto's server, and the job whose CloudWatch log it prints.
AWS_SECTION = "going-to-aws"
AWS_JOB = "digits-aws"
GUIDE_PORT = "8080"
COMMAND_TIMEOUT = 180
STARTUP_SECONDS = 60

_MARKER = re.compile(r"^<!--\s*(expect|expect-error|file):\s*(.*?)\s*-->$")
_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
_PORT = re.compile(r"--port[ =](\d+)")
_SHELL_LANGUAGES = {"sh", "bash", "shell", "zsh", "shell-session"}


@dataclass
class Command:
    text: str  # as given to bash: continuation lines kept, "# exit N" and "&" removed
    line: int  # where it starts in the guide
    exit_code: int = 0
    background: bool = False
    expect: list[str] = field(default_factory=list)
    expect_error: list[str] = field(default_factory=list)


@dataclass
class File:
    name: str
    content: str
    line: int


@dataclass
class Section:
    title: str
    slug: str
    steps: list[Command | File] = field(default_factory=list)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _commands(block: list[tuple[int, str]]) -> list[Command]:
    """The ``$ `` commands of a console block, with their continuation lines."""
    commands: list[Command] = []
    lines = iter(block)
    for number, line in lines:
        if not line.startswith("$ "):
            continue  # shown output
        parts = [line[2:]]
        while parts[-1].endswith("\\"):
            following = next(lines, None)
            assert following is not None, f"guide line {number}: continuation runs off the block"
            parts.append(following[1])
        text = "\n".join(parts).strip()
        command = Command(text, number)
        if match := _EXIT.search(text):
            command.exit_code = int(match.group(1))
            text = text[: match.start()].rstrip()
        if text.endswith("&") and not text.endswith("&&"):
            command.background = True
            text = text[:-1].rstrip()
        command.text = text
        commands.append(command)
    return commands


def parse_guide(text: str) -> list[Section]:
    """The guide's sections and, in each, its commands and files in order."""
    sections: list[Section] = []
    markers: list[tuple[str, str, int]] = []
    fence: tuple[str, int] | None = None  # (language, line) of the open block
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is not None:
            if line.strip() != "```":
                block.append((number, line))
                continue
            language, start = fence
            steps = _block_steps(language, start, block, markers)
            if steps:
                assert sections, f"guide line {start}: commands before the first section"
                sections[-1].steps += steps
            fence, block, markers = None, [], []
            continue
        if line.startswith("```"):
            fence = (line[3:].strip(), number)
            continue
        if match := _MARKER.match(line.strip()):
            markers.append((match.group(1), match.group(2), number))
            continue
        assert not line.strip().startswith("<!--"), f"guide line {number}: unknown marker {line!r}"
        if line.strip():
            assert not markers, f"guide line {markers[0][2]}: a marker not followed by a block"
        if line.startswith("## "):
            title = line[3:].strip()
            sections.append(Section(title, _slug(title)))
    assert fence is None, f"guide line {fence[1]}: the block is never closed"
    assert not markers, f"guide line {markers[0][2]}: a marker at the end of the guide"
    return sections


def _block_steps(
    language: str, start: int, block: list[tuple[int, str]], markers: list[tuple[str, str, int]]
) -> list[Command | File]:
    where = f"guide line {start}"
    assert language not in _SHELL_LANGUAGES, (
        f"{where}: shell commands belong in ```console blocks, which the test runs"
    )
    files = [value for kind, value, _ in markers if kind == "file"]
    if files:
        assert len(files) == 1 and len(markers) == 1, f"{where}: a file marker stands alone"
        content = "".join(line + "\n" for _, line in block)
        return [File(files[0], content, start)]
    if language != "console":
        assert not markers, f"{where}: expectations only apply to ```console blocks"
        return []
    commands = _commands(block)
    assert commands, f"{where}: a console block without a '$ ' command"
    for kind, value, _ in markers:
        assert value, f"{where}: an empty {kind} marker"
        (commands[-1].expect if kind == "expect" else commands[-1].expect_error).append(value)
    return list(commands)


SECTIONS = parse_guide(GUIDE.read_text(encoding="utf-8"))


def test_the_conventions_are_read_as_documented() -> None:
    sample = "\n".join(
        [
            "# Title",
            "## First part",
            "<!-- file: request.json -->",
            "```json",
            '{"a": 1}',
            "```",
            "",
            "<!-- expect: done -->",
            "<!-- expect-error: warned -->",
            "",
            "```console",
            "$ one --flag \\",
            "    --other",
            "output that is not compared",
            "$ two  # exit 254",
            "$ server --port 8080 &",
            "$ three",
            "```",
            "```python",
            "print('shown only')",
            "```",
            "## Second part",
        ]
    )
    first, second = parse_guide(sample)
    assert (first.title, first.slug, second.slug) == ("First part", "first-part", "second-part")
    saved, one, two, server, three = first.steps
    assert saved == File("request.json", '{"a": 1}\n', 4)
    assert one == Command("one --flag \\\n    --other", 12)
    assert two == Command("two", 15, exit_code=254)
    assert server == Command("server --port 8080", 16, background=True)
    assert three == Command("three", 17, expect=["done"], expect_error=["warned"])
    assert second.steps == []
    for wrong in (
        "## A\n<!-- expect: x -->\ntext\n```console\n$ a\n```",  # marker not before its block
        "## A\n<!-- except: x -->\n```console\n$ a\n```",  # unknown marker
        "## A\n```console\nno command\n```",
        "## A\n```sh\n$ a\n```",  # would escape the test
        "```console\n$ a\n```",  # before the first section
    ):
        with pytest.raises(AssertionError):
            parse_guide(wrong)


def test_the_guide_has_its_sections() -> None:
    """The sections the guide promises, each with commands; the AWS one is where the test
    expects it."""
    slugs = [section.slug for section in SECTIONS]
    assert slugs == [
        "getting-started",
        "training-jobs",
        "tuning-jobs",
        "bedrock-generation",
        "customization-jobs",
        "the-http-endpoint",
        AWS_SECTION,
        "shell-completion",
    ]
    for section in SECTIONS:
        assert any(isinstance(step, Command) for step in section.steps), section.title


def test_the_guide_shows_each_capability() -> None:
    """Every capability the guide documents keeps at least one command that the test runs."""
    commands = "\n".join(
        step.text for section in SECTIONS for step in section.steps if isinstance(step, Command)
    )
    for needed in (
        "hpjobs templates",
        "hpjobs init ",
        "--hp ",
        "--detach",
        "hpjobs jobs",
        "hpjobs logs ",
        "hpjobs metrics ",
        "hpjobs sagemaker describe-training-job",
        "hpjobs sagemaker list-training-jobs ",
        "hpjobs sagemaker stop-training-job",
        "hpjobs tuning-jobs",
        "hpjobs sagemaker describe-hyper-parameter-tuning-job",
        "hpjobs sagemaker list-training-jobs-for-hyper-parameter-tuning-job",
        "hpjobs bedrock-runtime converse ",
        "hpjobs bedrock-runtime converse-stream",
        "hpjobs bedrock-runtime invoke-model",
        "hpjobs chat ",
        "hpjobs bedrock list-foundation-models",
        "hpjobs bedrock create-model-customization-job",
        "hpjobs bedrock get-model-customization-job",
        "hpjobs bedrock list-model-customization-jobs",
        "hpjobs bedrock stop-model-customization-job",
        "hpjobs serve",
        "aws sagemaker list-training-jobs --endpoint-url",
        "python ",
        "hpjobs migrate ",
        "--target aws",
        "hpjobs completion bash",
        "hpjobs plot ",
        "curl -s http://127.0.0.1:8080/ui/",
    ):
        assert needed in commands, f"the guide runs no command with {needed!r}"


def test_the_guide_runs_every_command_of_hpjobs() -> None:
    """Each command ``hpjobs --help`` lists is run somewhere in the guide."""
    from hpjobs.cli import _COMMANDS

    commands = [
        step.text for section in SECTIONS for step in section.steps if isinstance(step, Command)
    ]
    used = {match for text in commands for match in re.findall(r"\bhpjobs ([a-z-]+)", text)}
    assert sorted(set(_COMMANDS) - used) == []


# -- running the guide ---------------------------------------------------------------------------


@dataclass
class Workspace:
    folder: Path
    env: dict[str, str]
    port: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _base_env(home: Path, scratch: Path) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "HPJOBS_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HPJOBS_HOME=str(home),
        HPJOBS_STOP_GRACE_SECONDS="10",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(scratch / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(scratch / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    return env


_SETTLE = """
import sys, time
import hpjobs

sagemaker = hpjobs.client("sagemaker")
busy = ("InProgress", "Stopping")
deadline = time.monotonic() + 90
while True:
    tuning = [
        job["HyperParameterTuningJobName"]
        for job in sagemaker.list_hyper_parameter_tuning_jobs(MaxResults=100)[
            "HyperParameterTuningJobSummaries"
        ]
        if job["HyperParameterTuningJobStatus"] in busy
    ]
    training = [
        job["TrainingJobName"]
        for job in sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        if job["TrainingJobStatus"] in busy
    ]
    if not tuning and not training:
        break
    if time.monotonic() > deadline:
        sys.exit(f"still running: {tuning + training}")
    for name in tuning:
        try:
            sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except Exception:
            pass
    for name in training:
        try:
            sagemaker.stop_training_job(TrainingJobName=name)
        except Exception:
            pass
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The working folder and environment every section of the guide runs in."""
    top = tmp_path_factory.mktemp("guide")
    folder = top / "work"
    folder.mkdir()
    env = _base_env(top / "hpjobs-home", top)
    yield Workspace(folder, env, str(_free_port()))
    # whatever a failed section left running; no AWS endpoint is reachable any more
    settle_env = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    settled = subprocess.run(
        [sys.executable, "-c", _SETTLE],
        env=settle_env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert settled.returncode == 0, settled.stdout + settled.stderr


@contextlib.contextmanager
def _moto(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """moto's server standing in for AWS, with the CloudWatch log of ``AWS_JOB``."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its state per process, not per server: start from nothing
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        logs = boto3.client(
            "logs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        group, stream = "/aws/sagemaker/TrainingJobs", f"{AWS_JOB}/algo-1-1700000000"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        lines = [
            "Invoking script with the following command: /opt/conda/bin/python3.12 mlp.py",
            "hpjobs/mlp classifier: 1438 train rows, 359 validation rows, 64 features, 10 classes",
            "epoch=1 lr=0.003 train:loss=1.01436 train:accuracy=0.847705 validation:loss=1.05257 "
            "validation:accuracy=0.810585",
        ]
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
        )
        yield {**env, "AWS_ENDPOINT_URL": endpoint, "HPJOBS_AWS_POLL_SECONDS": "0.1"}
    finally:
        server.stop()


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"did not listen on {port} in time:\n{log.read_text()}")
        time.sleep(0.05)


def _end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the background command's process group; SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _run(command: Command, workspace: Workspace, env: dict[str, str]) -> None:
    where = f"guide line {command.line}: $ {command.text}"
    result = subprocess.run(
        ["bash", "-c", command.text],
        cwd=workspace.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    shown = f"\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    assert result.returncode == command.exit_code, (
        f"{where}\nexited {result.returncode}, the guide says {command.exit_code}{shown}"
    )
    for text in command.expect:
        assert text in result.stdout, f"{where}\nstdout lacks {text!r}{shown}"
    for text in command.expect_error:
        assert text in result.stderr, f"{where}\nstderr lacks {text!r}{shown}"


def _with_port(text: str, port: str) -> str:
    return re.sub(rf"\b{GUIDE_PORT}\b", port, text)


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS, ids=[section.slug for section in SECTIONS])
def test_guide(section: Section, workspace: Workspace) -> None:
    """Run one section's commands in order and check each one's exit status and output."""
    with contextlib.ExitStack() as stack:
        env = workspace.env
        if section.slug == AWS_SECTION:
            env = stack.enter_context(_moto(env))
        for step in section.steps:
            if isinstance(step, File):
                path = workspace.folder / step.name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(_with_port(step.content, workspace.port), encoding="utf-8")
                continue
            command = Command(**{**vars(step), "text": _with_port(step.text, workspace.port)})
            if not command.background:
                _run(command, workspace, env)
                continue
            log = workspace.folder / f"background-{command.line}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    ["bash", "-c", command.text],
                    cwd=workspace.folder,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            stack.callback(_end, process)
            if match := _PORT.search(command.text):
                _wait_for_port(process, int(match.group(1)), log)

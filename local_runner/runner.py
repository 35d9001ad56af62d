"""Runs one training job on this machine under the SageMaker container contract.

:func:`run` takes a validated ``CreateTrainingJob`` request and a folder, and does what a
SageMaker training instance does (reference sagemaker.md §3):

1. builds the ``/opt/ml`` tree under the folder and writes ``hyperparameters.json``,
   ``inputdataconfig.json`` and ``resourceconfig.json``;
2. stages the channels, the checkpoints and the user's code (``Downloading``);
3. runs the entry point in a new process group with the ``SM_*`` environment, hyperparameters as
   arguments, stdout and stderr into the log, metrics read from the log (``Training``);
4. on ``MaxRuntimeInSeconds`` or a stop request sends SIGTERM, waits the grace period, then
   SIGKILL;
5. packs ``/opt/ml/model`` into ``model.tar.gz`` and ``/opt/ml/output/data`` into
   ``output.tar.gz`` and delivers both to ``<S3OutputPath>/<job>/output/`` (``Uploading``), also
   for stopped jobs.

It reports what happens through :class:`Events`; it knows nothing about where that is recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import psutil

from local_runner import contract
from local_runner.archives import UnsafeArchive, pack
from local_runner.metrics import MetricParser
from local_runner.redaction import Redactor, secret_values
from local_runner.staging import (
    StagingError,
    UnsafeLocation,
    deliver,
    local_path,
    stage_channel,
    stage_code,
    sync_folder,
)

__all__ = ["Events", "LocalJob", "Outcome", "run"]

Result = Literal["Completed", "Failed", "Stopped", "MaxRuntimeExceeded"]

_FAILURE_LIMIT = 1024
_POLL_SECONDS = 0.02
_DEFAULT_MAX_RUNTIME = 86_400
_PR_SET_PDEATHSIG = 1
#: Every process of a job carries this variable with the job's own token, so that none of them
#: outlives the job (as none outlives a SageMaker training container).
_TOKEN_VARIABLE = "HPJOBS_JOB_TOKEN"
_DRAIN_SECONDS = 0.2


class Events(Protocol):
    """What the runner tells its caller while a job runs."""

    def status(self, secondary: str, message: str) -> None:
        """The job moved to ``secondary`` (an AWS SecondaryStatus value) with this message."""

    def metric(self, name: str, value: float, timestamp: datetime, epoch: int | None) -> None:
        """A metric value was found in the log."""

    def stop_requested(self) -> bool:
        """Whether someone asked to stop the job (polled often; keep it cheap)."""


@dataclass(frozen=True)
class LocalJob:
    """One job to run: its validated request and where it lives."""

    name: str
    arn: str
    region: str
    request: Mapping[str, Any]
    folder: Path
    log_path: Path
    stop_grace_seconds: float = 120.0
    #: A built-in algorithm's script, run as the entry point in place of ``sagemaker_program``.
    builtin_script: Path | None = None
    python: str = sys.executable

    @property
    def paths(self) -> contract.ContainerPaths:
        return contract.ContainerPaths(self.folder / "opt" / "ml")


@dataclass
class Outcome:
    """How a job ended."""

    result: Result
    failure_reason: str | None = None
    model_artifacts: str = ""
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)


class JobError(Exception):
    """The job cannot go on; the message becomes its FailureReason."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def model_artifacts_location(request: Mapping[str, Any], name: str) -> str:
    """``ModelArtifacts.S3ModelArtifacts``: where ``model.tar.gz`` is (or the model folder for
    ``CompressionType: NONE``)."""
    output = request["OutputDataConfig"]
    prefix = f"{output['S3OutputPath'].rstrip('/')}/{name}/output/"
    return prefix + ("model/" if output.get("CompressionType") == "NONE" else "model.tar.gz")


def run(job: LocalJob, events: Events) -> Outcome:
    """Run ``job`` to its end and say how it ended. Never raises for a job's own failure."""
    outcome = Outcome(
        result="Failed", model_artifacts=model_artifacts_location(job.request, job.name)
    )
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log_path, "a", encoding="utf-8", buffering=1) as log:
        runner = _Runner(job, events, log, outcome)
        runner.execute()
    return outcome


class _Runner:
    def __init__(self, job: LocalJob, events: Events, log: IO[str], outcome: Outcome) -> None:
        self.job = job
        self.events = events
        self.log = log
        self.outcome = outcome
        self.paths = job.paths
        self.stop_reason: Result | None = None
        self.deadline = 0.0
        self._log_lock = threading.Lock()
        self._ended = threading.Event()
        #: Why reading the program's output failed, if it did: the job then ends Failed, since
        #: its log and metrics are incomplete.
        self._pump_error: Exception | None = None
        self._token = secrets.token_hex(16)
        #: Secret values (by the rule of :mod:`local_runner.redaction`) never reach the log or
        #: the failure reason; the program itself still gets them.
        self._redact = Redactor(secret_values(job.request))

    # -- the phases -------------------------------------------------------------------------

    def execute(self) -> None:
        self.events.status("Starting", "Preparing the instances for training")
        self.paths.create()
        self.outcome.training_start_time = _now()
        max_runtime = self.job.request.get("StoppingCondition", {}).get(
            "MaxRuntimeInSeconds", _DEFAULT_MAX_RUNTIME
        )
        self.deadline = time.monotonic() + max_runtime
        try:
            self._write_config()
            self.events.status("Downloading", "Downloading input data")
            self._stage_inputs()
            if not self._check_stop():
                self.events.status(
                    "Training", "Training image download completed. Training in progress."
                )
                self._train()
        except JobError as error:
            self._fail(str(error))
        self._finish()

    def _write_config(self) -> None:
        request = self.job.request
        algorithm = request.get("AlgorithmSpecification", {})
        channels = request.get("InputDataConfig", [])
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
        files = {
            "hyperparameters.json": request.get("HyperParameters", {}),
            "inputdataconfig.json": contract.input_data_config(
                channels, algorithm.get("TrainingInputMode", "File")
            ),
            "resourceconfig.json": contract.resource_config(instance_type),
        }
        if "CheckpointConfig" in request:
            files["checkpointconfig.json"] = request["CheckpointConfig"]
        for file_name, content in files.items():
            (self.paths.config_dir / file_name).write_text(json.dumps(content), encoding="utf-8")

    def _stage_inputs(self) -> None:
        request = self.job.request
        try:
            for channel in request.get("InputDataConfig", []):
                if self._check_stop():
                    return
                uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
                self._say(f"Staging channel {channel['ChannelName']} from {uri}")
                stage_channel(uri, self.paths.channel_dir(channel["ChannelName"]))
            checkpoint = request.get("CheckpointConfig")
            if checkpoint:
                self._restore_checkpoints(checkpoint)
            self._stage_code()
        except (StagingError, UnsafeArchive, OSError, ValueError) as error:
            raise JobError(f"ClientError: Data download failed: {error}") from error

    def _restore_checkpoints(self, checkpoint: Mapping[str, Any]) -> None:
        folder = self.checkpoint_dir
        folder.mkdir(parents=True, exist_ok=True)
        try:
            stage_channel(checkpoint["S3Uri"], folder, contained=True)
        except UnsafeLocation:
            raise
        except StagingError:
            self._say(f"No checkpoints to restore from {checkpoint['S3Uri']}")
        else:
            self._say(f"Restored checkpoints from {checkpoint['S3Uri']}")

    @property
    def checkpoint_dir(self) -> Path:
        local = (
            self.job.request.get("CheckpointConfig", {}).get("LocalPath") or "/opt/ml/checkpoints"
        )
        return self.paths.container_path(local)

    def _stage_code(self) -> None:
        if self.job.builtin_script is not None:
            self.paths.code_dir.mkdir(parents=True, exist_ok=True)
            target = self.paths.code_dir / self.job.builtin_script.name
            target.write_bytes(self.job.builtin_script.read_bytes())
            return
        submit = self._hyperparameter("sagemaker_submit_directory")
        if submit:
            stage_code(str(submit), self.paths.code_dir)

    def _hyperparameter(self, key: str) -> Any:
        hyperparameters = self.job.request.get("HyperParameters", {})
        return contract.decode_hyperparameters(hyperparameters).get(key)

    # -- running the program ----------------------------------------------------------------

    def _command(self) -> tuple[list[str], str]:
        """The command line and the entry point's name, by the toolkit's rules."""
        algorithm = self.job.request.get("AlgorithmSpecification", {})
        decoded = contract.decode_hyperparameters(self.job.request.get("HyperParameters", {}))
        user, _ = contract.split_hyperparameters(decoded)
        args = contract.to_cmd_args(user)
        if algorithm.get("ContainerEntrypoint"):
            command = [*algorithm["ContainerEntrypoint"], *algorithm.get("ContainerArguments", [])]
            return command, command[0]
        if self.job.builtin_script is not None:
            return [
                self.job.python,
                self.job.builtin_script.name,
                *args,
            ], self.job.builtin_script.name
        program = decoded.get("sagemaker_program")
        if not program:
            raise JobError(
                "ClientError: No entry point: set the sagemaker_program hyperparameter to the "
                "script to run (with sagemaker_submit_directory for its folder), or give "
                "AlgorithmSpecification.ContainerEntrypoint."
            )
        return self._program_command(str(program), args), str(program)

    def _program_command(self, program: str, args: Sequence[str]) -> list[str]:
        code = self.paths.code_dir
        entry = code / program
        if not entry.resolve().is_relative_to(code.resolve()):
            raise JobError(f"ClientError: sagemaker_program {program!r} is outside the code folder")
        if (code / "requirements.txt").exists():
            self._say("requirements.txt found: not installed; the job uses this machine's packages")
        if program.endswith(".sh"):
            if entry.exists():
                entry.chmod(entry.stat().st_mode | 0o111)
            return ["/bin/sh", "-c", shlex.join([f"./{program}", *args])]
        if (code / "setup.py").exists() or (program.endswith(".py") is False and entry.is_dir()):
            module = program[: -len(".py")] if program.endswith(".py") else program
            return [self.job.python, "-m", module, *args]
        if program.endswith(".py"):
            return [self.job.python, program, *args]
        if entry.exists():
            entry.chmod(entry.stat().st_mode | 0o111)
        return [f"./{program}", *args]

    def _environment(self, entry_point: str) -> dict[str, str]:
        request = self.job.request
        channels = request.get("InputDataConfig", [])
        algorithm = request.get("AlgorithmSpecification", {})
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
        submit = self._hyperparameter("sagemaker_submit_directory")
        spec = contract.ContainerSpec(
            job_name=self.job.name,
            paths=self.paths,
            hyperparameters=request.get("HyperParameters", {}),
            input_data=contract.input_data_config(
                channels, algorithm.get("TrainingInputMode", "File")
            ),
            resources=contract.resource_config(instance_type),
            module_dir=str(submit) if submit else str(self.paths.code_dir),
            user_entry_point=entry_point,
        )
        env = dict(os.environ)
        env.update(contract.environment(spec))
        python_path = [str(self.paths.code_dir), env.get("PYTHONPATH", "")]
        env.update(
            {
                "TRAINING_JOB_NAME": self.job.name,
                "TRAINING_JOB_ARN": self.job.arn,
                "SAGEMAKER_JOB_NAME": self.job.name,
                "SAGEMAKER_REGION": self.job.region,
                "AWS_REGION": env.get("AWS_REGION", self.job.region),
                "CURRENT_HOST": contract.HOST,
                "SAGEMAKER_BASE_DIR": str(self.paths.base),
                "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
                "PYTHONUNBUFFERED": "TRUE",
                "PYTHONDONTWRITEBYTECODE": "TRUE",
            }
        )
        env.update(request.get("Environment", {}))
        env[_TOKEN_VARIABLE] = self._token
        return env

    def _train(self) -> None:
        command, entry_point = self._command()
        env = self._environment(entry_point)
        self._say(f"Invoking script with the following command: {shlex.join(command)}")
        try:
            process = subprocess.Popen(
                command,
                cwd=self.paths.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            raise JobError(f"ClientError: could not start {command[0]}: {error}") from error
        assert process.stdout is not None
        reader = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        reader.start()
        self._supervise(process)
        # The container ends with its main process. The program has ended but is not reaped
        # yet, so its pid (and its process group's id) cannot have passed to a new process.
        self._kill_leftovers(process.pid)
        exit_code = process.wait()
        self._ended.set()
        reader.join()
        process.stdout.close()
        self.outcome.exit_code = exit_code
        if self._pump_error is not None:
            raise JobError(
                "InternalServerError: hpjobs could not read the training program's output: "
                f"{self._pump_error!r}"
            )
        if self.stop_reason is None and exit_code != 0:
            raise JobError(self._failure_reason(exit_code))

    def _pump(self, stream: IO[bytes]) -> None:
        """Copy the program's output to the log, line by line, reading metrics on the way.

        Stops at end of output, or once the program has ended and no more output comes (a
        process that escaped the job may still hold the pipe open). Should reading fail, the
        error is kept for :meth:`_train` and the program is stopped (see :meth:`_supervise`):
        a job whose output goes unread must not end as if nothing were lost.
        """
        try:
            parser = MetricParser(
                self.job.request.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
            )
            pending = b""
            for chunk in _chunks(stream.fileno(), self._ended):
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    self._take_line(raw, parser)
            if pending:
                self._take_line(pending, parser)
        except Exception as error:
            self._pump_error = error

    def _take_line(self, raw: bytes, parser: MetricParser) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        self._write(line)
        now = _now()
        for value in parser.parse(line):
            self.events.metric(value.name, value.value, now, value.epoch)

    def _kill_leftovers(self, pid: int) -> None:
        """SIGKILL the program's process group and every process still carrying this job's
        token in its environment, including ones that moved to a session of their own."""
        _signal_group(pid, signal.SIGKILL)
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.environ().get(_TOKEN_VARIABLE) == self._token:
                    process.kill()

    def _supervise(self, process: subprocess.Popen[bytes]) -> None:
        """Wait until the process ends (leaving it for the caller to reap), stopping it on
        request, at the deadline, or once its output can no longer be read."""
        while not _ended(process, _POLL_SECONDS):
            if self._pump_error is not None:
                self._say("Reading the training program's output failed: stopping the program")
                self._terminate(process)
                return
            if self._check_stop():
                self._terminate(process)
                return

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        grace = self.job.stop_grace_seconds
        self._say(f"Sending SIGTERM to the training process; SIGKILL follows in {grace:g} s")
        _signal_group(process.pid, signal.SIGTERM)
        if not _ended(process, grace):
            self._say("The training process did not exit in the grace period: sending SIGKILL")
            _signal_group(process.pid, signal.SIGKILL)
            _ended(process, None)

    def _check_stop(self) -> bool:
        """Whether the job must stop now; the first time, say why."""
        if self.stop_reason is not None:
            return True
        if self.events.stop_requested():
            self.stop_reason = "Stopped"
        elif time.monotonic() >= self.deadline:
            self.stop_reason = "MaxRuntimeExceeded"
            self.events.status("Stopping", "Stopping the training job")
            self._say("MaxRuntimeInSeconds reached: stopping the training job")
        return self.stop_reason is not None

    # -- ending -----------------------------------------------------------------------------

    def _failure_reason(self, exit_code: int) -> str:
        failure = self.paths.failure_file
        if failure.is_file():
            text = failure.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                return self._redact(text)[:_FAILURE_LIMIT]
        self.log.flush()
        tail = _tail(self.job.log_path, 10)
        reason = f"AlgorithmError: the training process exited with status {exit_code}"
        if exit_code < 0:
            reason = f"AlgorithmError: the training process was killed by signal {-exit_code}"
        text = f"{reason}. Last lines of the log:\n{tail}" if tail else reason
        return text[:_FAILURE_LIMIT]

    def _fail(self, reason: str) -> None:
        reason = self._redact(reason)
        self.outcome.result = "Failed"
        self.outcome.failure_reason = reason[:_FAILURE_LIMIT]
        self._say(f"Training job failed: {reason}")

    def _finish(self) -> None:
        failed = self.outcome.failure_reason is not None
        if self.stop_reason is None and not failed:
            self.events.status("Uploading", "Uploading generated training model")
        try:
            self._upload()
        except (StagingError, OSError) as error:
            if not failed:
                self._fail(f"ClientError: Artifact upload failed: {error}")
        if self.stop_reason is not None:
            self.outcome.result = self.stop_reason
            self.outcome.failure_reason = None
        elif self.outcome.failure_reason is None:
            self.outcome.result = "Completed"
        self.outcome.training_end_time = _now()
        self._say(f"Training job ended: {self.outcome.result}")

    def _upload(self) -> None:
        """Deliver the artifacts (and checkpoints); a local destination is written only below its
        own folder, never through a link that leads out of it."""
        request = self.job.request
        output = request["OutputDataConfig"]
        root = local_path(output["S3OutputPath"])
        prefix = f"{output['S3OutputPath'].rstrip('/')}/{self.job.name}/output"
        scratch = self.job.folder / "artifacts"
        if output.get("CompressionType") == "NONE":
            sync_folder(self.paths.model_dir, prefix + "/model", within=root)
        else:
            pack(self.paths.model_dir, scratch / "model.tar.gz")
            deliver(scratch / "model.tar.gz", prefix + "/model.tar.gz", within=root)
        pack(self.paths.output_data_dir, scratch / "output.tar.gz")
        deliver(scratch / "output.tar.gz", prefix + "/output.tar.gz", within=root)
        checkpoint = request.get("CheckpointConfig")
        if checkpoint and self.checkpoint_dir.is_dir():
            location = checkpoint["S3Uri"]
            sync_folder(self.checkpoint_dir, location, within=local_path(location))

    def _write(self, line: str) -> None:
        line = self._redact(line)
        with self._log_lock:
            self.log.write(line + "\n")

    def _say(self, text: str) -> None:
        self._write(f"hpjobs: {text}")


def _chunks(fd: int, ended: threading.Event) -> Iterator[bytes]:
    """What arrives on ``fd`` until end of file, or until ``ended`` is set and the pipe has been
    quiet for a moment.

    A selector, not ``select.select``: the caller may hold many files (a long-lived process that
    forked this supervisor, or one running jobs itself), and ``select`` refuses any descriptor
    numbered 1024 or more.
    """
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if not selector.select(_DRAIN_SECONDS):
                if ended.is_set():
                    return
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            yield chunk


def _ended(process: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Whether ``process`` has ended, waiting up to ``timeout`` seconds for it (``None``: until
    it does). Where the system can, an ended process is left a zombie, not reaped: until it is,
    no new process can be given its pid, so signalling its process group cannot reach another
    job's program (pids wrap around on a busy machine)."""
    if not hasattr(os, "waitid"):
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    flags = os.WEXITED | os.WNOWAIT
    try:
        if timeout is None:
            os.waitid(os.P_PID, process.pid, flags)
            return True
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while os.waitid(os.P_PID, process.pid, flags | os.WNOHANG) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            delay = min(delay * 2, remaining, 0.05)
            time.sleep(delay)
    except ChildProcessError:  # already reaped, by Popen or by someone else
        pass
    return True


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to kill it if the supervisor dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            content = [line for line in log.read().splitlines() if not line.startswith("hpjobs: ")]
    except OSError:
        return ""
    return "\n".join(content[-lines:])

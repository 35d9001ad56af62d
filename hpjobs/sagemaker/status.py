"""Training job lifecycle: AWS's status values and the transitions hpjobs allows between them.

The values are botocore's ``TrainingJobStatus`` and ``SecondaryStatus`` enums (reference
sagemaker.md §2 and Appendix B). The lifecycles hpjobs produces are the ones SageMaker shows:

- success: ``InProgress``: Starting → Downloading → Training → Uploading, then ``Completed``
- failure: ``InProgress``: … → ``Failed``
- StopTrainingJob: ``Stopping``: Stopping, then ``Stopped``: Stopped
- MaxRuntimeInSeconds reached: ``Stopping``: Stopping, then ``Stopped``: MaxRuntimeExceeded

Any other move raises :class:`IllegalTransition`.
"""

from __future__ import annotations

import enum

__all__ = [
    "STATUS_MESSAGES",
    "IllegalTransition",
    "SecondaryStatus",
    "TrainingJobStatus",
    "check_transition",
]


class TrainingJobStatus(str, enum.Enum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"

    def is_finished(self) -> bool:
        return self in _FINISHED


class SecondaryStatus(str, enum.Enum):
    STARTING = "Starting"
    LAUNCHING_ML_INSTANCES = "LaunchingMLInstances"
    PREPARING_TRAINING_STACK = "PreparingTrainingStack"
    DOWNLOADING = "Downloading"
    DOWNLOADING_TRAINING_IMAGE = "DownloadingTrainingImage"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    COMPLETED = "Completed"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"
    MAX_WAIT_TIME_EXCEEDED = "MaxWaitTimeExceeded"
    UPDATING = "Updating"
    RESTARTING = "Restarting"
    PENDING = "Pending"


_FINISHED = frozenset(
    {TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED}
)

S, T = SecondaryStatus, TrainingJobStatus

#: The secondary status each primary status may show.
_SECONDARY_OF: dict[TrainingJobStatus, frozenset[SecondaryStatus]] = {
    T.IN_PROGRESS: frozenset({S.STARTING, S.DOWNLOADING, S.TRAINING, S.UPLOADING}),
    T.COMPLETED: frozenset({S.COMPLETED}),
    T.FAILED: frozenset({S.FAILED}),
    T.STOPPING: frozenset({S.STOPPING}),
    T.STOPPED: frozenset({S.STOPPED, S.MAX_RUNTIME_EXCEEDED}),
}

#: Legal moves of the secondary status (a job may also stay where it is with a new message).
_NEXT: dict[SecondaryStatus, frozenset[SecondaryStatus]] = {
    S.STARTING: frozenset({S.DOWNLOADING, S.FAILED, S.STOPPING}),
    S.DOWNLOADING: frozenset({S.TRAINING, S.FAILED, S.STOPPING}),
    S.TRAINING: frozenset({S.UPLOADING, S.FAILED, S.STOPPING}),
    S.UPLOADING: frozenset({S.COMPLETED, S.FAILED, S.STOPPING}),
    S.STOPPING: frozenset({S.STOPPED, S.MAX_RUNTIME_EXCEEDED, S.FAILED}),
}

#: The status messages SageMaker shows for each secondary status (reference sagemaker.md §2;
#: the Failed and MaxRuntimeExceeded texts are from user logs and unverified there).
STATUS_MESSAGES: dict[SecondaryStatus, str] = {
    S.STARTING: "Starting the training job",
    S.DOWNLOADING: "Downloading input data",
    S.TRAINING: "Training image download completed. Training in progress.",
    S.UPLOADING: "Uploading generated training model",
    S.COMPLETED: "Training job completed",
    S.FAILED: "Training job failed",
    S.STOPPING: "Stopping the training job",
    S.STOPPED: "Training job stopped",
    S.MAX_RUNTIME_EXCEEDED: "Training job runtime exceeded MaxRuntimeInSeconds provided",
}


class IllegalTransition(RuntimeError):
    """A move the lifecycle does not allow; a bug in hpjobs, never a user's error."""


def check_transition(
    old: tuple[TrainingJobStatus, SecondaryStatus] | None,
    new: tuple[TrainingJobStatus, SecondaryStatus],
) -> None:
    """Raise :class:`IllegalTransition` unless ``old`` → ``new`` is a legal move.

    ``old`` is None for a job being created, which must start InProgress/Starting.
    """
    status, secondary = new
    if secondary not in _SECONDARY_OF.get(status, frozenset()):
        raise IllegalTransition(f"{status.value} cannot show secondary status {secondary.value}")
    if old is None:
        if new != (T.IN_PROGRESS, S.STARTING):
            raise IllegalTransition(f"a new job cannot start as {status.value}/{secondary.value}")
        return
    if old == new:
        return
    if secondary not in _NEXT.get(old[1], frozenset()):
        raise IllegalTransition(
            f"{old[0].value}/{old[1].value} cannot move to {status.value}/{secondary.value}"
        )

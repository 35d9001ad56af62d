"""Settings read from the environment, in one place.

=============================  ==========================================  ======================
variable                       meaning                                     default
=============================  ==========================================  ======================
``HPJOBS_HOME``                where jobs, logs and the database live      ``~/.hpjobs``
``HPJOBS_DATABASE_URL``        any SQLAlchemy URL for the store            SQLite in HPJOBS_HOME
``HPJOBS_STOP_GRACE_SECONDS``  SIGTERM → SIGKILL grace on stop/time-out    120 (as SageMaker)
``HPJOBS_ACCOUNT_ID``          the 12-digit account id in ARNs             ``000000000000``
``AWS_REGION``                 region in ARNs (then ``AWS_DEFAULT_REGION``) ``us-east-1``
``HPJOBS_AWS_BUCKET``          S3 bucket for jobs sent to AWS (``--bucket``)  none
``HPJOBS_AWS_ROLE``            IAM role for jobs sent to AWS (``--role``)     the request's
``HPJOBS_AWS_POLL_SECONDS``    how often a watched AWS job is asked about  5
``HPJOBS_MAX_RUNNING_JOBS``    local training jobs running at once; more   twice the CPUs
                               wait in order for a free slot
=============================  ==========================================  ======================

Jobs sent to AWS take credentials, region and endpoints from boto3's usual chain (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_<SERVICE>``...).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings"]

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    stop_grace_seconds: float
    account_id: str
    region: str
    aws_poll_seconds: float = 5.0
    #: Local training jobs running at once; more wait, in order, for a free slot.
    max_running_jobs: int = 4

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"


def settings() -> Settings:
    """The settings as the environment gives them now (read on every call)."""
    home = Path(os.environ.get("HPJOBS_HOME") or Path.home() / ".hpjobs").expanduser().absolute()
    url = os.environ.get("HPJOBS_DATABASE_URL") or f"sqlite:///{home / 'hpjobs.db'}"
    account = os.environ.get("HPJOBS_ACCOUNT_ID", "000000000000")
    if not _ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"HPJOBS_ACCOUNT_ID must be 12 digits, got {account!r}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Settings(
        home=home,
        database_url=url,
        stop_grace_seconds=float(os.environ.get("HPJOBS_STOP_GRACE_SECONDS", "120")),
        account_id=account,
        region=region,
        aws_poll_seconds=float(os.environ.get("HPJOBS_AWS_POLL_SECONDS", "5")),
        max_running_jobs=_max_running_jobs(),
    )


def _max_running_jobs() -> int:
    """``HPJOBS_MAX_RUNNING_JOBS``, by default twice the CPUs this process may use."""
    given = os.environ.get("HPJOBS_MAX_RUNNING_JOBS")
    if not given:
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return 2 * (len(usable) if usable else os.cpu_count() or 1)
    if not given.isdigit() or int(given) < 1:
        raise ValueError(
            f"HPJOBS_MAX_RUNNING_JOBS must be a whole number of 1 or more, got {given!r}"
        )
    return int(given)

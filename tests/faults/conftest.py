"""The fault tests kill things on purpose; whatever happens, no process of theirs outlives them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


@pytest.fixture(autouse=True)
def _no_stray_processes(home: Path) -> Iterator[None]:
    """After each test, SIGKILL any process still running for a job of the test's HPJOBS_HOME
    (found by the container environment it inherited), so a failing test leaves nothing."""
    yield
    jobs = str(home / "jobs") + "/"
    for process in psutil.process_iter():
        try:
            if process.environ().get("SAGEMAKER_BASE_DIR", "").startswith(jobs):
                process.kill()
        except psutil.Error:
            continue

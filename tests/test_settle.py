"""A long-lived process (``hpjobs serve``, a supervisor, a tuner) settles once started: what it
has loaded (SQLAlchemy, the store, the service models) goes to the garbage collector's permanent
generation, so full collections stop walking it. Run in fresh interpreters: settling the test
process itself would change what it measures."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

_PROBE = """
import gc, json, sys, time
gc.disable()  # as the CLI starts
import hpjobs.sagemaker.training_jobs
from hpjobs import shapes
from hpjobs._settle import settle

shapes.service_model("sagemaker")
if sys.argv[1] == "settle":
    settle("sagemaker", "bedrock-runtime")
gc.collect()
enabled = gc.isenabled()
seconds = []
for _ in range(5):
    started = time.perf_counter()
    gc.collect()
    seconds.append(time.perf_counter() - started)
print(json.dumps({
    "walked": len(gc.get_objects()),
    "frozen": gc.get_freeze_count(),
    "full_collection_ms": min(seconds) * 1000,
    "bedrock_loaded": shapes.service_model.cache_info().currsize,
    "enabled": enabled,
}))
"""


def _probe(mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_settling_takes_the_service_models_out_of_full_collections() -> None:
    plain, settled = _probe("plain"), _probe("settle")
    # the modules a request goes through are tens of thousands of containers to walk
    assert plain["frozen"] == 0
    assert plain["walked"] > 50_000
    assert settled["frozen"] > plain["walked"]  # bedrock-runtime's model was loaded and frozen too
    assert settled["bedrock_loaded"] == 2
    assert settled["walked"] < plain["walked"] / 10
    assert settled["full_collection_ms"] < plain["full_collection_ms"] / 3
    # the CLI turns collection off for short commands; a settled process collects again
    assert not plain["enabled"]
    assert settled["enabled"]


def test_hpjobs_serve_settles_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hpjobs serve`` starts serving with the service models frozen and collection on (the
    CLI's ``main`` turns it off at start; before, the server never collected)."""
    import uvicorn
    from click.testing import CliRunner

    from hpjobs import shapes
    from hpjobs.cli import cli

    seen: dict[str, object] = {}

    def run(app: object, **options: object) -> None:
        seen.update(
            enabled=gc.isenabled(),
            frozen=gc.get_freeze_count(),
            models=shapes.service_model.cache_info().currsize,
            host=options["host"],
        )

    monkeypatch.setattr(uvicorn, "run", run)
    gc.disable()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "0"], catch_exceptions=False)
    finally:
        gc.unfreeze()  # this test process goes on as it was
        gc.enable()
    assert result.exit_code == 0, result.output
    assert seen["enabled"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
    assert isinstance(seen["models"], int) and seen["models"] >= 3
    assert seen["host"] == "127.0.0.1"

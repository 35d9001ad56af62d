"""The dashboard of ``hpjobs serve``, end to end: a real server on a real store with a finished
training job, tuning job and customization job (created through boto3 against the server), read
as HTML over HTTP and driven in headless Chromium (Debian's ``chromium``, through Playwright).

The module's jobs are made once (``site``); tests that need a running job start their own.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from helpers import SCRIPTS, TERMINAL, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Chromium's switches for a headless run on a machine with no network and no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
OBJECTIVE = {"Name": "objective", "Regex": "objective=([0-9.]+)"}
BASE_ID = "amazon.titan-text-lite-v1:0:4k"
#: One xdist worker runs the whole module (``--dist loadgroup``), so its jobs are made once.
pytestmark = pytest.mark.xdist_group("dashboard")
NOTE = "<script>alert('x')</script>"
#: Secrets given to the module's finished job, by hyperparameter and by environment variable.
TOKEN, PASSWORD = "tok-3141592653", "pw-2718281828"


@dataclass
class Site:
    url: str
    home: Path
    env: dict[str, str]
    tmp: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-west-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def training_request(name: str, output: Path, epochs: int, seconds: float = 0) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [OBJECTIVE],
        },
        "HyperParameters": {
            "sagemaker_program": '"objective.py"',
            "sagemaker_submit_directory": json.dumps(SCRIPTS.as_uri()),
            "epochs": str(epochs),
            "seconds": str(seconds),
            "x": "3",
            "note": NOTE,
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def tuning_request(name: str, output: Path) -> dict[str, Any]:
    job = training_request("unused", output, epochs=2)
    definition = {key: job[key] for key in ("AlgorithmSpecification", "RoleArn")}
    definition |= {key: job[key] for key in ("OutputDataConfig", "ResourceConfig")}
    definition |= {"StoppingCondition": job["StoppingCondition"]}
    definition["StaticHyperParameters"] = {
        k: v for k, v in job["HyperParameters"].items() if k not in ("x", "note")
    }
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "x",
                        "MinValue": "0.1",
                        "MaxValue": "10",
                        "ScalingType": "Logarithmic",
                    },
                    {"Name": "y", "MinValue": "-2", "MaxValue": "2", "ScalingType": "Linear"},
                ],
                "CategoricalParameterRanges": [{"Name": "mode", "Values": ["fast", "slow"]}],
            },
        },
        "TrainingJobDefinition": definition,
    }


def tiny_base_model(home: Path, folder: Path) -> None:
    """A tiny untrained language model registered as ``BASE_ID`` (so fine-tuning is quick)."""
    import torch

    from hpjobs.algorithms.lm import ByteTransformer, ModelConfig

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    model = ByteTransformer(ModelConfig(context_length=64, width=32, depth=1, heads=2))
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(asdict(model.config)))
    entry = {"name": "Tiny", "provider": "Amazon", "family": "titan", "path": str(folder)}
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.json").write_text(json.dumps({"models": {BASE_ID: entry}}))


def customization_request(name: str, tmp: Path) -> dict[str, Any]:
    train = tmp / "train.jsonl"
    train.write_text(
        "".join(
            json.dumps({"prompt": f"Q: item {i}? A:", "completion": f" item {i} is fine."}) + "\n"
            for i in range(12)
        )
    )
    return {
        "jobName": name,
        "customModelName": f"{name}-model",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": BASE_ID,
        "trainingDataConfig": {"s3Uri": train.as_uri()},
        "outputDataConfig": {"s3Uri": (tmp / "custom-out").as_uri()},
        "hyperParameters": {"epochCount": "1", "batchSize": "4", "learningRate": "0.01"},
    }


def wait_until(check: Any, timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    home = tmp / "home"
    env = {**os.environ, "HPJOBS_HOME": str(home), "HPJOBS_STOP_GRACE_SECONDS": "2"}
    env["AWS_REGION"] = "us-west-2"
    env.pop("HPJOBS_DATABASE_URL", None)
    env.pop("HPJOBS_ACCESS_KEYS", None)
    tiny_base_model(home, tmp / "tiny-base")
    (tmp / "out").mkdir()
    with serving(tmp, env) as url:
        site = Site(url, home, env, tmp)
        sagemaker, bedrock = site.client("sagemaker"), site.client("bedrock")
        finished = training_request("finished", tmp / "out", epochs=5)
        finished["HyperParameters"]["api_token"] = TOKEN
        finished["Environment"] = {"DB_PASSWORD": PASSWORD, "MODE": "plain"}
        sagemaker.create_training_job(**finished)
        sagemaker.create_hyper_parameter_tuning_job(**tuning_request("search", tmp / "out"))
        bedrock.create_model_customization_job(**customization_request("tune-lm", tmp))
        wait_until(
            lambda: (
                sagemaker.describe_training_job(TrainingJobName="finished")["TrainingJobStatus"]
                in TERMINAL
            ),
            what="the training job",
        )
        wait_until(
            lambda: (
                sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="search")[
                    "HyperParameterTuningJobStatus"
                ]
                in TERMINAL
            ),
            what="the tuning job",
        )
        wait_until(
            lambda: (
                bedrock.get_model_customization_job(jobIdentifier="tune-lm")["status"] in TERMINAL
            ),
            what="the customization job",
        )
        yield site


@pytest.fixture
def store_of(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The site, with this test process reading the same store as its server."""
    monkeypatch.setenv("HPJOBS_HOME", str(site.home))
    return site


def charts_of(page: str) -> list[dict[str, Any]]:
    """Each SVG chart of a page: its kind, title, and its series' and markers' point counts."""
    found = []
    for match in re.finditer(r'<svg class="chart" data-kind="(\w+)".*?</svg>', page, re.S):
        svg = match.group(0)
        found.append(
            {
                "kind": match.group(1),
                "title": html.unescape(re.search(r"<title>(.*?)</title>", svg).group(1)),  # type: ignore[union-attr]
                "series": {
                    html.unescape(label): int(count)
                    for label, count in re.findall(
                        r'<g class="series[^"]*" data-label="([^"]*)" data-points="(\d+)"', svg
                    )
                },
                "trials": {
                    status: int(count)
                    for status, count in re.findall(
                        r'<g class="trials" data-status="(\w+)" data-points="(\d+)"', svg
                    )
                },
            }
        )
    return found


# -- pages over HTTP -------------------------------------------------------------------------------


def test_overview_lists_each_kind_of_job_with_its_status(site: Site) -> None:
    status, page = site.get("/")
    assert status == 200
    assert '<a href="/ui/training-jobs/finished">finished</a>' in page
    assert '<a href="/ui/tuning-jobs/search">search</a>' in page
    assert '<a href="/ui/customization-jobs/tune-lm">tune-lm</a>' in page
    training = re.search(r'<table class="jobs" id="training-jobs">.*?</table>', page, re.S)
    assert training is not None
    rows = re.findall(r"<tr>.*?</tr>", training.group(0).split("<tbody>")[1], re.S)
    # The tuning job's three trials and the customization job's training job are training jobs.
    assert len(rows) == 1 + 3 + 1
    finished = [row for row in rows if ">finished</a>" in row]
    assert len(finished) == 1 and 'status-completed">Completed' in finished[0]
    # Nothing is running, so the page stops refreshing itself.
    assert 'data-live="/ui/jobs" data-active="false"' in page
    fragment_status, fragment = site.get("/ui/jobs")
    assert fragment_status == 200 and "<html" not in fragment and "search" in fragment


def test_training_job_page_shows_charts_log_and_escaped_hyperparameters(store_of: Site) -> None:
    from hpjobs.sagemaker.training_jobs import describe_training_job, training_job_metrics

    status, page = store_of.get("/ui/training-jobs/finished")
    assert status == 200
    points = training_job_metrics("finished")
    assert [p["Epoch"] for p in points] == [1, 2, 3, 4, 5]
    assert charts_of(page) == [
        {"kind": "metric", "title": "objective", "series": {"objective": 5}, "trials": {}}
    ]
    description = describe_training_job({"TrainingJobName": "finished"})
    final = description["FinalMetricDataList"][0]["Value"]
    assert re.search(rf"<th>objective</th><td>{final:.6g}</td>", page)
    # Hyperparameters are shown as text: markup in a value is escaped, never run.
    assert "&lt;script&gt;alert(" in page and NOTE not in page
    assert "<th>epochs</th><td><code>5</code></td>" in page
    log = re.search(r'<pre class="log" id="log-text">(.*?)</pre>', page, re.S)
    assert log is not None
    lines = html.unescape(log.group(1)).splitlines()
    assert [line for line in lines if line.startswith("epoch=")] == [
        f"epoch={e} objective={(3 - 2) ** 2 + 1 + 10.0 / e:.6f}" for e in range(1, 6)
    ]


def test_tuning_job_page_has_its_trials_and_a_chart_per_hyperparameter(store_of: Site) -> None:
    from hpjobs.sagemaker.tuning_jobs import describe_hyper_parameter_tuning_job

    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "search"})
    status, page = store_of.get("/ui/tuning-jobs/search")
    assert status == 200
    table = re.search(r'<table class="jobs" id="trials">.*?</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr( class=\"[^\"]*\")?>\s*<td>(\d+)</td>", table.group(0))
    assert [int(index) for _, index in rows] == [1, 2, 3]
    best = description["BestTrainingJob"]["TrainingJobName"]
    assert re.search(
        rf'<tr class="best">\s*<td>\d</td>\s*<td><a href="/ui/training-jobs/{best}"', page
    )
    found = charts_of(page)
    assert [(c["kind"], c["title"]) for c in found] == [
        ("trials", "objective (minimize)"),
        ("log", "x"),
        ("linear", "y"),
        ("categorical", "mode"),
    ]
    assert found[0]["trials"] == {"Completed": 3}
    assert found[0]["series"] == {"best so far": 3}
    assert all(chart["trials"] == {"Completed": 3} for chart in found[1:])
    # The log axis runs over the range searched, 0.1 to 10.
    x_chart = re.findall(r'<svg class="chart" data-kind="log".*?</svg>', page, re.S)[0]
    ticks = re.findall(
        r'<text class="tick" x="[\d.]+" y="25\d" text-anchor="middle">([^<]+)<', x_chart
    )
    assert ticks[0] == "0.1" and ticks[-1] == "10"


def test_customization_job_page_shows_the_job_and_its_training(site: Site) -> None:
    status, page = site.get("/ui/customization-jobs/tune-lm")
    assert status == 200
    assert 'status-completed">Completed' in page
    assert "<th>epochCount</th><td><code>1</code></td>" in page
    training = re.search(r'<a href="/ui/training-jobs/(bedrock-[a-z0-9]{12})">', page)
    assert training is not None
    kinds = {chart["title"] for chart in charts_of(page)}
    assert kinds and all(chart["kind"] == "metric" for chart in charts_of(page))
    training_status, training_page = site.get(f"/ui/training-jobs/{training.group(1)}")
    assert training_status == 200 and {c["title"] for c in charts_of(training_page)} == kinds


def test_secrets_are_masked_on_every_page_of_a_job(site: Site) -> None:
    pages = [
        site.get(path)[1]
        for path in (
            "/ui/training-jobs/finished",
            "/ui/training-jobs/finished/live",
            "/ui/training-jobs/finished/log",
        )
    ]
    for page in pages:
        assert TOKEN not in page and PASSWORD not in page
    assert "<th>api_token</th><td><code>****</code></td>" in pages[0]
    assert "<th>DB_PASSWORD</th><td><code>****</code></td>" in pages[0]
    assert "<th>MODE</th><td><code>plain</code></td>" in pages[0]
    # The log's command line names the argument, not its value.
    assert "--api_token ****" in html.unescape(pages[2])


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/ui/training-jobs/missing", "ValidationException", "Requested resource not found."),
        (
            "/ui/tuning-jobs/missing",
            "ResourceNotFound",
            "Amazon SageMaker can't find a tuning job called missing. Type another name.",
        ),
        (
            "/ui/customization-jobs/missing",
            "ResourceNotFoundException",
            "Could not find the model customization job from the provided job identifier.",
        ),
    ],
)
def test_a_page_of_an_unknown_job_is_404_with_the_aws_error(
    site: Site, path: str, code: str, message: str
) -> None:
    status, page = site.get(path)
    assert status == 404
    assert f"<strong>{code}</strong>: {message}" in html.unescape(page)


def test_playground_offers_every_model_with_its_top_k_spelling(site: Site) -> None:
    status, page = site.get("/ui/playground")
    assert status == 200
    data = re.search(r'<script id="models" type="application/json">(.*?)</script>', page, re.S)
    assert data is not None
    models = {model["id"]: model for model in json.loads(data.group(1))}
    assert models["anthropic.claude-3-haiku-20240307-v1:0"]["topK"] == ["top_k"]
    assert models["cohere.command-r-v1:0"]["topK"] == ["k"]
    assert models["amazon.nova-micro-v1:0"]["topK"] == ["inferenceConfig", "topK"]
    assert models["amazon.titan-text-express-v1"]["topK"] is None
    custom = [m for m in models.values() if m["name"] == "tune-lm-model"]
    assert len(custom) == 1 and custom[0]["family"] == "titan"
    assert custom[0]["id"].startswith("arn:aws:bedrock:us-west-2:000000000000:custom-model/")


def test_the_dashboard_is_off_while_requests_must_be_signed(tmp_path: Path) -> None:
    env = {**os.environ, "HPJOBS_ACCESS_KEYS": "AKIDEXAMPLE:secret-example"}
    with serving(tmp_path, env) as url:
        for path in ("/", "/ui/playground", "/ui/training-jobs/any"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url + path, timeout=10)
            assert refused.value.code == 403
            assert "requires signed requests" in refused.value.read().decode()
        signed = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-west-2",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret-example",
        )
        assert signed.list_training_jobs()["TrainingJobSummaries"] == []


# -- in headless Chromium --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed here (make system installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def colour_pixels(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> tuple[int, int]:
    """How many pixels of a screenshot are near ``rgb``, and how many differ from its corner."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    corner = image.getpixel((0, 0))
    near = other = 0
    for pixel in image.get_flattened_data():
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True)):
            near += 1
        if pixel != corner:
            other += 1
    return near, other


def test_a_running_jobs_page_updates_itself_until_the_job_ends(
    site: Site, page: Any, tmp_path: Path
) -> None:
    sagemaker = site.client("sagemaker")
    request = training_request("live", site.tmp / "out", epochs=6, seconds=0.6)
    sagemaker.create_training_job(**request)
    page.goto(f"{site.url}/ui/training-jobs/live")
    page.evaluate("window.loadedOnce = true")
    assert page.locator("#training-live").get_attribute("data-active") == "true"
    # Points appear while the job runs, without the page being loaded again.
    page.wait_for_function(
        "() => Number(document.querySelector('#metric-charts')?.dataset.points) >= 2",
        timeout=60_000,
    )
    page.wait_for_selector("#training-live .status-completed", timeout=60_000)
    assert page.evaluate("window.loadedOnce") is True
    assert page.locator("#training-live").get_attribute("data-active") == "false"
    assert page.locator("#metric-charts").get_attribute("data-points") == "6"
    assert page.locator("g.series").get_attribute("data-points") == "6"
    log = page.locator("#log-text").inner_text()
    assert "epoch=6 objective=" in log and "Training job ended: Completed" in log
    # The chart is drawn: the screenshot of its figure shows the line's colour.
    figure = page.locator("#metric-charts figure").first
    shot = figure.screenshot(path=str(tmp_path / "chart.png"))
    box = figure.bounding_box()
    from PIL import Image

    width, height = Image.open(io.BytesIO(shot)).size
    assert abs(width - box["width"]) <= 2 and abs(height - box["height"]) <= 2
    line_blue, not_background = colour_pixels(shot, (0x1F, 0x77, 0xB4))
    assert line_blue > 300, f"only {line_blue} pixels of the line's colour"
    assert not_background > width * height // 20


def test_links_lead_from_the_overview_to_each_job(site: Site, page: Any, tmp_path: Path) -> None:
    page.goto(site.url + "/")
    page.click("#tuning-jobs >> text=search")
    page.wait_for_url("**/ui/tuning-jobs/search")
    assert page.locator("h1").inner_text() == "search"
    assert page.locator("#trials tbody tr").count() == 3
    assert page.locator("#tuning-charts svg.chart").count() == 4
    shot = page.screenshot(full_page=True, path=str(tmp_path / "tuning.png"))
    markers, not_background = colour_pixels(shot, (0x1F, 0x77, 0xB4), tolerance=30)
    assert markers > 100 and not_background > 10_000
    page.locator("#trials tbody tr a").first.click()
    page.wait_for_url("**/ui/training-jobs/search-001-*")
    assert page.locator("#training-live .status").inner_text() == "Completed"
    page.go_back()
    page.go_back()
    page.click("#customization-jobs >> text=tune-lm")
    page.wait_for_url("**/ui/customization-jobs/tune-lm")
    assert "Completed" in page.locator(".headline").first.inner_text()


def test_the_playground_sends_converse_with_the_sliders_settings(site: Site, page: Any) -> None:
    page.goto(site.url + "/ui/playground")
    page.select_option("#model", "amazon.titan-text-express-v1")
    assert page.locator("#top-k").is_disabled()
    page.select_option("#model", "anthropic.claude-3-haiku-20240307-v1:0")
    assert page.locator("#top-k").is_enabled()
    page.fill("#temperature", "0")
    page.fill("#max-tokens", "12")
    assert page.locator("#max-tokens-value").inner_text() == "12"
    page.fill("#prompt", "The hacker said")
    page.click("#send")
    page.wait_for_selector(".message.assistant")
    first = page.locator(".message.assistant pre").inner_text()
    meta = page.locator("#reply-meta").inner_text()
    assert "stopReason max_tokens" in meta and "12 out" in meta, meta
    # Greedy decoding gives the same reply again; a stop sequence taken from it cuts it there.
    index = next(
        i for i, c in enumerate(first) if first[:i].strip() and c.isalnum() and c not in first[:i]
    )
    page.click("#clear")
    assert page.locator(".message").count() == 0
    page.fill("#stop-sequences", first[index])
    page.fill("#prompt", "The hacker said")
    page.click("#send")
    page.wait_for_selector(".message.assistant")
    assert page.locator(".message.assistant pre").inner_text() == first[:index]
    assert "stopReason stop_sequence" in page.locator("#reply-meta").inner_text()
    # The conversation goes on: the second turn sends both earlier messages.
    page.fill("#stop-sequences", "")
    page.fill("#prompt", "And then?")
    page.click("#send")
    page.wait_for_function(
        "document.querySelectorAll('.message.assistant').length === 2"
        " || !document.getElementById('reply-error').hidden"
    )
    assert page.locator("#reply-error").is_hidden(), page.locator("#reply-error").inner_text()
    assert page.locator(".message").count() == 4


def test_the_overview_says_when_it_shows_only_the_newest_jobs() -> None:
    from datetime import datetime, timezone

    from hpjobs.dashboard.views import _environment

    now = datetime.now(timezone.utc)
    summary = {"TrainingJobStatus": "Completed", "CreationTime": now, "TrainingEndTime": now}
    template = _environment().get_template("_overview_live.html")
    many = [{**summary, "TrainingJobName": f"job-{i}"} for i in range(100)]
    tables = {"training": None, "tuning": None, "customization": None}
    context = {
        "tuning": [],
        "customization": [],
        "active": False,
        "limit": 100,
        "older": tables,
        "newest": tables,
        "paged": dict.fromkeys(tables, False),
    }
    page = template.render(training=many, **context)
    assert 'Training jobs <span class="count">newest 100</span>' in page
    page = template.render(training=many[:7], **context)
    assert 'Training jobs <span class="count">7</span>' in page

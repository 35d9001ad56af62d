"""The dashboard's pages: what they read through the control plane, and how they are rendered.

Every page is rendered on the server (Jinja2, autoescaped); the live parts of a page (a job's
status and charts, its log, the job tables) are fragments at their own URL that the page's script
fetches again every couple of seconds while the job is active (``data-active``), and swaps in.
The data comes from the same operation functions the CLI and the HTTP API call, so a page shows
what ``describe``/``list`` return, secrets masked as they mask them.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hpjobs import charts
from hpjobs.dashboard import svg
from hpjobs.errors import ServiceError
from hpjobs.operations import operation

__all__ = ["LOG_LINES", "TOP_K_FIELDS", "dashboard_routes"]

_HERE = Path(__file__).parent
#: How many of a log's last lines a job page shows.
LOG_LINES = 400
_LOG_TAIL_BYTES = 512 * 1024
#: How often (milliseconds) the page fetches a live fragment again while its job is active.
REFRESH_MS = 2000
_ACTIVE = frozenset({"InProgress", "Stopping"})
_LIST_SIZE = 100
#: Where each model family takes top-k in a Converse request (``additionalModelRequestFields``);
#: families without a top-k (Titan, Llama) are absent, as on Bedrock.
TOP_K_FIELDS: dict[str, list[str]] = {
    "anthropic": ["top_k"],
    "mistral": ["top_k"],
    "cohere": ["k"],
    "nova": ["inferenceConfig", "topK"],
}


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["duration"] = _duration
    environment.filters["number"] = _number
    environment.globals["refresh_ms"] = REFRESH_MS
    return environment


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(item: Mapping[str, Any]) -> str:
    """Seconds from a job's start (or creation) to its end, or to now while it runs."""
    start = item.get("TrainingStartTime") or item.get("CreationTime") or item.get("creationTime")
    end = (
        item.get("TrainingEndTime")
        or item.get("HyperParameterTuningEndTime")
        or item.get("endTime")
    )
    if start is None:
        return ""
    if end is None:
        end = datetime.now(start.tzinfo)
    seconds = max(0, int((end - start).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.6g}" if math.isfinite(number) else str(number)


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_environment().get_template(template).render(**context), status_code)


def _call(service: str, name: str, request: Mapping[str, Any]) -> dict[str, Any]:
    return operation(service, name)(request)


def _not_found(error: ServiceError) -> HTMLResponse:
    return _page("error.html", 404, title="Not found", error=error)


def _guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """A page whose lookups may fail with an AWS error: shown as a 404 page that quotes it."""

    def page(request: Request) -> Response:
        try:
            return handler(request)
        except ServiceError as error:
            return _not_found(error)

    page.__name__ = handler.__name__
    return page


# -- the overview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """One of the overview's tables: the operation that lists it, newest first, and the names of
    its members (the page token's, in request and response alike, the list's, a job's status)."""

    service: str
    operation: str
    newest: dict[str, Any]
    token: str
    items: str
    status: str


_SAGEMAKER_NEWEST = {"MaxResults": _LIST_SIZE, "SortBy": "CreationTime", "SortOrder": "Descending"}
#: The overview's tables, by the query parameter that holds the page token each is at.
_TABLES = {
    "training": _Table(
        "sagemaker",
        "ListTrainingJobs",
        _SAGEMAKER_NEWEST,
        "NextToken",
        "TrainingJobSummaries",
        "TrainingJobStatus",
    ),
    "tuning": _Table(
        "sagemaker",
        "ListHyperParameterTuningJobs",
        _SAGEMAKER_NEWEST,
        "NextToken",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobStatus",
    ),
    "customization": _Table(
        "bedrock",
        "ListModelCustomizationJobs",
        {"maxResults": _LIST_SIZE, "sortBy": "CreationTime", "sortOrder": "Descending"},
        "nextToken",
        "modelCustomizationJobSummaries",
        "status",
    ),
}


def _overview_context(shown: Mapping[str, str]) -> dict[str, Any]:
    """The three tables, each at the page its token in ``shown`` names (the newest without one),
    with links to the next older page and back to the newest."""
    context: dict[str, Any] = {"limit": _LIST_SIZE, "older": {}, "newest": {}, "paged": {}}
    active = False
    for key, table in _TABLES.items():
        request = dict(table.newest)
        if key in shown:
            request[table.token] = shown[key]
        listed = _call(table.service, table.operation, request)
        jobs = context[key] = listed[table.items]
        active = active or any(job[table.status] in _ACTIVE for job in jobs)
        following = listed.get(table.token)
        context["older"][key] = _overview_link(shown, key, following) if following else None
        context["newest"][key] = _overview_link(shown, key, None) if key in shown else None
        context["paged"][key] = key in shown
    context["active"] = active
    context["query"] = _query(shown)
    return context


def _shown(request: Request) -> dict[str, str]:
    """The page token of each table the overview's URL names."""
    return {
        table: request.query_params[table] for table in _TABLES if request.query_params.get(table)
    }


def _query(shown: Mapping[str, str]) -> str:
    return "?" + urlencode(dict(shown)) if shown else ""


def _overview_link(shown: Mapping[str, str], table: str, token: str | None) -> str:
    """The overview with ``table`` at page ``token`` (the newest when None), the others kept."""
    changed = {key: value for key, value in shown.items() if key != table}
    if token is not None:
        changed[table] = token
    return "/" + _query(changed)


def _overview_page(template: str, request: Request, **context: Any) -> Response:
    try:
        return _page(template, **context, **_overview_context(_shown(request)))
    except ServiceError as error:  # a page token the listing does not take
        return _page("error.html", 400, title="Bad request", error=error)


def overview(request: Request) -> Response:
    return _overview_page("overview.html", request, title="Jobs")


def overview_live(request: Request) -> Response:
    return _overview_page("_overview_live.html", request)


# -- training jobs -------------------------------------------------------------------------------


def _training_context(name: str) -> dict[str, Any]:
    from hpjobs.sagemaker.training_jobs import training_job_metrics, training_job_place

    description = _call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": name})
    points = training_job_metrics(name)
    local = training_job_place(name)[0] == "local"
    panels = charts.metric_panels(points, charts.time_zero(description, points, local))
    return {
        "job": description,
        "name": description["TrainingJobName"],
        "local": local,
        "charts": [svg.metric_chart(panel) for panel in panels],
        "points": len(points),
        "active": description["TrainingJobStatus"] in _ACTIVE,
    }


@_guarded
def training_job(request: Request) -> Response:
    context = _training_context(request.path_params["name"])
    log = _log(context["name"]) if context["local"] else _NO_LOG
    return _page("training_job.html", title=f"Training job {context['name']}", **context, **log)


@_guarded
def training_job_live(request: Request) -> Response:
    return _page("_training_live.html", **_training_context(request.path_params["name"]))


@_guarded
def training_job_log(request: Request) -> Response:
    """The log fragment: read without describing the job or drawing its charts, since the page
    fetches it every couple of seconds."""
    from hpjobs.sagemaker.training_jobs import training_job_log as status_of

    name = request.path_params["name"]
    status = status_of(name)[1]
    return _page("_log.html", active=status in _ACTIVE, **_log(name))


_NO_LOG: dict[str, Any] = {"log_lines": [], "log_skipped": 0}


def _log(name: str) -> dict[str, Any]:
    """The last ``LOG_LINES`` lines of local job ``name``'s log, and how many lines came before
    them (``None`` when the log is longer than the part read)."""
    from hpjobs.sagemaker.training_jobs import training_job_log as log_of

    try:
        with open(log_of(name)[0], "rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - _LOG_TAIL_BYTES))
            data = file.read()
    except FileNotFoundError:
        return _NO_LOG
    lines = data.decode("utf-8", errors="replace").splitlines()
    cut = size > _LOG_TAIL_BYTES
    if cut and lines:
        lines = lines[1:]  # the first one may be cut
    skipped = None if cut else max(0, len(lines) - LOG_LINES)
    return {"log_lines": lines[-LOG_LINES:], "log_skipped": skipped}


# -- tuning jobs ---------------------------------------------------------------------------------


def _tuning_context(name: str) -> dict[str, Any]:
    from hpjobs.sagemaker.tuning_jobs import tuning_job_children

    description = _call(
        "sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}
    )
    children = sorted(
        tuning_job_children(description["HyperParameterTuningJobName"]),
        key=lambda c: (c["CreationTime"], c["TrainingJobName"]),
    )
    found = charts.trials(children)
    metric, minimize = charts.objective(description)
    spans = charts.ranges(description)
    names = charts.tuned_names(spans, found)
    plots = []
    if found:
        best = charts.best_so_far(found, minimize)
        plots.append(svg.trials_chart(found, best, metric, minimize))
        plots += [
            svg.hyperparameter_chart(
                charts.hyperparameter_axis(n, spans.get(n), found), found, metric
            )
            for n in names
        ]
    tuned = list(
        dict.fromkeys(k for child in children for k in child.get("TunedHyperParameters", {}))
    )
    best_job = description.get("BestTrainingJob", {}).get("TrainingJobName")
    return {
        "job": description,
        "name": description["HyperParameterTuningJobName"],
        "children": children,
        "tuned": tuned,
        "metric": metric,
        "minimize": minimize,
        "best_job": best_job,
        "charts": plots,
        "active": description["HyperParameterTuningJobStatus"] in _ACTIVE,
    }


@_guarded
def tuning_job(request: Request) -> Response:
    context = _tuning_context(request.path_params["name"])
    return _page("tuning_job.html", title=f"Tuning job {context['name']}", **context)


@_guarded
def tuning_job_live(request: Request) -> Response:
    return _page("_tuning_live.html", **_tuning_context(request.path_params["name"]))


# -- customization jobs --------------------------------------------------------------------------


@_guarded
def customization_job(request: Request) -> Response:
    name = request.path_params["name"]
    job = _call("bedrock", "GetModelCustomizationJob", {"jobIdentifier": name})
    training_name = "bedrock-" + job["jobArn"].rsplit("/", 1)[-1]
    try:
        training = _training_context(training_name)
    except ServiceError:
        training = None
    return _page(
        "customization_job.html",
        title=f"Customization job {job['jobName']}",
        job=job,
        training=training,
        active=job["status"] in _ACTIVE,
    )


# -- the Converse playground ---------------------------------------------------------------------


def _playground_models() -> list[dict[str, Any]]:
    """Each model the playground offers: id, name, family and where its top-k goes."""
    from hpjobs.generation.registry import (
        UnknownModel,
        foundation_models,
        resolve_foundation_model,
    )

    models: list[dict[str, Any]] = [
        {"id": m.model_id, "name": m.name, "family": m.family}
        for m in foundation_models().values()
        if not m.model_id.startswith(("us.", "eu.", "apac.", "global."))
    ]
    custom = _call("bedrock", "ListCustomModels", {"maxResults": _LIST_SIZE})["modelSummaries"]
    for model in custom:
        base = model["baseModelArn"].rsplit("/", 1)[-1]
        try:
            family = resolve_foundation_model(base).family
        except UnknownModel:  # a base model this machine no longer knows
            continue
        models.insert(0, {"id": model["modelArn"], "name": model["modelName"], "family": family})
    for model in models:
        model["topK"] = TOP_K_FIELDS.get(model["family"])
    return models


def playground(request: Request) -> Response:
    models = _playground_models()
    return _page(
        "playground.html",
        title="Converse playground",
        models=models,
        # Inside <script>: no "<" may close it early.
        models_json=Markup(json.dumps(models).replace("<", "\\u003c")),
    )


# -- routing -------------------------------------------------------------------------------------


def dashboard_routes(enabled: bool) -> list[BaseRoute]:
    """The dashboard's routes (``GET /`` and ``/ui/…``); when not ``enabled`` (the server asks
    for signed requests, which a browser does not send) every page says the dashboard is off."""
    pages: list[tuple[str, Callable[[Request], Response]]] = [
        ("/", overview),
        ("/ui/jobs", overview_live),
        ("/ui/training-jobs/{name}", training_job),
        ("/ui/training-jobs/{name}/live", training_job_live),
        ("/ui/training-jobs/{name}/log", training_job_log),
        ("/ui/tuning-jobs/{name}", tuning_job),
        ("/ui/tuning-jobs/{name}/live", tuning_job_live),
        ("/ui/customization-jobs/{name}", customization_job),
        ("/ui/playground", playground),
    ]
    if not enabled:
        pages = [(path, _switched_off) for path, _ in pages]
    routes: list[BaseRoute] = [Route(path, page, methods=["GET"]) for path, page in pages]
    routes.append(Mount("/ui/static", StaticFiles(directory=_HERE / "static"), name="static"))
    return routes


def _switched_off(request: Request) -> Response:
    return _page("off.html", 403, title="Dashboard off")

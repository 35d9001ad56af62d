"""SageMaker ``MetricDefinitions`` for the metrics that ``hpjobs/mlp`` prints.

Kept apart from ``mlp.py`` so that hpjobs can read them without importing torch. The script prints
one line per epoch such as ``epoch=3 lr=0.001 train:loss=0.123456 train:accuracy=0.96``; each
definition captures the value of one ``name=value`` pair. A classifier prints loss and accuracy,
a regressor loss and RMSE.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

CLASSIFIER_METRICS: tuple[str, ...] = (
    "train:loss",
    "train:accuracy",
    "validation:loss",
    "validation:accuracy",
)
REGRESSOR_METRICS: tuple[str, ...] = (
    "train:loss",
    "train:rmse",
    "validation:loss",
    "validation:rmse",
)
MLP_METRIC_NAMES: tuple[str, ...] = tuple(dict.fromkeys(CLASSIFIER_METRICS + REGRESSOR_METRICS))


def _definition(name: str) -> dict[str, str]:
    return {"Name": name, "Regex": f"{name}=([-+0-9.eE]+|nan|inf)"}


MLP_METRIC_DEFINITIONS: list[dict[str, str]] = [_definition(n) for n in MLP_METRIC_NAMES]


def mlp_metric_definitions(hyperparameters: Mapping[str, str]) -> list[dict[str, str]]:
    """The definitions for the metrics a job with these hyperparameters prints."""
    raw = hyperparameters.get("predictor_type", "classifier")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    regressor = str(value).strip().lower() == "regressor"
    return [_definition(n) for n in (REGRESSOR_METRICS if regressor else CLASSIFIER_METRICS)]

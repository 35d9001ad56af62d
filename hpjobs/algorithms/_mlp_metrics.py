"""SageMaker ``MetricDefinitions`` for the metrics that ``hpjobs/mlp`` prints.

Kept apart from ``mlp.py`` so that hpjobs can read them without importing torch. The script prints
one line per epoch such as ``epoch=3 lr=0.001 train:loss=0.123456 train:accuracy=0.96``; each
definition below captures the value of one ``name=value`` pair. Classifier and regressor metrics are
both listed: a definition whose metric a job does not print simply never matches.
"""

from __future__ import annotations

MLP_METRIC_NAMES: tuple[str, ...] = (
    "train:loss",
    "train:accuracy",
    "train:rmse",
    "validation:loss",
    "validation:accuracy",
    "validation:rmse",
)

MLP_METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": name, "Regex": f"{name}=([-+0-9.eE]+|nan|inf)"} for name in MLP_METRIC_NAMES
]

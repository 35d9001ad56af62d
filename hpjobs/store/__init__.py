"""The store: training and tuning jobs, status transitions and metric points, Bedrock
invocations, customization jobs and custom models, through SQLAlchemy."""

from __future__ import annotations

from hpjobs.store.engine import SCHEMA_REVISION, Store, close_stores, get_store
from hpjobs.store.models import (
    CustomizationJob,
    CustomModel,
    InvocationRecord,
    MetricPoint,
    StatusTransition,
    TrainingJob,
    TuningJob,
    caseless,
)

__all__ = [
    "SCHEMA_REVISION",
    "CustomModel",
    "CustomizationJob",
    "InvocationRecord",
    "MetricPoint",
    "StatusTransition",
    "Store",
    "TrainingJob",
    "TuningJob",
    "caseless",
    "close_stores",
    "get_store",
]

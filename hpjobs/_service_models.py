"""botocore's service models, read straight from its data files.

The files are botocore's own (``botocore/data/<service>/<version>/service-2.json.gz``, plus
``~/.aws/models`` and ``AWS_DATA_PATH`` first, as botocore searches them; the newest API version
wins). Reading them here rather than through ``botocore.model`` spares every CLI call the cost of
importing botocore's client machinery (about 0.1 s). :class:`Shape` offers the part of
``botocore.model.Shape`` that hpjobs uses, with the same names and meanings.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["OperationModel", "ServiceModel", "Shape", "UnknownOperation", "UnknownService"]


class UnknownService(LookupError):
    """botocore has no model for this service."""


class UnknownOperation(LookupError):
    """The service's model has no such operation."""


class Shape:
    """One shape of a service model, resolved against the model's shape table."""

    def __init__(
        self, name: str, table: Mapping[str, Any], traits: Mapping[str, Any] | None = None
    ) -> None:
        self.name = name
        self._table = table
        own = {k: v for k, v in (traits or {}).items() if k != "shape"}
        # A member's own traits override the shape's, as in botocore.model.
        self._definition: Mapping[str, Any] = {**table[name], **own} if own else table[name]

    @property
    def type_name(self) -> str:
        return str(self._definition["type"])

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The shape's traits (``min``, ``max``, ``pattern``, ``enum``, ``sensitive``, ...)."""
        return self._definition

    @property
    def documentation(self) -> str:
        return str(self._definition.get("documentation", ""))

    @property
    def enum(self) -> list[str]:
        return list(self._definition.get("enum", []))

    @property
    def required_members(self) -> list[str]:
        return list(self._definition.get("required", []))

    @property
    def is_document_type(self) -> bool:
        return bool(self._definition.get("document"))

    @property
    def is_tagged_union(self) -> bool:
        return bool(self._definition.get("union"))

    def _resolve(self, reference: Mapping[str, Any]) -> Shape:
        return Shape(reference["shape"], self._table, reference)

    @functools.cached_property
    def members(self) -> dict[str, Shape]:
        return {n: self._resolve(r) for n, r in self._definition.get("members", {}).items()}

    @property
    def member(self) -> Shape:
        return self._resolve(self._definition["member"])

    @property
    def key(self) -> Shape:
        return self._resolve(self._definition["key"])

    @property
    def value(self) -> Shape:
        return self._resolve(self._definition["value"])


class OperationModel:
    """An operation: its documentation and its input and output shapes (an operation without
    input or output gets an empty structure, so callers need no special case)."""

    def __init__(self, name: str, definition: Mapping[str, Any], table: Mapping[str, Any]) -> None:
        self.name = name
        self.documentation: str = definition.get("documentation", "")
        #: ``{"method", "requestUri", "responseCode"}`` of REST protocols.
        self.http: Mapping[str, Any] = definition.get("http", {})
        self.input_shape = _reference(definition.get("input"), table)
        self.output_shape = _reference(definition.get("output"), table)


_EMPTY = {"hpjobs#Empty": {"type": "structure", "members": {}}}


def _reference(reference: Mapping[str, Any] | None, table: Mapping[str, Any]) -> Shape:
    if reference is None:
        return Shape("hpjobs#Empty", _EMPTY)
    return Shape(reference["shape"], table, reference)


class ServiceModel:
    def __init__(self, service: str, description: Mapping[str, Any]) -> None:
        self.service_name = service
        self.metadata: Mapping[str, Any] = description["metadata"]
        self._operations: Mapping[str, Any] = description["operations"]
        self._shapes: Mapping[str, Any] = description["shapes"]

    def shape_for(self, name: str) -> Shape:
        return Shape(name, self._shapes)

    @property
    def operation_names(self) -> list[str]:
        return list(self._operations)

    @functools.cache  # noqa: B019 - models live as long as the process
    def operation_model(self, operation: str) -> OperationModel:
        if operation not in self._operations:
            raise UnknownOperation(f"{self.service_name} has no operation {operation}")
        return OperationModel(operation, self._operations[operation], self._shapes)


def _search_paths() -> list[Path]:
    import botocore

    paths = [Path("~/.aws/models").expanduser()]
    extra = os.environ.get("AWS_DATA_PATH")
    if extra:
        paths += [Path(os.path.expandvars(p)).expanduser() for p in extra.split(os.pathsep)]
    return [*paths, Path(botocore.__file__).parent / "data"]


def _model_file(service: str) -> Path:
    """The newest ``service-2`` file of ``service``; earlier search paths win a tie."""
    found: dict[str, Path] = {}
    for root in _search_paths():
        folder = root / service
        if not folder.is_dir():
            continue
        for version in folder.iterdir():
            for name in ("service-2.json", "service-2.json.gz"):
                if (version / name).is_file():
                    found.setdefault(version.name, version / name)
    if not found:
        raise UnknownService(f"botocore has no model for the service {service!r}")
    return found[max(found)]


def _read_json(path: Path) -> Any:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return json.loads(data)


@functools.cache
def load(service: str) -> ServiceModel:
    """The model of ``service``, read once per process."""
    return ServiceModel(service, _read_json(_model_file(service)))


@functools.cache
def paginator(service: str, operation: str) -> Mapping[str, Any] | None:
    """botocore's paginator configuration of an operation (``input_token``, ``output_token``,
    ``limit_key``, ``result_key``), or None if it has none."""
    folder = _model_file(service).parent
    for name in ("paginators-1.json", "paginators-1.json.gz"):
        if (folder / name).is_file():
            config: Mapping[str, Any] | None = _read_json(folder / name)["pagination"].get(
                operation
            )
            return config
    return None

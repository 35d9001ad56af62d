"""Built-in training algorithms: SageMaker script-mode scripts named by an image alias.

Each built-in is an ordinary script-mode script in this folder that imports only the standard
library and torch, so it runs unchanged on SageMaker as a source directory. Importing this module
is cheap: the scripts themselves are only ever run, never imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpjobs.algorithms._mlp_metrics import mlp_metric_definitions


def _lm_metric_definitions(hyperparameters: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"Name": name, "Regex": f"{name}=([-+0-9.eE]+|nan|inf)"}
        for name in ("train:loss", "validation:loss")
    ]


__all__ = ["BUILTINS", "BuiltinAlgorithm"]

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class BuiltinAlgorithm:
    """A built-in algorithm: its image alias, its script and what a job gets by default."""

    alias: str
    script_name: str
    summary: str
    #: The ``MetricDefinitions`` a job with these hyperparameters gets when it gives none.
    metric_definitions: Callable[[Mapping[str, str]], list[dict[str, str]]]
    #: Channels a job gets when it names none: channel name → file shipped with hpjobs.
    sample_channels: tuple[tuple[str, str], ...] = ()

    @property
    def script(self) -> Path:
        return _HERE / self.script_name

    def sample_input_data_config(self) -> list[dict[str, Any]]:
        """``InputDataConfig`` pointing at the sample data shipped with hpjobs."""
        return [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": (_HERE / "data" / relative).as_uri(),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
            for channel, relative in self.sample_channels
        ]


BUILTINS: dict[str, BuiltinAlgorithm] = {
    "hpjobs/mlp": BuiltinAlgorithm(
        alias="hpjobs/mlp",
        script_name="mlp.py",
        summary="PyTorch multilayer perceptron for tabular classification and regression (CSV)",
        metric_definitions=mlp_metric_definitions,
        sample_channels=(
            ("train", "digits/train.csv"),
            ("validation", "digits/validation.csv"),
        ),
    ),
    "hpjobs/lm": BuiltinAlgorithm(
        alias="hpjobs/lm",
        script_name="lm.py",
        summary="PyTorch byte-level transformer language model (text or JSON lines)",
        metric_definitions=_lm_metric_definitions,
        sample_channels=(
            ("train", "jargon/train.txt"),
            ("validation", "jargon/validation.txt"),
        ),
    ),
}

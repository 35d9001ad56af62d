"""Which training images run on this machine, and how.

There is no Docker here, so an image is a name for a way of running:

- a SageMaker PyTorch training image URI
  (``<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>``) or the alias
  ``hpjobs/pytorch``: script mode with this machine's Python and torch;
- ``hpjobs/<algorithm>`` for a built-in algorithm (see :mod:`hpjobs.algorithms`).

Every other image is refused with a ``ValidationException`` listing what is supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hpjobs.algorithms import BUILTINS, BuiltinAlgorithm
from hpjobs.errors import ValidationException

__all__ = ["PYTORCH_ALIAS", "Program", "resolve_image"]

PYTORCH_ALIAS = "hpjobs/pytorch"

_PYTORCH_IMAGE = re.compile(
    r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/pytorch-training"
    r"(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})?"
)


@dataclass(frozen=True)
class Program:
    """How a job's image runs: the user's script mode, or a built-in algorithm."""

    image: str
    builtin: BuiltinAlgorithm | None = None


def supported_images() -> list[str]:
    return [
        PYTORCH_ALIAS,
        *sorted(BUILTINS),
        "<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>",
    ]


def resolve_image(image: str) -> Program:
    """The program an image names; ``ValidationException`` for images this machine cannot run."""
    if image == PYTORCH_ALIAS or _PYTORCH_IMAGE.fullmatch(image):
        return Program(image)
    if image in BUILTINS:
        return Program(image, BUILTINS[image])
    raise ValidationException(
        f"The training image '{image}' cannot run on this machine: hpjobs runs training jobs "
        f"without Docker. Supported images: {', '.join(supported_images())}."
    )

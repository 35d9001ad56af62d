"""The SageMaker PyTorch training images a migrated job runs in.

AWS publishes its PyTorch training images (the Deep Learning Containers) as
``<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<version>-<cpu|gpu>-<python>``. The
account is 763104351884 in most regions; the regions below publish from their own. Each framework
version is built for one Python version. The table follows the SageMaker Python SDK's image
configuration (``image_uri_config/pytorch.json``, SDK 2.257) for the versions listed.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_FRAMEWORK_VERSION",
    "FRAMEWORK_VERSIONS",
    "ImageError",
    "pytorch_training_image",
    "rehome_pytorch_image",
]


class ImageError(ValueError):
    """No PyTorch training image fits the request; the message says why."""


#: Framework version (also as ``major.minor``) → (full version in the tag, Python tag).
FRAMEWORK_VERSIONS: dict[str, tuple[str, str]] = {
    "2.3.0": ("2.3.0", "py311"),
    "2.4.0": ("2.4.0", "py311"),
    "2.5.1": ("2.5.1", "py311"),
    "2.6.0": ("2.6.0", "py312"),
    "2.7.1": ("2.7.1", "py312"),
    "2.8.0": ("2.8.0", "py312"),
}
_ALIASES = {version.rsplit(".", 1)[0]: version for version in FRAMEWORK_VERSIONS}
DEFAULT_FRAMEWORK_VERSION = "2.8.0"

_DEFAULT_ACCOUNT = "763104351884"
#: Regions whose images live in an account of their own.
_REGION_ACCOUNTS: dict[str, str] = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-east-2": "975050140332",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}
#: Regions served by the default account.
_DEFAULT_ACCOUNT_REGIONS = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
#: Instance families with NVIDIA GPUs, which take the ``gpu`` image.
_GPU_FAMILIES = re.compile(r"ml\.(p[0-9]|g[0-9])")
_PYTORCH_IMAGE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?"
    r"/pytorch-training(?P<rest>[:@].*)?"
)


def _registry(region: str) -> str:
    if region in _REGION_ACCOUNTS:
        account = _REGION_ACCOUNTS[region]
    elif region in _DEFAULT_ACCOUNT_REGIONS:
        account = _DEFAULT_ACCOUNT
    else:
        known = sorted(_DEFAULT_ACCOUNT_REGIONS | set(_REGION_ACCOUNTS))
        raise ImageError(
            f"no SageMaker PyTorch training image is known for region {region}; "
            f"known regions: {', '.join(known)}"
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def _version(framework_version: str) -> tuple[str, str]:
    full = _ALIASES.get(framework_version, framework_version)
    if full not in FRAMEWORK_VERSIONS:
        raise ImageError(
            f"PyTorch framework version {framework_version} has no training image in hpjobs's "
            f"table; choose one of {', '.join(FRAMEWORK_VERSIONS)}"
        )
    return FRAMEWORK_VERSIONS[full]


def pytorch_training_image(
    region: str, instance_type: str, framework_version: str = DEFAULT_FRAMEWORK_VERSION
) -> str:
    """The PyTorch training image URI for ``region``: the GPU build on GPU instance types."""
    version, python = _version(framework_version)
    processor = "gpu" if _GPU_FAMILIES.match(instance_type) else "cpu"
    return f"{_registry(region)}/pytorch-training:{version}-{processor}-{python}"


def rehome_pytorch_image(image: str, region: str) -> str:
    """A PyTorch training image URI of another region made into the same image in ``region``
    (ECR images are pulled from the job's own region); any other image is returned as it is."""
    match = _PYTORCH_IMAGE.fullmatch(image)
    if match is None or match["region"] == region:
        return image
    return f"{_registry(region)}/pytorch-training{match['rest'] or ''}"

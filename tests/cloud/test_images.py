"""The PyTorch training image table: URIs per region, processor and framework version, and moving
an image of one region to another."""

from __future__ import annotations

import pytest

from cloud.images import (
    DEFAULT_FRAMEWORK_VERSION,
    FRAMEWORK_VERSIONS,
    ImageError,
    pytorch_training_image,
    rehome_pytorch_image,
)

US_EAST_1 = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training"
EU_SOUTH_1 = "692866216735.dkr.ecr.eu-south-1.amazonaws.com/pytorch-training"
KNOWN_VERSIONS = "2.3.0, 2.4.0, 2.5.1, 2.6.0, 2.7.1, 2.8.0"


def test_default_framework_version_is_2_8_0() -> None:
    assert DEFAULT_FRAMEWORK_VERSION == "2.8.0"
    assert list(FRAMEWORK_VERSIONS) == KNOWN_VERSIONS.split(", ")


def test_cpu_image_in_us_east_1() -> None:
    assert pytorch_training_image("us-east-1", "ml.m5.large") == f"{US_EAST_1}:2.8.0-cpu-py312"


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.p4d.24xlarge"])
def test_gpu_image_in_us_east_1(instance_type: str) -> None:
    assert pytorch_training_image("us-east-1", instance_type) == f"{US_EAST_1}:2.8.0-gpu-py312"


@pytest.mark.parametrize(
    ("instance_type", "processor"),
    [
        ("ml.m5.large", "cpu"),
        ("ml.m5.4xlarge", "cpu"),
        ("ml.c5.xlarge", "cpu"),
        ("ml.c5.18xlarge", "cpu"),
        ("ml.g4dn.xlarge", "gpu"),
        ("ml.g5.2xlarge", "gpu"),
        ("ml.p3.2xlarge", "gpu"),
        ("ml.p4d.24xlarge", "gpu"),
    ],
)
def test_processor_follows_the_instance_family(instance_type: str, processor: str) -> None:
    image = pytorch_training_image("us-west-2", instance_type)
    assert image == (
        f"763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.8.0-{processor}-py312"
    )


def test_each_framework_version_has_its_own_python_tag() -> None:
    assert pytorch_training_image("us-east-1", "ml.m5.large", "2.5.1") == (
        f"{US_EAST_1}:2.5.1-cpu-py311"
    )
    assert pytorch_training_image("us-east-1", "ml.g5.xlarge", "2.6.0") == (
        f"{US_EAST_1}:2.6.0-gpu-py312"
    )


@pytest.mark.parametrize(
    ("alias", "full", "python"),
    [("2.5", "2.5.1", "py311"), ("2.7", "2.7.1", "py312"), ("2.3", "2.3.0", "py311")],
)
def test_major_minor_alias_names_the_full_version(alias: str, full: str, python: str) -> None:
    assert pytorch_training_image("us-east-1", "ml.m5.large", alias) == (
        f"{US_EAST_1}:{full}-cpu-{python}"
    )


def test_region_with_its_own_account() -> None:
    assert pytorch_training_image("eu-south-1", "ml.m5.large") == f"{EU_SOUTH_1}:2.8.0-cpu-py312"


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_china_regions_use_their_account_and_domain(region: str) -> None:
    assert pytorch_training_image(region, "ml.g4dn.xlarge") == (
        f"727897471807.dkr.ecr.{region}.amazonaws.com.cn/pytorch-training:2.8.0-gpu-py312"
    )


def test_unknown_region_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ImageError) as caught:
        pytorch_training_image("xx-west-9", "ml.m5.large")
    message = str(caught.value)
    assert message.startswith(
        "no SageMaker PyTorch training image is known for region xx-west-9; known regions: "
        "af-south-1, ap-east-1,"
    )
    assert ", eu-south-1, " in message
    assert ", us-east-1, " in message
    assert message.endswith(", us-west-1, us-west-2")


@pytest.mark.parametrize("version", ["9.9", "2.8.1", "2.1.0", "latest"])
def test_unknown_framework_version_is_refused_naming_the_choices(version: str) -> None:
    with pytest.raises(ImageError) as caught:
        pytorch_training_image("us-east-1", "ml.m5.large", version)
    assert str(caught.value) == (
        f"PyTorch framework version {version} has no training image in hpjobs's table; "
        f"choose one of {KNOWN_VERSIONS}"
    )


def test_unknown_version_is_reported_before_unknown_region() -> None:
    with pytest.raises(ImageError, match=r"framework version 1\.0"):
        pytorch_training_image("xx-west-9", "ml.m5.large", "1.0")


# -- rehoming ---------------------------------------------------------------------------------


def test_rehome_moves_a_dlc_image_to_another_region_keeping_its_tag() -> None:
    assert rehome_pytorch_image(f"{US_EAST_1}:2.8.0-gpu-py312", "eu-south-1") == (
        f"{EU_SOUTH_1}:2.8.0-gpu-py312"
    )
    assert rehome_pytorch_image(f"{US_EAST_1}:2.1.0-cpu-py310", "eu-west-1") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
    )


def test_rehome_keeps_a_digest() -> None:
    digest = "@sha256:" + "ab" * 32
    assert rehome_pytorch_image(US_EAST_1 + digest, "eu-south-1") == EU_SOUTH_1 + digest


def test_rehome_keeps_an_untagged_image_untagged() -> None:
    assert rehome_pytorch_image(US_EAST_1, "eu-south-1") == EU_SOUTH_1


def test_rehome_between_the_china_partition_and_the_others() -> None:
    china = "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.8.0-cpu-py312"
    assert rehome_pytorch_image(china, "us-east-1") == f"{US_EAST_1}:2.8.0-cpu-py312"
    assert rehome_pytorch_image(f"{US_EAST_1}:2.8.0-cpu-py312", "cn-northwest-1") == (
        "727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/pytorch-training:2.8.0-cpu-py312"
    )


@pytest.mark.parametrize(
    "image",
    [
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.8.0-cpu-py312",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training-neuronx:2.1.2",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.1.0",
        "my/image:1",
        "hpjobs/pytorch",
    ],
)
def test_rehome_leaves_other_images_alone(image: str) -> None:
    assert rehome_pytorch_image(image, "eu-south-1") == image


def test_rehome_leaves_an_image_of_the_same_region_alone() -> None:
    image = f"{EU_SOUTH_1}:2.5.1-gpu-py311"
    assert rehome_pytorch_image(image, "eu-south-1") == image
    # Even one whose region the table does not know: nothing needs to move.
    unknown = "111111111111.dkr.ecr.xx-west-9.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    assert rehome_pytorch_image(unknown, "xx-west-9") == unknown


def test_rehome_to_an_unknown_region_is_refused() -> None:
    with pytest.raises(ImageError, match=r"^no SageMaker PyTorch training image is known for "):
        rehome_pytorch_image(f"{US_EAST_1}:2.8.0-cpu-py312", "xx-west-9")

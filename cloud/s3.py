"""Reading and writing ``s3://`` locations through boto3.

Clients honour ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL`` (botocore reads both), so a local
S3 such as moto's server works as well as AWS. Object keys never become paths unchecked: a key
whose relative part would leave the destination folder is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "S3Error",
    "UnsafeKey",
    "download_file",
    "download_prefix",
    "parse_s3_uri",
    "upload_file",
]


class S3Error(Exception):
    """An S3 location could not be read or written; the message says which and why."""


class UnsafeKey(S3Error):
    """An object key that would be written outside the destination folder."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3Error(f"not an s3:// URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def _client() -> Any:
    """A new client, so endpoint and credential settings are read as they are now."""
    import boto3

    return boto3.session.Session().client("s3")


def _relative_key(prefix: str, key: str) -> PurePosixPath:
    """Where an object under ``prefix`` lands, relative to the channel folder.

    The object named exactly by the prefix keeps its base name; objects below a folder-like
    prefix keep their path below it; other matches keep their path below the prefix's folder.
    """
    if key == prefix:
        relative = PurePosixPath(key).name
    elif prefix == "" or prefix.endswith("/") or key.startswith(prefix + "/"):
        relative = key[len(prefix) :].lstrip("/")
    else:
        folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        relative = key[len(folder) :]
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise UnsafeKey(f"object key {key!r} would be written outside the destination folder")
    return path


def download_prefix(uri: str, destination: Path) -> int:
    """Download every object whose key starts with the URI's key; returns how many there were.

    Every key is checked before the first object is downloaded, so a prefix holding one key
    that would leave ``destination`` (:class:`UnsafeKey`) writes nothing at all.
    """
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_uri(uri)
    client = _client()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]
        targets = [(key, _relative_key(prefix, key)) for key in keys]
        for key, relative in targets:
            target = destination.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise S3Error(f"could not download {uri}: {error}") from error
    if not targets:
        raise S3Error(f"no objects found under {uri}")
    return len(targets)


def upload_file(path: Path, uri: str) -> None:
    """Upload one file to ``uri`` (an object appears whole or not at all)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    try:
        _client().upload_file(str(path), bucket, key)
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise S3Error(f"could not upload to {uri}: {error}") from error


def download_file(uri: str, directory: Path) -> Path:
    """Download one object into ``directory`` under its base name; returns the file's path."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    name = PurePosixPath(key).name
    if not name or name in {".", ".."}:
        raise S3Error(f"{uri} does not name an object")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".download-")
    os.close(handle)
    try:
        _client().download_file(bucket, key, temporary)
    except (BotoCoreError, ClientError, Boto3Error) as error:
        os.unlink(temporary)
        raise S3Error(f"could not download {uri}: {error}") from error
    target = directory / name
    os.replace(temporary, target)
    return target

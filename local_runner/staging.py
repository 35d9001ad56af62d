"""Moving data in and out of a job's ``/opt/ml`` tree.

A location is an ``s3://`` URI (read and written through boto3), a ``file://`` URI or a plain path.
``file://`` URIs follow the SageMaker SDK's local mode: the host part and the path are joined, so
``file:///data/train`` is absolute and ``file://data/train`` is relative to the working folder.

Nothing is written outside the folder it is meant for: S3 keys that would leave it are refused
(:mod:`cloud.s3`), a local folder restored as checkpoints may hold no link that leads out of it
(its files are written back there at the end of the job), and delivery to a local folder never
writes through a link that leads out of the folder it was given (``within``). Those refusals
are :class:`UnsafeLocation`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from local_runner.archives import extract, temporary_beside

__all__ = [
    "StagingError",
    "UnsafeLocation",
    "deliver",
    "local_path",
    "stage_channel",
    "stage_code",
    "sync_folder",
]


class StagingError(Exception):
    """Data could not be staged or delivered; the message says what and where."""


class UnsafeLocation(StagingError):
    """Staging or delivering would read or write through a path that leaves its folder."""


def local_path(location: str) -> Path | None:
    """The filesystem path a ``file://`` URI or plain path names; None for ``s3://``."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.netloc + parsed.path))
    if parsed.scheme in ("s3", "https"):
        return None
    return Path(location)


def _copy_into(source: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)
    elif source.is_file():
        shutil.copy2(source, destination / source.name)
    else:
        raise StagingError(f"{source} does not exist")


def _check_contained(source: Path) -> None:
    """Refuse a folder holding a link that leads out of it, or anything but files, folders and
    links."""
    if not source.is_dir():
        return
    root = source.resolve()
    for entry in source.rglob("*"):
        if entry.is_symlink():
            if not entry.resolve().is_relative_to(root):
                raise UnsafeLocation(f"{entry} is a link that leads outside {source}")
        elif not (entry.is_file() or entry.is_dir()):
            raise UnsafeLocation(f"{entry} is neither a file, a folder nor a link")


def stage_channel(location: str, destination: Path, *, contained: bool = False) -> None:
    """Fill a channel folder from ``location`` (a file, a folder, or an S3 prefix).

    With ``contained``, a local folder holding a link that leads out of it is refused (links
    in a channel's data folder are otherwise followed, as a copy does).
    """
    path = local_path(location)
    if path is not None:
        if contained:
            _check_contained(path)
        _copy_into(path, destination)
        return
    from cloud.s3 import S3Error, UnsafeKey, download_prefix

    destination.mkdir(parents=True, exist_ok=True)
    try:
        download_prefix(location, destination)
    except UnsafeKey as error:
        raise UnsafeLocation(str(error)) from error
    except S3Error as error:
        raise StagingError(str(error)) from error


def stage_code(location: str, code_dir: Path) -> None:
    """Put the user's code in ``code_dir`` from a folder or a ``.tar.gz`` (local or on S3).

    As the training toolkit does, nothing happens when ``code_dir`` already has files.
    """
    if code_dir.exists() and any(code_dir.iterdir()):
        return
    path = local_path(location)
    if path is not None and path.is_dir():
        _copy_into(path, code_dir)
        return
    if path is not None:
        if not path.is_file():
            raise StagingError(f"source directory {location} does not exist")
        extract(path, code_dir)
        return
    from cloud.s3 import S3Error, download_file

    with tempfile.TemporaryDirectory() as scratch:
        try:
            archive = download_file(location, Path(scratch))
        except S3Error as error:
            raise StagingError(str(error)) from error
        extract(archive, code_dir)


def _check_within(path: Path, root: Path) -> None:
    """Refuse ``path`` unless its folder, with every link on the way followed, is ``root`` or
    below it."""
    real_root = root.resolve()
    if not path.parent.resolve().is_relative_to(real_root):
        raise UnsafeLocation(f"{path} would be written outside {root} (through a link)")


def deliver(file: Path, location: str, *, within: Path | None = None) -> None:
    """Copy ``file`` to ``location`` (its full new name); it appears whole or not at all.

    ``within``: for a local ``location``, the folder it must stay in once links are followed.
    """
    path = local_path(location)
    if path is not None and within is not None:
        _check_within(path, within)
    if path is None:
        from cloud.s3 import S3Error, upload_file

        try:
            upload_file(file, location)
        except S3Error as error:
            raise StagingError(str(error)) from error
        return
    temporary = temporary_beside(path)
    try:
        shutil.copyfile(file, temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def sync_folder(folder: Path, location: str, *, within: Path | None = None) -> None:
    """Copy every file below ``folder`` to the same relative name under ``location`` (staying
    in ``within``, as :func:`deliver` does)."""
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = file.relative_to(folder).as_posix()
        deliver(file, location.rstrip("/") + "/" + relative, within=within)

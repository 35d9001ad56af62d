"""Reading and writing ``.tar.gz`` archives safely.

An archive is extracted only after every member has been checked: no absolute names, no ``..``
that leaves the destination, no symbolic or hard link that points outside it, no device files.
Archives are written to a temporary name beside their destination and renamed into place, so a
reader never sees half an archive.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchive", "extract", "pack"]


class UnsafeArchive(Exception):
    """An archive member would land outside the destination folder."""


def _inside(destination: Path, name: str) -> bool:
    return (destination / name).resolve().is_relative_to(destination.resolve())


def _check_member(member: tarfile.TarInfo, destination: Path) -> None:
    name = member.name
    if PurePosixPath(name).is_absolute() or not _inside(destination, name):
        raise UnsafeArchive(f"member {name!r} would be extracted outside the destination")
    if member.issym():
        target = str(PurePosixPath(name).parent / member.linkname)
        if PurePosixPath(member.linkname).is_absolute() or not _inside(destination, target):
            raise UnsafeArchive(f"symbolic link {name!r} points outside the destination")
    elif member.islnk():
        if PurePosixPath(member.linkname).is_absolute() or not _inside(
            destination, member.linkname
        ):
            raise UnsafeArchive(f"hard link {name!r} points outside the destination")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"member {name!r} is neither a file, a folder nor a link")


def extract(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination`` once every member has passed the checks."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, destination)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, members=members, filter="data")
            else:  # Python < 3.10.12 / 3.11.4: the checks above are the whole defence
                tar.extractall(destination, members=members)
    except (tarfile.TarError, EOFError) as error:
        raise UnsafeArchive(f"{archive.name} is not a readable tar archive: {error}") from error


def pack(source: Path, archive: Path) -> None:
    """Write the contents of ``source`` (at the archive's root) to ``archive``, gzip-compressed.

    Links are followed, as SageMaker does when it packs ``/opt/ml/model``.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.")
    os.close(handle)
    try:
        with tarfile.open(temporary, "w:gz", dereference=True) as tar:
            for entry in sorted(source.iterdir()) if source.is_dir() else []:
                tar.add(entry, arcname=entry.name)
        os.replace(temporary, archive)
    except BaseException:
        os.unlink(temporary)
        raise

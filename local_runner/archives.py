"""Reading and writing ``.tar.gz`` archives safely.

An archive is extracted only after every member has been checked: no absolute names, no ``..``
that leaves the destination, no symbolic or hard link that points outside it, no device files.
Archives are written to a temporary name beside their destination and renamed into place, so a
reader never sees half an archive.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import tarfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchive", "extract", "pack", "temporary_beside"]


class UnsafeArchive(Exception):
    """An archive member would land outside the destination folder."""


def _lexical(name: str) -> str | None:
    """``name`` normalised inside the archive, or None if it is absolute or climbs out."""
    if PurePosixPath(name).is_absolute():
        return None
    normal = posixpath.normpath(name)
    return None if normal == ".." or normal.startswith("../") else normal


def _through_link(path: str, links: set[str]) -> bool:
    """Whether following ``path`` (as written, before any ``..`` is folded away) passes through
    a link an earlier member of the same archive made."""
    current: list[str] = []
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for index, part in enumerate(parts):
        if part == "..":
            if current:
                current.pop()
        else:
            current.append(part)
        if index < len(parts) - 1 and "/".join(current) in links:
            return True
    return False


def _check_members(members: list[tarfile.TarInfo], destination: Path) -> None:
    """Refuse the archive unless every member stays inside ``destination``.

    Names and link targets are judged lexically and against the links the archive itself
    creates (a member below, or a link through, an earlier link is refused), then against the
    destination as it is on disk.
    """
    root = destination.resolve()
    links: set[str] = set()
    for member in members:
        name = _lexical(member.name)
        if (
            name is None
            or _through_link(member.name, links)
            or not (root / name).resolve().is_relative_to(root)
        ):
            raise UnsafeArchive(f"member {member.name!r} would land outside the destination")
        if member.issym() or member.islnk():
            base = posixpath.dirname(name) if member.issym() else ""
            written = posixpath.join(base, member.linkname)
            target = _lexical(written)
            if PurePosixPath(member.linkname).is_absolute() or target is None:
                raise UnsafeArchive(f"link {member.name!r} points outside the destination")
            if target in links or _through_link(written, links):
                raise UnsafeArchive(f"link {member.name!r} points through another link")
            if member.issym():
                links.add(name)
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"member {member.name!r} is neither a file, a folder nor a link")


def temporary_beside(path: Path) -> Path:
    """A new, empty file next to ``path`` (same folder, so a rename onto ``path`` is atomic),
    created with the usual permissions (0666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate


def extract(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination`` once every member has passed the checks."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            _check_members(members, destination)
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
    temporary = temporary_beside(archive)
    try:
        with tarfile.open(temporary, "w:gz", dereference=True) as tar:
            for entry in sorted(source.iterdir()) if source.is_dir() else []:
                tar.add(entry, arcname=entry.name)
        os.replace(temporary, archive)
    except BaseException:
        os.unlink(temporary)
        raise

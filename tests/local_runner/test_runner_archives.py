"""Safe extraction and atomic packing of ``.tar.gz`` archives."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from local_runner.archives import UnsafeArchive, extract, pack


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"data") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _link(tar: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _special(tar: tarfile.TarFile, name: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    tar.addfile(info)


def _archive(path: Path, build: Callable[[tarfile.TarFile, Path], None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _file(tar, "harmless.txt", b"first member is fine")
        build(tar, path.parent)
    return path


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


UNSAFE: dict[str, Callable[[tarfile.TarFile, Path], None]] = {
    "dotdot": lambda t, root: _file(t, "../escaped.txt"),
    "nested-dotdot": lambda t, root: _file(t, "sub/../../escaped.txt"),
    "absolute": lambda t, root: _file(t, str(root / "absolute.txt")),
    "symlink-absolute": lambda t, root: _link(t, "link", "/etc"),
    "symlink-dotdot": lambda t, root: _link(t, "link", "../outside"),
    "symlink-nested-dotdot": lambda t, root: _link(t, "a/b/link", "../../../outside"),
    "hardlink-dotdot": lambda t, root: _link(t, "hard", "../outside.txt", tarfile.LNKTYPE),
    "hardlink-absolute": lambda t, root: _link(t, "hard", "/etc/passwd", tarfile.LNKTYPE),
    "chardev": lambda t, root: _special(t, "null", tarfile.CHRTYPE),
    "blockdev": lambda t, root: _special(t, "disk", tarfile.BLKTYPE),
    "fifo": lambda t, root: _special(t, "pipe", tarfile.FIFOTYPE),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_extract_refuses_unsafe_member_and_writes_nothing(tmp_path: Path, case: str) -> None:
    archive = _archive(tmp_path / "bad.tar.gz", UNSAFE[case])
    destination = tmp_path / "work" / "dest"
    before = _tree(tmp_path)
    with pytest.raises(UnsafeArchive):
        extract(archive, destination)
    assert destination.is_dir()
    assert list(destination.iterdir()) == []
    assert _tree(tmp_path) == sorted([*before, "work", "work/dest"])


def test_extract_refuses_a_file_that_is_not_an_archive(tmp_path: Path) -> None:
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"this is not gzip")
    destination = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        extract(archive, destination)
    assert list(destination.iterdir()) == []


def test_extract_refuses_a_link_through_an_earlier_link_and_writes_nothing(
    tmp_path: Path,
) -> None:
    def build(tar: tarfile.TarFile, root: Path) -> None:
        _link(tar, "s", ".")
        _link(tar, "t", "s/../etc")

    archive = _archive(tmp_path / "chain.tar.gz", build)
    destination = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        extract(archive, destination)
    assert list(destination.iterdir()) == []


def test_extract_accepts_nested_folders_and_internal_links(tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        _dir(tar, "pkg")
        _dir(tar, "pkg/sub")
        _file(tar, "pkg/sub/deep.py", b"print('deep')\n")
        _file(tar, "top.txt", b"top")
        _link(tar, "pkg/latest", "sub/deep.py")
        _link(tar, "pkg/sub/up", "../../top.txt")
        _link(tar, "hard.txt", "top.txt", tarfile.LNKTYPE)
    destination = tmp_path / "dest"
    extract(archive, destination)
    assert _tree(destination) == [
        "hard.txt",
        "pkg",
        "pkg/latest",
        "pkg/sub",
        "pkg/sub/deep.py",
        "pkg/sub/up",
        "top.txt",
    ]
    assert (destination / "pkg" / "sub" / "deep.py").read_bytes() == b"print('deep')\n"
    assert (destination / "pkg" / "latest").is_symlink()
    assert os.readlink(destination / "pkg" / "latest") == "sub/deep.py"
    assert (destination / "pkg" / "latest").read_bytes() == b"print('deep')\n"
    assert (destination / "pkg" / "sub" / "up").read_bytes() == b"top"
    assert (destination / "hard.txt").read_bytes() == b"top"


def test_extract_into_a_missing_folder_creates_it(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a")
    pack(source, tmp_path / "a.tar.gz")
    extract(tmp_path / "a.tar.gz", tmp_path / "x" / "y")
    assert (tmp_path / "x" / "y" / "a.txt").read_text() == "a"


# -- pack ------------------------------------------------------------------------------------


def _names(archive: Path) -> list[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return sorted(tar.getnames())


def test_pack_puts_the_folder_contents_at_the_archive_root(tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "weights.bin").write_bytes(b"\x00\x01")
    (source / "sub" / "config.json").write_text("{}")
    (source / "sub" / "deeper" / "x.txt").write_text("x")
    (source / ".hidden").write_text("h")
    archive = tmp_path / "out" / "model.tar.gz"
    pack(source, archive)
    assert _names(archive) == [
        ".hidden",
        "sub",
        "sub/config.json",
        "sub/deeper",
        "sub/deeper/x.txt",
        "weights.bin",
    ]
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("weights.bin")
        assert member is not None
        assert member.read() == b"\x00\x01"
    assert sorted(p.name for p in archive.parent.iterdir()) == ["model.tar.gz"]


def test_pack_writes_gzip(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "a").write_text("a")
    pack(source, tmp_path / "m.tar.gz")
    assert (tmp_path / "m.tar.gz").read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_pack_writes_an_empty_archive_for_an_empty_or_missing_folder(
    tmp_path: Path, state: str
) -> None:
    source = tmp_path / "model"
    if state == "empty":
        source.mkdir()
    archive = tmp_path / "out" / "model.tar.gz"
    pack(source, archive)
    assert _names(archive) == []
    assert sorted(p.name for p in archive.parent.iterdir()) == ["model.tar.gz"]


def test_pack_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "folder").mkdir(parents=True)
    (outside / "real.txt").write_text("real content")
    (outside / "folder" / "inner.txt").write_text("inner")
    source = tmp_path / "model"
    source.mkdir()
    (source / "linked.txt").symlink_to(outside / "real.txt")
    (source / "linked-folder").symlink_to(outside / "folder")
    archive = tmp_path / "model.tar.gz"
    pack(source, archive)
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["linked-folder", "linked-folder/inner.txt", "linked.txt"]
        assert members["linked.txt"].isfile()
        assert members["linked-folder"].isdir()
        assert members["linked-folder/inner.txt"].isfile()
        linked = tar.extractfile("linked.txt")
        assert linked is not None
        assert linked.read() == b"real content"


def test_pack_replaces_an_existing_archive_whole(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "new.txt").write_text("new")
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"old contents, not even an archive")
    pack(source, archive)
    assert _names(archive) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.tar.gz"]


def test_pack_failure_leaves_no_destination_and_no_temporary(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "a.txt").write_text("a")
    (source / "dangling").symlink_to(tmp_path / "does-not-exist")
    out = tmp_path / "out"
    archive = out / "model.tar.gz"
    with pytest.raises(OSError):
        pack(source, archive)
    assert not archive.exists()
    assert list(out.iterdir()) == []


def test_pack_failure_keeps_a_previous_archive(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "a.txt").write_text("a")
    archive = tmp_path / "out" / "model.tar.gz"
    pack(source, archive)
    (source / "dangling").symlink_to(tmp_path / "does-not-exist")
    with pytest.raises(OSError):
        pack(source, archive)
    assert _names(archive) == ["a.txt"]
    assert sorted(p.name for p in archive.parent.iterdir()) == ["model.tar.gz"]


def test_pack_then_extract_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "code"
    (source / "pkg").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "pkg" / "__init__.py").write_text("")
    pack(source, tmp_path / "sourcedir.tar.gz")
    extract(tmp_path / "sourcedir.tar.gz", tmp_path / "dest")
    assert _tree(tmp_path / "dest") == ["pkg", "pkg/__init__.py", "train.py"]
    assert (tmp_path / "dest" / "train.py").read_text() == "print('hi')\n"

"""Staging data into ``/opt/ml`` and delivering artifacts out of it (local paths and S3)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from cloud.s3 import S3Error, download_file, download_prefix, parse_s3_uri, upload_file
from local_runner.archives import pack
from local_runner.staging import (
    StagingError,
    deliver,
    local_path,
    stage_channel,
    stage_code,
    sync_folder,
)


def _tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` by relative name, with its text."""
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _all_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# -- local_path ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:///abs/data/train", "/abs/data/train"),
        ("file:///abs/data/train/", "/abs/data/train"),
        ("file://rel/path", "rel/path"),
        ("file://data", "data"),
        ("file:///tmp/with%20space/c%23d%25e", "/tmp/with space/c#d%e"),
        ("file://rel%20dir/x", "rel dir/x"),
        ("/plain/absolute", "/plain/absolute"),
        ("plain/relative", "plain/relative"),
        ("/plain/keeps%20percent", "/plain/keeps%20percent"),
    ],
)
def test_local_path(location: str, expected: str) -> None:
    assert local_path(location) == Path(expected)


@pytest.mark.parametrize(
    "location", ["s3://bucket/key", "s3://bucket", "https://bucket.s3.amazonaws.com/key"]
)
def test_local_path_of_remote_locations_is_none(location: str) -> None:
    assert local_path(location) is None


def test_local_path_round_trips_as_uri(tmp_path: Path) -> None:
    odd = tmp_path / "a b" / "c#d%e" / "ü.csv"
    assert local_path(odd.as_uri()) == odd


# -- stage_channel ---------------------------------------------------------------------------


def test_stage_channel_single_file_lands_by_its_base_name(tmp_path: Path) -> None:
    source = tmp_path / "inputs" / "single.csv"
    source.parent.mkdir()
    source.write_text("5,6\n")
    destination = tmp_path / "opt" / "ml" / "input" / "data" / "validation"
    stage_channel(str(source), destination)
    assert _tree(destination) == {"single.csv": "5,6\n"}


def test_stage_channel_folder_copies_the_whole_tree(tmp_path: Path) -> None:
    source = tmp_path / "train-data"
    (source / "part" / "deep").mkdir(parents=True)
    (source / "a.csv").write_text("1,2\n")
    (source / "part" / "b.csv").write_text("3,4\n")
    (source / "part" / "deep" / "c.csv").write_text("5\n")
    (source / "empty-folder").mkdir()
    destination = tmp_path / "channel"
    stage_channel(source.as_uri(), destination)
    assert _tree(destination) == {"a.csv": "1,2\n", "part/b.csv": "3,4\n", "part/deep/c.csv": "5\n"}
    assert (destination / "empty-folder").is_dir()
    assert _tree(source) == _tree(destination)  # the source is untouched


def test_stage_channel_file_uri_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "x.csv").write_text("x")
    stage_channel("file://data/train", tmp_path / "channel")
    assert _tree(tmp_path / "channel") == {"x.csv": "x"}


@pytest.mark.parametrize("form", ["plain", "uri"])
def test_stage_channel_missing_path_raises_staging_error(tmp_path: Path, form: str) -> None:
    missing = tmp_path / "no" / "such" / "data"
    location = str(missing) if form == "plain" else missing.as_uri()
    with pytest.raises(StagingError, match="does not exist"):
        stage_channel(location, tmp_path / "channel")
    assert not missing.exists()


# -- deliver / sync_folder ---------------------------------------------------------------------


def test_deliver_to_a_new_local_path(tmp_path: Path) -> None:
    source = tmp_path / "artifacts" / "model.tar.gz"
    source.parent.mkdir()
    source.write_bytes(b"archive bytes")
    target = tmp_path / "output" / "job" / "output" / "model.tar.gz"
    deliver(source, target.as_uri())
    assert target.read_bytes() == b"archive bytes"
    assert os.listdir(target.parent) == ["model.tar.gz"]
    assert source.read_bytes() == b"archive bytes"


def test_deliver_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    source = tmp_path / "new.bin"
    source.write_bytes(b"short")
    target = tmp_path / "out" / "model.tar.gz"
    target.parent.mkdir()
    target.write_bytes(b"a much longer previous content" * 100)
    old_inode = target.stat().st_ino
    with open(target, "rb") as reader:
        deliver(source, str(target))
        # A reader of the old file still sees all of it: the new file was renamed into place.
        assert reader.read() == b"a much longer previous content" * 100
    assert target.read_bytes() == b"short"
    assert target.stat().st_ino != old_inode
    assert os.listdir(target.parent) == ["model.tar.gz"]


def test_deliver_failure_leaves_no_temporary_and_no_target(tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.tar.gz"
    with pytest.raises(OSError):
        deliver(tmp_path / "missing-source", str(target))
    assert os.listdir(target.parent) == []


def test_delivered_artifacts_honour_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        source = tmp_path / "model"
        source.mkdir()
        (source / "w.txt").write_text("w")
        pack(source, tmp_path / "artifacts" / "model.tar.gz")
        target = tmp_path / "out" / "model.tar.gz"
        deliver(tmp_path / "artifacts" / "model.tar.gz", str(target))
    finally:
        os.umask(previous)
    modes = {
        "packed": (tmp_path / "artifacts" / "model.tar.gz").stat().st_mode & 0o777,
        "delivered": target.stat().st_mode & 0o777,
    }
    assert modes == {"packed": 0o644, "delivered": 0o644}


def test_sync_folder_keeps_relative_names(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    (folder / "empty").mkdir()
    out = tmp_path / "out" / "job" / "output" / "model"
    sync_folder(folder, out.as_uri() + "/")
    assert _tree(out) == {"a.txt": "a", "sub/b.txt": "b"}
    assert _all_names(out) == ["a.txt", "sub", "sub/b.txt"]


# -- stage_code ------------------------------------------------------------------------------


def _code_folder(tmp_path: Path) -> Path:
    code = tmp_path / "src"
    (code / "pkg").mkdir(parents=True)
    (code / "train.py").write_text("print('train')\n")
    (code / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    return code


def test_stage_code_from_a_folder(tmp_path: Path) -> None:
    code = _code_folder(tmp_path)
    code_dir = tmp_path / "opt" / "ml" / "code"
    stage_code(code.as_uri(), code_dir)
    assert _tree(code_dir) == {"pkg/__init__.py": "VALUE = 1\n", "train.py": "print('train')\n"}


@pytest.mark.parametrize("form", ["plain", "uri"])
def test_stage_code_from_a_local_tarball(tmp_path: Path, form: str) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    pack(_code_folder(tmp_path), archive)
    code_dir = tmp_path / "opt" / "ml" / "code"
    code_dir.mkdir(parents=True)  # exists but empty: still staged
    stage_code(str(archive) if form == "plain" else archive.as_uri(), code_dir)
    assert _tree(code_dir) == {"pkg/__init__.py": "VALUE = 1\n", "train.py": "print('train')\n"}


def test_stage_code_does_nothing_when_the_code_folder_has_files(tmp_path: Path) -> None:
    code_dir = tmp_path / "opt" / "ml" / "code"
    code_dir.mkdir(parents=True)
    (code_dir / "already.py").write_text("kept")
    stage_code(_code_folder(tmp_path).as_uri(), code_dir)
    stage_code(str(tmp_path / "missing.tar.gz"), code_dir)  # not even looked at
    assert _tree(code_dir) == {"already.py": "kept"}


def test_stage_code_missing_source_raises_staging_error(tmp_path: Path) -> None:
    with pytest.raises(StagingError, match="does not exist"):
        stage_code(str(tmp_path / "nothing-here"), tmp_path / "code")


# -- S3 through moto -------------------------------------------------------------------------
# moto keeps its state per process, across servers: every test makes buckets of its own. Each
# moto_s3 server takes ~0.5 s to stop, so the S3 checks are grouped into a few tests.


def _bucket(client: Any, objects: dict[str, bytes]) -> str:
    name = f"hpjobs-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for key, body in objects.items():
        client.put_object(Bucket=name, Key=key, Body=body)
    return name


DATA = {
    "data/train/a.csv": b"a",
    "data/train/sub/b.csv": b"b",
    "data/train/": b"",  # a console "folder" marker: skipped
    "data/trial.csv": b"t",
    "other/x.csv": b"x",
}

LAYOUTS: list[tuple[str, dict[str, str]]] = [
    # a folder-like prefix: paths below it
    ("data/train/", {"a.csv": "a", "sub/b.csv": "b"}),
    ("data/train", {"a.csv": "a", "sub/b.csv": "b"}),
    # the prefix names one object exactly: its base name
    ("data/train/sub/b.csv", {"b.csv": "b"}),
    # a partial name: paths relative to the prefix's folder
    ("data/tr", {"train/a.csv": "a", "train/sub/b.csv": "b", "trial.csv": "t"}),
]


def test_download_prefix_layouts_and_errors(moto_s3: Any, tmp_path: Path) -> None:
    bucket = _bucket(moto_s3, DATA)
    for index, (prefix, expected) in enumerate(LAYOUTS):
        destination = tmp_path / f"channel-{index}"
        destination.mkdir()
        count = download_prefix(f"s3://{bucket}/{prefix}", destination)
        assert (prefix, _tree(destination)) == (prefix, expected)
        assert count == len(expected)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(S3Error, match="no objects found"):
        download_prefix(f"s3://{bucket}/data/zzz", empty)
    with pytest.raises(S3Error, match="no objects found"):
        download_prefix(f"s3://{_bucket(moto_s3, {})}", empty)  # empty prefix, empty bucket
    with pytest.raises(S3Error, match="could not download"):
        download_prefix(f"s3://no-such-bucket-{uuid.uuid4().hex[:12]}/data/", empty)
    assert list(empty.iterdir()) == []


def test_download_prefix_refuses_keys_that_escape(moto_s3: Any, tmp_path: Path) -> None:
    for index, evil in enumerate(["data/sub/../../../evil.txt", "data/../evil.txt"]):
        bucket = _bucket(moto_s3, {evil: b"pwned", "data/zz-after.csv": b"z"})
        root = tmp_path / f"case-{index}"
        destination = root / "work" / "channel"
        destination.mkdir(parents=True)
        with pytest.raises(S3Error, match="outside the destination"):
            download_prefix(f"s3://{bucket}/data/", destination)
        for name in _all_names(root):
            assert name in ("work", "work/channel") or name.startswith("work/channel/"), name
    assert "evil.txt" not in {p.name for p in tmp_path.rglob("*")}
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("uri", ["s3://", "s3:///key", "http://bucket/key", "bucket/key"])
def test_parse_s3_uri_refuses_non_s3(uri: str) -> None:
    with pytest.raises(S3Error, match="not an s3:// URI"):
        parse_s3_uri(uri)


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b/")
    assert parse_s3_uri("s3://bucket") == ("bucket", "")


def test_upload_to_a_missing_bucket_raises_s3_error(moto_s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "model.tar.gz"
    source.write_bytes(b"x")
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:12]}"
    with pytest.raises(S3Error, match="could not upload"):
        upload_file(source, f"{missing}/model.tar.gz")
    with pytest.raises(StagingError, match="could not upload"):
        deliver(source, f"{missing}/model.tar.gz")


def test_staging_and_transfers_through_s3(moto_s3: Any, tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    pack(_code_folder(tmp_path), archive)
    bucket = _bucket(moto_s3, {**DATA, "job/source/sourcedir.tar.gz": archive.read_bytes()})

    channel = tmp_path / "channel"
    stage_channel(f"s3://{bucket}/data/train/", channel)
    assert _tree(channel) == {"a.csv": "a", "sub/b.csv": "b"}
    with pytest.raises(StagingError, match="no objects found"):
        stage_channel(f"s3://{bucket}/missing/", tmp_path / "other")

    code_dir = tmp_path / "code"
    stage_code(f"s3://{bucket}/job/source/sourcedir.tar.gz", code_dir)
    assert _tree(code_dir) == {"pkg/__init__.py": "VALUE = 1\n", "train.py": "print('train')\n"}
    with pytest.raises(StagingError, match="could not download"):
        stage_code(f"s3://{bucket}/job/source/missing.tar.gz", tmp_path / "code2")

    deliver(archive, f"s3://{bucket}/out/job/output/model.tar.gz")
    body = moto_s3.get_object(Bucket=bucket, Key="out/job/output/model.tar.gz")["Body"].read()
    assert body == archive.read_bytes()

    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "w.txt").write_text("w")
    (model / "sub" / "v.txt").write_text("v")
    sync_folder(model, f"s3://{bucket}/out/job/output/model/")
    listed = moto_s3.list_objects_v2(Bucket=bucket, Prefix="out/job/output/model/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "out/job/output/model/sub/v.txt",
        "out/job/output/model/w.txt",
    ]

    # upload_file + download_file round trip
    source = tmp_path / "model.bin"
    payload = bytes(range(256)) * 64
    source.write_bytes(payload)
    upload_file(source, f"s3://{bucket}/jobs/j1/output/model.bin")
    body = moto_s3.get_object(Bucket=bucket, Key="jobs/j1/output/model.bin")["Body"].read()
    assert body == payload
    folder = tmp_path / "down"
    folder.mkdir()
    target = download_file(f"s3://{bucket}/jobs/j1/output/model.bin", folder)
    assert target == folder / "model.bin"
    assert target.read_bytes() == payload
    assert os.listdir(folder) == ["model.bin"]
    with pytest.raises(S3Error, match="could not download"):
        download_file(f"s3://{bucket}/jobs/j1/output/missing.bin", folder)
    assert os.listdir(folder) == ["model.bin"]  # no temporary left behind

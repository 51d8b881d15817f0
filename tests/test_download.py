"""Failure handling of the dataset downloader: checksum mismatch, offline, local mirrors."""

import hashlib

import pytest

from aigc_course.data import DownloadError, Remote, fetch


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_over_http_verifies_and_caches(server, tmp_path):
    www, url = server
    payload = b"first citizen: before we proceed any further, hear me speak.\n" * 50
    (www / "tiny.txt").write_bytes(payload)
    remote = Remote(f"{url}/tiny.txt", sha256(payload), "tiny.txt")
    path = fetch(remote, folder=tmp_path / "dl", progress=False)
    assert path.read_bytes() == payload
    (www / "tiny.txt").unlink()  # a second call must not download again
    assert fetch(remote, folder=tmp_path / "dl", progress=False) == path


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    www, url = server
    (www / "data.bin").write_bytes(b"tampered")
    remote = Remote(f"{url}/data.bin", sha256(b"original"), "data.bin")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(remote, folder=tmp_path / "dl", progress=False)
    assert not (tmp_path / "dl" / "data.bin").exists()


def test_offline_gives_a_clear_message(tmp_path):
    remote = Remote("http://127.0.0.1:9/none.txt", "0" * 64, "none.txt")  # port 9: nothing listens
    with pytest.raises(DownloadError, match=r"(?s)could not download.*offline.*AIGC_DATA_DIR"):
        fetch(remote, folder=tmp_path, progress=False)


def test_file_url_mirror_and_corrupt_local_copy(tmp_path):
    src = tmp_path / "mirror.txt"
    src.write_bytes(b"hello")
    remote = Remote(src.as_uri(), sha256(b"hello"), "copy.txt")
    target = tmp_path / "dl" / "copy.txt"
    target.parent.mkdir()
    target.write_bytes(b"half a downl")  # an interrupted earlier download is replaced
    assert fetch(remote, folder=tmp_path / "dl").read_bytes() == b"hello"
    bad = Remote(src.as_uri(), sha256(b"other"), "bad.txt")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(bad, folder=tmp_path / "dl")
    assert not (tmp_path / "dl" / "bad.txt").exists()
    assert not list((tmp_path / "dl").glob("*.part"))


def test_remote_validation():
    with pytest.raises(ValueError, match="sha256 must be 64 lowercase hex"):
        Remote("https://x/y", "abc", "y")
    with pytest.raises(ValueError, match="url must start with"):
        Remote("x/y", "0" * 64, "y")
    with pytest.raises(ValueError, match="plain file name"):
        Remote("https://x/y", "0" * 64, "../y")
    with pytest.raises(TypeError, match="remote must be a Remote"):
        fetch("https://x/y")

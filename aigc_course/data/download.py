"""Downloads of the full-scale public datasets, built on ``pooch``.

A :class:`Remote` names a file by URL and SHA-256. :func:`fetch` downloads it
once into ``<data dir>/downloads``, checks the hash, writes atomically (pooch
downloads to a temporary file and renames it only after the check), and
reuses the file on later calls. When the machine is offline, or the hash does
not match, it raises :class:`DownloadError` with what to do instead.

The fast profile never downloads anything; only the full profile calls this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import config


class DownloadError(RuntimeError):
    """A dataset could not be downloaded or failed its checksum."""


@dataclass(frozen=True)
class Remote:
    """A downloadable file: where it lives, its SHA-256 and its local file name."""

    url: str
    sha256: str
    filename: str

    def __post_init__(self):
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256 or ""):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if not self.url.startswith(("http://", "https://", "ftp://", "file://")):
            raise ValueError(f"url must start with http(s)://, ftp:// or file://, got {self.url!r}")
        if not self.filename or "/" in self.filename or "\\" in self.filename:
            raise ValueError(f"filename must be a plain file name, got {self.filename!r}")


def _file_url(url: str, target: Path) -> None:
    """Copy a ``file://`` URL (pooch does not speak it): used for local mirrors and tests."""
    import shutil
    from urllib.parse import unquote, urlparse

    src = Path(unquote(urlparse(url).path))
    if not src.exists():
        raise FileNotFoundError(src)
    shutil.copyfile(src, target)


def fetch(remote: Remote, folder: str | Path | None = None, progress: bool = True) -> Path:
    """Download ``remote`` (once), verify its SHA-256 and return the local path.

    Args:
        remote: what to download.
        folder: where to keep it (default ``<data dir>/downloads``).
        progress: show a progress bar.

    Raises:
        DownloadError: offline / unreachable, or the file's hash does not match.
    """
    if not isinstance(remote, Remote):
        raise TypeError(f"remote must be a Remote, got {type(remote).__name__}")
    import pooch

    folder = Path(folder) if folder is not None else config.data_dir() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    manual = (
        f"Download {remote.url} yourself, put it at {target} "
        f"(or point AIGC_DATA_DIR at a folder that has downloads/{remote.filename})."
    )
    if target.exists() and pooch.file_hash(str(target)) == remote.sha256:
        return target
    try:
        if remote.url.startswith("file://"):
            tmp = config.private_tmp(target, ".part")
            _file_url(remote.url, tmp)
            got = pooch.file_hash(str(tmp))
            if got != remote.sha256:
                tmp.unlink()
                raise ValueError(f"SHA256 hash of downloaded file ({got}) does not match")
            tmp.replace(target)
            return target
        path = pooch.retrieve(
            remote.url,
            known_hash=f"sha256:{remote.sha256}",
            fname=remote.filename,
            path=folder,
            progressbar=progress,
        )
        return Path(path)
    except ValueError as err:  # pooch's checksum mismatch
        raise DownloadError(
            f"{remote.filename}: checksum mismatch, the download is corrupt or the file changed "
            f"upstream ({err}). Nothing was kept. {manual}"
        ) from err
    except Exception as err:  # connection refused, DNS failure, HTTP error, missing file
        raise DownloadError(
            f"could not download {remote.url} ({type(err).__name__}: {err}). "
            f"Are you offline? The fast profile needs no downloads (AIGC_PROFILE=fast). {manual}"
        ) from err

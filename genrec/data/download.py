"""Fetch raw dataset files with pooch: checksummed, cached, unzipped once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from genrec.paths import data_cache_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteFile:
    """One published download.

    Attributes:
      url: the publisher's URL.
      known_hash: "md5:..." or "sha256:..." as published; None where the publisher
        gives none (pooch then logs the hash it saw, for the record).
      unzip: whether the download is a zip archive to extract.
    """

    url: str
    known_hash: str | None
    unzip: bool = False


def fetch(remote: RemoteFile, dataset: str, cache_dir: Path | None = None) -> Path:
    """Download `remote` into the cache (once) and return the file or extracted folder.

    Raises:
      ValueError: the downloaded bytes do not match `known_hash` (pooch removes them).
    """
    import pooch  # here: preprocessing local files need not load it (30 ms)

    folder = Path(cache_dir or data_cache_dir()) / dataset
    fname = remote.url.rstrip("/").rsplit("/", 1)[-1]
    processor = pooch.Unzip(extract_dir=f"{fname}.extracted") if remote.unzip else None
    logger.info("fetching %s into %s", remote.url, folder)
    paths = pooch.retrieve(
        remote.url,
        known_hash=remote.known_hash,
        fname=fname,
        path=folder,
        processor=processor,
        progressbar=False,
    )
    if remote.unzip:
        return folder / f"{fname}.extracted"
    return Path(paths)

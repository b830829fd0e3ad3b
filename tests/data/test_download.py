"""Downloads go through pooch with checksums, served here from a local HTTP server."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genrec.data import datasets
from genrec.data.download import RemoteFile
from genrec.data.preprocess import check_arguments, run_preprocess

U_DATA = "1\t10\t4\t881250949\n2\t10\t3\t881250950\n1\t20\t5\t881250951\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """Serve a folder over http://127.0.0.1 for the duration of a test."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _ml_100k_zip(root):
    archive = root / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("ml-100k/u.data", U_DATA)
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_checks_the_hash_unzips_and_caches(served, tmp_path, monkeypatch):
    root, url = served
    _, md5 = _ml_100k_zip(root)
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    remote = RemoteFile(f"{url}/ml-100k.zip", f"md5:{md5}", unzip=True)
    spec = dataclasses.replace(datasets.DATASETS["ml-100k"], download=remote)
    monkeypatch.setitem(datasets.DATASETS, "ml-100k", spec)

    (ratings,) = datasets.raw_files("ml-100k")
    assert ratings.name == "u.data" and ratings.is_relative_to(tmp_path / "home")
    assert ratings.read_text() == U_DATA

    (root / "ml-100k.zip").unlink()  # a second call must not need the server
    assert datasets.raw_files("ml-100k") == [ratings]
    stats = run_preprocess("ml-100k", tmp_path / "out")
    assert (stats["num_interactions"], stats["num_users"], stats["num_items"]) == (
        3,
        2,
        2,
    )


def test_checksum_mismatch_is_an_error_and_caches_nothing(
    served, tmp_path, monkeypatch
):
    root, url = served
    _ml_100k_zip(root)
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    remote = RemoteFile(f"{url}/ml-100k.zip", "md5:" + "0" * 32, unzip=True)
    spec = dataclasses.replace(datasets.DATASETS["ml-100k"], download=remote)
    monkeypatch.setitem(datasets.DATASETS, "ml-100k", spec)

    with pytest.raises(ValueError, match="hash"):
        datasets.raw_files("ml-100k")
    cached = tmp_path / "home" / "downloads" / "ml-100k"
    assert not any(path.is_file() for path in cached.rglob("*"))


def test_amazon_category_download_url(served, tmp_path, monkeypatch):
    root, url = served
    (root / "Magazine.csv").write_text("B1,A1,5.0,100\n")
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets, "AMAZON_2018", url)
    (path,) = datasets.raw_files("amazon-2018", options={"category": "Magazine"})
    assert path.read_text() == "B1,A1,5.0,100\n"


@pytest.mark.parametrize(
    "category", ["../../etc", "Books/../x", "a b", "Books.csv", ""]
)
@pytest.mark.parametrize("dataset", ["amazon-2014", "amazon-2018"])
def test_a_category_that_is_not_a_plain_name_is_refused_before_any_download(
    tmp_path, monkeypatch, dataset, category
):
    def fetch(*args, **kwargs):
        raise AssertionError("downloaded")

    monkeypatch.setattr(datasets, "fetch", fetch)
    says = f"--category={category!r}: expected a plain name of letters, digits"
    with pytest.raises(ValueError, match=re.escape(says)):
        datasets.raw_files(dataset, options={"category": category})
    # Nor is it looked up as a file name in a raw folder.
    with pytest.raises(ValueError, match=re.escape(says)):
        datasets.raw_files(dataset, tmp_path, options={"category": category})
    with pytest.raises(ValueError, match=re.escape(says)):
        check_arguments(dataset, options={"category": category})


def test_every_published_download_has_a_checksum_or_says_none_exists():
    for spec in datasets.DATASETS.values():
        if spec.download is not None and spec.download.known_hash is not None:
            algorithm, digest = spec.download.known_hash.split(":")
            assert algorithm in {"md5", "sha256"}
            assert len(digest) == {"md5": 32, "sha256": 64}[algorithm]
    names = {
        n for n, s in datasets.DATASETS.items() if s.download and s.download.known_hash
    }
    assert names == {"ml-100k", "ml-1m", "ml-20m", "ml-latest-small"}

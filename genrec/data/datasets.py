"""The registry of named rating sources: files, formats, downloads and presets."""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrec.data.download import RemoteFile, fetch
from genrec.paths import data_cache_dir, partial_path, remove_dead_partials

logger = logging.getLogger(__name__)

# How step 1 reads each role. Timestamps are read as DOUBLE so that a fractional
# one is seen (and reported) instead of being rounded to a BIGINT.
ROLE_COLUMNS = {
    "user": ("user_key", "VARCHAR"),
    "item": ("item_key", "VARCHAR"),
    "rating": ("rating", "FLOAT"),
    "ts": ("ts", "DOUBLE"),
}
# How messages and flags name each role (`--timestamp_column`, "(timestamp)").
ROLE_NAMES = {"user": "user", "item": "item", "rating": "rating", "ts": "timestamp"}
# Checksums: a hash is recorded only where someone publishes it for the file at
# that URL. GroupLens publishes an md5 beside each fixed release (<archive>.md5);
# the Amazon pages (SNAP 2014, UCSD 2018) publish none, so those downloads get
# known_hash=None and pooch logs the hash it saw.
GROUPLENS = "https://files.grouplens.org/datasets/movielens"
AMAZON_2014 = "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles"
AMAZON_2018 = (
    "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall"
)
SYNTHETIC_DEFAULTS = {
    "num_users": 2000,
    "num_items": 1000,
    "mean_length": 40,
    "seed": 0,
}


@dataclass(frozen=True)
class RatingsLayout:
    """How a delimited ratings file spells one interaction per line.

    Attributes:
      fields: the role of each field in file order: "user", "item", "rating",
        "ts" or "" for a field that is read and ignored.
      delim: field separator (DuckDB accepts up to 4 bytes, e.g. "::").
      header: whether the first line names the fields.
      quote: quote character, "" for none (MovieLens `::` files quote nothing).
      encoding: "utf-8" or "latin-1".
      integer_ids: user and item ids are integers, written plainly (MovieLens):
        another value is a bad row, where it would otherwise make every id of
        its kind sort as a string.
      names: the header's name of each field, when the user chose the columns
        by name (custom sources), so that messages can say them back.
    """

    fields: tuple[str, ...]
    delim: str = ","
    header: bool = False
    quote: str = '"'
    encoding: str = "utf-8"
    integer_ids: bool = False
    names: tuple[str, ...] = ()

    def field(self, index: int) -> str:
        """Name the 0-based field `index` as a person finds it: "field 2 'movieId'"."""
        if index < len(self.names):
            return f"field {index + 1} {self.names[index]!r}"
        return f"field {index + 1}"

    def columns(self) -> dict[str, str]:
        """Return DuckDB's `columns` argument: field name -> SQL type, in file order."""
        columns = {}
        for index, role in enumerate(self.fields):
            name, sql_type = ROLE_COLUMNS.get(role, (f"unused_{index}", "VARCHAR"))
            columns[name] = sql_type
        return columns


@dataclass(frozen=True)
class SideFile:
    """A feature file beside the ratings and the SQL steps that read it.

    Attributes:
      name: the file name inside the raw folder, e.g. "users.dat".
      steps: the dataset's parse step (its SQL spells the file's fields), then
        the shared step that turns the parsed values into codes.
      encoding: "utf-8" or "latin-1".
      delim: the field separator, for finding the lines of a repeated id.
    """

    name: str
    steps: tuple[str, str]
    encoding: str = "utf-8"
    delim: str = "|"


@dataclass(frozen=True)
class DatasetSpec:
    """A named source: where its files come from and how to read them.

    Attributes:
      name: registry key, the `--dataset` flag value.
      description: one line for docs and `--helpfull`.
      ratings_file: the ratings file name inside the raw folder; "" when it
        depends on options (Amazon category, custom path).
      layout: the ratings file layout; None when options define it (custom).
      download: the published archive or file; None when there is none.
      filter_mode, min_presence, dedup: the preset used when flags leave them unset.
      side_files: feature files, read when present in the raw folder.
      options: the dataset options it reads besides COMMON_OPTIONS; any other
        is refused (a misspelt one would otherwise be ignored).
    """

    name: str
    description: str
    ratings_file: str
    layout: RatingsLayout | None
    download: RemoteFile | None = None
    filter_mode: str = "none"
    min_presence: int = 5
    dedup: bool = False
    side_files: tuple[SideFile, ...] = field(default_factory=tuple)
    options: tuple[str, ...] = ()


USERS_ML_1M = ("07_parse_users_ml_1m", "08_code_user_features")
ITEMS_ML_1M = ("09_parse_items_ml_1m", "10_code_item_features")
USERS_ML_100K = ("07_parse_users_ml_100k", "08_code_user_features")
ITEMS_ML_100K = ("09_parse_items_ml_100k", "10_code_item_features")
MOVIELENS_CSV = RatingsLayout(
    ("user", "item", "rating", "ts"), delim=",", header=True, integer_ids=True
)
AMAZON_2014_CSV = RatingsLayout(("user", "item", "rating", "ts"))
AMAZON_2018_CSV = RatingsLayout(("item", "user", "rating", "ts"))

# The dataset options every source reads (DuckDB's), and a custom source's
# columns (docs/data.md); DatasetSpec.options names the others.
COMMON_OPTIONS = ("memory_limit",)
CUSTOM_OPTIONS = (
    "user_column",
    "item_column",
    "timestamp_column",
    "rating_column",
    "delimiter",
    "encoding",
)
# The encodings of a custom CSV (DuckDB reads both; line numbers count \n bytes).
CUSTOM_ENCODINGS = ("utf-8", "latin-1")
# The suffixes by which a custom source's ratings file is found in a folder.
DATA_SUFFIXES = (".csv", ".parquet")
# How both Amazon releases name their category files (Books, AMAZON_FASHION).
CATEGORY_NAME = re.compile(r"[A-Za-z0-9_-]+")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ml-100k",
            "MovieLens 100K: u.data tab-separated; u.user, u.item (| and latin-1).",
            "u.data",
            RatingsLayout(
                ("user", "item", "rating", "ts"),
                delim="\t",
                quote="",
                integer_ids=True,
            ),
            RemoteFile(
                f"{GROUPLENS}/ml-100k.zip", "md5:0e33842e24a9c977be4e0107933c0723", True
            ),
            side_files=(
                SideFile("u.user", USERS_ML_100K, "latin-1"),
                SideFile("u.item", ITEMS_ML_100K, "latin-1"),
            ),
        ),
        DatasetSpec(
            "ml-1m",
            "MovieLens 1M: ratings.dat with `::`, user and movie features.",
            "ratings.dat",
            RatingsLayout(
                ("user", "item", "rating", "ts"),
                delim="::",
                quote="",
                encoding="latin-1",
                integer_ids=True,
            ),
            RemoteFile(
                f"{GROUPLENS}/ml-1m.zip", "md5:c4d9eecfca2ab87c1945afe126590906", True
            ),
            side_files=(
                SideFile("users.dat", USERS_ML_1M, "latin-1", "::"),
                SideFile("movies.dat", ITEMS_ML_1M, "latin-1", "::"),
            ),
        ),
        DatasetSpec(
            "ml-20m",
            "MovieLens 20M: ratings.csv with a header.",
            "ratings.csv",
            MOVIELENS_CSV,
            RemoteFile(
                f"{GROUPLENS}/ml-20m.zip", "md5:cd245b17a1ae2cc31bb14903e1204af3", True
            ),
        ),
        DatasetSpec(
            "ml-latest-small",
            "MovieLens latest-small (2018-09): ratings.csv, header, CRLF.",
            "ratings.csv",
            MOVIELENS_CSV,
            # GroupLens publishes no checksum for this changing snapshot. This is
            # the sha256 of its 2018-09 archive (978,202 bytes) as TensorFlow
            # Datasets records it (tensorflow_datasets/url_checksums/movielens.txt);
            # a newer snapshot fails the check rather than change the data.
            RemoteFile(
                f"{GROUPLENS}/ml-latest-small.zip",
                "sha256:"
                "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                True,
            ),
        ),
        DatasetSpec(
            "amzn-books",
            "Amazon Books 2014 ratings (user,item,rating,ts), the reference's Books.",
            "ratings_Books.csv",
            AMAZON_2014_CSV,
            RemoteFile(f"{AMAZON_2014}/ratings_Books.csv", None),
            filter_mode="single_pass",
        ),
        DatasetSpec(
            "amazon-2014",
            "Any Amazon 2014 ratings-only CSV (user,item,rating,ts); option category.",
            "",
            AMAZON_2014_CSV,
            filter_mode="single_pass",
            options=("category",),
        ),
        DatasetSpec(
            "amazon-2018",
            "Any Amazon 2018 ratings-only CSV (item,user,rating,ts); option category.",
            "",
            AMAZON_2018_CSV,
            filter_mode="single_pass",
            options=("category",),
        ),
        DatasetSpec(
            "custom",
            "Any CSV (with header) or Parquet; columns named by options.",
            "",
            None,
            options=CUSTOM_OPTIONS,
        ),
        DatasetSpec(
            "synthetic",
            "Seeded generator with planted sequences, Amazon 2018 format.",
            "",
            AMAZON_2018_CSV,
            filter_mode="single_pass",
            options=tuple(SYNTHETIC_DEFAULTS),
        ),
    )
}


def get_spec(dataset: str) -> DatasetSpec:
    """Return the registry entry for `dataset`; a ValueError names the choices."""
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}"
        )
    return DATASETS[dataset]


def check_options(spec: DatasetSpec, options: Mapping[str, Any]) -> None:
    """Reject an option that `spec` would ignore (a misspelt one, most often)."""
    allowed = COMMON_OPTIONS + spec.options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{spec.name}: unknown dataset option(s) {unknown}; "
            f"this dataset takes {list(allowed)}"
        )
    if "delimiter" in options:
        custom_delimiter(options)
    if "encoding" in options:
        custom_encoding(options)
    if "category" in options:
        amazon_category(options)


def amazon_category(options: Mapping[str, Any]) -> str:
    """The Amazon category the options give, checked to be a plain name.

    It becomes part of the download URL and of a file name looked up in the raw
    folder: a `/` or `..` in it would reach outside both.
    """
    category = str(options.get("category", ""))
    if not CATEGORY_NAME.fullmatch(category):
        raise ValueError(
            f"--category={category!r}: expected a plain name of letters, digits, "
            "'_' or '-' (e.g. Books, Magazine_Subscriptions)"
        )
    return category


def custom_delimiter(options: Mapping[str, Any]) -> str:
    """The field separator a custom CSV's options give, checked (default ",")."""
    delim = str(options.get("delimiter", ","))
    delim = DELIMITER_ESCAPES.get(delim, delim)
    if not 1 <= len(delim.encode()) <= 4:
        raise ValueError(
            f"--delimiter={delim!r}: expected 1 to 4 bytes (e.g. ',', '\\t', '::')"
        )
    return delim


def custom_encoding(options: Mapping[str, Any]) -> str:
    """The text encoding a custom CSV's options give, checked (default utf-8)."""
    encoding = str(options.get("encoding", "utf-8")).lower()
    if encoding not in CUSTOM_ENCODINGS:
        raise ValueError(f"--encoding={encoding}: expected one of {CUSTOM_ENCODINGS}")
    return encoding


def check_raw_path(raw_path: str | os.PathLike[str] | None) -> None:
    """Refuse an empty or blank raw path: Path("") is the current folder, never
    meant, and a name of spaces is an unquoted variable left empty."""
    if raw_path is not None and not os.fspath(raw_path).strip():
        raise ValueError(
            f"--raw_path={os.fspath(raw_path)!r} is blank: expected the raw folder "
            "or the ratings file"
        )


def raw_files(
    dataset: str,
    raw_path: str | os.PathLike[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Return a dataset's raw input files, downloading or generating them if needed.

    The first file is the ratings file; side files (features) follow when present.

    Args:
      dataset: a registry name.
      raw_path: a folder holding the dataset's files, or the ratings file itself.
      options: dataset options (Amazon "category", custom columns, synthetic sizes).
    """
    spec = get_spec(dataset)
    options = dict(options or {})
    check_options(spec, options)
    check_raw_path(raw_path)
    if raw_path is None:
        folder_or_file = _fetch_default(spec, options)
    else:
        folder_or_file = Path(raw_path).expanduser()
        if not folder_or_file.exists():
            raise FileNotFoundError(
                f"{dataset}: raw_path {folder_or_file} does not exist"
            )
    ratings = _ratings_file(spec, folder_or_file, options)
    side = [ratings.parent / side_file.name for side_file in spec.side_files]
    return [ratings, *[path for path in side if path.is_file()]]


def _fetch_default(spec: DatasetSpec, options: dict[str, Any]) -> Path:
    """Download (or generate) the dataset's default files; return a folder or file."""
    if spec.name == "synthetic":
        return _synthetic_file(options)
    remote = spec.download or _category_download(spec, options)
    fetched = fetch(remote, spec.name)
    if remote.unzip:
        # GroupLens archives hold one folder named after the dataset.
        inner = fetched / spec.name
        return inner if inner.is_dir() else fetched
    return fetched


def _category_download(spec: DatasetSpec, options: dict[str, Any]) -> RemoteFile:
    """Return the published file of one Amazon category (no checksum is published).

    The shared Magazine_Subscriptions copy's sha256 (in its SOURCE.md) is of a
    copy from GitHub that nobody has proven byte-equal to UCSD's file, so it is
    not used to check downloads.
    """
    category = options.get("category")
    if spec.name not in {"amazon-2014", "amazon-2018"} or not category:
        raise ValueError(
            f"{spec.name}: no default download; pass raw_path"
            + (" or the option category (e.g. Books)" if spec.name != "custom" else "")
        )
    if spec.name == "amazon-2014":
        return RemoteFile(f"{AMAZON_2014}/ratings_{category}.csv", None)
    return RemoteFile(f"{AMAZON_2018}/{category}.csv", None)


def _ratings_file(spec: DatasetSpec, path: Path, options: dict[str, Any]) -> Path:
    """Pick the ratings file: `path` itself, or the expected name inside the folder.

    Only regular files count: a folder named like a data file (`x.csv/`, or a
    table that Spark wrote as `events.parquet/` of part files) is said to be
    one in the error, where opening it would fail with a message about a
    directory or a DuckDB one.
    """
    if path.is_file():
        return path
    if not path.is_dir():
        raise ValueError(f"{spec.name}: raw_path {path} is not a file or a folder")
    names = [spec.ratings_file] if spec.ratings_file else []
    if options.get("category"):
        names += [f"{options['category']}.csv", f"ratings_{options['category']}.csv"]
    for name in names:
        if (path / name).is_file():
            return path / name
    children = sorted(path.iterdir())
    candidates = [
        child
        for child in children
        if child.suffix.lower() in DATA_SUFFIXES and child.is_file()
    ]
    if not names and len(candidates) == 1:
        return candidates[0]
    expected = " or ".join(names) if names else "exactly one .csv or .parquet file"
    message = f"{spec.name}: expected {expected} in {path}"
    # A folder named like a data file (a table's parts) is explained below.
    if not names and candidates and path.suffix.lower() not in DATA_SUFFIXES:
        shown = ", ".join(child.name for child in candidates[:5])
        more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
        message += (
            f", found {len(candidates)} ({shown}{more}): pass the one to read "
            "as --raw_path"
        )
    for folder in (path, *children):
        named_like_data = folder.suffix.lower() in DATA_SUFFIXES or folder.name in names
        if named_like_data and folder.is_dir():
            message += f"; {'it' if folder == path else folder} {_folder_kind(folder)}"
            break
    raise FileNotFoundError(message)


def _folder_kind(folder: Path) -> str:
    """Say what a folder named like a data file holds, for the error refusing it."""
    parts = [
        child
        for child in folder.iterdir()
        if child.suffix.lower() == ".parquet" and child.is_file()
    ]
    if len(parts) > 1:
        return (
            f"is a folder of {len(parts)} Parquet files (a table written in parts, "
            "as Spark does), not one file: merge them into one"
        )
    return "is a folder, not a file"


def _synthetic_file(options: dict[str, Any]) -> Path:
    """Generate the synthetic ratings file once per size and seed, in the cache."""
    from genrec.data.synthetic import write_synthetic_ratings

    sizes = {key: options.get(key, value) for key, value in SYNTHETIC_DEFAULTS.items()}
    name = "synthetic-u{num_users}-i{num_items}-l{mean_length}-s{seed}.csv".format(
        **sizes
    )
    path = data_cache_dir() / "synthetic" / name
    if not path.exists():
        remove_dead_partials(path)
        partial = partial_path(path)
        try:
            write_synthetic_ratings(partial, **sizes)
            partial.replace(path)
        except BaseException:  # Ctrl-C too: no half-written file stays behind
            partial.unlink(missing_ok=True)
            raise
    return path


# Spellings of a tab that a shell leaves as typed (--delimiter='\t').
DELIMITER_ESCAPES = {"\\t": "\t", "tab": "\t"}


PARQUET_MAGIC = b"PAR1"


def is_parquet(path: Path) -> bool:
    """Whether `path` is a Parquet file: by its suffix, or by its first bytes."""
    if path.suffix.lower() == ".parquet":
        return True
    with path.open("rb") as handle:
        return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def custom_layout(ratings: Path, options: Mapping[str, Any]) -> RatingsLayout:
    """Build the layout of a custom CSV from its header and the column options.

    Options: user_column, item_column, timestamp_column (required), rating_column
    (optional; without it every rating is 1.0), delimiter (default ","),
    encoding (CUSTOM_ENCODINGS; default utf-8).
    """
    delim = custom_delimiter(options)
    encoding = custom_encoding(options)
    wanted = custom_columns(options)
    with ratings.open("rb") as handle:
        raw_line = handle.readline()
    if b"\r" in raw_line.rstrip(b"\r\n"):
        raise ValueError(
            f"{ratings}: line 1: lines end with a lone carriage return (\\r); "
            "expected \\n or \\r\\n line endings"
        )
    try:
        # utf-8-sig: a byte-order mark (as spreadsheets write) is not a name.
        first_line = raw_line.decode(
            "utf-8-sig" if encoding == "utf-8" else encoding
        ).rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{ratings}: line 1: expected utf-8 text in the header ({error}); "
            "for a latin-1 file pass --encoding=latin-1"
        ) from error
    try:
        if len(delim) == 1:
            header = next(csv.reader([first_line], delimiter=delim), [])
        else:
            header = first_line.split(delim)
    except csv.Error as error:
        raise ValueError(f"{ratings}: line 1: unreadable header ({error})") from error
    if not header:
        raise ValueError(f"{ratings}: line 1: expected a header naming the columns")
    repeated = sorted({name for name in wanted.values() if header.count(name) > 1})
    if repeated:
        raise ValueError(
            f"{ratings}: line 1: the header names {repeated} more than once; "
            "expected each chosen column once"
        )
    missing = [name for name in wanted.values() if name not in header]
    if missing:
        raise ValueError(
            f"{ratings}: line 1: expected columns {missing} in the header {header}"
        )
    roles = {name: role for role, name in wanted.items()}
    return RatingsLayout(
        tuple(roles.get(name, "") for name in header),
        delim,
        True,
        encoding=encoding,
        names=tuple(header),
    )


def custom_columns(options: Mapping[str, Any]) -> dict[str, str]:
    """Return role -> column name for a custom source, checking the required ones."""
    names = {
        "user": options.get("user_column"),
        "item": options.get("item_column"),
        "ts": options.get("timestamp_column"),
        "rating": options.get("rating_column"),
    }
    for role in ("user", "item", "ts"):
        if not names[role]:
            flag = ROLE_NAMES[role]
            raise ValueError(
                f"custom dataset: the {flag} column is required: name it with "
                f"`genrec preprocess --{flag}_column=NAME`, or with "
                f"`--dataset_option={flag}_column=NAME` for `genrec pipeline`"
            )
    chosen = {role: str(name) for role, name in names.items() if name}
    role_of: dict[str, str] = {}
    for role, name in chosen.items():
        if name in role_of:
            raise ValueError(
                f"--{ROLE_NAMES[role_of[name]]}_column and --{ROLE_NAMES[role]}_column "
                f"both name {name!r}: expected a different column for each"
            )
        role_of[name] = role
    return chosen

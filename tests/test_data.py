"""Data: the IDX reader, MNIST's sources in order, checksums, atomic downloads, breast cancer."""

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest

from experiments.data import DataError, breast_cancer, mnist
from experiments.data.idx import load_pair, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_pair(folder, part, n, side=2, compress=True, seed=0, labels=None):
    """Write an images/labels IDX pair named as MNIST's; returns their paths."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, side, side))
    labels = rng.integers(0, 10, n) if labels is None else labels
    names = mnist.FILES[part]
    paths = []
    for name, array in zip(names, (images, labels)):
        data = idx_bytes(array)
        path = folder / (name if compress else name[:-3])
        path.write_bytes(gzip.compress(data) if compress else data)
        paths.append(path)
    return paths, images, labels


def trust(monkeypatch, *paths, kind="mnist"):
    """Make the generated files' MD5s the 'published' ones."""
    table = dict(mnist.MD5[kind])
    for p in paths:
        table[p.name] = hashlib.md5(p.read_bytes()).hexdigest()
    monkeypatch.setitem(mnist.MD5, kind, table)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_a_good_pair(tmp_path, compress):
    (images_path, labels_path), images, labels = write_pair(tmp_path, "test", 7, side=3,
                                                            compress=compress)
    x, t = load_pair(images_path, labels_path)
    assert x.dtype == np.float32 and x.shape == (7, 9) and t.dtype == np.int64
    assert np.array_equal(x, (images.reshape(7, 9) / 255.0).astype(np.float32))
    assert np.array_equal(t, labels) and 0 <= x.min() and x.max() <= 1


def test_truncated_file_is_named(tmp_path):
    (images_path, _), _, _ = write_pair(tmp_path, "test", 5, compress=False)
    images_path.write_bytes(images_path.read_bytes()[:-3])
    with pytest.raises(DataError, match=rf"{images_path.name}: truncated"):
        read_idx(images_path)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 2, 2))))[:-8])
    with pytest.raises(DataError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(gz)


def test_wrong_magic_number_is_named(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(DataError, match="bad-idx: not an IDX file .*magic number 12340803"):
        read_idx(bad)


def test_count_mismatch_names_both_files(tmp_path):
    (images_path, labels_path), _, _ = write_pair(tmp_path, "test", 6, labels=np.arange(5))
    with pytest.raises(DataError, match=f"{images_path.name} has 6 images but "
                                        f".*{labels_path.name} has 5 labels"):
        load_pair(images_path, labels_path)


def test_wrong_checksum_is_refused(tmp_path):
    write_pair(tmp_path, "test", 4)      # valid IDX files, but not the published ones
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: wrong checksum"):
        mnist.load(tmp_path)


def test_explicit_folder_without_files_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no MNIST files there"):
        mnist.load(tmp_path)
    monkeypatch.setenv("NPREF_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="no such folder .*NPREF_DATA_DIR"):
        mnist.load()


def test_a_test_only_folder_is_split_and_says_so(tmp_path, monkeypatch):
    paths, _, labels = write_pair(tmp_path, "test", 8100)
    trust(monkeypatch, *paths)
    ds = mnist.load(tmp_path)
    assert ds.describe()["n_train"] == 8000 and ds.describe()["n_test"] == 100
    assert "test set (t10k)" in ds.source and "first 8000 images train" in ds.source
    assert np.array_equal(ds.data.t_test, labels[8000:])


def test_sources_in_order_folder_cache_embedded(tmp_path, monkeypatch):
    folder = tmp_path / "given"
    folder.mkdir()
    paths = write_pair(folder, "test", 10)[0] + write_pair(folder, "train", 20)[0]
    trust(monkeypatch, *paths)
    monkeypatch.setenv("NPREF_DATA_DIR", str(folder))
    assert "given" in mnist.load().source and mnist.load().describe()["n_train"] == 20
    monkeypatch.delenv("NPREF_DATA_DIR")
    mnist._load.cache_clear()
    cache = mnist.cache_dir()
    cache.mkdir(parents=True)
    for p in paths:
        (cache / p.name).write_bytes(p.read_bytes())
    assert "npref/mnist" in mnist.load().source
    mnist._load.cache_clear()
    for p in cache.iterdir():
        p.unlink()
    ds = mnist.load()                                      # offline: the embedded subset
    assert ds.source.startswith("embedded subset") and ds.describe()["n_train"] == 4000


def test_embedded_subset_is_real_balanced_mnist():
    ds = mnist.embedded()
    d = ds.data
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert d.x_train.dtype == np.float32 and 0 <= d.x_train.min() and d.x_train.max() <= 1
    assert np.all(np.bincount(d.t_train) == 400) and np.all(np.bincount(d.t_test) == 100)
    small = mnist.load(n_train=1000, n_test=200)
    assert small.describe() == {"name": "MNIST", "source": small.source, "n_train": 1000,
                                "n_test": 200}
    assert "the first 1000 train / 200 test images used" in small.source


class FakeResponse(io.BytesIO):
    def __init__(self, data, fail_after=None):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)

    def __exit__(self, *args):
        return False


@pytest.mark.parametrize("failure", ["wrong checksum", "connection reset"])
def test_a_failed_download_leaves_no_file_behind(tmp_path, monkeypatch, failure):
    payload = b"\x1f\x8b" + b"x" * 200_000
    cut = 70_000 if failure == "connection reset" else None
    monkeypatch.setattr(mnist.urllib.request, "urlopen",
                        lambda url, timeout: FakeResponse(payload, fail_after=cut))
    with pytest.raises(DataError, match="every mirror failed"):
        mnist.download("mnist", tmp_path)
    assert list(tmp_path.iterdir()) == [], "a partial or corrupt file was left in the cache"


def test_a_good_download_is_verified_and_kept(tmp_path, monkeypatch):
    files = {}
    for part in ("train", "test"):
        for name, array in zip(mnist.FILES[part], (np.zeros((3, 2, 2)), np.arange(3))):
            files[name] = gzip.compress(idx_bytes(array))
    monkeypatch.setitem(mnist.MD5, "mnist", {n: hashlib.md5(b).hexdigest()
                                             for n, b in files.items()})
    monkeypatch.setattr(mnist.urllib.request, "urlopen",
                        lambda url, timeout: FakeResponse(files[url.rsplit("/", 1)[1]]))
    mnist.download("mnist", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_fashion_mnist_uses_the_same_reader(tmp_path, monkeypatch):
    paths = write_pair(tmp_path, "test", 5)[0] + write_pair(tmp_path, "train", 9)[0]
    trust(monkeypatch, *paths, kind="fashion")
    ds = mnist.load(tmp_path, kind="fashion")
    assert ds.name == "Fashion-MNIST" and ds.describe()["n_train"] == 9


def test_breast_cancer_has_the_lectures_split():
    full = breast_cancer.load().describe()
    assert (full["n_train"], full["n_test"]) == (455, 114)
    val = breast_cancer.load(validation=True).data
    assert (len(val.t_train), len(val.t_val), len(val.t_test)) == (364, 91, 114)
    x = breast_cancer.load().data.x_train
    assert np.allclose(x.mean(axis=0), 0, atol=1e-12) and np.allclose(x.std(axis=0), 1)


def test_every_prefix_of_the_embedded_subset_is_balanced():
    d = mnist.embedded().data
    for n in (10, 300, 1000, 4000):
        assert np.all(np.bincount(d.t_train[:n], minlength=10) == n // 10)
    assert np.all(np.bincount(d.t_test[:500], minlength=10) == 50)


def test_raw_idx_files_in_a_folder_are_accepted(tmp_path, monkeypatch):
    write_pair(tmp_path, "test", 12, compress=False)
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    dataset = mnist.load(tmp_path, allow_download=False)
    assert len(dataset.data.t_train) + len(dataset.data.t_test) == 12
    assert "t10k" in dataset.source


def test_a_corrupt_cache_file_is_moved_aside_and_the_run_goes_on(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    paths = [*write_pair(cache, "train", 6)[0], *write_pair(cache, "test", 4)[0]]
    trust(monkeypatch, *paths)
    paths[0].write_bytes(paths[0].read_bytes()[:-5])          # truncated after it was trusted
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setattr(mnist, "embedded", lambda: "the embedded subset")
    assert mnist._load(None, "mnist", False, str(cache)) == "the embedded subset"
    assert not paths[0].exists() and paths[0].with_name(paths[0].name + ".corrupt").exists()


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True),
                                             ("0", False), ("false", False), ("no", False),
                                             ("", False)])
def test_offline_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv(mnist.ENV_OFFLINE, value)
    assert mnist.offline() is expected


def test_offline_refuses_anything_else(monkeypatch, tmp_path):
    monkeypatch.setenv(mnist.ENV_OFFLINE, "maybe")
    with pytest.raises(DataError, match="NPREF_OFFLINE must be 1/true/yes or 0/false/no, got "
                                        "'maybe'"):
        mnist.load(tmp_path)

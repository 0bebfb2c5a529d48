"""Reading the IDX files of MNIST and Fashion-MNIST (LeCun's format), gzip-compressed or raw.

An IDX file is a 4-byte magic number — two zero bytes, a type code, the number of dimensions —
then one big-endian int32 per dimension, then the values. Anything else (a wrong magic number, a
file shorter or longer than its header says) is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from experiments.data import DataError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file."""
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'}, "
                        "expected 0000 followed by a type code such as 08 and a dimension count)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(f"{path}: {problem}: {len(data)} bytes, the header {shape} needs "
                        f"{expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def md5(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_pair(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 rows in [0, 1] (N × rows·cols), labels as int64; counts must agree."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected images (N × rows × cols), got shape "
                        f"{images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels (N), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has "
                        f"{len(labels)} labels")
    if len(images) == 0:
        raise DataError(f"{images_path}: holds no images (its header declares 0)")
    if labels.max() > 9:
        at = int(np.argmax(labels > 9))
        raise DataError(f"{labels_path}: labels must be digits 0–9, found {labels[at]} "
                        f"(label {at})")
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)

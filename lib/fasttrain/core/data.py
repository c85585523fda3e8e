"""The data sets vendored with the package, with standardised splits.

Files live in ``fasttrain/core/datasets/`` (see the README there for sources,
licences and checksums).  Every load verifies the file's sha256 first, so
a corrupt or truncated copy gives a clear :class:`DataError` rather than
silently wrong numbers.  Splits are stratified and fixed by ``seed``;
features are standardised with the training split's mean and deviation.

The full MNIST, Fashion-MNIST and CIFAR-10 sets are not shipped; see
:mod:`fasttrain.download`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np


class DataError(RuntimeError):
    """A data file is missing, corrupt or malformed."""


#: vendored file -> sha256 (same values as the data README)
CHECKSUMS = {
    "data_banknote_authentication.txt": "50573e4d341c0c211668136a8b83b592b8dda436520785c3cc3d536fe407a157",
    "magic04.data": "e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a",
    "mnist_train_5k.csv.gz": "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    "t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
}


@dataclass(frozen=True)
class Dataset:
    """A train/test split.  ``x_*`` float arrays, ``y_*`` integer class labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: train {self.x_train.shape}, test {self.x_test.shape}, "
            f"classes {self.classes})"
        )


def data_dir() -> Path:
    return Path(str(resources.files("fasttrain.core") / "datasets"))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified_path(name: str, directory: Path | None = None, checksums=CHECKSUMS) -> Path:
    """Path of a data file after checking it exists and matches its sha256."""
    path = (directory or data_dir()) / name
    if not path.is_file():
        raise DataError(f"data file {path} is missing; reinstall fasttrain or restore it from git")
    expected = checksums[name]
    got = sha256(path)
    if got != expected:
        raise DataError(
            f"data file {path} is corrupt: sha256 {got} differs from the expected {expected}; "
            "restore it from git (git checkout -- <file>)"
        )
    return path


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified random train/test split, fixed by ``seed``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _finish(name, x, y, classes, seed, test_fraction, n_train, standardise=True) -> Dataset:
    tr, te = stratified_split(y, test_fraction, seed)
    if n_train is not None:
        if n_train <= 0:
            raise ValueError(f"n_train must be positive, got {n_train}")
        if n_train < len(tr):
            # a stratified subsample of the training split, same seed
            sub, _ = stratified_split(y[tr], 1.0 - n_train / len(tr), seed + 1)
            tr = tr[sub]
    x_tr, x_te = x[tr], x[te]
    if standardise:
        mu, sd = x_tr.mean(0), x_tr.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
    return Dataset(
        name,
        x_tr.astype(np.float32),
        y[tr].astype(np.int32),
        x_te.astype(np.float32),
        y[te].astype(np.int32),
        classes,
    )


def _read_csv(path: Path, **kw) -> np.ndarray:
    try:
        return np.loadtxt(path, **kw)
    except ValueError as exc:
        raise DataError(f"data file {path} is malformed: {exc}") from exc


def load_banknote(seed: int = 0, test_fraction: float = 0.2, n_train: int | None = None) -> Dataset:
    """UCI Banknote authentication (Lohweg 2013): 1372 x 4, classes genuine/forged."""
    path = verified_path("data_banknote_authentication.txt")
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    has_header = any(ch.isalpha() for ch in first)  # the UCI original has none
    raw = _read_csv(path, delimiter=",", skiprows=int(has_header))
    if raw.shape != (1372, 5):
        raise DataError(f"banknote data has shape {raw.shape}, expected (1372, 5)")
    return _finish(
        "banknote",
        raw[:, :4],
        raw[:, 4].astype(int),
        ("genuine", "forged"),
        seed,
        test_fraction,
        n_train,
    )


def load_magic(seed: int = 0, test_fraction: float = 0.2, n_train: int | None = None) -> Dataset:
    """UCI MAGIC gamma telescope (Bock 2007): 19020 x 10, classes gamma (g) / hadron (h)."""
    path = verified_path("magic04.data")
    try:
        raw = np.genfromtxt(path, delimiter=",", dtype=None, encoding="utf-8")
        x = np.array([list(r)[:10] for r in raw], dtype=np.float64)
        labels = np.array([r[10] for r in raw])
    except (ValueError, IndexError) as exc:
        raise DataError(f"data file {path} is malformed: {exc}") from exc
    if x.shape != (19020, 10) or not set(np.unique(labels)) <= {"g", "h"}:
        raise DataError(
            f"MAGIC data has shape {x.shape} / labels {np.unique(labels)}, expected 19020 x 10 and g/h"
        )
    return _finish(
        "magic", x, (labels == "h").astype(int), ("gamma", "hadron"), seed, test_fraction, n_train
    )


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file as used by MNIST and Fashion-MNIST."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - offset != count:
        raise DataError(f"IDX file {path} holds {len(data) - offset} bytes, header says {count}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_mnist_subset() -> Dataset:
    """The offline MNIST subset: 5000 training images (500 per class), the 10 000 test images.

    Images are float32 in [0, 1] with shape (n, 28, 28, 1); no standardisation.
    """
    path = verified_path("mnist_train_5k.csv.gz")
    try:
        with gzip.open(path, "rt") as fh:
            raw = np.loadtxt(io.StringIO(fh.read()), delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"data file {path} is malformed: {exc}") from exc
    if raw.shape != (5000, 785):
        raise DataError(f"MNIST subset has shape {raw.shape}, expected (5000, 785)")
    x_tr = raw[:, :784].reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
    y_tr = raw[:, 784].astype(np.int32)
    x_te = (
        read_idx(verified_path("t10k-images-idx3-ubyte.gz"))
        .reshape(-1, 28, 28, 1)
        .astype(np.float32)
        / 255.0
    )
    y_te = read_idx(verified_path("t10k-labels-idx1-ubyte.gz")).astype(np.int32)
    return Dataset("mnist-5k", x_tr, y_tr, x_te, y_te, tuple(str(i) for i in range(10)))


# ----------------------------------------------------------------------------
# the "peaks" problem of Guenther et al. (layer-parallel training)


def peaks(x, y):
    """MATLAB's ``peaks`` function."""
    return (
        3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1) ** 2) - y**2) / 3
    )


def load_peaks(
    n_train: int = 5000, n_test: int = 200, seed: int = 0, n_classes: int = 5
) -> Dataset:
    """The peaks classification problem: points in ``[-3, 3]^2``, ``n_classes`` level sets.

    As in the authors' data (LayerParallelLearning ``examples/peaks`` and
    Ruthotto's Meganet ``setupPeaks``): the range ``[min, max]`` of MATLAB's
    ``peaks`` on a 256 x 256 grid of ``[-3, 3]^2`` is cut into ``n_classes``
    intervals of equal width, a point's class is the interval holding its
    ``peaks`` value, and every class gets the same number of points.  We draw
    points uniformly in the square (the authors draw grid points) and keep
    the raw coordinates as features (no standardisation).
    """
    if n_train < n_classes or n_test < 0 or n_classes < 2:
        raise ValueError(
            f"need n_train >= n_classes >= 2 and n_test >= 0, got "
            f"n_train={n_train}, n_test={n_test}, n_classes={n_classes}"
        )
    t = np.linspace(-3, 3, 256)
    zz = peaks(*np.meshgrid(t, t))
    lo, hi = zz.min(), zz.max()
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    per = -(-n // n_classes)
    xs, ys = [], []
    counts = np.zeros(n_classes, int)
    while counts.min() < per:
        p = rng.uniform(-3, 3, size=(20 * n, 2))
        lab = np.clip(
            ((peaks(p[:, 0], p[:, 1]) - lo) / (hi - lo) * n_classes).astype(int), 0, n_classes - 1
        )
        for k in range(n_classes):
            take = p[lab == k][: per - counts[k]]
            counts[k] += len(take)
            xs.append(take)
            ys.append(np.full(len(take), k))
    x, y = np.concatenate(xs), np.concatenate(ys)
    perm = rng.permutation(len(x))[:n]
    x, y = x[perm].astype(np.float32), y[perm].astype(np.int32)
    return Dataset(
        "peaks",
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        tuple(f"level {k}" for k in range(n_classes)),
    )

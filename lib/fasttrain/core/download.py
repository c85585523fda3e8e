"""Download, verify and load the full MNIST, Fashion-MNIST and CIFAR-10 sets.

Only small subsets ship with the package (:mod:`fasttrain.core.data`); the later
chapters' ``paper`` scale needs the full sets.  This module keeps a registry
of the public files (URLs of the origin and a mirror, size, sha256), puts
them in a cache directory (:func:`data_home`: ``$FASTTRAIN_DATA`` if set,
else ``~/.cache/fasttrain``) and reads them into a
:class:`fasttrain.core.data.Dataset`.

Guarantees:

* a file is used only after its sha256 matches the registry;
* a download is streamed into a temporary file in the target directory,
  verified, and only then renamed into place (``os.replace``), so a failed,
  interrupted or corrupt download leaves nothing behind;
* an existing file with a wrong checksum is never deleted or replaced: the
  error names the file, both checksums and what to do;
* offline, the error lists exactly which files to put in which directory,
  with checksums and URLs to fetch them from on another machine.

The checksums come from tensorflow-datasets' ``url_checksums`` files
(``mnist.txt``, ``fashion_mnist.txt``, ``cifar10.csv``) and agree with
keras' ``FILE_HASHES`` / ``file_hash`` values for the same files.

Command line::

    python -m fasttrain.download mnist fashion_mnist cifar10
    python -m fasttrain.download --check all

Why not torchvision / tensorflow-datasets: both pull in a whole framework
for four urllib calls; the loaders below are thirty lines of numpy.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import os
import pickle
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import DataError, Dataset, read_idx, sha256

__all__ = [
    "RemoteFile",
    "DatasetSpec",
    "REGISTRY",
    "MissingDataError",
    "DownloadError",
    "ChecksumError",
    "data_home",
    "dataset_dir",
    "fetch",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "check",
    "main",
]


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: local name, URLs (origin first, then mirrors), sha256, bytes.

    ``sha256=None`` means no verified checksum is known: such a file is never
    trusted (neither downloaded nor accepted from disk).
    """

    name: str
    urls: tuple[str, ...]
    sha256: str | None
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its files, expected split sizes, class names, and where the checksums come from."""

    name: str
    files: tuple[RemoteFile, ...]
    n_train: int
    n_test: int
    classes: tuple[str, ...]
    checksum_source: str = ""

    def file(self, name: str) -> RemoteFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(f"data set {self.name!r} has no file {name!r}")


def _mirrored(name: str, size: int, digest: str, bases: Sequence[str]) -> RemoteFile:
    return RemoteFile(name, tuple(b + name for b in bases), digest, size)


_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# (size, sha256) from tensorflow/datasets tensorflow_datasets/url_checksums/mnist.txt;
# the cvdf mirror serves the same bytes as torchvision's ossci mirror (torchvision's md5s).
_MNIST_SUMS = {
    "train-images-idx3-ubyte.gz": (
        9912422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": (
        28881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": (
        1648877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        4542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
_MNIST_BASES = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)  # tensorflow-datasets

# (size, sha256) from tensorflow/datasets tensorflow_datasets/url_checksums/fashion_mnist.txt;
# keras' fashion_mnist.FILE_HASHES lists the same sha256 for its mirror.
_FASHION_SUMS = {
    "train-images-idx3-ubyte.gz": (
        26421880,
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    "train-labels-idx1-ubyte.gz": (
        29515,
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "t10k-images-idx3-ubyte.gz": (
        4422102,
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        5148,
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}
_FASHION_BASES = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # origin, torchvision, tfds
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)  # keras

CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"{_CIFAR_DIR}/data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = f"{_CIFAR_DIR}/test_batch"

REGISTRY: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist",
        tuple(_mirrored(n, *_MNIST_SUMS[n], _MNIST_BASES) for n in _IDX_NAMES),
        60000,
        10000,
        tuple(str(i) for i in range(10)),
        "https://github.com/tensorflow/datasets/blob/master/tensorflow_datasets/url_checksums/mnist.txt",
    ),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist",
        tuple(_mirrored(n, *_FASHION_SUMS[n], _FASHION_BASES) for n in _IDX_NAMES),
        60000,
        10000,
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        "https://github.com/tensorflow/datasets/blob/master/tensorflow_datasets/url_checksums/fashion_mnist.txt",
    ),
    "cifar10": DatasetSpec(
        "cifar10",
        (
            RemoteFile(
                CIFAR10_ARCHIVE,
                ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                170498071,
            ),
        ),
        50000,
        10000,
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "https://github.com/tensorflow/datasets/blob/master/tensorflow_datasets/url_checksums/cifar10.csv",
    ),
}


# --------------------------------------------------------------------------- errors


class MissingDataError(DataError):
    """Files of a data set are absent and were not (or could not be) downloaded."""


class DownloadError(MissingDataError):
    """Every URL of a file failed (offline, timeout, HTTP error, interrupted transfer)."""


class ChecksumError(DataError):
    """A file's sha256 differs from the registry, or no verified sha256 is known."""


# --------------------------------------------------------------------------- locations


def data_home() -> Path:
    """The cache directory: ``$FASTTRAIN_DATA`` if set (and non-empty), else ``~/.cache/fasttrain``."""
    env = os.environ.get("FASTTRAIN_DATA", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fasttrain"


def _spec(dataset: str, registry: Mapping[str, DatasetSpec] | None) -> DatasetSpec:
    registry = REGISTRY if registry is None else registry
    if not isinstance(dataset, str) or dataset not in registry:
        raise ValueError(
            f"unknown data set {dataset!r}: choose one of {', '.join(sorted(registry))}"
        )
    return registry[dataset]


def dataset_dir(
    dataset: str,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
) -> Path:
    """Directory holding ``dataset``'s files: ``<root or data_home()>/<dataset>``."""
    spec = _spec(dataset, registry)
    return Path(root).expanduser() / spec.name if root is not None else data_home() / spec.name


# --------------------------------------------------------------------------- messages


def _placement_help(spec: DatasetSpec, directory: Path, missing: Sequence[RemoteFile]) -> str:
    lines = [f"Place these files in {directory}/ :"]
    for f in missing:
        size = f"{f.size} bytes, " if f.size is not None else ""
        lines.append(f"  {f.name}  ({size}sha256 {f.sha256 or 'UNKNOWN'})")
        lines.extend(f"      from {u}" for u in f.urls)
    lines.append(
        f"(download them on a machine with network access and copy them over), or set the "
        f"environment variable FASTTRAIN_DATA to a directory holding a {spec.name}/ folder with "
        f"these files (currently the data home is {data_home()}). "
        f"Check with: python -m fasttrain.download --check {spec.name}"
    )
    lines.append(
        f"Where the network is reachable, download them with: python -m fasttrain.download {spec.name}"
    )
    return "\n".join(lines)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _size_note(path: Path, expected_size: int | None) -> str:
    try:
        found = path.stat().st_size
    except OSError:
        return ""
    if expected_size is None:
        return f" ({_plural(found, 'byte')})"
    if found == expected_size:
        return f" ({_plural(found, 'byte')}, the expected size)"
    return f" ({_plural(found, 'byte')}, expected {expected_size}{': truncated' if found < expected_size else ''})"


def _mismatch_message(
    path: Path, expected: str, actual: str, expected_size: int | None = None
) -> str:
    return (
        f"data file {path}{_size_note(path, expected_size)} exists but its sha256 is {actual}, "
        f"expected {expected}. It was left untouched. Delete it to have it downloaded again, or replace it "
        f"with the correct file (sha256 {expected})."
    )


# --------------------------------------------------------------------------- download


def _open_url(url: str, timeout: float):
    """Open ``url`` for streaming (the seam tests replace); returns a file-like response."""
    req = urllib.request.Request(url, headers={"User-Agent": "fasttrain-download/0.1"})
    return urllib.request.urlopen(req, timeout=timeout)


_NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException, ValueError)


def _content_length(resp) -> int | None:
    headers = getattr(resp, "headers", None)
    try:
        n = headers.get("Content-Length") if headers is not None else None
        return int(n) if n is not None else None
    except (TypeError, ValueError):
        return None


def _download_one(
    url: str,
    dest: Path,
    expected: str,
    *,
    size: int | None,
    timeout: float,
    progress: bool,
    chunk: int = 1 << 16,
) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, verify sha256, rename into place.

    Raises a network error (from :data:`_NETWORK_ERRORS`) or :class:`ChecksumError`;
    in either case no temporary file remains and ``dest`` is not created.
    """
    resp = _open_url(url, timeout)  # connect first: an unreachable URL creates nothing
    with contextlib.closing(resp):
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                n, actual = _stream(
                    resp,
                    out,
                    desc=dest.name,
                    total=_content_length(resp) or size,
                    progress=progress,
                    chunk=chunk,
                )
            if actual != expected:
                got = f"{n} bytes" + (f", expected {size}" if size is not None else "")
                raise ChecksumError(
                    f"downloaded {url} has sha256 {actual}, expected {expected} ({got}); "
                    f"the download was discarded and nothing was written to {dest}"
                )
            if dest.exists():  # appeared meanwhile: never overwrite without checking
                existing = sha256(dest)
                if existing != expected:
                    raise ChecksumError(_mismatch_message(dest, expected, existing, size))
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()


def _stream(
    resp, out, *, desc: str, total: int | None, progress: bool, chunk: int
) -> tuple[int, str]:
    """Copy ``resp`` to ``out`` in chunks with a tqdm bar; return (bytes, sha256), fsynced."""
    from tqdm.auto import tqdm

    h = hashlib.sha256()
    n = 0
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
        leave=False,
    ) as bar:
        while True:
            block = resp.read(chunk)
            if not block:
                break
            out.write(block)
            h.update(block)
            n += len(block)
            bar.update(len(block))
    out.flush()
    os.fsync(out.fileno())
    return n, h.hexdigest()


def _verify_existing(path: Path, f: RemoteFile) -> Path:
    if f.sha256 is None:
        raise ChecksumError(
            f"data file {path}: no verified sha256 is known for {f.name}, so it is not trusted; "
            "add its checksum to the registry (fasttrain.download.REGISTRY) from a trusted source"
        )
    actual = sha256(path)
    if actual != f.sha256:
        raise ChecksumError(_mismatch_message(path, f.sha256, actual, f.size))
    return path


def fetch(
    dataset: str,
    *,
    download: bool = True,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Local paths ``{file name: path}`` of ``dataset``'s files, each verified by sha256.

    Missing files are downloaded (``download=True``) from the registry's URLs in
    order.  Raises :class:`ChecksumError` for a file with a wrong checksum
    (left untouched) or a download with wrong content (discarded),
    :class:`DownloadError` when every URL fails (the message says which files
    to place where), :class:`MissingDataError` when files are absent and
    ``download=False``, ``ValueError`` for an unknown data set.
    """
    spec = _spec(dataset, registry)
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    directory = dataset_dir(dataset, root, registry)
    paths: dict[str, Path] = {}
    # verify what is present first, so a corrupt file is reported before any download
    for f in spec.files:
        p = directory / f.name
        if p.is_file():
            paths[f.name] = _verify_existing(p, f)
    missing = [f for f in spec.files if f.name not in paths]
    if missing and not download:
        raise MissingDataError(
            f"data set {spec.name}: {_plural(len(missing), 'file')} missing in {directory} "
            f"(download=False).\n" + _placement_help(spec, directory, missing)
        )
    for i, f in enumerate(missing):
        dest = directory / f.name
        if f.sha256 is None:
            raise ChecksumError(
                f"refusing to download {f.name} for {spec.name}: no verified sha256 is known, "
                "so the file could not be checked; add its checksum to the registry from a trusted source"
            )
        failures = []
        for url in f.urls:
            try:
                _download_one(url, dest, f.sha256, size=f.size, timeout=timeout, progress=progress)
                break
            except ChecksumError as exc:
                failures.append(exc)
            except _NETWORK_ERRORS as exc:
                failures.append(exc)
        else:
            bad = [e for e in failures if isinstance(e, ChecksumError)]
            if bad:
                raise ChecksumError("; ".join(str(e) for e in bad)) from bad[-1]
            reasons = "; ".join(f"{u}: {type(e).__name__}: {e}" for u, e in zip(f.urls, failures))
            raise DownloadError(
                f"could not download {f.name} for {spec.name} ({reasons or 'no URL'}).\n"
                + _placement_help(spec, directory, missing[i:])
            ) from (failures[-1] if failures else None)
        paths[f.name] = dest
    return {f.name: paths[f.name] for f in spec.files}


# --------------------------------------------------------------------------- loaders


def _images(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255.0)


def _check_split(spec: DatasetSpec, x_tr, y_tr, x_te, y_te, image_shape) -> None:
    for part, x, y, n in (("train", x_tr, y_tr, spec.n_train), ("test", x_te, y_te, spec.n_test)):
        if x.shape != (n, *image_shape) or y.shape != (n,):
            raise DataError(
                f"{spec.name} {part} split has images {x.shape} and labels {y.shape}, "
                f"expected ({n}, {', '.join(map(str, image_shape))}) and ({n},)"
            )
        if y.size and (y.min() < 0 or y.max() >= len(spec.classes)):
            raise DataError(f"{spec.name} {part} labels outside 0..{len(spec.classes) - 1}")


def _load_idx(dataset: str, *, download, root, registry, progress) -> Dataset:
    spec = _spec(dataset, registry)
    paths = fetch(dataset, download=download, root=root, registry=registry, progress=progress)
    x_tr, y_tr, x_te, y_te = (read_idx(paths[n]) for n in _IDX_NAMES)
    if x_tr.ndim != 3 or x_te.ndim != 3:
        raise DataError(
            f"{spec.name} image files have {x_tr.ndim} and {x_te.ndim} dimensions, expected 3"
        )
    shape = (*x_tr.shape[1:], 1)
    x_tr, x_te = x_tr.reshape(-1, *shape), x_te.reshape(-1, *shape)
    _check_split(spec, x_tr, y_tr, x_te, y_te, shape)
    return Dataset(
        spec.name,
        _images(x_tr),
        y_tr.astype(np.int32),
        _images(x_te),
        y_te.astype(np.int32),
        spec.classes,
    )


def load_mnist(
    *,
    download: bool = True,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
    progress: bool = True,
) -> Dataset:
    """Full MNIST (LeCun et al. 1998): 60 000 / 10 000 images (n, 28, 28, 1) float32 in [0, 1]."""
    return _load_idx("mnist", download=download, root=root, registry=registry, progress=progress)


def load_fashion_mnist(
    *,
    download: bool = True,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
    progress: bool = True,
) -> Dataset:
    """Fashion-MNIST (Xiao et al. 2017): 60 000 / 10 000 images (n, 28, 28, 1) float32 in [0, 1]."""
    return _load_idx(
        "fashion_mnist", download=download, root=root, registry=registry, progress=progress
    )


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR batches: dicts, lists, bytes and numpy arrays, nothing else.

    Any other global (a function or class an attacker could name) is refused,
    so even a tampered archive cannot run code while it is read.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"CIFAR batch refers to {module}.{name}, which is not allowed"
            )
        if name == "_reconstruct":
            return _numpy_reconstruct()
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def _read_cifar_batch(
    tar: tarfile.TarFile, member: tarfile.TarInfo
) -> tuple[np.ndarray, np.ndarray]:
    fh = tar.extractfile(member)
    if fh is None:
        raise DataError(f"CIFAR-10 member {member.name} is not a regular file")
    try:
        batch = _BatchUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise DataError(f"CIFAR-10 member {member.name} is malformed: {exc}") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
        raise DataError(
            f"CIFAR-10 member {member.name} has data {data.shape} and labels {labels.shape}, "
            "expected (n, 3072) and (n,)"
        )
    # rows are channel-major 3 x 32 x 32 (red, green, blue planes); to (n, H, W, C)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(
    *,
    download: bool = True,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
    progress: bool = True,
) -> Dataset:
    """CIFAR-10 (Krizhevsky 2009): 50 000 / 10 000 images (n, 32, 32, 3) float32 in [0, 1].

    Reads the python-pickle tarball in memory: only the six expected batch
    members, with an unpickler restricted to numpy arrays (after the sha256 check).
    """
    spec = _spec("cifar10", registry)
    path = fetch("cifar10", download=download, root=root, registry=registry, progress=progress)[
        CIFAR10_ARCHIVE
    ]
    wanted = (*_CIFAR_TRAIN, _CIFAR_TEST)
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name in wanted and member.isfile():
                    batches[member.name] = _read_cifar_batch(tar, member)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot read CIFAR-10 archive {path}: {exc}") from exc
    absent = [m for m in wanted if m not in batches]
    if absent:
        raise DataError(f"CIFAR-10 archive {path} lacks members {absent}")
    x_tr = np.concatenate([batches[m][0] for m in _CIFAR_TRAIN])
    y_tr = np.concatenate([batches[m][1] for m in _CIFAR_TRAIN])
    x_te, y_te = batches[_CIFAR_TEST]
    _check_split(spec, x_tr, y_tr, x_te, y_te, (32, 32, 3))
    return Dataset(
        spec.name,
        _images(x_tr),
        y_tr.astype(np.int32),
        _images(x_te),
        y_te.astype(np.int32),
        spec.classes,
    )


def check(
    dataset: str,
    *,
    root: str | os.PathLike | None = None,
    registry: Mapping[str, DatasetSpec] | None = None,
) -> dict[str, str | None]:
    """Verify every file of ``dataset`` on disk without downloading: ``{file name: None if ok, else the problem}``."""
    spec = _spec(dataset, registry)
    directory = dataset_dir(dataset, root, registry)
    report: dict[str, str | None] = {}
    for f in spec.files:
        p = directory / f.name
        if not p.is_file():
            report[f.name] = "missing"
            continue
        try:
            _verify_existing(p, f)
            report[f.name] = None
        except ChecksumError as exc:
            report[f.name] = str(exc)
    return report


def _check_report(name: str, root, registry) -> tuple[bool, str]:
    spec = _spec(name, registry)
    directory = dataset_dir(name, root, registry)
    report = check(name, root=root, registry=registry)
    missing = [f for f in spec.files if report[f.name] == "missing"]
    wrong = [f for f in spec.files if report[f.name] not in (None, "missing")]
    if not missing and not wrong:
        return True, f"{name}: ok, {_plural(len(spec.files), 'file')} verified in {directory}"
    lines = [
        f"{name}: ERROR in {directory}: {len(wrong)} wrong, {len(missing)} missing, "
        f"{len(spec.files) - len(wrong) - len(missing)} ok"
    ]
    for f in spec.files:
        problem = report[f.name]
        if problem is None:
            lines.append(f"  {f.name}: ok")
        elif problem == "missing":
            lines.append(f"  {f.name}: missing")
        else:
            lines.append(f"  {f.name}: WRONG: {problem}")
    if missing:
        lines.append(_placement_help(spec, directory, missing))
    elif wrong:
        lines.append(f"Delete the wrong files and run: python -m fasttrain.download {name}")
    return False, "\n".join(lines)


LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10}


# --------------------------------------------------------------------------- command line


def main(
    argv: Sequence[str] | None = None, registry: Mapping[str, DatasetSpec] | None = None
) -> int:
    """``python -m fasttrain.download [--check] [--root DIR] DATASET...``; returns the exit status."""
    reg = REGISTRY if registry is None else registry
    parser = argparse.ArgumentParser(
        prog="python -m fasttrain.download",
        description="Download and verify (sha256) the full data sets into the data home "
        "($FASTTRAIN_DATA, else ~/.cache/fasttrain).",
    )
    parser.add_argument(
        "datasets",
        nargs="+",
        metavar="DATASET",
        help=f"one or more of {', '.join(sorted(reg))}, or 'all'",
    )
    parser.add_argument(
        "--check", action="store_true", help="only verify files already present; download nothing"
    )
    parser.add_argument("--root", default=None, help="directory to use instead of the data home")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    names = sorted(reg) if "all" in args.datasets else list(dict.fromkeys(args.datasets))
    status = 0
    for name in names:
        if args.check:
            try:
                ok, text = _check_report(name, args.root, reg)
            except ValueError as exc:
                print(f"{name}: ERROR: {exc}", file=sys.stderr)
                status = 1
                continue
            print(text, file=sys.stdout if ok else sys.stderr)
            status = status if ok else 1
            continue
        try:
            paths = fetch(
                name, download=not args.check, root=args.root, registry=reg, progress=not args.quiet
            )
        except (DataError, ValueError) as exc:
            print(f"{name}: ERROR: {exc}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{name}: ok, {_plural(len(paths), 'file')} verified in {dataset_dir(name, args.root, reg)}"
        )
        for p in paths.values():
            print(f"  {p}")
    return status


if __name__ == "__main__":
    sys.exit(main())

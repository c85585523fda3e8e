"""Tests for fasttrain.download: no network, fake registries, tiny files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fasttrain.core import download as dl
from fasttrain.core.data import DataError


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _registry(
    name: str,
    files: dict[str, bytes],
    urls: dict[str, tuple[str, ...]],
    n_train: int = 0,
    n_test: int = 0,
    classes=tuple("0123456789"),
    sums=None,
):
    sums = sums or {}
    entries = tuple(
        dl.RemoteFile(fn, urls[fn], sums.get(fn, _sha(content)), len(content))
        for fn, content in files.items()
    )
    return {name: dl.DatasetSpec(name, entries, n_train, n_test, tuple(classes), "test")}


_REAL_URLOPEN = urllib.request.urlopen


def _no_network(url, *args, **kwargs):
    """urlopen stand-in: local file:// URLs work, anything else is 'offline'."""
    full = url.full_url if isinstance(url, urllib.request.Request) else url
    if full.startswith("file://"):
        return _REAL_URLOPEN(url, *args, **kwargs)
    raise urllib.error.URLError("network is unreachable (test)")


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path):
    """Every test is offline and uses its own data home."""
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path / "home"))


def _leftovers(directory: Path):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --------------------------------------------------------------------------- registry and locations


def test_registry_is_complete_and_well_formed():
    assert set(dl.REGISTRY) == {"mnist", "fashion_mnist", "cifar10"}
    for spec in dl.REGISTRY.values():
        assert spec.files and spec.checksum_source.startswith("https://")
        for f in spec.files:
            assert f.sha256 is not None and len(f.sha256) == 64
            int(f.sha256, 16)  # hexadecimal
            assert f.size and f.size > 0
            assert f.urls and all(
                u.startswith(("https://", "http://")) and u.endswith(f.name) for u in f.urls
            )
    assert [s.n_train for s in dl.REGISTRY.values()] == [60000, 60000, 50000]
    # MNIST and Fashion-MNIST files share names but must not share bytes
    m = {f.sha256 for f in dl.REGISTRY["mnist"].files}
    fm = {f.sha256 for f in dl.REGISTRY["fashion_mnist"].files}
    assert not m & fm


def test_data_home_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTTRAIN_DATA", str(tmp_path / "elsewhere"))
    assert dl.data_home() == tmp_path / "elsewhere"
    assert dl.dataset_dir("mnist") == tmp_path / "elsewhere" / "mnist"
    monkeypatch.delenv("FASTTRAIN_DATA")
    assert dl.data_home() == Path.home() / ".cache" / "fasttrain"


def test_fetch_uses_data_home_from_environment(monkeypatch, tmp_path):
    content = b"some bytes"
    reg = _registry("toy", {"a.bin": content}, {"a.bin": ("https://example.invalid/a.bin",)})
    home = tmp_path / "custom"
    (home / "toy").mkdir(parents=True)
    (home / "toy" / "a.bin").write_bytes(content)
    monkeypatch.setenv("FASTTRAIN_DATA", str(home))
    paths = dl.fetch("toy", registry=reg, progress=False)  # no download: the file is there
    assert paths == {"a.bin": home / "toy" / "a.bin"}


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(
        ValueError, match="unknown data set 'imagenet'.*cifar10.*fashion_mnist.*mnist"
    ):
        dl.fetch("imagenet")
    with pytest.raises(ValueError, match="unknown data set"):
        dl.load_mnist(registry={})


# --------------------------------------------------------------------------- offline


def test_offline_error_lists_files_directory_checksums_and_urls(tmp_path):
    reg = dl.REGISTRY
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch("mnist", progress=False)
    msg = str(info.value)
    directory = tmp_path / "home" / "mnist"
    assert f"{directory}/" in msg and "FASTTRAIN_DATA" in msg
    for f in reg["mnist"].files:
        assert f.name in msg and f.sha256 in msg and str(f.size) in msg
        assert all(u in msg for u in f.urls)
    assert "network is unreachable" in msg
    assert not directory.exists()  # nothing created, nothing half-written
    assert isinstance(info.value, DataError)


def test_offline_error_lists_only_the_files_still_missing(tmp_path):
    good = b"present"
    reg = _registry(
        "toy",
        {"a.bin": good, "b.bin": b"absent"},
        {"a.bin": ("https://x.invalid/a.bin",), "b.bin": ("https://x.invalid/b.bin",)},
    )
    d = tmp_path / "home" / "toy"
    d.mkdir(parents=True)
    (d / "a.bin").write_bytes(good)
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch("toy", registry=reg, progress=False)
    msg = str(info.value)
    assert "b.bin" in msg and "Place these files" in msg
    assert "  a.bin" not in msg


def test_timeout_is_reported_like_offline(monkeypatch, tmp_path):
    def slow(url, timeout):
        raise TimeoutError(f"timed out after {timeout} s")

    monkeypatch.setattr(dl, "_open_url", slow)
    reg = _registry(
        "toy", {"a.bin": b"x"}, {"a.bin": ("https://x.invalid/a.bin", "https://y.invalid/a.bin")}
    )
    with pytest.raises(dl.DownloadError, match=r"(?s)x\.invalid.*TimeoutError.*y\.invalid.*a\.bin"):
        dl.fetch("toy", registry=reg, progress=False, timeout=0.5)


def test_download_false_with_files_absent(tmp_path):
    reg = _registry("toy", {"a.bin": b"x"}, {"a.bin": ("https://x.invalid/a.bin",)})
    with pytest.raises(dl.MissingDataError, match="download=False") as info:
        dl.fetch("toy", registry=reg, download=False)
    assert not isinstance(info.value, dl.DownloadError)
    assert not (tmp_path / "home" / "toy").exists()


# --------------------------------------------------------------------------- downloads


def test_download_from_file_url_is_verified_and_placed(tmp_path):
    content = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    src = tmp_path / "server" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(content)
    reg = _registry("toy", {"blob.bin": content}, {"blob.bin": (src.as_uri(),)})
    paths = dl.fetch("toy", registry=reg, progress=False)  # real urlopen on a file:// URL
    dest = tmp_path / "home" / "toy" / "blob.bin"
    assert paths == {"blob.bin": dest}
    assert dest.read_bytes() == content
    assert _leftovers(dest.parent) == ["blob.bin"]  # no temporary left
    # a second call only verifies
    mtime = dest.stat().st_mtime_ns
    assert dl.fetch("toy", registry=reg, download=False) == paths
    assert dest.stat().st_mtime_ns == mtime


def test_falls_back_to_mirror_with_fake_opener(monkeypatch, tmp_path):
    content = b"mirror content " * 1000
    seen = []

    def opener(url, timeout):
        seen.append(url)
        if "primary" in url:
            raise urllib.error.HTTPError(url, 403, "Forbidden", {}, None)
        return io.BytesIO(content)

    monkeypatch.setattr(dl, "_open_url", opener)
    reg = _registry(
        "toy",
        {"f.gz": content},
        {"f.gz": ("https://primary.invalid/f.gz", "https://mirror.invalid/f.gz")},
    )
    paths = dl.fetch("toy", registry=reg, progress=False, root=tmp_path / "r")
    assert seen == ["https://primary.invalid/f.gz", "https://mirror.invalid/f.gz"]
    assert paths["f.gz"] == tmp_path / "r" / "toy" / "f.gz"
    assert paths["f.gz"].read_bytes() == content


def test_wrong_content_leaves_no_file_and_no_temporary(monkeypatch, tmp_path):
    monkeypatch.setattr(dl, "_open_url", lambda url, timeout: io.BytesIO(b"tampered"))
    expected = _sha(b"genuine")
    reg = _registry("toy", {"f.bin": b"genuine"}, {"f.bin": ("https://x.invalid/f.bin",)})
    with pytest.raises(dl.ChecksumError) as info:
        dl.fetch("toy", registry=reg, progress=False)
    msg = str(info.value)
    assert expected in msg and _sha(b"tampered") in msg and "discarded" in msg
    assert _leftovers(tmp_path / "home" / "toy") == []


def test_interrupted_download_leaves_nothing(monkeypatch, tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 1000:
                raise ConnectionResetError("connection reset by peer")
            return super().read(min(n, 500))

    monkeypatch.setattr(dl, "_open_url", lambda url, timeout: Broken(b"z" * 5000))
    reg = _registry("toy", {"f.bin": b"z" * 5000}, {"f.bin": ("https://x.invalid/f.bin",)})
    with pytest.raises(dl.DownloadError, match="ConnectionResetError"):
        dl.fetch("toy", registry=reg, progress=False)
    assert _leftovers(tmp_path / "home" / "toy") == []


def test_existing_corrupt_file_is_reported_and_untouched(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(
        dl, "_open_url", lambda url, timeout: calls.append(url) or io.BytesIO(b"genuine")
    )
    reg = _registry("toy", {"f.bin": b"genuine"}, {"f.bin": ("https://x.invalid/f.bin",)})
    path = tmp_path / "home" / "toy" / "f.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"corrupt!")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    for download in (True, False):
        with pytest.raises(dl.ChecksumError) as info:
            dl.fetch("toy", registry=reg, download=download, progress=False)
        msg = str(info.value)
        assert str(path) in msg and _sha(b"genuine") in msg and _sha(b"corrupt!") in msg
        assert "Delete it" in msg and "untouched" in msg
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert calls == []  # not even an attempt to download over it
    assert _leftovers(path.parent) == ["f.bin"]


def test_entry_without_checksum_is_never_trusted(monkeypatch, tmp_path):
    monkeypatch.setattr(dl, "_open_url", lambda url, timeout: io.BytesIO(b"data"))
    reg = {
        "toy": dl.DatasetSpec(
            "toy", (dl.RemoteFile("f.bin", ("https://x.invalid/f.bin",), None),), 0, 0, ("a",)
        )
    }
    with pytest.raises(dl.ChecksumError, match="refusing to download f.bin"):
        dl.fetch("toy", registry=reg, progress=False)
    assert _leftovers(tmp_path / "home" / "toy") == []
    path = tmp_path / "home" / "toy" / "f.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"data")
    with pytest.raises(dl.ChecksumError, match="no verified sha256"):
        dl.fetch("toy", registry=reg, progress=False)
    assert path.read_bytes() == b"data"


# --------------------------------------------------------------------------- loaders


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def _fake_idx_set(rng, n_train, n_test, side=28):
    x_tr = rng.integers(0, 256, (n_train, side, side), dtype=np.uint8)
    y_tr = rng.integers(0, 10, n_train, dtype=np.uint8)
    x_te = rng.integers(0, 256, (n_test, side, side), dtype=np.uint8)
    y_te = rng.integers(0, 10, n_test, dtype=np.uint8)
    files = dict(zip(dl._IDX_NAMES, map(_idx, (x_tr, y_tr, x_te, y_te))))
    return (x_tr, y_tr, x_te, y_te), files


@pytest.mark.parametrize(
    "loader,name", [(dl.load_mnist, "mnist"), (dl.load_fashion_mnist, "fashion_mnist")]
)
def test_idx_round_trip_through_fake_server(tmp_path, loader, name):
    rng = np.random.default_rng(1)
    (x_tr, y_tr, x_te, y_te), files = _fake_idx_set(rng, 12, 5)
    server = tmp_path / "server"
    server.mkdir()
    for fn, content in files.items():
        (server / fn).write_bytes(content)
    reg = _registry(
        name, files, {fn: ((server / fn).as_uri(),) for fn in files}, n_train=12, n_test=5
    )
    ds = loader(registry=reg, progress=False)
    assert ds.x_train.shape == (12, 28, 28, 1) and ds.x_test.shape == (5, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    np.testing.assert_array_equal(np.rint(ds.x_train[..., 0] * 255).astype(np.uint8), x_tr)
    np.testing.assert_array_equal(np.rint(ds.x_test[..., 0] * 255).astype(np.uint8), x_te)
    np.testing.assert_array_equal(ds.y_train, y_tr)
    np.testing.assert_array_equal(ds.y_test, y_te)
    assert ds.n_classes == 10
    assert sorted(p.name for p in (tmp_path / "home" / name).iterdir()) == sorted(files)


def test_idx_loader_rejects_wrong_split_sizes(tmp_path):
    rng = np.random.default_rng(2)
    _, files = _fake_idx_set(rng, 12, 5)
    d = tmp_path / "home" / "mnist"
    d.mkdir(parents=True)
    for fn, content in files.items():
        (d / fn).write_bytes(content)
    reg = _registry(
        "mnist",
        files,
        {fn: ("https://x.invalid/" + fn,) for fn in files},
        n_train=60000,
        n_test=10000,
    )
    with pytest.raises(
        DataError, match=r"mnist train split.*\(12, 28, 28, 1\).*expected \(60000, 28, 28, 1\)"
    ):
        dl.load_mnist(registry=reg, download=False)


def _cifar_tarball(rng, per_batch, n_test, extra_member=False):
    def batch(n):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        return (
            data,
            labels,
            pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, protocol=2),
        )

    members, arrays = {}, {}
    for i in range(1, 6):
        d, lab, blob = batch(per_batch)
        members[f"cifar-10-batches-py/data_batch_{i}"] = blob
        arrays[i] = (d, lab)
    d, lab, blob = batch(n_test)
    members["cifar-10-batches-py/test_batch"] = blob
    arrays["test"] = (d, lab)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps(
        {b"label_names": [b"airplane"]}, protocol=2
    )
    if extra_member:
        # an unexpected member whose unpickling would run code: must never be read
        members["cifar-10-batches-py/evil"] = b"cos\nsystem\n(S'echo pwned'\ntR."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue(), arrays


def _cifar_registry(content, n_train, n_test):
    f = dl.RemoteFile(
        dl.CIFAR10_ARCHIVE, ("https://x.invalid/c.tar.gz",), _sha(content), len(content)
    )
    return {
        "cifar10": dl.DatasetSpec(
            "cifar10", (f,), n_train, n_test, dl.REGISTRY["cifar10"].classes, "test"
        )
    }


def test_cifar10_loader_layout(monkeypatch, tmp_path):
    rng = np.random.default_rng(3)
    content, arrays = _cifar_tarball(rng, per_batch=3, n_test=4, extra_member=True)
    monkeypatch.setattr(dl, "_open_url", lambda url, timeout: io.BytesIO(content))
    ds = dl.load_cifar10(registry=_cifar_registry(content, 15, 4), progress=False)
    assert ds.x_train.shape == (15, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    assert ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int32
    # channel-major rows: the first 1024 bytes of a row are the red plane, row by row
    d1, l1 = arrays[1]
    np.testing.assert_array_equal(
        np.rint(ds.x_train[0, :, :, 0] * 255), d1[0, :1024].reshape(32, 32)
    )
    np.testing.assert_array_equal(np.rint(ds.x_train[0, 0, 1, 2] * 255), d1[0, 2048 + 1])
    np.testing.assert_array_equal(ds.y_train[:3], l1)
    d5, l5 = arrays[5]
    np.testing.assert_array_equal(ds.y_train[12:], l5)
    np.testing.assert_array_equal(
        np.rint(ds.x_test * 255).astype(np.uint8),
        arrays["test"][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1),
    )
    assert ds.classes[0] == "airplane" and ds.n_classes == 10


def test_cifar10_unpickler_refuses_code():
    evil = b"cos\nsystem\n(S'echo pwned'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        dl._BatchUnpickler(io.BytesIO(evil), encoding="bytes").load()


def test_cifar10_missing_member_is_a_clear_error(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    content = buf.getvalue()
    d = tmp_path / "home" / "cifar10"
    d.mkdir(parents=True)
    (d / dl.CIFAR10_ARCHIVE).write_bytes(content)
    with pytest.raises(DataError, match="lacks members.*data_batch_1"):
        dl.load_cifar10(registry=_cifar_registry(content, 0, 0), download=False)


# --------------------------------------------------------------------------- command line


def test_cli_check_and_download(monkeypatch, tmp_path, capsys):
    content = b"cli content"
    reg = _registry("toy", {"f.bin": content}, {"f.bin": ("https://x.invalid/f.bin",)})
    assert dl.main(["--check", "toy"], registry=reg) == 1
    err = capsys.readouterr().err
    assert "toy: ERROR" in err and "f.bin" in err
    assert not (tmp_path / "home" / "toy").exists()  # --check never downloads

    monkeypatch.setattr(dl, "_open_url", lambda url, timeout: io.BytesIO(content))
    assert dl.main(["--quiet", "toy"], registry=reg) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "home" / "toy" / "f.bin") in out
    assert dl.main(["--check", "all"], registry=reg) == 0
    assert dl.main(["--check", "nope"], registry=reg) == 1
    assert "unknown data set 'nope'" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 13: messages


def test_missing_data_error_suggests_the_download_command(tmp_path):
    reg = _registry("toy", {"a.bin": b"x"}, {"a.bin": ("https://x.invalid/a.bin",)})
    with pytest.raises(dl.MissingDataError, match=r"python -m fasttrain\.download toy"):
        dl.fetch("toy", registry=reg, download=False)
    with pytest.raises(dl.MissingDataError, match=r"python -m fasttrain\.download mnist"):
        dl.fetch("mnist", download=False)


def test_cli_check_reports_sizes_and_every_missing_file(tmp_path, capsys):
    good, full = b"good bytes", b"0123456789" * 10
    reg = _registry(
        "toy",
        {"a.bin": full, "b.bin": b"absent", "c.bin": good},
        {n: (f"https://x.invalid/{n}",) for n in ("a.bin", "b.bin", "c.bin")},
    )
    d = tmp_path / "home" / "toy"
    d.mkdir(parents=True)
    (d / "a.bin").write_bytes(full[:37])  # truncated
    (d / "c.bin").write_bytes(good)
    assert dl.main(["--check", "toy"], registry=reg) == 1
    err = capsys.readouterr().err
    assert "a.bin" in err and "37 bytes" in err and "expected 100" in err
    assert "missing" in err and "b.bin" in err
    assert "c.bin: ok" in err
    assert "python -m fasttrain.download toy" in err
    assert (d / "a.bin").read_bytes() == full[:37]  # never touched


def test_checksum_error_says_the_size_found():
    p_reg = _registry("toy", {"a.bin": b"0123456789"}, {"a.bin": ("https://x.invalid/a.bin",)})
    import os as _os

    d = Path(_os.environ["FASTTRAIN_DATA"]) / "toy"
    d.mkdir(parents=True)
    (d / "a.bin").write_bytes(b"0123")
    with pytest.raises(dl.ChecksumError, match="4 bytes, expected 10"):
        dl.fetch("toy", registry=p_reg, download=False)

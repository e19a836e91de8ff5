"""Tests of reglab.data.fetch: download, verification and safe extraction (local HTTP server)."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reglab.data import FetchError, FlowersDataset, UnsafeArchiveError, fetch_flowers
from reglab.data import make_synthetic_flowers
from reglab.data.cli import main as cli_main
from reglab.data.fetch import check_members

KAGGLE = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
TF = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class _Handler(SimpleHTTPRequestHandler):
    requests: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1: yields (folder, base_url, request_log)."""
    folder = tmp_path / "www"
    folder.mkdir()
    log = []
    handler = functools.partial(type("H", (_Handler,), {"requests": log}),
                                directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _tf_archive(out: Path, tmp: Path, n_per_class=3, seed=0) -> Path:
    """A small flower_photos.tgz laid out like TensorFlow's (TF class names + LICENSE.txt)."""
    src = make_synthetic_flowers(tmp / f"src{seed}" / "flower_photos", n_per_class=n_per_class,
                                 classes=TF, seed=seed)
    (src / "LICENSE.txt").write_text("All photos are CC-BY.\n")
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname="flower_photos")
    return out


def _evil_archive(out: Path, tmp: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    """A valid-looking archive plus one dangerous member."""
    src = make_synthetic_flowers(tmp / "evil_src" / "flower_photos", n_per_class=3, classes=TF)
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname="flower_photos")
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return out


def _quiet(*args):
    pass


def test_fetch_installs_photos(served, tmp_path):
    www, url, log = served
    _tf_archive(www / "flower_photos.tgz", tmp_path)
    dest = tmp_path / "data"
    messages = []
    target = fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=10, progress=False,
                           log=messages.append)
    assert target == (dest / "flowers").resolve()
    assert sorted(p.name for p in target.iterdir()) == ["LICENSE.txt"] + KAGGLE
    assert sorted(os.listdir(dest)) == ["flowers"]          # no archive, no temp folders
    assert log == ["/flower_photos.tgz"] and "15 photos installed" in messages[-1]
    ds = FlowersDataset([16, 16], [-1], path=target)
    assert ds.target_names == KAGGLE and len(ds) == 15


def test_existing_photos_without_force_do_nothing(served, tmp_path):
    www, url, log = served
    _tf_archive(www / "flower_photos.tgz", tmp_path, n_per_class=4)
    dest = tmp_path / "data"
    make_synthetic_flowers(dest / "flowers", n_per_class=2)
    messages = []
    target = fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=1, log=messages.append)
    assert log == [] and "already has 10 photos" in messages[0]
    assert FlowersDataset([8, 8], [-1], path=target, max_samples=0, tr_ratio=1.0,
                          va_ratio=0.0).train_count == 10
    fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=1, force=True, log=_quiet)
    assert log == ["/flower_photos.tgz"]
    assert len(FlowersDataset([8, 8], [-1], path=target)) == 20
    assert sorted(os.listdir(dest)) == ["flowers"]


def test_non_photo_target_needs_force(served, tmp_path):
    www, url, log = served
    dest = tmp_path / "data"
    (dest / "flowers").mkdir(parents=True)
    (dest / "flowers" / "notes.txt").write_text("mine")
    with pytest.raises(FetchError, match="--force"):
        fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=1, log=_quiet)
    assert log == [] and (dest / "flowers" / "notes.txt").exists()


def test_404_is_a_clear_error_and_leaves_nothing(served, tmp_path):
    www, url, log = served
    dest = tmp_path / "data"
    bad = f"{url}/missing.tgz"
    with pytest.raises(FetchError) as info:
        fetch_flowers(bad, dest, min_photos=1, log=_quiet)
    msg = str(info.value)
    assert bad in msg and "404" in msg and "Flowers Recognition" in msg
    assert os.listdir(dest) == []


def test_unreachable_host_is_a_clear_error(tmp_path):
    import socket
    with socket.socket() as s:          # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match=f"127.0.0.1:{port}"):
        fetch_flowers(f"http://127.0.0.1:{port}/x.tgz", tmp_path / "d", log=_quiet, timeout=5)
    assert os.listdir(tmp_path / "d") == []


def test_too_few_photos_leave_nothing(served, tmp_path):
    www, url, _ = served
    _tf_archive(www / "flower_photos.tgz", tmp_path)
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match="only 15 photos"):
        fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=3000, log=_quiet)
    assert os.listdir(dest) == []


def test_not_a_tar_archive(served, tmp_path):
    www, url, _ = served
    (www / "flower_photos.tgz").write_bytes(os.urandom(5000))
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match="not a readable tar"):
        fetch_flowers(f"{url}/flower_photos.tgz", dest, min_photos=1, log=_quiet)
    assert os.listdir(dest) == []


def test_wrong_classes_rejected(served, tmp_path):
    www, url, _ = served
    src = make_synthetic_flowers(tmp_path / "src" / "pets", n_per_class=3, classes=("a", "b"))
    with tarfile.open(www / "pets.tgz", "w:gz") as tar:
        tar.add(src, arcname="pets")
    with pytest.raises(FetchError, match="expected"):
        fetch_flowers(f"{url}/pets.tgz", tmp_path / "data", min_photos=1, log=_quiet)
    assert os.listdir(tmp_path / "data") == []


def _sym(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _dev(name):
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink_etc", "symlink_up",
                                  "hardlink_out", "device"])
def test_unsafe_archives_rejected(served, tmp_path, case):
    www, url, log = served
    outside = tmp_path / "outside"
    outside.mkdir()
    members = {
        "dotdot": (tarfile.TarInfo("flower_photos/../../evil.txt"), "evil.txt"),
        "absolute": (tarfile.TarInfo(str(outside / "abs_evil.txt")), "abs_evil.txt"),
        "symlink_etc": (_sym("flower_photos/daisy/etc", "/etc"), "flower_photos/daisy/etc"),
        "symlink_up": (_sym("flower_photos/up", "../../../outside"), "flower_photos/up"),
        "hardlink_out": (_sym("flower_photos/h", "../outside/x", tarfile.LNKTYPE),
                         "flower_photos/h"),
        "device": (_dev("flower_photos/null"), "flower_photos/null"),
    }
    member, name_in_error = members[case]
    _evil_archive(www / "evil.tgz", tmp_path, member, b"pwned\n")
    dest = tmp_path / "data"
    with pytest.raises(UnsafeArchiveError, match="unsafe archive member") as info:
        fetch_flowers(f"{url}/evil.tgz", dest, min_photos=1, log=_quiet)
    assert name_in_error in str(info.value)
    assert os.listdir(dest) == [] and os.listdir(outside) == []
    assert not (tmp_path / "evil.txt").exists() and not (dest.parent / "evil.txt").exists()


def test_links_inside_the_archive_are_allowed():
    check_members([tarfile.TarInfo("flower_photos/daisy/a.jpg"),
                   _sym("flower_photos/daisy/b.jpg", "a.jpg"),
                   _sym("flower_photos/rose/c.jpg", "../daisy/a.jpg"),
                   _sym("flower_photos/d.jpg", "flower_photos/daisy/a.jpg", tarfile.LNKTYPE)])


def test_cli_fetch_subprocess(served, tmp_path):
    www, url, _ = served
    _tf_archive(www / "flower_photos.tgz", tmp_path)
    dest = tmp_path / "data"
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost"}
    for var in ("http_proxy", "HTTP_PROXY"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "reglab", "data", "fetch", "--url", f"{url}/flower_photos.tgz",
         "--dest", str(dest), "--min-photos", "10"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "15 photos installed" in proc.stdout
    assert sorted(p.name for p in (dest / "flowers").iterdir()) == ["LICENSE.txt"] + KAGGLE


def test_cli_info_and_errors(synthetic_flowers, tmp_path, capsys, served):
    assert cli_main(["data", "info", "--path", str(synthetic_flowers), "--resolution", "16",
                     "16", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert str(synthetic_flowers) in out and "daisy 20" in out
    assert "train 80, validation 5, test 15" in out and "flowers(select, 80+15+5)" in out
    assert cli_main(["data", "info", "--path", str(tmp_path / "none")]) == 1
    assert "data fetch" in capsys.readouterr().err
    _, url, _ = served
    assert cli_main(["data", "fetch", "--url", f"{url}/nothing.tgz", "--dest",
                     str(tmp_path / "d")]) == 1
    assert "404" in capsys.readouterr().err

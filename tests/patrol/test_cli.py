"""The ``patrol`` command line, run as a user runs it (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _patrol(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATROL_DATA_DIR": str(data_dir)}
    env.pop("PATROL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "patrol.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_db_upgrade_creates_the_database(tmp_path):
    proc = _patrol(tmp_path, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "patrol.sqlite3").is_file() and "head" in proc.stdout


def test_import_json_reports_each_file(tmp_path, samples):
    tlog = samples / "telemetry" / "arducopter_sitl_pinghu_survey" / "survey_camera.tlog"
    proc = _patrol(tmp_path, "import", "--json", str(tlog))
    assert proc.returncode == 0, proc.stderr
    [result] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert result["path"] == str(tlog) and result["error"] is None
    assert result["messages"] > 20000 and result["bad_bytes"] == 0
    [flight] = result["flights"]
    assert set(flight) >= {"start", "end", "duration_s", "distance_m", "max_alt_rel_m"}
    assert flight["start"].endswith("+00:00") and flight["duration_s"] == pytest.approx(164, abs=2)


def test_import_of_nothing_readable_fails_naming_the_file(tmp_path):
    bad = tmp_path / "empty.tlog"
    bad.write_bytes(b"")
    proc = _patrol(tmp_path / "var", "import", str(bad))
    assert proc.returncode == 1
    assert str(bad) in proc.stdout and "ERROR" in proc.stdout


def test_import_carries_on_past_a_bad_file(tmp_path, samples):
    bad = tmp_path / "not-a-log.tlog"
    bad.write_bytes(b"this is not MAVLink" * 100)
    good = samples / "photos" / "cuav_exif_samples"
    proc = _patrol(tmp_path / "var", "import", "--json", str(bad), str(good))
    assert proc.returncode == 0, proc.stderr
    results = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["not-a-log.tlog"]["error"] and str(bad) in results["not-a-log.tlog"]["error"]
    assert results["cuav_exif_samples"]["photos"] == 2 and results["cuav_exif_samples"]["error"] is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_with_the_login_page(tmp_path):
    port = _free_port()
    env = {**os.environ, "PATROL_DATA_DIR": str(tmp_path)}
    env.pop("PATROL_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "patrol.cli", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/map", timeout=5) as response:
                    body, url = response.read().decode(), response.url
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.terminate()
                    raise AssertionError(f"console did not start: {server.communicate(timeout=10)[1][-2000:]}")
                time.sleep(0.3)
        assert url.endswith("/login?next=%2Fmap") or "/login" in url
        assert 'name="csrf_token"' in body and 'name="password"' in body
    finally:
        if server.returncode is None:
            server.terminate()
            server.communicate(timeout=10)

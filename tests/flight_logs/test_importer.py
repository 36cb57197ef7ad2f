"""``import_paths`` and ``patrol import``: the contract of one result per file, for tlogs and
DataFlash logs (GENERATED from the bundled real tlogs, see ``conftest.py``) alike."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from flight_logs.importer import import_paths
from flight_logs.models import CameraPosition, Flight, FlightEvent, LogFile, Photo, TrackPoint, Vehicle

SURVEY_TLOG = "arducopter_sitl_pinghu_survey/survey_camera.tlog"
PLANE_TLOG = "cuav_real_plane_2016/flight.tlog"
IMAGES = "cuav_sitl_plane_with_images"
LOG_KEYS = {"path", "kind", "error", "warnings", "messages", "bad_bytes", "flights", "already_imported"}
FLIGHT_KEYS = {"start", "end", "duration_s", "distance_m", "max_alt_rel_m"}


def _patrol(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATROL_DATA_DIR": str(data_dir)}
    env.pop("PATROL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "patrol.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _utc(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    assert t.utcoffset() == dt.timedelta(0), f"{text} is not UTC"
    return t


def _counts(session) -> list[int]:
    return [session.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (LogFile, Vehicle, Flight, TrackPoint, FlightEvent, CameraPosition, Photo)]


def test_json_contract_for_tlog_and_dataflash_and_reimport(tmp_path, samples, generated_logs):
    df_bin, _ = generated_logs(SURVEY_TLOG, leap_s=18)
    df_log, _ = generated_logs(PLANE_TLOG, leap_s=17, arm_source="STAT", text=True)
    tlog = samples / "telemetry" / PLANE_TLOG
    data = tmp_path / "var"
    proc = _patrol(data, "import", "--json", str(df_bin), str(df_log), str(tlog))
    assert proc.returncode == 0, proc.stderr
    results = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == {str(df_bin), str(df_log), str(tlog)}
    for r in results.values():
        assert LOG_KEYS <= set(r) and r["error"] is None and r["messages"] > 0 and not r["already_imported"]
        for f in r["flights"]:
            assert FLIGHT_KEYS <= set(f)
            assert (_utc(f["end"]) - _utc(f["start"])).total_seconds() == pytest.approx(f["duration_s"], abs=0.1)
            assert f["distance_m"] > 0 and f["max_alt_rel_m"] > 0
    assert results[str(df_bin)]["kind"] == "dataflash" and results[str(df_bin)]["form"] == "binary"
    assert results[str(df_log)]["form"] == "text" and results[str(tlog)]["kind"] == "tlog"
    (survey,) = results[str(df_bin)]["flights"]
    assert survey["duration_s"] == pytest.approx(164, abs=1) and survey["photo_count"] == 23
    # the real plane flight read from its tlog and from the DataFlash rewrite of it agree
    (from_tlog,), (from_df,) = results[str(tlog)]["flights"], results[str(df_log)]["flights"]
    assert abs((_utc(from_tlog["start"]) - _utc(from_df["start"])).total_seconds()) < 0.1
    assert from_df["distance_m"] == pytest.approx(from_tlog["distance_m"], rel=0.01)
    assert results[str(tlog)]["bad_bytes"] == 13                # the real log's two bad packets

    again = _patrol(data, "import", "--json", str(df_bin), str(df_log), str(tlog))
    assert again.returncode == 0, again.stderr
    for r in map(json.loads, again.stdout.splitlines()):
        first = results[r["path"]]
        assert r["already_imported"] and r["flights"] == first["flights"]
        assert (r["messages"], r["bad_bytes"]) == (first["messages"], first["bad_bytes"])


def test_reimport_through_import_paths_creates_nothing_new(session_factory, settings, samples, generated_logs):
    df_bin, _ = generated_logs(SURVEY_TLOG, leap_s=18)
    paths = [df_bin, samples / "telemetry" / SURVEY_TLOG]
    import_paths(session_factory, settings.data_dir, paths)
    with session_factory() as session:
        before = _counts(session)
    results = import_paths(session_factory, settings.data_dir, paths)
    assert all(r["already_imported"] for r in results)
    with session_factory() as session:
        assert _counts(session) == before


def test_folders_give_logs_before_photos(session_factory, settings, samples, generated_logs, tmp_path):
    """A folder holding a DataFlash log and photos without EXIF: the photos find the log's flight."""
    folder = tmp_path / "sortie"
    shutil.copytree(samples / "telemetry" / IMAGES / "images", folder / "images")
    df_bin, _ = generated_logs(f"{IMAGES}/flight.tlog", leap_s=18, arm_source="EV")
    shutil.copy(df_bin, folder / "generated_flight.bin")
    results = import_paths(session_factory, settings.data_dir, [folder])
    assert [(r["kind"], Path(r["path"]).name) for r in results] == [("dataflash", "generated_flight.bin"),
                                                                    ("photos", "images")]
    assert results[1]["located"] == results[1]["photos"] == 18


def test_bad_files_are_named_and_the_rest_carries_on(session_factory, settings, samples, generated_logs, tmp_path):
    jpeg = tmp_path / "photo.bin"
    jpeg.write_bytes(next((samples / "photos" / "cuav_exif_samples").glob("*.jpg")).read_bytes())
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    good, _ = generated_logs(SURVEY_TLOG, leap_s=18)
    cut = tmp_path / "cut.bin"
    data = good.read_bytes()
    cut.write_bytes(data[:len(data) * 6 // 10])
    lines: list[str] = []
    results = import_paths(session_factory, settings.data_dir, [jpeg, empty, cut], progress=lines.append)
    by_name = {Path(r["path"]).name: r for r in results}
    for name in ("photo.bin", "empty.log"):
        r = by_name[name]
        assert str(tmp_path / name) in r["error"]
        assert LOG_KEYS <= set(r) and (r["messages"], r["bad_bytes"], r["flights"]) == (0, 0, [])
    assert "not a DataFlash log" in by_name["photo.bin"]["error"] and "empty file" in by_name["empty.log"]["error"]
    r = by_name["cut.bin"]
    assert r["error"] is None and r["messages"] > 0 and len(r["flights"]) == 1
    assert any("truncated" in w and "at offset" in w for w in r["warnings"])
    text = "\n".join(lines)
    assert "cut.bin:" in text and "warning:" in text and "truncated" in text


def test_exit_status_is_nonzero_only_when_nothing_could_be_read(tmp_path, generated_logs):
    jpeg_like = tmp_path / "x.bin"
    jpeg_like.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    empty = tmp_path / "y.log"
    empty.write_bytes(b"")
    proc = _patrol(tmp_path / "var", "import", str(jpeg_like), str(empty))
    assert proc.returncode == 1
    assert f"{jpeg_like}: ERROR" in proc.stdout and f"{empty}: ERROR" in proc.stdout
    good, _ = generated_logs(SURVEY_TLOG, leap_s=18)
    proc = _patrol(tmp_path / "var", "import", "--json", str(jpeg_like), str(good))
    assert proc.returncode == 0, proc.stderr
    bad, ok = map(json.loads, proc.stdout.splitlines())
    assert bad["error"] and str(jpeg_like) in bad["error"] and ok["error"] is None

"""`patrol vision analyse` and `patrol vision detectors` through click's CliRunner, on four of the
bundled real DJI photos (two passes over the same ground)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from patrol.cli import main

SET = "brighton_beach_dji_fc300s"
FILES = ("DJI_0025.JPG", "DJI_0026.JPG", "DJI_0033.JPG", "DJI_0034.JPG")


def _run(data_dir: Path, *args: str):
    return CliRunner().invoke(main, list(args), env={"PATROL_DATA_DIR": str(data_dir)}, catch_exceptions=False)


@pytest.fixture
def archive(tmp_path, samples):
    """A data root with the four photos imported by `patrol import` (folder name = photo set)."""
    folder = tmp_path / "incoming" / SET
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copy(samples / "photos" / SET / name, folder / name)
    data_dir = tmp_path / "var"
    result = _run(data_dir, "import", str(folder), "--utc-offset-h", "-5")
    assert result.exit_code == 0, result.output
    return data_dir


def test_analyse_a_photo_set_then_skip_it(archive):
    result = _run(archive, "vision", "analyse", "--photo-set", SET, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["photos_total"] == 4 and report["photos_georeferenced"] == 4 and report["photos_analysed"] == 4
    assert report["photos_compared"] >= 1  # the second pass is compared with the first
    assert report["findings_new"] + report["findings_updated"] <= report["detections"]
    assert "recurrences" in report and report["selected"] == f"photo set(s) {SET}"

    again = _run(archive, "vision", "analyse", "--photo-set", SET)
    assert again.exit_code == 0, again.output
    assert "analysed 0" in again.output and "skipped 4" in again.output and "findings: 0 new" in again.output


def test_a_photo_that_cannot_be_read_is_named_and_the_rest_carries_on(archive):
    from flight_logs.models import Photo
    from patrol.db import make_engine

    engine = make_engine(f"sqlite:///{archive / 'patrol.sqlite3'}")
    with engine.connect() as c:
        stored = c.execute(sa.select(Photo.stored_path).where(Photo.original_name == "DJI_0034.JPG")).scalar_one()
    engine.dispose()
    (archive / stored).write_bytes(b"not a jpeg")
    result = _run(archive, "vision", "analyse", "--all", "--detectors", "colour")
    assert result.exit_code == 0, result.output
    assert "analysed 3" in result.output
    assert "(DJI_0034.JPG) [read]" in result.output


def test_nothing_to_analyse_exits_non_zero(archive, tmp_path):
    result = _run(archive, "vision", "analyse", "--photo-set", "no_such_set")
    assert result.exit_code == 1 and "no photos in the archive for photo set(s) no_such_set" in result.output

    from flight_logs.models import Photo
    from patrol.db import make_engine

    engine = make_engine(f"sqlite:///{archive / 'patrol.sqlite3'}")
    with engine.connect() as c:
        stored = c.execute(sa.select(Photo.stored_path)).scalars().all()
    engine.dispose()
    for path in stored:
        (archive / path).unlink()
    failed = _run(archive, "vision", "analyse", "--all")
    assert failed.exit_code == 1
    assert failed.output.count("[read]") == 4


def test_bad_options_are_usage_errors(archive):
    assert "say which photos" in _run(archive, "vision", "analyse").output
    unknown = _run(archive, "vision", "analyse", "--all", "--detectors", "colour,nope")
    assert unknown.exit_code == 2 and "unknown nope" in unknown.output and "registered:" in unknown.output
    bad = _run(archive, "vision", "analyse", "--all", "--ground-elevation", "setonly")
    assert bad.exit_code == 2 and "PHOTO_SET=VALUE" in bad.output
    malformed = _run(archive, "vision", "analyse", "--all", "--detector-option", "tiles-model")
    assert malformed.exit_code == 2 and "NAME.KEY=VALUE" in malformed.output
    not_run = _run(archive, "vision", "analyse", "--all", "--detector-option", "onnx.model=m.onnx")
    assert not_run.exit_code == 2 and "not among --detectors" in not_run.output


def test_detector_options_reach_the_detector(archive, tmp_path):
    missing = tmp_path / "no-such-model.json"
    result = _run(archive, "vision", "analyse", "--all", "--detectors", "tiles",
                  "--detector-option", f"tiles.model={missing}")
    assert result.exit_code == 1 and str(missing) in result.output


def test_recurrences_are_linked_when_the_console_can(archive, monkeypatch):
    import web.cases

    calls = []

    def fake_link(session, now=None, *, rules=None):
        calls.append(session)
        return []

    monkeypatch.setattr(web.cases, "link_recurrences", fake_link)
    result = _run(archive, "vision", "analyse", "--photo-set", SET, "--detectors", "colour", "--json")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    assert json.loads(result.output.strip().splitlines()[-1])["recurrences"] == {
        "available": True, "reopened": 0, "cases": []}

    monkeypatch.delattr(web.cases, "link_recurrences")
    result = _run(archive, "vision", "analyse", "--photo-set", SET, "--reanalyse", "--detectors", "colour", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["recurrences"]["available"] is False


def test_detectors_lists_categories_and_thresholds(tmp_path):
    result = _run(tmp_path, "vision", "detectors", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {"change", "colour"} <= set(listed)
    colour = listed["colour"]["categories"]
    assert colour["open_burning"]["name"] == "露天焚烧" and colour["open_burning"]["min_area_m2"] == 20.0
    assert colour["illegal_structure"]["min_score"] == 0.3
    text = _run(tmp_path, "vision", "detectors").output
    assert "change" in text and "illegal_parking" in text


def test_a_closed_case_whose_finding_was_seen_again_is_reopened(archive):
    """The finding was seen (last_seen_utc) after its case was closed: the analysis run ends by
    reopening the case through web.cases.link_recurrences and says so. A case that cannot be
    reopened (no time limit, subclass unknown) is reported and the analysis is kept."""
    import datetime as dt

    from patrol.db import make_engine, make_session_factory
    from vision.models import Finding, PhotoGeoref
    from web.models import Case

    engine = make_engine(f"sqlite:///{archive / 'patrol.sqlite3'}")
    utc = dt.timezone.utc
    with make_session_factory(engine).begin() as session:
        finding = Finding(category="exposed_garbage", status="confirmed", lat_deg=46.8426, lon_deg=-91.9945,
                          score=0.8, first_seen_utc=dt.datetime(2016, 6, 1, tzinfo=utc),
                          last_seen_utc=dt.datetime(2016, 6, 20, tzinfo=utc), seen_count=2)
        session.add(finding)
        session.flush()
        session.add(Case(code="TEST-1", finding_id=finding.id, category="exposed_garbage", status="closed",
                         lat_deg=46.8426, lon_deg=-91.9945, closed_at=dt.datetime(2016, 6, 10, tzinfo=utc),
                         time_limit=2.0, time_unit="working_days"))
        session.add(Case(code="TEST-2", finding_id=finding.id, category="not_in_the_taxonomy", status="closed",
                         lat_deg=46.8426, lon_deg=-91.9945, closed_at=dt.datetime(2016, 6, 10, tzinfo=utc)))
    result = _run(archive, "vision", "analyse", "--photo-set", SET, "--detectors", "colour")
    assert result.exit_code == 0, result.output
    assert "linking recurrences failed" in result.output and "TEST-2" in result.output
    with make_session_factory(engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PhotoGeoref)
                              .where(PhotoGeoref.analysed_at.is_not(None))) == 4  # the analysis is kept
        session.execute(sa.delete(Case).where(Case.code == "TEST-2"))
        session.commit()
    result = _run(archive, "vision", "analyse", "--photo-set", SET, "--detectors", "colour", "--reanalyse")
    assert result.exit_code == 0, result.output
    assert "closed cases reopened because their finding was seen again: 1" in result.output
    assert "case TEST-1" in result.output
    with make_session_factory(engine)() as session:
        assert session.scalar(sa.select(Case.status).where(Case.code == "TEST-1")) == "dispatched"
    engine.dispose()

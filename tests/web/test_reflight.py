"""Re-flight verification (web.reflight, POST /cases/<id>/reflight, the case page's panel):
a one-photo mission over the case point, stored as a route and linked to the case; an after
photo archived later whose footprint covers the point shows beside the before. The case is
a GENERATED row on the Duluth finding (real bundled photo); the after photo row is GENERATED
(a copy of the real photo file, as if the re-flight had taken it)."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import sqlalchemy as sa
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight_logs.models import Flight, Photo
from missions.items import MissionItem
from missions.models import Route
from patrol.db import utcnow
from vision.models import Finding
from web.errors import WebError, WorkflowError
from web.models import AuditEvent, Case, CaseEvent, User
from web.models_reflight import Reflight
from web.reflight import match_after_photo, plan_reflight, request_reflight, verification_statuses

from .conftest import T0

H = dt.timedelta(hours=1)


def _square(lon, lat, half):
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


@pytest.fixture
def case_id(world, session_factory):
    """A GENERATED case of the Duluth finding waiting for verification; the finding's photo
    was taken on a flight that took off from a dock 300 m away."""
    waiting = sorted(verification_statuses())[0]
    with session_factory.begin() as s:
        finding = s.get(Finding, world.findings["duluth"])
        finding.status = "confirmed"
        flight = s.get(Flight, world.flight_id)
        flight.home_lon_deg, flight.home_lat_deg = finding.lon_deg + 0.003, finding.lat_deg
        s.get(Photo, world.photo_id).flight_id = flight.id
        case = Case(code="R-1", finding_id=finding.id, category="exposed_garbage",
                    status=waiting, squad_id=world.squads["duluth"], lat_deg=finding.lat_deg,
                    lon_deg=finding.lon_deg, created_at=T0, filed_at=T0, dispatched_at=T0,
                    deadline_utc=T0 + 4 * H)
        s.add(case)
        s.flush()
        return case.id


def _items(route: Route) -> list[MissionItem]:
    return [MissionItem.from_dict(d) for d in route.items]


def _capture_point(items: list[MissionItem]) -> tuple[MissionItem, int]:
    captures = [i for i, it in enumerate(items)
                if it.command == mavlink.MAV_CMD_IMAGE_START_CAPTURE]
    assert len(captures) == 1, "exactly one capture"
    k = captures[0]
    assert items[k].param3 == 1, "one image"
    nav = [it for it in items[:k] if it.has_position]
    return nav[-1], k


def test_waiting_status_comes_from_the_workflow():
    assert verification_statuses() == {"handled"}


def test_request_makes_a_one_photo_route(case_id, session_factory, settings):
    with session_factory.begin() as s:
        case = s.get(Case, case_id)
        sup = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        reflight = request_reflight(s, case, sup, data_dir=settings.data_dir, alt_rel_m=35.0,
                                    note="is it gone?")
        rid, route_id = reflight.id, reflight.route_id
    with session_factory() as s:
        route = s.get(Route, route_id)
        items = _items(route)
        case = s.get(Case, case_id)
        nav, _ = _capture_point(items)
        assert nav.command == mavlink.MAV_CMD_NAV_WAYPOINT
        assert (nav.lat_deg, nav.lon_deg) == pytest.approx((case.lat_deg, case.lon_deg), abs=1e-7)
        assert nav.alt_m == 35.0
        assert items[0].lon_deg == pytest.approx(case.lon_deg + 0.003), "home: the dock"
        assert items[-1].command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
        assert route.stats["photo_count"] == 1 and route.name == "re-flight R-1 #1"
        assert (settings.data_dir / route.plan_path).is_file()
        assert (settings.data_dir / route.waypoints_path).is_file()
        assert route.fence["features"], "a geofence around the flight"
        reflight = s.get(Reflight, rid)
        assert (reflight.case_id, reflight.mode, reflight.alt_rel_m) == (case_id, "waypoint", 35.0)
        event = s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)).one()
        assert event.from_status == event.to_status == case.status
        assert event.note == "is it gone?", "the person's note; the request itself is data"
        assert event.data == {"route_id": route_id, "mode": "waypoint", "alt_rel_m": 35.0}
        audit = s.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.reflight")).one()
        assert audit.data["route_id"] == route_id


def test_orbit_mode_points_the_camera_at_the_case(case_id, session_factory, settings):
    with session_factory.begin() as s:
        case = s.get(Case, case_id)
        sup = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        route_id = request_reflight(s, case, sup, data_dir=settings.data_dir, mode="orbit").route_id
    with session_factory() as s:
        route, case = s.get(Route, route_id), s.get(Case, case_id)
        roi = [it for it in _items(route) if it.command == mavlink.MAV_CMD_DO_SET_ROI_LOCATION]
        assert [(r.lat_deg, r.lon_deg) for r in roi] == [pytest.approx((case.lat_deg, case.lon_deg))]
        assert route.pattern == "orbit" and route.stats["photo_count"] == 1


def test_plan_without_a_dock_flies_to_the_point():
    plan = plan_reflight(121.0185, 30.7005, alt_rel_m=40.0)
    nav, k = _capture_point(plan.items)
    assert k >= 3 and nav.command == mavlink.MAV_CMD_NAV_WAYPOINT
    assert (nav.lon_deg, nav.lat_deg) == pytest.approx((121.0185, 30.7005))


def test_altitude_over_the_ceiling_is_refused():
    with pytest.raises(WebError, match="ceiling of 120.0 m"):
        plan_reflight(121.0185, 30.7005, alt_rel_m=150.0)
    with pytest.raises(WebError, match="mode"):
        plan_reflight(121.0185, 30.7005, alt_rel_m=40.0, mode="spiral")


def test_only_at_verification_and_by_supervisors(case_id, session_factory, settings):
    with session_factory() as s:
        case = s.get(Case, case_id)
        officer = s.scalars(sa.select(User).where(User.username == "officer")).one()
        with pytest.raises(WorkflowError, match="may not ask for a re-flight"):
            request_reflight(s, case, officer, data_dir=settings.data_dir)
        sup = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        case.status = "dispatched"
        with pytest.raises(WorkflowError, match="during verification"):
            request_reflight(s, case, sup, data_dir=settings.data_dir)
        s.rollback()


def _after_photo(s, settings, case, *, taken, covers=True, name="after.jpg"):
    """A GENERATED photo row as the re-flight's import would leave it (the real sample
    image copied as its file), footprint around the case point or 100 m east of it."""
    stored = f"raw/photo/test/{name}"
    shutil.copyfile(settings.data_dir / "raw/photo/test/dji_0018.jpg", settings.data_dir / stored)
    lon = case.lon_deg if covers else case.lon_deg + 0.0015
    photo = Photo(sha256=name.ljust(64, "0")[:64], stored_path=stored, original_name=name,
                  photo_set="reflight (generated)", taken_utc=taken, lat_deg=case.lat_deg,
                  lon_deg=lon, position_source="exif", footprint=_square(lon, case.lat_deg, 0.0003))
    s.add(photo)
    s.flush()
    return photo


def test_after_photo_matching(case_id, session_factory, settings):
    requested = utcnow()
    with session_factory.begin() as s:
        case = s.get(Case, case_id)
        sup = s.scalars(sa.select(User).where(User.username == "supervisor")).one()
        rid = request_reflight(s, case, sup, data_dir=settings.data_dir, now=requested).id
        _after_photo(s, settings, case, taken=requested - H, name="before-request.jpg")
        _after_photo(s, settings, case, taken=requested + H, covers=False, name="elsewhere.jpg")
    with session_factory.begin() as s:
        assert match_after_photo(s, s.get(Reflight, rid)) is None
        good = _after_photo(s, settings, s.get(Case, case_id), taken=requested + 2 * H)
        good_id = good.id
    with session_factory.begin() as s:
        reflight = s.get(Reflight, rid)
        assert match_after_photo(s, reflight).id == good_id
    with session_factory() as s:
        assert s.get(Reflight, rid).after_photo_id == good_id, "stored once found"


# ------------------------------------------------------------------ the console
def test_request_from_the_case_page_then_before_and_after(case_id, client, auth, session_factory,
                                                         settings, world):
    auth.login("supervisor")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="reflight-form"' in page and 'id="before-after"' not in page

    response = client.post(f"/cases/{case_id}/reflight", data={"mode": "waypoint",
                                                                "alt_rel_m": "30"})
    assert response.status_code == 303
    with session_factory() as s:
        reflight = s.scalars(sa.select(Reflight).where(Reflight.case_id == case_id)).one()
        route = s.get(Route, reflight.route_id)
        nav, _ = _capture_point(_items(route))
        assert nav.alt_m == 30.0
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="before-after"' in page and 'id="before-image"' in page
    assert world.evidence_path in page, "before: the finding's evidence crop"
    assert 'id="after-waiting"' in page and 'id="after-image"' not in page
    assert f"/planning/routes/{route.id}" in page
    assert f"Re-flight requested: route {route.id} (waypoint, 30 m)" in page, "history, in English"
    chinese = client.get(f"/cases/{case_id}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert f"已申请复飞：航线 {route.id}（单航点，30 米）" in chinese

    # the re-flight is flown and its photo archived (GENERATED row)
    with session_factory.begin() as s:
        photo = _after_photo(s, settings, s.get(Case, case_id),
                             taken=utcnow() + dt.timedelta(minutes=5))
        stored = photo.stored_path
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="after-image"' in page and f"/files/{stored}" in page
    assert 'id="before-image"' in page

    # and the evidence package carries both
    import io
    import zipfile

    zf = zipfile.ZipFile(io.BytesIO(client.get(f"/exports/cases/{case_id}/evidence.zip").data))
    manifest = json.loads(zf.read("manifest.json"))
    assert sorted(p["role"] for p in manifest["photos"]) == ["after", "before"]
    assert manifest["reflights"][0]["route_id"] == route.id


def test_page_refuses_bad_requests(case_id, client, auth):
    auth.login("supervisor")
    assert client.post(f"/cases/{case_id}/reflight", data={"mode": "spiral"}).status_code == 400
    response = client.post(f"/cases/{case_id}/reflight", data={"alt_rel_m": "500"},
                           follow_redirects=True)
    assert "ceiling" in response.get_data(as_text=True)
    assert client.post("/cases/999/reflight", data={}).status_code == 404
    auth.logout()
    auth.login("officer")
    assert client.post(f"/cases/{case_id}/reflight", data={}).status_code == 403


def test_no_form_outside_verification(case_id, client, auth, session_factory):
    with session_factory.begin() as s:
        s.get(Case, case_id).status = "dispatched"
    auth.login("supervisor")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="reflight-form"' not in page and 'id="evidence-package"' in page


# ------------------------------------------------------------------ PostgreSQL
def test_reflight_and_evidence_on_postgresql(pg_url, tmp_path):
    """The same queries on PostgreSQL (JSON columns have no equality there: no DISTINCT over
    photos); rows GENERATED."""
    from patrol.db import make_engine, make_session_factory, upgrade
    from vision.models import Detection
    from web.exports import evidence_manifest
    from web.reflight import before_photos

    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        factory = make_session_factory(engine)
        lon, lat = 121.0185, 30.7005
        with factory.begin() as s:
            sup = User(username="sup", password_hash="x", role="supervisor")
            photo = Photo(sha256="a" * 64, stored_path="raw/photo/a.jpg", original_name="a.jpg",
                          photo_set="pg (generated)", taken_utc=T0, lat_deg=lat, lon_deg=lon,
                          footprint=_square(lon, lat, 0.0003))
            finding = Finding(category="exposed_garbage", lat_deg=lat, lon_deg=lon, score=0.9,
                              status="confirmed", polygon=_square(lon, lat, 0.00002))
            s.add_all([sup, photo, finding])
            s.flush()
            for _ in range(2):  # two detections in the same photo
                s.add(Detection(photo_id=photo.id, finding_id=finding.id, detector="t",
                                category="exposed_garbage", score=0.9, bbox_px=[0, 0, 1, 1],
                                lat_deg=lat, lon_deg=lon))
            case = Case(code="PG-1", finding_id=finding.id, category="0102", status="handled",
                        lat_deg=lat, lon_deg=lon, created_at=T0, filed_at=T0)
            s.add(case)
            s.flush()
            assert [p.id for p in before_photos(s, finding.id)] == [photo.id]
            reflight = request_reflight(s, case, sup, data_dir=tmp_path, now=T0 + H)
            after = _after_photo_row(s, case, T0 + 2 * H)
            assert match_after_photo(s, reflight).id == after.id
            manifest, files = evidence_manifest(s, case)
            assert sorted(p["role"] for p in manifest["photos"]) == ["after", "before"]
            assert len(manifest["detections"]) == 2 and len(files) == 2
    finally:
        engine.dispose()


def _after_photo_row(s, case, taken):
    photo = Photo(sha256="b" * 64, stored_path="raw/photo/b.jpg", original_name="b.jpg",
                  photo_set="pg (generated)", taken_utc=taken, lat_deg=case.lat_deg,
                  lon_deg=case.lon_deg, footprint=_square(case.lon_deg, case.lat_deg, 0.0003))
    s.add(photo)
    s.flush()
    return photo

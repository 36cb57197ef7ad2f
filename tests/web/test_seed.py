"""Squads from the jurisdictions file, users with hashed passwords, the demo's people."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from shapely.geometry import shape
from werkzeug.security import check_password_hash

from web.errors import WebError
from web.models import Squad, User
from web.seed import DEMO_USERS, create_user, load_squads, seed_demo_users

from .conftest import DEMO_SQUADS


def _features(path=DEMO_SQUADS) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def test_load_squads_reads_the_demo_file(session):
    squads = load_squads(session, DEMO_SQUADS)
    session.commit()
    features = _features()
    assert [s.name for s in squads] == [f["properties"]["name"] for f in features]
    assert [s.site for s in squads] == [f["properties"]["site"] for f in features]
    for squad, feature in zip(squads, features):
        assert shape(squad.jurisdiction).equals(shape(feature["geometry"]))
        assert "name" not in squad.properties and "site" not in squad.properties
        assert squad.properties["source"] == feature["properties"]["source"]


def test_load_squads_upserts_by_name(session, tmp_path):
    first = {s.name: s.id for s in load_squads(session, DEMO_SQUADS)}
    doc = json.loads(DEMO_SQUADS.read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["site"] = "Pinghu old town"
    changed = tmp_path / "squads.geojson"
    changed.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    again = load_squads(session, changed)
    session.commit()
    assert {s.name: s.id for s in again} == first
    assert session.scalar(sa.select(sa.func.count()).select_from(Squad)) == len(first)
    assert again[0].site == "Pinghu old town"


def _write(tmp_path, features) -> str:
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_bad_squad_features_are_all_named_and_nothing_is_loaded(session, tmp_path):
    good = _features()[0]
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    path = _write(tmp_path, [
        good,
        {"type": "Feature", "properties": {"site": "X"}, "geometry": good["geometry"]},
        {"type": "Feature", "properties": {"name": "b", "site": "X"},
         "geometry": {"type": "Point", "coordinates": [121.0, 30.7]}},
        {"type": "Feature", "properties": {"name": "c", "site": "X"}, "geometry": bowtie},
        {"type": "Feature", "properties": {"name": "d", "site": "X"},
         "geometry": {"type": "Polygon", "coordinates": [[[30.7, 121], [30.8, 121],
                                                          [30.8, 122], [30.7, 121]]]}},
    ])
    with pytest.raises(WebError) as err:
        load_squads(session, path)
    message = str(err.value)
    assert str(path) in message
    assert "feature 1: properties.name" in message
    assert "feature 2: geometry is 'Point'" in message
    assert "feature 3: invalid polygon: Self-intersection" in message
    assert "feature 4: coordinates outside WGS84" in message
    assert "feature 0" not in message
    assert session.scalar(sa.select(sa.func.count()).select_from(Squad)) == 0


def test_duplicate_squad_names_are_refused(session, tmp_path):
    good = _features()[0]
    with pytest.raises(WebError, match="appears twice"):
        load_squads(session, _write(tmp_path, [good, good]))


@pytest.mark.parametrize("text, message", [
    ("not json", "cannot read the squads GeoJSON"),
    ('{"type": "Feature"}', "expected a GeoJSON FeatureCollection"),
])
def test_unreadable_squads_file(session, tmp_path, text, message):
    path = tmp_path / "squads.geojson"
    path.write_text(text)
    with pytest.raises(WebError, match=message):
        load_squads(session, path)


def test_create_user_stores_a_salted_hash(session):
    a = create_user(session, "alice", "correct horse", "supervisor", display_name="Alice")
    b = create_user(session, "bob", "correct horse", "operator")
    assert "correct horse" not in a.password_hash
    assert a.password_hash != b.password_hash, "salted"
    assert check_password_hash(a.password_hash, "correct horse")
    assert not check_password_hash(a.password_hash, "correct horse!")
    assert (a.role, a.display_name, a.active, a.squad) == ("supervisor", "Alice", True, None)


def test_create_user_refuses_bad_users(session):
    squad = load_squads(session, DEMO_SQUADS)[0]
    create_user(session, "carol", "pw", "officer", squad=squad)
    with pytest.raises(WebError, match="exists already"):
        create_user(session, "carol", "pw2", "admin")
    with pytest.raises(WebError, match="unknown role 'boss'"):
        create_user(session, "dave", "pw", "boss")
    with pytest.raises(WebError, match="needs a squad"):
        create_user(session, "erin", "pw", "officer")
    with pytest.raises(WebError, match="empty password"):
        create_user(session, "frank", "", "admin")


def test_seed_demo_users_puts_the_officer_in_danghu(session):
    load_squads(session, DEMO_SQUADS)
    logins = seed_demo_users(session)
    session.commit()
    assert logins == [(u, p, r) for u, p, r, _, _ in DEMO_USERS]
    assert {r for _, _, r in logins} == {"admin", "operator", "supervisor", "officer"}  # each role
    users = {u.username: u for u in session.scalars(sa.select(User))}
    for username, password, role in logins:
        assert users[username].role == role
        assert check_password_hash(users[username].password_hash, password)
    assert "当湖" in users["officer"].squad.name
    assert all(users[u].squad is None for u in ("admin", "operator", "supervisor"))
    squads = set(session.scalars(sa.select(Squad.id)))
    assert {u.squad_id for u in users.values() if u.role == "officer"} == squads


def test_seed_demo_users_again_resets_rather_than_duplicates(session):
    load_squads(session, DEMO_SQUADS)
    seed_demo_users(session)
    officer = session.scalars(sa.select(User).where(User.username == "officer")).one()
    officer.role, officer.active = "operator", False
    seed_demo_users(session)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == len(DEMO_USERS)
    assert (officer.role, officer.active) == ("officer", True)


def test_seed_demo_users_needs_the_squads(session):
    with pytest.raises(WebError, match="load web/data/demo_squads.geojson first"):
        seed_demo_users(session)

"""Squads from a jurisdictions file, console users, and the demo's people.

Functions take a ``session`` and never commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from web.errors import WebError
from web.models import ROLES, Squad, User

__all__ = ["DEMO_USERS", "create_user", "load_squads", "seed_demo_users"]

DEMO_USERS = (
    # username, password, role, squad name contains (officers only), display name
    ("admin", "admin-demo", "admin", None, "Demo administrator"),
    ("operator", "operator-demo", "operator", None, "Demo drone operator"),
    ("supervisor", "supervisor-demo", "supervisor", None, "Demo supervisor"),
    ("officer", "officer-demo", "officer", "当湖", "Demo officer, 当湖 squad"),
    ("officer-zhongdai", "officer-zhongdai-demo", "officer", "钟埭", "Demo officer, 钟埭 squad"),
    ("officer-duluth", "officer-duluth-demo", "officer", "Duluth", "Demo officer, Duluth parks"),
    ("officer-cleveland", "officer-cleveland-demo", "officer", "Cleveland", "Demo officer, Cleveland parks"),
    ("officer-canberra", "officer-canberra-demo", "officer", "Canberra", "Demo officer, Canberra test range"),
)
"""The demo's logins (generated, printed by ``patrol demo``); never use them in production."""


def _read_features(path: Path) -> list[dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebError(f"{path}: cannot read the squads GeoJSON: {err}") from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise WebError(f"{path}: expected a GeoJSON FeatureCollection of squad jurisdictions")
    features = doc.get("features")
    if not isinstance(features, list):
        raise WebError(f"{path}: 'features' is not a list")
    return features


def _check_feature(feature: object) -> str | None:
    """What is wrong with one squad feature, or None."""
    if not isinstance(feature, dict):
        return "not a GeoJSON Feature object"
    props = feature.get("properties") or {}
    if not str(props.get("name") or "").strip():
        return "properties.name (the squad's name) is missing"
    if not str(props.get("site") or "").strip():
        return "properties.site is missing"
    geometry = feature.get("geometry") or {}
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return f"geometry is {geometry.get('type')!r}, not a Polygon or MultiPolygon"
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as err:
        return f"bad geometry: {err}"
    if geom.is_empty or not geom.is_valid:
        return f"invalid polygon: {shapely.is_valid_reason(geom)}"
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return f"coordinates outside WGS84 longitude/latitude ranges: bounds {geom.bounds}"
    return None


def load_squads(session: Session, geojson_path: Path | str) -> list[Squad]:
    """Create or update (by name) the squads of a GeoJSON FeatureCollection.

    Each Feature is one squad: ``properties.name`` (unique), ``properties.site``, and the
    jurisdiction as its (Multi)Polygon geometry in WGS84; the other properties are kept in
    ``Squad.properties``. The whole file is checked before anything changes.

    Returns
    -------
    list of Squad
        In file order.

    Raises
    ------
    WebError
        If the file cannot be read, is not a FeatureCollection, or any feature lacks a name or
        site or has no valid (Multi)Polygon; the message names the file and every bad feature.
    """
    path = Path(geojson_path)
    features = _read_features(path)
    problems = [f"feature {i}: {why}" for i, f in enumerate(features)
                if (why := _check_feature(f)) is not None]
    names = [str(f["properties"]["name"]).strip() for f in features] if not problems else []
    problems += [f"squad name {n!r} appears twice" for n in sorted(set(names))
                 if names.count(n) > 1]
    if problems:
        raise WebError(f"{path}: " + "; ".join(problems))
    existing = {s.name: s for s in session.scalars(sa.select(Squad).where(Squad.name.in_(names)))}
    squads = []
    for name, feature in zip(names, features):
        props = dict(feature["properties"])
        props.pop("name")
        site = str(props.pop("site")).strip()
        squad = existing.get(name) or Squad(name=name)
        squad.site = site
        squad.jurisdiction = feature["geometry"]
        squad.properties = props
        session.add(squad)
        squads.append(squad)
    session.flush()
    return squads


def _hash(password: str) -> str:
    if not password:
        raise WebError("empty password")
    return generate_password_hash(password)


def create_user(session: Session, username: str, password: str, role: str, *,
                squad: Squad | None = None, display_name: str = "") -> User:
    """Add a console user with a salted password hash (werkzeug's default, scrypt).

    Raises
    ------
    WebError
        If the username is empty or taken, the role is not one of :data:`web.models.ROLES`,
        the password is empty, or an officer has no squad.
    """
    username = username.strip()
    if not username:
        raise WebError("empty username")
    if role not in ROLES:
        raise WebError(f"user {username!r}: unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "officer" and squad is None:
        raise WebError(f"officer {username!r} needs a squad")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise WebError(f"user {username!r} exists already")
    user = User(username=username, password_hash=_hash(password), role=role, squad=squad,
                display_name=display_name, active=True)
    session.add(user)
    session.flush()
    return user


def seed_demo_users(session: Session) -> list[tuple[str, str, str]]:
    """Create or reset the demo's users (:data:`DEMO_USERS`): admin, operator, supervisor and
    one officer for each demo squad, so every demo finding's case can be handled.

    Officers join the squad whose name contains their match (``officer``: 当湖), so load the demo squads
    (``web/data/demo_squads.geojson``) first. Running it again resets their passwords, roles
    and squads.

    Returns
    -------
    list of (username, password, role)
        For the demo to print.

    Raises
    ------
    WebError
        If the officer's squad is not in the database.
    """
    logins = []
    for username, password, role, squad_match, display_name in DEMO_USERS:
        squad = None
        if squad_match is not None:
            squad = session.scalars(sa.select(Squad).where(Squad.name.contains(squad_match))
                                    .order_by(Squad.id)).first()
            if squad is None:
                raise WebError(f"demo user {username!r}: no squad named like {squad_match!r}; "
                               "load web/data/demo_squads.geojson first")
        user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
        if user is None:
            create_user(session, username, password, role, squad=squad, display_name=display_name)
        else:
            user.password_hash = _hash(password)
            user.role, user.squad, user.display_name, user.active = role, squad, display_name, True
        logins.append((username, password, role))
    session.flush()
    return logins

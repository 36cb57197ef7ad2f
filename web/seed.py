"""Squads from a jurisdictions file, unit grids, console users, and the demo's people and
places (generated grids and merchants).

Functions take a ``session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import shapely
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from patrol.db import utcnow
from web.accounts import hash_password
from web.errors import WebError
from web.models import ROLES, Grid, Squad, User
from web.places import grid_cells, import_grids, import_squads

__all__ = ["DATA_DIR", "DEMO_USERS", "create_user", "generate_demo_grids",
           "generate_demo_merchants", "load_grids", "load_squads", "seed_demo_places",
           "seed_demo_users"]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""The demo's data files: ``demo_squads.geojson``, ``demo_grids.geojson`` (generated),
``demo_merchants.geojson`` (generated)."""

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


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise WebError(f"{path}: cannot read the {what} GeoJSON: {err.strerror or err}") from err


def load_squads(session: Session, geojson_path: Path | str) -> list[Squad]:
    """Create or update (by name) the squads of a GeoJSON FeatureCollection file.

    Each Feature is one squad: ``properties.name`` (unique), ``properties.site``, and the
    jurisdiction as its (Multi)Polygon geometry in WGS84; the other properties are kept in
    ``Squad.properties``. The whole file is checked before anything changes
    (:func:`web.places.import_squads`).

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
    return import_squads(session, _read(path, "squads"), source=str(path))


def load_grids(session: Session, geojson_path: Path | str) -> list[Grid]:
    """Create or update (by code) the unit grids of a GeoJSON FeatureCollection file
    (:func:`web.places.import_grids`: ``properties.code``, ``name``, ``squad``).

    Raises
    ------
    WebError
        If the file cannot be read or any grid is bad (outside its squad, overlapping,
        unknown squad...); the message names the file and every bad feature.
    """
    path = Path(geojson_path)
    return import_grids(session, _read(path, "grids"), source=str(path))


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
        raise WebError(_("empty username"))
    if role not in ROLES:
        raise WebError(_("user %(name)r: unknown role %(role)r; roles: %(roles)s", name=username,
                         role=role, roles=", ".join(ROLES)))
    if role == "officer" and squad is None:
        raise WebError(_("officer %(name)r needs a squad", name=username))
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise WebError(_("user %(name)r exists already", name=username))
    user = User(username=username, password_hash=hash_password(password), role=role, squad=squad,
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
            user.password_hash = hash_password(password)
            user.role, user.squad, user.display_name, user.active = role, squad, display_name, True
        logins.append((username, password, role))
    session.flush()
    return logins


# --- the demo's places: generated grids and merchants ------------------------------------------

DEMO_GRID_CELLS = (
    # squad name contains, code prefix, short name, cell size (m)
    ("当湖", "PH-DH", "当湖 Danghu", 500.0),
    ("钟埭", "PH-ZD", "钟埭 Zhongdai", 500.0),
    ("Duluth", "DL-BB", "Duluth Brighton Beach", 200.0),
    ("Cleveland", "CL-GP", "Cleveland Garfield Park", 200.0),
    ("Canberra", "CB-TR", "Canberra test range", 700.0),
)
"""How :func:`generate_demo_grids` cuts each demo squad into cells."""

DEMO_STREET = ((121.0160, 30.7021), (121.0215, 30.7021))
"""The generated shop street of the demo merchants (当湖, Pinghu old town), WGS84."""


def generate_demo_grids(squads_doc: dict) -> dict:
    """The demo's unit grids (generated): each demo squad cut into square cells
    (:data:`DEMO_GRID_CELLS`, :func:`web.places.grid_cells`), coded ``<prefix>-RRCC`` (row
    from the south, column from the west) and named ``"<squad> grid RRCC (generated)"``.

    ``web/data/demo_grids.geojson`` is this function's output for ``demo_squads.geojson``.
    """
    features = []
    for feature in squads_doc["features"]:
        name = feature["properties"]["name"]
        spec = next((s for s in DEMO_GRID_CELLS if s[0] in name), None)
        if spec is None:
            continue
        _match, prefix, short, cell_m = spec
        for row, col, polygon in grid_cells(feature["geometry"], cell_m):
            features.append({"type": "Feature", "properties": {
                "code": f"{prefix}-{row:02d}{col:02d}",
                "name": f"{short} grid {row:02d}{col:02d} (generated)",
                "squad": name, "cell_m": cell_m, "source": "generated"},
                "geometry": polygon})
    return {"type": "FeatureCollection",
            "name": "drone-patrol demo unit grids (generated: regular cells inside the demo "
                    "squads' jurisdictions, web.seed.generate_demo_grids)",
            "features": features}


def generate_demo_merchants(count: int = 8) -> dict:
    """The demo's merchants (generated): ``count`` shops along :data:`DEMO_STREET`, each with
    a shopfront zone 15 m along the street and 8 m deep on its north side, a placeholder
    mobile number (the default gateway sends nothing), and for some a generated violation
    history (``properties.demo_violation_days_ago``) so the list shows all three colours.

    ``web/data/demo_merchants.geojson`` is this function's output.
    """
    from shapely.geometry import LineString, box as shp_box

    from patrol.geodesy import LocalProjection
    from web.places import to_geojson

    proj = LocalProjection.for_point(*DEMO_STREET[0])
    street = proj.project(LineString(DEMO_STREET))
    (x0, y0), (x1, _y1) = street.coords
    histories = {2: [12, 9, 3], 4: [26, 20, 12, 6, 2], 6: [70, 65, 61], 7: [50, 5]}
    features = []
    for i in range(count):
        left = x0 + 10.0 + i * 20.0
        if left + 15.0 > x1:
            break
        zone = proj.unproject(shp_box(left, y0 + 1.0, left + 15.0, y0 + 9.0))
        features.append({"type": "Feature", "properties": {
            "name": f"演示商铺{i + 1:02d} Demo shop {i + 1:02d} (generated)",
            "address": f"当湖街道 演示街 {2 * i + 1} 号 (generated)",
            "contact_name": f"店主{i + 1:02d} (generated)",
            "contact_number": f"1380013{8000 + i:04d}",
            "note": "generated demo merchant; the number is a placeholder",
            "demo_violation_days_ago": histories.get(i + 1, []),
            "source": "generated"},
            "geometry": to_geojson(shapely.set_precision(zone, 1e-7))})
    return {"type": "FeatureCollection",
            "name": "drone-patrol demo merchants (generated, web.seed.generate_demo_merchants)",
            "features": features}


def seed_demo_places(session: Session, *, now: dt.datetime | None = None,
                     data_dir: Path = DATA_DIR) -> dict[str, int]:
    """Load the demo's unit grids (``demo_grids.geojson``) and merchants
    (``demo_merchants.geojson``), both generated, into the demo squads (load
    ``demo_squads.geojson`` first). Merchants with ``demo_violation_days_ago`` get those
    violations (marked generated) and their colour history; running it again updates rather
    than duplicates.

    Returns
    -------
    dict
        ``{"grids": n, "merchants": n, "violations": n}`` loaded.

    Raises
    ------
    WebError
        If a file is unreadable or a grid does not fit its squad (squads not loaded).
    """
    from web.merchants import import_merchants, update_colours
    from web.models_merchants import Merchant, MerchantViolation

    now = now or utcnow()
    grids = load_grids(session, data_dir / "demo_grids.geojson")
    path = data_dir / "demo_merchants.geojson"
    merchants = import_merchants(session, _read(path, "merchants"), source=str(path),
                                 now=now - dt.timedelta(days=90))
    violations = 0
    for merchant in merchants:
        days = merchant.properties.get("demo_violation_days_ago") or []
        have = session.scalar(sa.select(sa.func.count()).select_from(MerchantViolation)
                              .where(MerchantViolation.merchant_id == merchant.id))
        if have or not days:
            continue
        for d in days:
            session.add(MerchantViolation(merchant_id=merchant.id, category="street_vending",
                                          at=now - dt.timedelta(days=float(d)),
                                          note="generated demo history"))
            violations += 1
    session.flush()
    update_colours(session, now, merchants=session.scalars(
        sa.select(Merchant).where(Merchant.id.in_([m.id for m in merchants]))))
    return {"grids": len(grids), "merchants": len(merchants), "violations": violations}

"""Geodesy helpers: WGS84 <-> UTM projection, geodesic distances, GCJ-02 conversion.

Coordinates are stored WGS84 (EPSG:4326, longitude/latitude in degrees). Shapely is
Cartesian, so areas, buffers and spacings are computed in the UTM zone of the data
(metres), through :class:`LocalProjection`; distances between fixes come from the WGS84
ellipsoid (:func:`distance_m`, pyproj's ``Geod.inv``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry
import shapely

__all__ = [
    "WGS84",
    "LocalProjection",
    "distance_m",
    "path_length_m",
    "utm_epsg",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
]

WGS84 = Geod(ellps="WGS84")


def utm_epsg(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the WGS84 UTM zone holding a point (326zz north, 327zz south).

    >>> utm_epsg(121.0185, 30.7005)
    32651
    >>> utm_epsg(149.16, -35.36)
    32755
    """
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"not a WGS84 position: lon {lon_deg}, lat {lat_deg}")
    zone = min(int((lon_deg + 180.0) // 6.0) + 1, 60)
    return (32600 if lat_deg >= 0 else 32700) + zone


@lru_cache(maxsize=64)
def _transformers(epsg: int) -> tuple[Transformer, Transformer]:
    crs = CRS.from_epsg(epsg)
    return (
        Transformer.from_crs("EPSG:4326", crs, always_xy=True),
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
    )


@dataclass(frozen=True)
class LocalProjection:
    """Forward and inverse UTM projection for the zone of a reference point.

    Parameters
    ----------
    epsg : int
        EPSG code of the projected CRS (metres, x east, y north).

    Examples
    --------
    >>> proj = LocalProjection.for_point(121.0185, 30.7005)
    >>> x, y = proj.to_xy(121.0185, 30.7005)
    >>> lon, lat = proj.to_lonlat(x + 100.0, y)
    >>> round(distance_m(121.0185, 30.7005, lon, lat), 1)
    100.0
    """

    epsg: int
    _fwd: Transformer = field(init=False, repr=False, compare=False)
    _inv: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fwd, inv = _transformers(self.epsg)
        object.__setattr__(self, "_fwd", fwd)
        object.__setattr__(self, "_inv", inv)

    @classmethod
    def for_point(cls, lon_deg: float, lat_deg: float) -> "LocalProjection":
        """The projection of the UTM zone holding (``lon_deg``, ``lat_deg``)."""
        return cls(utm_epsg(lon_deg, lat_deg))

    @classmethod
    def for_geometry(cls, geom_wgs84: BaseGeometry) -> "LocalProjection":
        """The projection of the UTM zone holding the centroid of a WGS84 geometry."""
        c = geom_wgs84.centroid
        return cls.for_point(c.x, c.y)

    def to_xy(self, lon_deg, lat_deg):
        """WGS84 degrees -> projected metres (scalars or arrays)."""
        return self._fwd.transform(lon_deg, lat_deg)

    def to_lonlat(self, x_m, y_m):
        """Projected metres -> WGS84 degrees (scalars or arrays)."""
        return self._inv.transform(x_m, y_m)

    def project(self, geom_wgs84: BaseGeometry) -> BaseGeometry:
        """A shapely geometry in WGS84 -> the same geometry in projected metres."""
        return shapely.transform(geom_wgs84, self._fwd.transform, interleaved=False)

    def unproject(self, geom_xy: BaseGeometry) -> BaseGeometry:
        """A shapely geometry in projected metres -> WGS84 degrees."""
        return shapely.transform(geom_xy, self._inv.transform, interleaved=False)


def distance_m(lon1_deg: float, lat1_deg: float, lon2_deg: float, lat2_deg: float) -> float:
    """Geodesic distance in metres between two WGS84 points (``Geod.inv``).

    >>> round(distance_m(121.0, 30.0, 121.0, 30.001), 2)
    110.85
    """
    return float(WGS84.inv(lon1_deg, lat1_deg, lon2_deg, lat2_deg)[2])


def path_length_m(lonlat_deg: Sequence[tuple[float, float]] | np.ndarray) -> float:
    """Geodesic length in metres of a WGS84 polyline given as (lon, lat) pairs."""
    pts = np.asarray(lonlat_deg, dtype=float)
    if len(pts) < 2:
        return 0.0
    return float(WGS84.line_length(pts[:, 0], pts[:, 1]))


# GCJ-02 ("Mars coordinates") is the obfuscated datum of Chinese web maps. Its forward
# transform is the widely published reverse-engineered formula (see for example the
# eviltransform and coordtransform projects); Krasovsky 1940 ellipsoid constants.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _GCJ_EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon_deg: float, lat_deg: float) -> tuple[float, float]:
    """WGS84 -> GCJ-02 (degrees); identity outside China."""
    if _out_of_china(lon_deg, lat_deg):
        return lon_deg, lat_deg
    dlon, dlat = _gcj_delta(lon_deg, lat_deg)
    return lon_deg + dlon, lat_deg + dlat


def gcj02_to_wgs84(lon_deg: float, lat_deg: float, *, tol_deg: float = 1e-9) -> tuple[float, float]:
    """GCJ-02 -> WGS84 (degrees) by fixed-point iteration of the forward transform.

    Converges to better than ``tol_deg`` (about 0.1 mm) in a few steps; identity outside China.

    >>> lon, lat = wgs84_to_gcj02(121.0185, 30.7005)
    >>> [round(v, 6) for v in gcj02_to_wgs84(lon, lat)]
    [121.0185, 30.7005]
    """
    wlon, wlat = lon_deg, lat_deg
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon_deg, glat - lat_deg
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < tol_deg and abs(dlat) < tol_deg:
            break
    return wlon, wlat


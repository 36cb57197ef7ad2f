import pytest
from shapely.geometry import Polygon

from patrol.geodesy import LocalProjection, distance_m, gcj02_to_wgs84, utm_epsg, wgs84_to_gcj02


@pytest.mark.parametrize(("lon", "lat", "epsg"), [(121.0185, 30.7005, 32651), (-91.99, 46.84, 32615),
                                                  (149.16, -35.36, 32755), (179.99, 0.0, 32660)])
def test_utm_zone(lon, lat, epsg):
    assert utm_epsg(lon, lat) == epsg


def test_utm_rejects_non_positions():
    with pytest.raises(ValueError, match="not a WGS84 position"):
        utm_epsg(200.0, 10.0)


def test_projection_round_trip_and_area():
    proj = LocalProjection.for_point(121.0185, 30.7005)
    square = Polygon([(121.0, 30.7), (121.001, 30.7), (121.001, 30.701), (121.0, 30.701)])
    xy = proj.project(square)
    # 0.001 deg lon at 30.7 N is about 95.7 m, 0.001 deg lat about 110.9 m
    assert xy.area == pytest.approx(95.7 * 110.9, rel=0.01)
    back = proj.unproject(xy)
    assert back.symmetric_difference(square).area < 1e-14


def test_gcj02_offset_is_hundreds_of_metres_in_china_and_inverts():
    glon, glat = wgs84_to_gcj02(121.0185, 30.7005)
    assert 300 < distance_m(121.0185, 30.7005, glon, glat) < 800
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert distance_m(lon, lat, 121.0185, 30.7005) < 0.01


def test_gcj02_is_identity_outside_china():
    assert wgs84_to_gcj02(-91.99, 46.84) == (-91.99, 46.84)

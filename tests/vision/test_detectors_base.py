"""The detector registry, configuration and Detection values."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from vision.detectors import CATEGORIES, Detection, Detector, detector_names, get_detector, register
from vision.errors import DetectorError


def test_builtin_detectors_are_registered_and_follow_the_protocol():
    assert {"change", "colour"} <= set(detector_names())
    for name in ("change", "colour"):
        det = get_detector(name)
        assert isinstance(det, Detector) and det.name == name
        assert set(det.categories) <= set(CATEGORIES)


def test_unknown_detector_or_option_is_refused():
    with pytest.raises(DetectorError, match="no detector named 'smoke'"):
        get_detector("smoke")
    with pytest.raises(DetectorError, match="bad configuration"):
        get_detector("change", thresold=3)


def test_a_name_cannot_be_registered_twice(monkeypatch):
    from vision.detectors import base

    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))

    @register("test-dummy")
    class Dummy:
        name = "test-dummy"

        def detect(self, photo_image, context):
            return []

    assert get_detector("test-dummy").detect(None, None) == []
    with pytest.raises(DetectorError, match="already registered"):
        register("test-dummy")(type("Other", (), {}))


@pytest.mark.parametrize("kwargs,match", [({"category": "litter"}, "unknown category"),
                                          ({"score": 1.5}, "score")])
def test_detection_values_are_checked(kwargs, match):
    args = {"category": "exposed_garbage", "bbox_px": (0, 0, 1, 1), "score": 0.5,
            "polygon_wgs84": box(0, 0, 1e-5, 1e-5), "area_m2": 1.0} | kwargs
    with pytest.raises(DetectorError, match=match):
        Detection(**args)

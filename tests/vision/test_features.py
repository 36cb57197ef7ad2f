"""Feature matching on a real photo pair: the remembered FLANN index and matches give what
OpenCV's matcher gives afresh."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.features import (Features, clear_match_cache, detect_features, estimate_homography, match_features,
                             match_guided)

BRIGHTON = "brighton_beach_dji_fc300s"


def _flann_afresh(a: Features, b: Features, ratio: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's FLANN matcher on the two sets with the ratio test (the matching before the cache)."""
    cv2.setRNGSeed(0)
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    knn = matcher.knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    return (a.points_px[[m.queryIdx for m in good]].reshape(-1, 2),
            b.points_px[[m.trainIdx for m in good]].reshape(-1, 2))


@pytest.fixture(scope="module")
def photos(working_image):
    return [detect_features(working_image(BRIGHTON, name).pixels) for name in ("DJI_0024.JPG", "DJI_0025.JPG",
                                                                                 "DJI_0026.JPG")]


def test_remembered_matching_equals_opencv_afresh(photos):
    a, b, c = photos
    clear_match_cache()
    for x, y in ((a, b), (c, b), (b, a), (a, b)):  # b's index built once and reused; (a, b) remembered
        expected = _flann_afresh(x, y)
        got = match_features(x, y)
        assert len(expected[0]) > 50
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_remembered_matches_are_read_only(photos):
    a, b, _ = photos
    pa, _ = match_features(a, b)
    with pytest.raises(ValueError):
        pa[0, 0] = -1.0
    np.testing.assert_array_equal(match_features(a, b)[0], _flann_afresh(a, b)[0])


def test_matching_some_queries_gives_their_matches_and_completes_later(photos):
    a, b, _ = photos
    clear_match_cache()
    rng = np.random.default_rng(3)
    queries = rng.random(len(a)) < 0.4
    # the afresh matches of the chosen keypoints: match a subset copy of a (same descriptors)
    sub = Features(a.points_px[queries], a.descriptors[queries], a.method)
    expected = _flann_afresh(sub, b)
    got = match_features(a, b, queries=queries)
    assert 10 < len(got[0]) < len(_flann_afresh(a, b)[0])
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    # asking for all of them afterwards searches the rest and equals matching everything at once
    full = match_features(a, b)
    np.testing.assert_array_equal(full[0], _flann_afresh(a, b)[0])
    np.testing.assert_array_equal(full[1], _flann_afresh(a, b)[1])


def test_queries_must_cover_every_keypoint(photos):
    a, b, _ = photos
    with pytest.raises(ValueError):
        match_features(a, b, queries=np.ones(len(a) - 1, bool))


def test_guided_matching_finds_more_inliers_near_a_rough_homography(photos):
    """Real consecutive photos: matching again near where a rough homography (the RANSAC one
    moved by 3 px) puts each keypoint gives at least as many RANSAC inliers as the global
    ratio test, each within the search radius of the prediction; a homography 80 px off gives
    almost none."""
    a, b, _ = photos
    h, inliers = estimate_homography(*match_features(a, b))
    rough = np.array([[1, 0, 3], [0, 1, -2], [0, 0, 1]], float) @ h
    ga, gb = match_guided(a, b, rough, radius_px=6.0)
    _, guided_inliers = estimate_homography(ga, gb)
    assert guided_inliers.sum() >= inliers.sum()
    predicted = cv2.perspectiveTransform(ga.reshape(-1, 1, 2).astype(np.float64), rough).reshape(-1, 2)
    assert np.linalg.norm(predicted - gb, axis=1).max() <= 6.0 + 1e-6
    off = np.array([[1, 0, 80], [0, 1, 0], [0, 0, 1]], float) @ h
    wa, wb = match_guided(a, b, off)
    assert len(wa) < 0.1 * len(ga)


def test_registration_falls_back_to_guided_matching(photos):
    """Real consecutive photos with the inliers needed set above what the global matches
    give: the rough homography guides a second matching that registers; without the
    fallback it raises, naming the pair."""
    from types import SimpleNamespace

    from vision.detectors.change_maps import register_onto
    from vision.errors import RegistrationError

    a, b, _ = photos
    _, inliers = estimate_homography(*match_features(a, b))
    shape = (int(b.points_px[:, 1].max()) + 2, int(b.points_px[:, 0].max()) + 2, 3)
    view = lambda f, pid: SimpleNamespace(features=f, photo_id=pid, image=SimpleNamespace(pixels=np.zeros(shape, np.uint8)))
    need = int(inliers.sum()) + 20
    with pytest.raises(RegistrationError, match="photo 2 against reference 1"):
        register_onto(view(a, 1), view(b, 2), min_inliers=need, min_rough_inliers=0)
    _, valid, got = register_onto(view(a, 1), view(b, 2), min_inliers=need)
    assert got >= need and valid.any()

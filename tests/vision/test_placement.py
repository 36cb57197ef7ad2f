"""Placing the real photo sets: georeferencing agreement between neighbours, turned images,
ground elevation from overlapping photos."""

from __future__ import annotations

import numpy as np
import pytest

from patrol.geodesy import WGS84
from vision.calibration import estimate_ground_elevation, ground_disagreement_m
from vision.georef import CameraPose
from vision.placement import match_neighbours

BRIGHTON = "brighton_beach_dji_fc300s"
GARFIELD = "garfield_park_sequoia_rgb"


def _disagreement(placed) -> np.ndarray:
    """Distances between the ground projections, from each photo, of features matched
    between consecutive photos."""
    rows = [r for r in placed["rows"] if r.id in placed["placements"]]
    out = []
    for m in match_neighbours(rows, placed["images"], placed["features"]):
        a, b = placed["placements"][m.key_a], placed["placements"][m.key_b]
        out.append(ground_disagreement_m(a.pose, a.intrinsics, m.pts_a_px, b.pose, b.intrinsics, m.pts_b_px))
    return np.concatenate(out)


def test_dji_neighbours_agree_on_the_ground(placed_sets):
    placed = placed_sets(BRIGHTON)
    assert not placed["errors"] and len(placed["placements"]) == 18
    d = _disagreement(placed)
    median, p90 = float(np.median(d)), float(np.percentile(d, 90))
    print(f"\n{BRIGHTON}: {len(d)} matches, disagreement median {median:.2f} m, p90 {p90:.2f} m")
    assert len(d) > 1000
    assert median < 1.5  # measured 0.95 m at 40 m (issue #5 target: under 2 m)
    assert p90 < 4.0  # measured 2.4 m: tree crowns 15-20 m tall stand off the ground plane


def test_dji_turned_photos_are_found(placed_sets):
    """DJI_0024..0029 were re-saved by Microsoft Windows Photo Viewer (EXIF Software) turned by
    180 degrees; their XMP yaw still says -130 while the image motion says +50."""
    placed = placed_sets(BRIGHTON)
    turned = sorted(r.original_name for r in placed["rows"]
                    if any("yaw + 180" in c for c in placed["placements"][r.id].corrections))
    assert turned == [f"DJI_00{n}.JPG" for n in range(24, 30)]
    assert any("6 photo(s) turned" in n for n in placed["notes"])


def test_ground_elevation_estimate_matches_dji_relative_altitude(placed_sets):
    """The DJI set knows its height (RelativeAltitude): the estimator, given only the GPS
    altitude, must find the take-off ground elevation AbsoluteAltitude - RelativeAltitude."""
    placed = placed_sets(BRIGHTON)
    rows = placed["rows"]
    truth = float(np.median([r.alt_amsl_m - r.alt_rel_m for r in rows]))
    poses = {pid: pl.pose for pid, pl in placed["placements"].items()}
    intr = {pid: pl.intrinsics for pid, pl in placed["placements"].items()}
    matches = match_neighbours(rows, placed["images"], placed["features"])
    est = estimate_ground_elevation(matches, poses, intr, {r.id: r.alt_amsl_m for r in rows})
    print(f"\n{BRIGHTON}: ground {est.elevation_m:.1f} m estimated (spread {est.spread_m:.1f} m, "
          f"{len(est.pair_elevations_m)} pairs), {truth:.1f} m from relative altitude")
    assert est.elevation_m == pytest.approx(truth, abs=3.0)  # measured +1.3 m (tree crowns)


def test_sequoia_set_is_placed_with_an_estimated_ground(placed_sets):
    placed = placed_sets(GARFIELD)
    assert not placed["errors"] and len(placed["placements"]) == 28
    heights = [pl.pose.height_agl_m for pl in placed["placements"].values()]
    sources = {pl.height_source for pl in placed["placements"].values()}
    assert sources == {"ground_elevation_estimate"}
    ground = {pl.ground_elevation_m for pl in placed["placements"].values()}
    assert len(ground) == 1
    d = _disagreement(placed)
    median, p90 = float(np.median(d)), float(np.percentile(d, 90))
    print(f"\n{GARFIELD}: ground {ground.pop():.1f} m, heights {min(heights):.0f}-{max(heights):.0f} m, "
          f"{len(d)} matches, disagreement median {median:.2f} m, p90 {p90:.2f} m")
    # The Sequoia's own IMU attitude is off by several degrees (pairs disagree by 1-40 m at
    # ~100 m height); the bound records what the metadata allows, not a target.
    assert 80.0 < min(heights) and max(heights) < 125.0
    assert median < 30.0


def test_unplaceable_photos_are_reported(placed_sets, photo_rows):
    placed = placed_sets(BRIGHTON)
    from vision.placement import place_photo_set

    rows = photo_rows(BRIGHTON, ["DJI_0018.JPG", "DJI_0019.JPG", "DJI_0020.JPG"])
    for i, r in enumerate(rows, start=101):
        r.id = i
    rows[0].lat_deg = None
    rows[1].alt_rel_m = None
    rows[1].alt_amsl_m = None
    images = {r.id: placed["images"][j] for r, j in zip(rows, (1, 2, 3))}
    features = {r.id: placed["features"][j] for r, j in zip(rows, (1, 2, 3))}
    placements, errors = place_photo_set(rows, images, features)
    assert set(placements) == {103}
    assert "no position" in errors[101] and "DJI_0018.JPG" in errors[101]
    assert "no height above ground" in errors[102]


def test_pose_keeps_the_recorded_attitude(placed_sets):
    from vision.placement import place_photo_set

    placed = placed_sets(BRIGHTON)
    row = next(r for r in placed["rows"] if r.original_name == "DJI_0018.JPG")
    unrefined, _ = place_photo_set(placed["rows"], placed["images"], placed["features"], refine=False,
                                   check_turned=False)
    assert unrefined[row.id].pose == CameraPose(row.lat_deg, row.lon_deg, 39.8, 45.0, -89.9, 0.0)
    assert not unrefined[row.id].corrections


def test_dji_poses_are_refined_from_tie_points_and_stay_near_the_metadata(placed_sets):
    """Refinement (on by default) corrects every photo by a little, says so, and the set's
    footprints still contain their cameras' recorded positions."""
    placed = placed_sets(BRIGHTON)
    assert any("poses refined" in n for n in placed["notes"])
    for r in placed["rows"]:
        pl = placed["placements"][r.id]
        refined = [c for c in pl.corrections if "tie-point refinement" in c]
        assert len(refined) == 1, pl.corrections
        moved = float(WGS84.inv(r.lon_deg, r.lat_deg, pl.pose.lon_deg, pl.pose.lat_deg)[2])
        assert moved < 1.5 * 5 * 2 ** 0.5  # the hard bound: 5 sigma per axis
        assert abs(pl.pose.height_agl_m - r.alt_rel_m) < 0.3 * 5 + 1.0 * 5
    d = _disagreement(placed)  # consecutive pairs, partly the fitted tie points: a sanity bound only
    assert float(np.median(d)) < 0.5


def test_refinement_falls_back_to_the_metadata_without_tie_points(placed_sets, photo_rows):
    from vision.placement import place_photo_set

    placed = placed_sets(BRIGHTON)
    rows = [r for r in placed["rows"] if r.original_name in ("DJI_0018.JPG", "DJI_0030.JPG")]
    notes: list[str] = []
    placements, errors = place_photo_set(rows, placed["images"], placed["features"], note=notes.append)
    assert not errors and set(placements) == {r.id for r in rows}
    assert any("not refined" in n and "metadata kept" in n for n in notes)
    assert not any("tie-point" in c for pl in placements.values() for c in pl.corrections)


def test_overlap_queries_keep_every_inlier_of_the_dji_neighbours(placed_sets):
    """Matching only the keypoints that can see the other photo's ground (metadata poses grown
    by twice the worst pair's median misplacement) loses none of the pairs' RANSAC inliers."""
    from vision.placement import metadata_margin_px, overlap_queries

    placed = placed_sets(BRIGHTON)
    rows = [r for r in placed["rows"] if r.id in placed["placements"]]
    poses = {pid: p.pose for pid, p in placed["placements"].items()}
    intr = {pid: p.intrinsics for pid, p in placed["placements"].items()}
    pairs = match_neighbours(rows, placed["images"], placed["features"])
    margin = metadata_margin_px(pairs, poses, intr)
    assert margin is not None and 0 < margin < 500
    kept_shares = []
    for m in pairs:
        fa, img = placed["features"][m.key_a], placed["images"][m.key_a]
        q = overlap_queries(fa, img, poses[m.key_a], intr[m.key_a], poses[m.key_b], intr[m.key_b], margin)
        assert q is not None and q.shape == (len(fa),)
        kept_shares.append(float(q.mean()))
        u, v = img.to_work(m.pts_a_px[:, 0], m.pts_a_px[:, 1])
        kept = fa.points_px[q]
        nearest = np.min(np.hypot(u[:, None] - kept[None, :, 0], v[:, None] - kept[None, :, 1]), axis=1)
        assert float(nearest.max()) < 0.01  # every inlier is a kept keypoint
    assert min(kept_shares) < 0.9  # keypoints outside the neighbour's view are left out

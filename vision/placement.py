"""Placing archived photos on the ground: pose and intrinsics from a Photo row's metadata,
checked and completed per photo set with the overlapping photos (:mod:`vision.calibration`).

Rules, in order (each choice is recorded on the :class:`Placement`):

* **Intrinsics**: the EXIF camera model in the sensor table, or the 35 mm-equivalent focal
  length (:func:`vision.cameras.intrinsics_for`); a set's camera can be named explicitly
  (``cameras_by_set``) for photos without EXIF.
* **Height above ground**: ``alt_rel_m`` (above take-off: the scene is taken to be at the
  take-off elevation, ``height_source="alt_rel"``); else ``alt_amsl_m`` minus the set's ground
  elevation, from ``ground_elevation_by_set`` (``"ground_elevation_setting"``) or estimated
  from overlapping photos of the set (``"ground_elevation_estimate"``). Otherwise the photo
  cannot be placed.
* **Attitude**: gimbal yaw/pitch/roll (``Photo.gimbal_*``, DJI's convention, -90 = nadir);
  missing pitch means nadir and missing roll 0 (recorded as assumptions). Missing gimbal yaw
  falls back to ``flight_yaw_deg`` (the vehicle's heading, e.g. from the track for
  geotagged photos), then to the course between the neighbouring photos of the set
  (``yaw_source="course"``: the image top assumed to face the direction of travel).
* **Turned images**: photos whose pixels face away from their recorded yaw by 180 degrees
  (:func:`vision.calibration.find_flipped_photos`) get yaw + 180, recorded as a correction.
* **Tie-point refinement** (``refine=True``, the default): overlapping photos of the set are
  matched and small pose corrections (position, height, yaw, tilt; regularised toward the
  metadata by the error model's priors) solved so the tie points agree on the ground
  (:func:`vision.refine.refine_poses`). Each corrected photo records the correction; with
  too few tie points (fewer than two matched pairs) or a fit that does not improve the
  agreement, the metadata pose is kept and the set note says so. Only the keypoints that can
  see the other photo's ground (metadata poses, the frame grown by twice the consecutive
  pairs' worst median misplacement) are matched (:func:`overlap_queries`); not when that
  margin exceeds half the image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from shapely.geometry import Polygon

from vision.calibration import PairMatch, estimate_ground_elevation, find_flipped_photos
from vision.cameras import intrinsics_for
from vision.error_model import CONSUMER_DRONE, PoseUncertainty
from vision.errors import GeoreferenceError, RegistrationError, VisionError
from vision.features import Features, estimate_homography, match_features
from vision.georef import CameraIntrinsics, CameraPose, footprint, ground_to_pixel, pixel_to_ground
from vision.images import PhotoImage
from vision.reference import course_deg, overlap_fraction
from vision.refine import refine_poses

__all__ = ["Placement", "intrinsics_for_photo", "match_neighbours", "match_overlapping", "metadata_margin_px",
           "overlap_queries", "place_photo_set"]


@dataclass(frozen=True)
class Placement:
    """A photo placed on the ground.

    Attributes
    ----------
    photo_id : int
    pose : CameraPose
    intrinsics : CameraIntrinsics
        Of the stored image.
    footprint_wgs84 : shapely Polygon
    height_source, yaw_source : str
        Where the height and the yaw came from (see the module docstring).
    ground_elevation_m : float or None
        The ground elevation used, when the height came from ``alt_amsl_m``.
    corrections : tuple of str
        Assumptions and corrections made, in words.
    """

    photo_id: int
    pose: CameraPose
    intrinsics: CameraIntrinsics
    footprint_wgs84: Polygon
    height_source: str
    yaw_source: str
    ground_elevation_m: float | None
    corrections: tuple[str, ...] = ()

    @property
    def gsd_cm_px(self) -> float:
        return self.intrinsics.gsd_cm_px(self.pose.height_agl_m)


def _name(photo) -> str:
    return f"photo {photo.id} ({photo.original_name})"


def intrinsics_for_photo(photo, image: PhotoImage, *, camera_model: str | None = None) -> CameraIntrinsics:
    """Intrinsics of a Photo row's stored image (size from the decoded file).

    Raises
    ------
    CameraUnknownError
        If the camera is unknown (see :func:`vision.cameras.intrinsics_for`).
    """
    return intrinsics_for(camera_model or photo.camera_model, image.full_width_px, image.full_height_px,
                          focal_length_mm=photo.focal_length_mm,
                          focal_35mm=getattr(photo, "focal_length_35mm", None), source=_name(photo))


def match_neighbours(photos: Sequence, images: Mapping[int, PhotoImage], features: Mapping[int, Features], *,
                     min_inliers: int = 25) -> list[PairMatch]:
    """RANSAC-inlier matches between consecutive photos (in the given order) that overlap.

    Pairs that do not register are skipped. Points are returned in stored-image pixels.
    """
    out: list[PairMatch] = []
    for a, b in zip(photos, photos[1:]):
        if a.id not in features or b.id not in features:
            continue
        m = _match_pair(a, b, images, features, min_inliers)
        if m is not None:
            out.append(m)
    return out


def _match_pair(a, b, images, features, min_inliers: int, queries: np.ndarray | None = None) -> PairMatch | None:
    pa, pb = match_features(features[a.id], features[b.id], queries=queries)
    try:
        _, inliers = estimate_homography(pa, pb, min_inliers=min_inliers, what=f"{_name(a)} and {_name(b)}")
    except RegistrationError:
        return None
    ua, va = images[a.id].to_full(pa[inliers, 0], pa[inliers, 1])
    ub, vb = images[b.id].to_full(pb[inliers, 0], pb[inliers, 1])
    return PairMatch(a.id, b.id, np.column_stack([ua, va]), np.column_stack([ub, vb]))


def match_overlapping(photos: Sequence, footprints: Mapping[int, Polygon], images: Mapping[int, PhotoImage],
                      features: Mapping[int, Features], *, min_overlap: float = 0.2, max_partners: int = 6,
                      known: Sequence[PairMatch] = (), min_inliers: int = 25,
                      poses: Mapping[int, CameraPose] | None = None,
                      intrinsics: Mapping[int, CameraIntrinsics] | None = None,
                      margin_px: float | None = None) -> list[PairMatch]:
    """RANSAC-inlier matches between photos whose footprints overlap (tie points).

    Parameters
    ----------
    photos : sequence of Photo
    footprints : mapping photo id -> WGS84 Polygon
        Preliminary footprints (photos without one are left out).
    images, features : mapping photo id -> PhotoImage / Features
    min_overlap : float
        Smallest shared area, as a share (0-1) of either footprint.
    max_partners : int
        Each photo is matched with at most this many others, the best-overlapping first.
    known : sequence of PairMatch
        Pairs matched already (reused, not matched again).
    poses, intrinsics, margin_px : optional
        With all three (preliminary poses and stored-image intrinsics per photo id, a margin
        in stored-image pixels), only the keypoints of a pair's first photo whose ground
        point falls inside the second photo's frame grown by ``margin_px`` are matched
        (:func:`overlap_queries`); otherwise all.

    Returns
    -------
    list of PairMatch
        Points in stored-image pixels; pairs that do not register are skipped.
    """
    have = {frozenset((m.key_a, m.key_b)): m for m in known}
    placed = [p for p in photos if p.id in footprints and p.id in features]
    candidates = []
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            fa, fb = footprints[a.id], footprints[b.id]
            if not fa.intersects(fb):
                continue
            share = max(overlap_fraction(fa, fb), overlap_fraction(fb, fa))
            if share >= min_overlap:
                candidates.append((share, a, b))
    candidates.sort(key=lambda t: -t[0])
    partners: dict[int, int] = {}
    out: list[PairMatch] = []
    for _, a, b in candidates:
        key = frozenset((a.id, b.id))
        if key in have:
            out.append(have[key])
            continue
        if partners.get(a.id, 0) >= max_partners or partners.get(b.id, 0) >= max_partners:
            continue
        queries = None
        if poses is not None and intrinsics is not None and margin_px is not None:
            queries = overlap_queries(features[a.id], images[a.id], poses[a.id], intrinsics[a.id],
                                      poses[b.id], intrinsics[b.id], margin_px)
        m = _match_pair(a, b, images, features, min_inliers, queries)
        if m is not None:
            out.append(m)
            partners[a.id] = partners.get(a.id, 0) + 1
            partners[b.id] = partners.get(b.id, 0) + 1
    return out


def overlap_queries(features_a: Features, image_a: PhotoImage, pose_a: CameraPose, intr_a: CameraIntrinsics,
                    pose_b: CameraPose, intr_b: CameraIntrinsics, margin_px: float) -> np.ndarray | None:
    """Which of photo a's keypoints can see photo b's ground (flat-ground model, metadata poses).

    Parameters
    ----------
    features_a : Features
        Keypoints of photo a, in its working pixels (``image_a``).
    pose_a, intr_a, pose_b, intr_b : CameraPose, CameraIntrinsics
        Poses and stored-image intrinsics of the two photos.
    margin_px : float
        Photo b's frame is grown by this many of its stored-image pixels (the poses' error).

    Returns
    -------
    ndarray (len(features_a),) bool, or None
        True where a keypoint's ground point falls inside b's grown frame; None when a
        keypoint's ray misses the ground or its point lies behind b (no restriction).
    """
    u, v = image_a.to_full(features_a.points_px[:, 0], features_a.points_px[:, 1])
    try:
        lon, lat = pixel_to_ground(pose_a, intr_a, u, v)
        ub, vb = ground_to_pixel(pose_b, intr_b, lon, lat)
    except GeoreferenceError:
        return None
    m = float(margin_px)
    return (ub >= -m) & (ub <= intr_b.width_px + m) & (vb >= -m) & (vb <= intr_b.height_px + m)


def metadata_margin_px(matches: Sequence[PairMatch], poses: Mapping[int, CameraPose],
                       intrinsics: Mapping[int, CameraIntrinsics], *, factor: float = 2.0) -> float | None:
    """How far the metadata poses misplace matched points: ``factor`` x the worst pair's median.

    Each pair's matched points of photo a are projected to the ground and into photo b; the
    median distance to where they were matched in b is the pair's residual.

    Returns
    -------
    float or None
        Stored-image pixels; None without a pair that can be projected.
    """
    worst = None
    for m in matches:
        if m.key_a not in poses or m.key_b not in poses or len(m.pts_a_px) == 0:
            continue
        try:
            lon, lat = pixel_to_ground(poses[m.key_a], intrinsics[m.key_a], m.pts_a_px[:, 0], m.pts_a_px[:, 1])
            ub, vb = ground_to_pixel(poses[m.key_b], intrinsics[m.key_b], lon, lat)
        except GeoreferenceError:
            continue
        med = float(np.median(np.hypot(ub - m.pts_b_px[:, 0], vb - m.pts_b_px[:, 1])))
        worst = med if worst is None else max(worst, med)
    return None if worst is None else factor * worst


def _attitude(photo, course: float | None) -> tuple[float, float, float, str, list[str]]:
    notes: list[str] = []
    if photo.gimbal_yaw_deg is not None:
        yaw, source = float(photo.gimbal_yaw_deg), "gimbal"
    elif photo.flight_yaw_deg is not None:
        yaw, source = float(photo.flight_yaw_deg), "flight"
        notes.append("yaw from the vehicle heading (no gimbal yaw)")
    elif course is not None:
        yaw, source = float(course), "course"
        notes.append("yaw from the course between neighbouring photos (image top assumed forward)")
    else:
        raise GeoreferenceError(f"{_name(photo)}: no yaw (no gimbal or vehicle heading, no neighbouring photos)")
    if photo.gimbal_pitch_deg is not None:
        pitch = float(photo.gimbal_pitch_deg)
    else:
        pitch = -90.0
        notes.append("pitch assumed nadir (none recorded)")
    roll = float(photo.gimbal_roll_deg) if photo.gimbal_roll_deg is not None else 0.0
    return yaw, pitch, roll, source, notes


def place_photo_set(photos: Sequence, images: Mapping[int, PhotoImage], features: Mapping[int, Features], *,
                    camera_model: str | None = None, ground_elevation_m: float | None = None,
                    check_turned: bool = True, refine: bool = True,
                    uncertainty: PoseUncertainty = CONSUMER_DRONE, boresight_sigma_deg: float | None = None,
                    note: Callable[[str], None] | None = None) -> tuple[dict[int, Placement], dict[int, str]]:
    """Place the photos of one set and flight (time-ordered) on the ground.

    Parameters
    ----------
    photos : sequence of Photo
        One photo set (and flight), in time order.
    images, features : mapping photo id -> PhotoImage / Features
        Working images and their keypoints; photos missing here are reported as errors.
    camera_model : str, optional
        Sensor-table key for photos whose EXIF names no known camera.
    ground_elevation_m : float, optional
        Ground elevation (in the photos' ``alt_amsl_m`` reference) for photos without
        ``alt_rel_m``; estimated from the overlapping photos when None.
    check_turned : bool
        Look for images turned 180 degrees from their yaw.
    refine : bool
        Refine the poses from tie points between overlapping photos (module docstring).
    uncertainty : PoseUncertainty
        Priors of the refinement (one-sigma errors of the recorded poses).
    boresight_sigma_deg : float, optional
        Also solve a set-wide camera-frame attitude bias with this prior (degrees).
    note : callable, optional
        Receives one line per set-level finding (estimated elevation, turned photos).

    Returns
    -------
    (placements, errors) : dict photo id -> Placement, dict photo id -> message
    """
    say = note or (lambda _text: None)
    errors: dict[int, str] = {}
    intr: dict[int, CameraIntrinsics] = {}
    prelim: dict[int, tuple[CameraPose, str, list[str]]] = {}
    located = [p for p in photos if p.lat_deg is not None and p.lon_deg is not None]
    courses = dict(zip((p.id for p in located), course_deg([p.lon_deg for p in located], [p.lat_deg for p in located])))
    for p in photos:
        try:
            if p.id not in images:
                raise VisionError(f"{_name(p)}: image not loaded")
            if p.lat_deg is None or p.lon_deg is None:
                raise GeoreferenceError(f"{_name(p)}: no position (no EXIF GPS, not geotagged from a flight)")
            intr[p.id] = intrinsics_for_photo(p, images[p.id], camera_model=camera_model)
            yaw, pitch, roll, yaw_source, notes = _attitude(p, courses.get(p.id))
            # height 1 m is a placeholder until the height is known
            prelim[p.id] = (CameraPose(p.lat_deg, p.lon_deg, 1.0, yaw, pitch, roll), yaw_source, notes)
        except VisionError as err:
            errors[p.id] = str(err)
    usable = [p for p in photos if p.id in prelim]
    matches = match_neighbours(usable, images, features)
    poses = {pid: pose for pid, (pose, _, _) in prelim.items()}

    # heights
    heights: dict[int, tuple[float, str, float | None]] = {}
    need_ground = [p for p in usable if p.alt_rel_m is None]
    ground, ground_source = ground_elevation_m, "ground_elevation_setting"
    if need_ground and ground is None:
        alts = {p.id: float(p.alt_amsl_m) for p in need_ground if p.alt_amsl_m is not None}
        est = estimate_ground_elevation([m for m in matches if m.key_a in alts and m.key_b in alts], poses, intr, alts)
        if est is not None:
            ground, ground_source = est.elevation_m, "ground_elevation_estimate"
            say(f"{photos[0].photo_set}: ground elevation {est.elevation_m:.1f} m (spread {est.spread_m:.1f} m) "
                f"estimated from {len(est.pair_elevations_m)} overlapping photo pairs")
    for p in usable:
        if p.alt_rel_m is not None:
            heights[p.id] = (float(p.alt_rel_m), "alt_rel", None)
        elif p.alt_amsl_m is not None and ground is not None:
            heights[p.id] = (float(p.alt_amsl_m) - ground, ground_source, ground)
        else:
            why = "no GPS altitude" if p.alt_amsl_m is None else "no overlapping photos to estimate the ground elevation from"
            errors[p.id] = (f"{_name(p)}: no height above ground (no relative altitude, {why}; "
                            "give the set's ground elevation)")
    poses = {pid: replace(poses[pid], height_agl_m=heights[pid][0]) for pid in heights if heights[pid][0] > 0}
    for pid in heights:
        if pid not in poses:
            errors[pid] = f"photo {pid}: height above ground {heights[pid][0]:.1f} m is not positive"

    turned: set[int] = set()
    if check_turned and poses:
        turned = find_flipped_photos([m for m in matches if m.key_a in poses and m.key_b in poses], poses, intr)
        if turned:
            say(f"{photos[0].photo_set}: {len(turned)} photo(s) turned 180 deg from their recorded yaw "
                "(image motion contradicts it): " + ", ".join(str(i) for i in sorted(turned)))
    notes_by_id = {pid: list(prelim[pid][2]) for pid in poses}
    for pid in turned:
        poses[pid] = replace(poses[pid], yaw_deg=(poses[pid].yaw_deg + 180.0) % 360.0)
        notes_by_id[pid].append("yaw + 180: the image is turned from its recorded yaw (checked against its neighbours)")
    if refine and len(poses) >= 2:
        poses = _refine(photos, poses, intr, images, features, matches, uncertainty, boresight_sigma_deg,
                        notes_by_id, say)
    out: dict[int, Placement] = {}
    for pid, pose in poses.items():
        notes = notes_by_id[pid]
        try:
            fp = footprint(pose, intr[pid])
        except GeoreferenceError as err:
            errors[pid] = f"photo {pid}: {err}"
            continue
        h, source, g = heights[pid]
        out[pid] = Placement(pid, pose, intr[pid], fp, source, prelim[pid][1], g, tuple(notes))
    return out, errors


def _refine(photos, poses, intr, images, features, matches, uncertainty, boresight_sigma_deg, notes_by_id, say):
    """Tie-point refinement of a placed set (see :func:`place_photo_set`); the poses to use."""
    label = photos[0].photo_set if photos else "photo set"
    footprints = {}
    for pid, pose in poses.items():
        try:
            footprints[pid] = footprint(pose, intr[pid])
        except GeoreferenceError:
            continue
    known = [m for m in matches if m.key_a in poses and m.key_b in poses]
    # match only keypoints that can see the other photo's ground, unless the metadata is too poor to tell
    margin = metadata_margin_px(known, poses, intr)
    half_side = 0.5 * min((min(intr[pid].width_px, intr[pid].height_px) for pid in poses), default=0)
    if margin is not None and margin > half_side:
        margin = None
    ties = match_overlapping([p for p in photos if p.id in poses], footprints, images, features, known=known,
                             poses=poses, intrinsics=intr, margin_px=margin)
    times = {p.id: p.taken_utc.timestamp() for p in photos if p.id in poses and p.taken_utc is not None}
    result = refine_poses(poses, intr, ties, times_s=times, uncertainty=uncertainty,
                          boresight_sigma_deg=boresight_sigma_deg)
    if result is None:
        say(f"{label}: poses not refined ({len(ties)} overlapping pair(s) matched, need 2): metadata kept")
        return poses
    if not result.fit_median_after_m < result.fit_median_before_m:
        say(f"{label}: tie-point refinement did not improve the agreement "
            f"({result.fit_median_before_m:.2f} -> {result.fit_median_after_m:.2f} m): metadata kept")
        return poses
    why = (f"tie-point refinement ({result.tie_points} tie points, {result.pairs} overlapping pairs; "
           f"fitted disagreement median {result.fit_median_before_m:.2f} -> {result.fit_median_after_m:.2f} m)")
    for pid, corr in result.corrections.items():
        if corr != type(corr)():
            notes_by_id[pid].append(f"{corr.describe()}: {why}")
    say(f"{label}: poses refined from {why}; set height {result.shared_height_m:+.2f} m"
        + (", boresight {:+.2f}/{:+.2f}/{:+.2f} deg".format(*result.boresight_deg) if boresight_sigma_deg else ""))
    return dict(result.poses)

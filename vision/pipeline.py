"""Analyse archived photos: georeference, detect, merge into findings (the package's entry point).

:func:`analyse_photos` takes the photos of the archive (all, or some ids), and for each photo
set and flight:

1. reads each photo at working scale (:mod:`vision.images`) and finds its keypoints;
2. places the set on the ground (:func:`vision.placement.place_photo_set`: intrinsics,
   height, attitude, turned images) and stores the footprint on ``Photo.footprint`` and the
   pose used on :class:`vision.models.PhotoGeoref`;

then, over all photos in time order, picks each photo's reference from an earlier pass
(:mod:`vision.reference`), runs the detectors, and merges their detections into findings
(:func:`vision.findings.merge_detections`). A photo that fails at any step is reported in
:attr:`AnalysisReport.problems` and the others carry on. Photos already analysed are skipped
(they still serve as references) unless ``reanalyse`` is set.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from flight_logs.models import Photo
from patrol.db import utcnow
from vision.detectors import DetectionContext, Detector, PhotoView, get_detector
from vision.errors import VisionError
from vision.features import Features, detect_features
from vision.findings import merge_detections
from vision.georef import CameraPose
from vision.images import PhotoImage, load_photo_image
from vision.models import PhotoGeoref
from vision.placement import Placement, intrinsics_for_photo, place_photo_set
from vision.reference import Placed, assign_passes, pick_references

__all__ = ["AnalysisReport", "PhotoProblem", "analyse_photos"]

DEFAULT_DETECTORS = ("change", "colour")


@dataclass(frozen=True)
class PhotoProblem:
    """A photo that could not be (fully) analysed: which step failed and why."""

    photo_id: int
    name: str
    stage: str
    message: str


@dataclass
class AnalysisReport:
    """What :func:`analyse_photos` did.

    Attributes
    ----------
    photos_total : int
        Photos selected.
    photos_georeferenced : int
        Photos placed on the ground (footprint stored).
    photos_analysed : int
        Photos the detectors ran on.
    photos_skipped : int
        Photos analysed before (not run again).
    photos_compared : int
        Photos compared with an earlier pass (change detection had a reference).
    detections : int
    detections_by_category : dict
    findings_new, findings_updated : int
    problems : list of PhotoProblem
    notes : list of str
        Set-level facts (estimated ground elevation, turned photos).
    seconds : float
        Wall-clock time.
    """

    photos_total: int = 0
    photos_georeferenced: int = 0
    photos_analysed: int = 0
    photos_skipped: int = 0
    photos_compared: int = 0
    detections: int = 0
    detections_by_category: dict[str, int] = field(default_factory=dict)
    findings_new: int = 0
    findings_updated: int = 0
    problems: list[PhotoProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def photos_per_s(self) -> float:
        """Photos analysed per second of wall-clock time (0 when none was)."""
        return self.photos_analysed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready): every field and ``photos_per_s``."""
        out = asdict(self)
        out["photos_per_s"] = round(self.photos_per_s, 2)
        out["seconds"] = round(self.seconds, 2)
        return out


def _name(photo: Photo) -> str:
    return f"photo {photo.id} ({photo.original_name})"


def _time_key(photo: Photo):
    return (photo.taken_utc is None, photo.taken_utc or utcnow(), photo.id)


class _Views:
    """Working images, keypoints and placements, loaded once per run."""

    def __init__(self, data_dir: Path, min_long_side_px: int, feature_method: str) -> None:
        self.data_dir = data_dir
        self.min_long_side_px = min_long_side_px
        self.feature_method = feature_method
        self.images: dict[int, PhotoImage] = {}
        self.features: dict[int, Features] = {}
        self.views: dict[int, PhotoView] = {}

    def load(self, photo: Photo) -> None:
        if photo.id in self.images:
            return
        image = load_photo_image(self.data_dir / photo.stored_path, min_long_side_px=self.min_long_side_px)
        self.images[photo.id] = image
        self.features[photo.id] = detect_features(image.pixels, method=self.feature_method)

    def add(self, photo: Photo, placement: Placement) -> PhotoView:
        view = PhotoView(photo, self.images[photo.id], placement.pose, placement.intrinsics,
                         placement.footprint_wgs84, self.features[photo.id])
        self.views[photo.id] = view
        return view


def _store_placement(session: Session, photo: Photo, placement: Placement) -> None:
    photo.footprint = mapping(placement.footprint_wgs84)
    row = session.scalar(sa.select(PhotoGeoref).where(PhotoGeoref.photo_id == photo.id))
    if row is None:
        row = PhotoGeoref(photo_id=photo.id)
        session.add(row)
    pose = placement.pose
    row.lat_deg, row.lon_deg, row.height_agl_m = pose.lat_deg, pose.lon_deg, pose.height_agl_m
    row.yaw_deg, row.pitch_deg, row.roll_deg = pose.yaw_deg, pose.pitch_deg, pose.roll_deg
    row.height_source, row.yaw_source = placement.height_source, placement.yaw_source
    row.ground_elevation_m = placement.ground_elevation_m
    row.gsd_cm_px = placement.gsd_cm_px
    row.corrections = list(placement.corrections)


def _earlier_placed(session: Session, exclude: set[int], photo_sets: set[str]) -> list[tuple[Photo, PhotoGeoref]]:
    """Photos of the same sets placed by an earlier run (candidate references)."""
    if not photo_sets:
        return []
    rows = session.execute(sa.select(Photo, PhotoGeoref).join(PhotoGeoref, PhotoGeoref.photo_id == Photo.id)
                           .where(Photo.photo_set.in_(photo_sets))).all()
    return [(p, g) for p, g in rows if p.id not in exclude and p.footprint]


def analyse_photos(
    session: Session,
    data_dir: Path | str,
    *,
    photo_ids: Sequence[int] | None = None,
    detectors: Sequence[str | Detector] = DEFAULT_DETECTORS,
    detector_config: Mapping[str, Mapping[str, Any]] | None = None,
    cameras_by_set: Mapping[str, str] | None = None,
    ground_elevation_by_set: Mapping[str, float] | None = None,
    merge_radius_m: Mapping[str, float] | None = None,
    min_overlap: float = 0.3,
    reanalyse: bool = False,
    min_long_side_px: int = 1000,
    feature_method: str = "sift",
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> AnalysisReport:
    """Georeference archived photos, run the detectors and merge detections into findings.

    Parameters
    ----------
    session : Session
        The caller's session; rows are added and flushed, never committed.
    data_dir : Path
        The data root (``Photo.stored_path`` is relative to it; evidence crops go under it).
    photo_ids : sequence of int, optional
        Photos to analyse (default: every photo in the archive).
    detectors : sequence of str or Detector
        Registered detector names (built with ``detector_config[name]``) or detector objects.
    detector_config : mapping, optional
        ``name -> keyword arguments`` for :func:`vision.detectors.get_detector`.
    cameras_by_set : mapping, optional
        ``photo_set -> sensor-table key`` for sets whose EXIF names no known camera.
    ground_elevation_by_set : mapping, optional
        ``photo_set -> ground elevation`` (metres, in the photos' ``alt_amsl_m`` reference)
        for sets without relative altitude; estimated from overlapping photos otherwise.
    merge_radius_m : mapping, optional
        Merge radius per category (see :data:`vision.findings.MERGE_RADIUS_M`).
    min_overlap : float
        Smallest share (0-1) of a photo's footprint a reference must cover.
    reanalyse : bool
        Run the detectors again on photos analysed before.
    min_long_side_px : int
        Working scale (see :func:`vision.images.load_photo_image`).
    feature_method : str
        ``"sift"`` (default) or ``"orb"``.
    workers : int, optional
        Threads reading photos and finding keypoints (default: one per CPU).
    progress : callable, optional
        Receives one line of text per step.

    Returns
    -------
    AnalysisReport

    Raises
    ------
    DetectorError
        If a detector name or its configuration is invalid (before any photo is read).
    """
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    say = progress or (lambda _text: None)
    data_dir = Path(data_dir)
    config = detector_config or {}
    runners: list[Detector] = [get_detector(d, **config.get(d, {})) if isinstance(d, str) else d for d in detectors]
    report = AnalysisReport()

    query = sa.select(Photo)
    if photo_ids is not None:
        query = query.where(Photo.id.in_(list(photo_ids)))
    photos = sorted(session.scalars(query).all(), key=lambda p: (p.photo_set, p.flight_id or 0, _time_key(p)))
    report.photos_total = len(photos)
    done = set(session.scalars(sa.select(PhotoGeoref.photo_id).where(PhotoGeoref.analysed_at.is_not(None))).all())

    def problem(photo: Photo, stage: str, message: str) -> None:
        report.problems.append(PhotoProblem(photo.id, photo.original_name, stage, message))

    def note(text: str) -> None:
        report.notes.append(text)
        say(text)

    cache = _Views(data_dir, min_long_side_px, feature_method)
    groups: dict[tuple[str, int | None], list[Photo]] = {}
    for p in photos:
        groups.setdefault((p.photo_set, p.flight_id), []).append(p)
    for (photo_set, _flight), group in groups.items():
        if not reanalyse and all(p.id in done for p in group):
            report.photos_skipped += len(group)
            continue  # placed and analysed before; still a reference through _earlier_placed

        def load(p: Photo) -> str | None:
            try:
                cache.load(p)
            except (VisionError, OSError) as err:
                return str(err)
            return None

        with ThreadPoolExecutor(max_workers=workers) as pool:  # OpenCV releases the GIL
            for p, err in zip(group, pool.map(load, group)):
                if err is not None:
                    problem(p, "read", err)
        group = [p for p in group if p.id in cache.images]
        if not group:
            continue
        placements, errors = place_photo_set(
            group, cache.images, cache.features, camera_model=(cameras_by_set or {}).get(photo_set),
            ground_elevation_m=(ground_elevation_by_set or {}).get(photo_set), note=note)
        for p in group:
            if p.id in placements:
                _store_placement(session, p, placements[p.id])
                cache.add(p, placements[p.id])
            elif p.id in errors:
                problem(p, "georeference", errors[p.id])
        report.photos_georeferenced += len(placements)
        say(f"{photo_set}: {len(placements)} of {len(group)} readable photos georeferenced")
    session.flush()

    # candidate references: this run's placed photos and those placed by earlier runs
    earlier = _earlier_placed(session, set(cache.views), {p.photo_set for p in photos})
    all_photos = [v.photo for v in cache.views.values()] + [p for p, _ in earlier]
    passes = assign_passes(all_photos)
    placed = [Placed(v.photo.id, v.photo.taken_utc, passes.get(v.photo.id), v.footprint_wgs84)
              for v in cache.views.values()]
    placed += [Placed(p.id, p.taken_utc, passes.get(p.id), shape(p.footprint)) for p, _ in earlier]
    placed_by_id = {pl.photo_id: pl for pl in placed}
    earlier_by_id = {p.id: (p, g) for p, g in earlier}

    def view_of(photo_id: int) -> PhotoView | None:
        if photo_id in cache.views:
            return cache.views[photo_id]
        p, g = earlier_by_id[photo_id]
        try:
            cache.load(p)
            intr = intrinsics_for_photo(p, cache.images[p.id], camera_model=(cameras_by_set or {}).get(p.photo_set))
        except (VisionError, OSError):
            return None
        lat, lon = (g.lat_deg, g.lon_deg) if g.lat_deg is not None else (p.lat_deg, p.lon_deg)
        pose = CameraPose(lat, lon, g.height_agl_m, g.yaw_deg, g.pitch_deg, g.roll_deg)
        view = PhotoView(p, cache.images[p.id], pose, intr, shape(p.footprint), cache.features[p.id])
        cache.views[p.id] = view
        return view

    targets = sorted((v.photo for v in cache.views.values() if v.photo.id in {p.id for p in photos}), key=_time_key)
    by_category: Counter[str] = Counter()
    new_ids: set[int] = set()
    updated_ids: set[int] = set()
    for photo in targets:
        if photo.id in done and not reanalyse:
            report.photos_skipped += 1
            continue
        view = cache.views[photo.id]
        refs = pick_references(placed_by_id[photo.id], placed, min_overlap=min_overlap)
        ref_views = tuple(v for v in (view_of(pid) for pid, _ in refs) if v is not None)
        if ref_views:
            report.photos_compared += 1
        context = DetectionContext(view, ref_views)
        found = []
        for det in runners:
            try:
                found.extend(det.detect(view.image, context))
            except VisionError as err:
                problem(photo, f"detect:{det.name}", str(err))
        try:
            merged = merge_detections(session, [(d, photo) for d in found], data_dir=data_dir,
                                      radius_m_by_category=merge_radius_m)
        except (VisionError, OSError) as err:
            problem(photo, "findings", str(err))
            continue
        for d in merged.detections:
            by_category[d.category] += 1
        new_ids.update(f.id for f in merged.new_findings)
        updated_ids.update(f.id for f in merged.updated_findings)
        georef = session.scalar(sa.select(PhotoGeoref).where(PhotoGeoref.photo_id == photo.id))
        georef.analysed_at = utcnow()
        report.photos_analysed += 1
    session.flush()
    report.detections = sum(by_category.values())
    report.detections_by_category = dict(sorted(by_category.items()))
    report.findings_new = len(new_ids)
    report.findings_updated = len(updated_ids - new_ids)
    report.seconds = time.perf_counter() - started
    say(f"{report.photos_analysed} photos analysed ({report.photos_compared} against an earlier pass), "
        f"{report.detections} detections, {report.findings_new} new findings, "
        f"{len(report.problems)} problems, {report.photos_per_s:.1f} photos/s")
    return report

"""Detections merged into findings on the ground, with evidence crops named by content.

A **finding** is one problem at one place: detections of the same category whose ground
centres fall within the category's merge radius (:data:`MERGE_RADIUS_M`) of it attach to it.
Its ``seen_count`` counts **sightings**, not photos: a detection taken more than
``same_visit_s`` after the finding was last seen (another pass, another flight) is a new
sighting; overlapping photos of one pass seeing the same pile add detections but not
sightings. ``first_seen_utc`` is kept, ``last_seen_utc`` moves forward, the position is the
mean of the attached detections' centres and the evidence crop is that of the
best-scoring detection. Merging does not look at the review status: a confirmed or
rejected finding seen again takes the detection, a new sighting and the later
``last_seen_utc`` like any other, and keeps its status - so the console can tell that a
problem whose case was closed is back (``web.cases.link_recurrences`` compares
``last_seen_utc`` with the case's closing time; ``patrol vision analyse`` runs it).

Evidence crops are JPEG cuts of the stored full-resolution photo around the detection,
written once under ``<data_dir>/evidence/<sha256>.jpg`` (the hash of the JPEG bytes), so
the same crop is never stored twice; ``Finding.evidence_path`` is relative to the data root.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from patrol.geodesy import distance_m
from vision.detectors.base import Detection
from vision.errors import ImageReadError
from vision.models import Detection as DetectionRow
from vision.models import Finding

__all__ = ["MERGE_RADIUS_M", "MergeResult", "evidence_crop", "merge_detections", "write_evidence"]

#: Merge radius per category, metres: about the size of the thing plus the georeferencing
#: error of a 40 m nadir photo (~2 m, see vision.georef).
MERGE_RADIUS_M: Mapping[str, float] = {
    "exposed_garbage": 5.0,
    "construction_waste": 10.0,
    "illegal_structure": 15.0,
    "construction_dust": 30.0,
    "open_burning": 20.0,
    "street_vending": 10.0,
    "illegal_parking": 5.0,
    "illegal_banner": 10.0,
    "water_litter": 15.0,
}
DEFAULT_RADIUS_M = 10.0
EVIDENCE_DIR = "evidence"


@dataclass
class MergeResult:
    """What :func:`merge_detections` did: the stored detections and the findings touched."""

    detections: list[DetectionRow] = field(default_factory=list)
    new_findings: list[Finding] = field(default_factory=list)
    updated_findings: list[Finding] = field(default_factory=list)


def evidence_crop(pixels: np.ndarray, bbox_px: tuple[float, float, float, float], *, margin: float = 0.5,
                  min_side_px: int = 192, max_side_px: int = 1024, quality: int = 90) -> bytes:
    """JPEG bytes of a crop around ``bbox_px`` = (x, y, w, h) with context around it.

    Parameters
    ----------
    pixels : ndarray (H, W, 3) uint8
        The full-resolution photo (BGR).
    margin : float
        Context added on each side, as a fraction of the box's larger side.
    min_side_px, max_side_px : int
        The crop is at least ``min_side_px`` square (image permitting) and is downscaled so
        its long side is at most ``max_side_px``.

    Raises
    ------
    ImageReadError
        If the box lies outside the image.
    """
    height, width = pixels.shape[:2]
    x, y, w, h = bbox_px
    side = max(w, h) * (1.0 + 2.0 * margin)
    side = max(side, float(min_side_px))
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = int(max(math.floor(cx - side / 2), 0)), int(max(math.floor(cy - side / 2), 0))
    x1, y1 = int(min(math.ceil(cx + side / 2), width)), int(min(math.ceil(cy + side / 2), height))
    if x1 <= x0 or y1 <= y0:
        raise ImageReadError(f"evidence box {bbox_px} lies outside the {width} x {height} image")
    crop = pixels[y0:y1, x0:x1]
    long_side = max(crop.shape[:2])
    if long_side > max_side_px:
        f = max_side_px / long_side
        crop = cv2.resize(crop, (max(int(crop.shape[1] * f), 1), max(int(crop.shape[0] * f), 1)),
                          interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageReadError("OpenCV could not encode the evidence crop")
    return buf.tobytes()


def write_evidence(data_dir: Path | str, jpeg: bytes) -> str:
    """Store a crop as ``evidence/<sha256>.jpg`` under the data root, once.

    Returns
    -------
    str
        The path relative to the data root (POSIX separators).

    Raises
    ------
    OSError
        If the file cannot be written.
    """
    digest = hashlib.sha256(jpeg).hexdigest()
    rel = f"{EVIDENCE_DIR}/{digest}.jpg"
    dest = Path(data_dir) / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(jpeg)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return rel


def _new_sighting(finding: Finding, photo, taken: dt.datetime | None, same_visit_s: float) -> bool:
    if any(d.photo_id == photo.id for d in finding.detections):
        return False
    if taken is None or finding.last_seen_utc is None:
        return True
    return abs((taken - finding.last_seen_utc).total_seconds()) > same_visit_s


def _nearest(session: Session, category: str, lon: float, lat: float, radius_m: float) -> Finding | None:
    dlat = radius_m / 111_000.0 + 1e-6
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    candidates = session.scalars(sa.select(Finding).where(
        Finding.category == category, Finding.lat_deg.between(lat - dlat, lat + dlat),
        Finding.lon_deg.between(lon - dlon, lon + dlon))).all()
    best, best_d = None, float("inf")
    for f in candidates:
        d = distance_m(lon, lat, f.lon_deg, f.lat_deg)
        if d <= radius_m and d < best_d:
            best, best_d = f, d
    return best


def merge_detections(session: Session, detections_with_photo: Iterable[tuple[Detection, object]], *,
                     data_dir: Path | str, radius_m_by_category: Mapping[str, float] | None = None,
                     same_visit_s: float = 30.0) -> MergeResult:
    """Store detections and merge them into findings by ground position.

    Parameters
    ----------
    session : Session
        The caller's session (rows are added and flushed, never committed).
    detections_with_photo : iterable of (Detection, Photo)
        Detections with the photo each was found in, best in time order.
    data_dir : Path
        The data root; evidence crops are read from ``photo.stored_path`` under it and
        written to ``evidence/``.
    radius_m_by_category : mapping, optional
        Merge radius per category, metres (default :data:`MERGE_RADIUS_M`, else 10 m).
    same_visit_s : float
        Detections within this many seconds of a finding's last sighting belong to the same
        sighting.

    Returns
    -------
    MergeResult

    Raises
    ------
    ImageReadError
        If a photo's image cannot be read for the evidence crop.
    """
    radii = dict(MERGE_RADIUS_M)
    radii.update(radius_m_by_category or {})
    data_dir = Path(data_dir)
    result = MergeResult()
    pixels_cache: dict[int, np.ndarray] = {}

    def crop_path(det: Detection, photo) -> str:
        if photo.id not in pixels_cache:
            pixels_cache.clear()  # one full-resolution photo in memory at a time
            path = data_dir / photo.stored_path
            x = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            if x is None:
                raise ImageReadError(f"{path}: OpenCV could not decode the image for the evidence crop")
            pixels_cache[photo.id] = x
        return write_evidence(data_dir, evidence_crop(pixels_cache[photo.id], det.bbox_px))

    for det, photo in detections_with_photo:
        lon, lat = det.centre_lonlat
        radius = float(radii.get(det.category, DEFAULT_RADIUS_M))
        taken = photo.taken_utc
        row = DetectionRow(photo_id=photo.id, reference_photo_id=det.reference_photo_id, detector=det.detector,
                           category=det.category, score=det.score, bbox_px=[round(v, 1) for v in det.bbox_px],
                           polygon=mapping(det.polygon_wgs84), lat_deg=lat, lon_deg=lon, area_m2=det.area_m2)
        finding = _nearest(session, det.category, lon, lat, radius)
        if finding is None:
            finding = Finding(category=det.category, status="new", lat_deg=lat, lon_deg=lon, radius_m=radius,
                              score=det.score, first_seen_utc=taken, last_seen_utc=taken, seen_count=1,
                              evidence_path=crop_path(det, photo), polygon=row.polygon)
            session.add(finding)
            result.new_findings.append(finding)
        else:
            if _new_sighting(finding, photo, taken, same_visit_s):
                finding.seen_count += 1
            if taken is not None:
                if finding.first_seen_utc is None or taken < finding.first_seen_utc:
                    finding.first_seen_utc = taken
                if finding.last_seen_utc is None or taken > finding.last_seen_utc:
                    finding.last_seen_utc = taken
            if det.score > finding.score:
                finding.score = det.score
                finding.evidence_path = crop_path(det, photo)
                finding.polygon = row.polygon
            n = len(finding.detections)
            finding.lat_deg = (finding.lat_deg * n + lat) / (n + 1)
            finding.lon_deg = (finding.lon_deg * n + lon) / (n + 1)
            if finding not in result.new_findings and finding not in result.updated_findings:
                result.updated_findings.append(finding)
        row.finding = finding
        session.add(row)
        session.flush()
        result.detections.append(row)
    return result

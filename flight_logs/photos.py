"""Import a folder of photos into the archive: stored by hash, indexed with where and when.

Each ``*.jpg``/``*.jpeg`` (any case) is kept under the data root by its SHA-256 and gets a
:class:`~flight_logs.models.Photo` row. Its position comes from, in order:

1. its EXIF GPS tags (``position_source="exif"``);
2. the ``CAMERA_FEEDBACK`` of its flight nearest in time, within a tolerance
   (``"camera_feedback"``);
3. its flight's track interpolated at the capture time (``"track"``).

The flight is the one given, else the one flight in the database whose time window
(``start_utc`` .. ``end_utc``, open-ended while armed) holds the capture time. The capture
time is the EXIF time (see :mod:`flight_logs.photo_metadata`), else the one in a CUAV-style file name
(``YYYYMMDDhhmmssccZ.jpg``), plus ``clock_offset_s``; the stored ``taken_utc`` is that
corrected time.

Nothing is lost: a photo that cannot be located is stored with a null position and a
warning; a photo whose metadata cannot be read is reported in ``skipped`` with the reason
and the import goes on. Importing the same folder again creates nothing new, but locates
photos that had no position if a flight now covers them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from flight_logs.errors import ArchiveError, PhotoMetadataError
from flight_logs.photo_metadata import PhotoMetadata, capture_time_from_name, read_photo_metadata
from flight_logs.geotag import (CameraSample, GeoFix, TrackSample, interpolate_track,
                                locate_from_camera_feedback)
from flight_logs.models import CameraPosition, Flight, Photo, TrackPoint
from flight_logs.store import file_sha256, store_file

__all__ = ["PHOTO_SUFFIXES", "PhotoImport", "import_photo_folder"]

PHOTO_SUFFIXES = (".jpg", ".jpeg")


@dataclass
class PhotoImport:
    """What one folder import did.

    Attributes
    ----------
    folder : Path
        The folder imported.
    photos : list of Photo
        Every readable photo of the folder as it now stands in the archive (new or already
        there), sorted by capture time (unknown times last), then file name.
    new_count : int
        Photos added by this import.
    skipped : list of (str, str)
        File name and reason for each file that could not be read.
    warnings : list of str
        Photos stored without a position or time, and why; other oddities.
    updated_count : int
        Photos already in the archive without a position that this import located.
    """

    folder: Path
    photos: list[Photo] = field(default_factory=list)
    new_count: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    updated_count: int = 0

    @property
    def located_count(self) -> int:
        """Photos of the folder that have a position."""
        return sum(p.lat_deg is not None for p in self.photos)


def import_photo_folder(session: Session, data_dir: Path, folder: Path | str, *,
                        photo_set: str | None = None, flight: Flight | None = None,
                        clock_offset_s: float = 0.0, local_utc_offset_h: float | None = None,
                        feedback_tolerance_s: float = 1.0, max_track_gap_s: float = 10.0) -> PhotoImport:
    """Store every JPEG of a folder and index it with position, time and attitude.

    Parameters
    ----------
    session : Session
        The caller's session; rows are added and flushed, never committed.
    data_dir : Path
        The data root; files go to ``raw/photo/`` under it.
    folder : Path or str
        The folder (not recursive).
    photo_set : str, optional
        Name of the set (default: the folder's name).
    flight : Flight, optional
        The flight the photos were taken on; without it, each photo's flight is looked up
        by its capture time.
    clock_offset_s : float
        Seconds added to each photo's time (camera clock correction) before it is stored
        and matched.
    local_utc_offset_h : float, optional
        UTC offset of the camera clock for photos whose EXIF time has no zone (see
        :func:`~flight_logs.photo_metadata.read_photo_metadata`).
    feedback_tolerance_s : float
        Largest time difference accepted when matching a ``CAMERA_FEEDBACK``, seconds.
    max_track_gap_s : float
        Longest gap between track fixes to interpolate across, seconds.

    Returns
    -------
    PhotoImport

    Raises
    ------
    ArchiveError
        If ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ArchiveError(f"{folder}: not a folder")
    result = PhotoImport(folder=folder)
    photo_set = photo_set or folder.name
    if flight is not None and flight.id is None:
        session.flush()
    locator = _Locator(session, flight, clock_offset_s, feedback_tolerance_s, max_track_gap_s)
    by_hash: dict[str, Photo] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    for path in files:
        try:
            digest = file_sha256(path)
        except OSError as err:
            result.skipped.append((path.name, f"cannot read: {err}"))
            continue
        photo = by_hash.get(digest) or session.scalar(sa.select(Photo).where(Photo.sha256 == digest))
        if photo is not None and digest in by_hash:
            result.warnings.append(f"{path.name}: same content as {photo.original_name}; kept once")
            continue
        if photo is not None and photo.lat_deg is not None:
            by_hash[digest] = photo
            result.photos.append(photo)
            continue
        try:
            meta = read_photo_metadata(path, local_utc_offset_h=local_utc_offset_h)
        except PhotoMetadataError as err:
            result.skipped.append((path.name, str(err)))
            continue
        except OSError as err:
            result.skipped.append((path.name, f"cannot read: {err}"))
            continue
        if photo is None:
            try:
                _, stored_path = store_file(data_dir, path, "photo", sha256=digest)
            except OSError as err:
                result.skipped.append((path.name, f"cannot store: {err}"))
                continue
            photo = _new_photo(meta, digest, stored_path, path.name, photo_set, clock_offset_s, result)
            session.add(photo)
            result.new_count += 1
            _locate(photo, meta, locator, result)
        else:
            result.updated_count += _locate(photo, meta, locator, result)
        by_hash[digest] = photo
        result.photos.append(photo)
    session.flush()
    far_future = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    result.photos.sort(key=lambda p: (p.taken_utc is None, p.taken_utc or far_future, p.original_name))
    return result


def _new_photo(meta: PhotoMetadata, digest: str, stored_path: str, name: str, photo_set: str,
               clock_offset_s: float, result: PhotoImport) -> Photo:
    taken, time_source = meta.taken_utc, meta.time_source
    if taken is None:
        taken = capture_time_from_name(name)
        time_source = "file_name" if taken is not None else None
    if taken is not None:
        taken += dt.timedelta(seconds=clock_offset_s)
    else:
        result.warnings.append(f"{name}: no capture time (" + ("; ".join(meta.problems) or "no EXIF time, "
                               "no time in the file name") + ")")
    for problem in meta.problems:
        if not problem.startswith("DateTimeOriginal has no time zone"):
            result.warnings.append(f"{name}: {problem}")
    photo = Photo(sha256=digest, stored_path=stored_path, original_name=name, photo_set=photo_set,
                  taken_utc=taken, time_source=time_source, width_px=meta.width_px, height_px=meta.height_px,
                  camera_make=meta.make, camera_model=meta.model, focal_length_mm=meta.focal_length_mm,
                  focal_length_35mm=meta.focal_length_35mm, alt_rel_m=meta.alt_rel_m,
                  gimbal_pitch_deg=meta.gimbal_pitch_deg, gimbal_yaw_deg=meta.gimbal_yaw_deg,
                  gimbal_roll_deg=meta.gimbal_roll_deg, flight_yaw_deg=meta.flight_yaw_deg)
    if meta.has_position:
        photo.lat_deg, photo.lon_deg, photo.alt_amsl_m = meta.lat_deg, meta.lon_deg, meta.alt_amsl_m
        photo.position_source = "exif"
    return photo


def _locate(photo: Photo, meta: PhotoMetadata, locator: "_Locator", result: PhotoImport) -> bool:
    """Link the photo to its flight and, without EXIF position, place it; True if placed now."""
    name = photo.original_name
    flight, why = locator.flight_for(photo.taken_utc)
    if flight is not None:
        photo.flight_id = flight.id
        if why:
            result.warnings.append(f"{name}: {why}")
    if photo.lat_deg is not None:
        return False
    if photo.taken_utc is None:
        result.warnings.append(f"{name}: stored without position: no EXIF GPS and no capture time")
        return False
    if flight is None:
        result.warnings.append(f"{name}: stored without position: no EXIF GPS and {why}")
        return False
    fix = locator.fix(flight, photo.taken_utc)
    if fix is None:
        result.warnings.append(f"{name}: stored without position: flight {flight.id} has no CAMERA_FEEDBACK "
                               f"within {locator.feedback_tolerance_s:g} s of {photo.taken_utc.isoformat()} "
                               f"and its track does not cover that time")
        return False
    photo.lat_deg, photo.lon_deg = fix.lat_deg, fix.lon_deg
    photo.alt_rel_m, photo.alt_amsl_m = fix.alt_rel_m, fix.alt_amsl_m
    photo.position_source = fix.source
    if photo.flight_yaw_deg is None:
        photo.flight_yaw_deg = fix.heading_deg
    return True


class _Locator:
    """Finds a photo's flight and its fix there, loading each flight's rows once."""

    def __init__(self, session: Session, flight: Flight | None, clock_offset_s: float,
                 feedback_tolerance_s: float, max_track_gap_s: float):
        self.session, self.flight = session, flight
        self.feedback_tolerance_s, self.max_track_gap_s = feedback_tolerance_s, max_track_gap_s
        self._rows: dict[int, tuple[list[CameraSample], list[TrackSample]]] = {}

    def flight_for(self, t: dt.datetime | None) -> tuple[Flight | None, str]:
        """The photo's flight and a note (why none, or why the given one is doubtful)."""
        if self.flight is not None:
            f = self.flight
            if t is not None and not (f.start_utc <= t and (f.end_utc is None or t <= f.end_utc)):
                return f, (f"taken at {t.isoformat()}, outside the given flight {f.id} "
                           f"({f.start_utc.isoformat()} .. {f.end_utc.isoformat() if f.end_utc else 'armed'})")
            return f, ""
        if t is None:
            return None, "no capture time to find its flight by"
        flights = self.session.scalars(
            sa.select(Flight).where(Flight.start_utc <= t, sa.or_(Flight.end_utc.is_(None), Flight.end_utc >= t))
            .order_by(Flight.id)).all()
        if len(flights) == 1:
            return flights[0], ""
        if not flights:
            return None, f"no flight in the archive covers {t.isoformat()}"
        return None, (f"{len(flights)} flights cover {t.isoformat()} (ids {', '.join(str(f.id) for f in flights)}): "
                      "give the flight")

    def fix(self, flight: Flight, t: dt.datetime) -> GeoFix | None:
        cams, track = self._load(flight)
        fix = locate_from_camera_feedback(t, cams, tolerance_s=self.feedback_tolerance_s) if cams else None
        return fix or interpolate_track(t, track, max_gap_s=self.max_track_gap_s)

    def _load(self, flight: Flight) -> tuple[list[CameraSample], list[TrackSample]]:
        if flight.id not in self._rows:
            cams = self.session.execute(
                sa.select(CameraPosition.t_utc, CameraPosition.lat_deg, CameraPosition.lon_deg,
                          CameraPosition.alt_amsl_m, CameraPosition.alt_rel_m, CameraPosition.roll_deg,
                          CameraPosition.pitch_deg, CameraPosition.yaw_deg, CameraPosition.img_idx)
                .where(CameraPosition.flight_id == flight.id).order_by(CameraPosition.t_utc)).all()
            track = self.session.execute(
                sa.select(TrackPoint.t_utc, TrackPoint.lat_deg, TrackPoint.lon_deg, TrackPoint.alt_rel_m,
                          TrackPoint.alt_amsl_m, TrackPoint.heading_deg)
                .where(TrackPoint.flight_id == flight.id).order_by(TrackPoint.t_utc)).all()
            self._rows[flight.id] = ([CameraSample(*r) for r in cams], [TrackSample(*r) for r in track])
        return self._rows[flight.id]

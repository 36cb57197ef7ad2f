"""EXIF (the TIFF structure in a JPEG's APP1 segment): position, time and camera fields.

ExifRead decodes the IFDs; this module checks what it returns, so that a damaged field
this project reads raises :class:`~flight_logs.errors.PhotoMetadataError` naming the field
and its byte offset in the file, instead of passing as a wrong number or a missing tag.
The conventions of the values are those of :mod:`flight_logs.photo_metadata`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import exifread

from flight_logs.errors import PhotoMetadataError

__all__ = ["TIFF_HEADERS", "read_exif_block"]

TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
# EXIF fields this module reads: a fault in one of them is an error, elsewhere a note.
_USED_FIELDS = (
    "Image Make", "Image Model", "Image ExifOffset", "Image GPSInfo",
    "EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal", "EXIF OffsetTimeOriginal",
    "EXIF FocalLength", "EXIF FocalLengthIn35mmFilm", "EXIF ExifImageWidth", "EXIF ExifImageLength",
    "GPS GPSLatitudeRef", "GPS GPSLatitude", "GPS GPSLongitudeRef", "GPS GPSLongitude",
    "GPS GPSAltitudeRef", "GPS GPSAltitude", "GPS GPSTimeStamp", "GPS GPSDate", "GPS GPSStatus",
)


def read_exif_block(tiff: bytes, base: int, path: Path, problems: list[str],
                    local_utc_offset_h: float | None) -> dict[str, Any]:
    """Decode the EXIF block of a JPEG.

    Parameters
    ----------
    tiff : bytes
        The TIFF structure (the APP1 payload after ``Exif\\0\\0``).
    base : int
        Its byte offset in the file, to name faults by file offset.
    path : Path
        The file, to name in messages.
    problems : list of str
        Faults that do not stop the reading are appended here.
    local_utc_offset_h : float or None
        UTC offset of a zoneless camera clock, hours.

    Returns
    -------
    dict
        :class:`~flight_logs.photo_metadata.PhotoMetadata` field values (``make``,
        ``model``, position, time, focal lengths) and ``exif_size`` (the EXIF pixel
        dimensions, for a cross-check).

    Raises
    ------
    PhotoMetadataError
        The TIFF header, an IFD or a field read here is corrupt.
    """
    if tiff[:4] not in TIFF_HEADERS:
        raise PhotoMetadataError(f"{path}: corrupt EXIF block at byte {base}: bad TIFF header "
                                 f"{tiff[:4].hex()} (expected 49492a00 or 4d4d002a)")
    try:
        tags = exifread.process_file(io.BytesIO(tiff), details=False, strict=True, extract_thumbnail=False)
    except Exception as err:  # ExifRead raises assorted types on malformed IFDs
        raise PhotoMetadataError(f"{path}: corrupt EXIF block at byte {base}: {err}") from err
    exif = _ExifFields(tags, len(tiff), base, path)
    for key, tag in tags.items():
        if key not in _USED_FIELDS and tag.field_offset + tag.field_length > len(tiff):
            problems.append(f"EXIF field {key} at byte {base + tag.field_offset} lies past the end "
                            f"of the EXIF block (ignored)")
    for pointer in ("Image ExifOffset", "Image GPSInfo"):
        if pointer in tags and len(tags[pointer].values) != 1:
            raise exif.error(pointer, f"an IFD pointer must hold one offset, found {len(tags[pointer].values)}")
        target = exif.as_int(pointer)
        if target is not None and target + 2 > len(tiff):
            raise exif.error(pointer, f"points to byte {base + target}, past the end of the EXIF block "
                                      f"(byte {base + len(tiff)})")
    out: dict[str, Any] = {"make": exif.text("Image Make"), "model": exif.text("Image Model")}
    out.update(_exif_position(exif, problems))
    out.update(_exif_time(exif, problems, local_utc_offset_h))
    focal = exif.as_float("EXIF FocalLength")
    focal_35 = exif.as_float("EXIF FocalLengthIn35mmFilm")
    out["focal_length_mm"] = focal if focal else None
    out["focal_length_35mm"] = focal_35 if focal_35 else None
    out["exif_size"] = (exif.as_int("EXIF ExifImageWidth"), exif.as_int("EXIF ExifImageLength"))
    return out


class _ExifFields:
    """Typed, bounds-checked access to the ExifRead tags this module uses."""

    def __init__(self, tags: dict[str, Any], block_len: int, base: int, path: Path):
        self.tags, self.block_len, self.base, self.path = tags, block_len, base, path

    def offset(self, key: str) -> int:
        return self.base + self.tags[key].field_offset

    def error(self, key: str, what: str) -> PhotoMetadataError:
        return PhotoMetadataError(f"{self.path}: corrupt EXIF field {key.split(' ', 1)[1]} "
                                  f"at byte {self.offset(key)}: {what}")

    def values(self, key: str) -> Any:
        tag = self.tags.get(key)
        if tag is None:
            return None
        if tag.field_offset + tag.field_length > self.block_len:
            raise PhotoMetadataError(
                f"{self.path}: corrupt EXIF field {key.split(' ', 1)[1]}: its {tag.field_length} bytes at byte "
                f"{self.offset(key)} run past the end of the EXIF block (byte {self.base + self.block_len})")
        return tag.values

    def text(self, key: str) -> str | None:
        v = self.values(key)
        if v is None:
            return None
        if isinstance(v, bytes):
            raise self.error(key, f"not text: {v[:20]!r}")
        v = str(v).strip().strip("\x00").strip()
        return v or None

    def as_int(self, key: str) -> int | None:
        v = self.values(key)
        if v is None or v == []:
            return None
        if not isinstance(v, list) or not isinstance(v[0], int):
            raise self.error(key, f"expected an integer, found {v!r}")
        return v[0]

    def floats(self, key: str, count: int) -> list[float] | None:
        v = self.values(key)
        if v is None:
            return None
        if not isinstance(v, list) or len(v) != count:
            raise self.error(key, f"expected {count} number(s), found {v!r}")
        out = []
        for x in v:
            if hasattr(x, "den") and x.den == 0:
                raise self.error(key, f"zero denominator in {x.num}/0")
            out.append(float(x[0] if isinstance(x, tuple) else x))
        return out

    def as_float(self, key: str) -> float | None:
        v = self.floats(key, 1)
        return None if v is None else v[0]


def _exif_position(exif: _ExifFields, problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lat = _dms(exif, "GPS GPSLatitude", "GPS GPSLatitudeRef", "NS", 90.0)
    lon = _dms(exif, "GPS GPSLongitude", "GPS GPSLongitudeRef", "EW", 180.0)
    if (lat is None) != (lon is None):
        present = "GPS GPSLatitude" if lat is not None else "GPS GPSLongitude"
        raise exif.error(present, "latitude and longitude must come together; the other is missing")
    status = exif.text("GPS GPSStatus")
    if lat is not None and status == "V":
        problems.append("GPSStatus V (measurement void): position ignored")
    elif lat is not None and lat == 0.0 and lon == 0.0:
        problems.append("GPS position 0, 0 (no fix written as zeros): position ignored")
    elif lat is not None:
        out["lat_deg"], out["lon_deg"] = lat, lon
    alt = exif.as_float("GPS GPSAltitude")
    if alt is not None and "lat_deg" in out:
        ref = exif.as_int("GPS GPSAltitudeRef") or 0
        if ref not in (0, 1):
            raise exif.error("GPS GPSAltitudeRef", f"{ref} is neither 0 (above) nor 1 (below sea level)")
        out["alt_amsl_m"] = -alt if ref == 1 else alt
    return out


def _dms(exif: _ExifFields, key: str, ref_key: str, refs: str, limit: float) -> float | None:
    dms = exif.floats(key, 3)
    if dms is None:
        return None
    deg, minutes, seconds = dms
    if not (0 <= deg <= limit and 0 <= minutes < 60 and 0 <= seconds < 60):
        raise exif.error(key, f"{deg} deg {minutes} min {seconds} s is not a valid angle")
    ref = exif.text(ref_key)
    if ref not in tuple(refs):
        raise exif.error(ref_key if ref_key in exif.tags else key,
                         f"hemisphere reference {ref!r} is not one of {', '.join(refs)}")
    value = deg + minutes / 60.0 + seconds / 3600.0
    if value > limit:
        raise exif.error(key, f"{value} deg is out of range")
    return -value if ref == refs[1] else value


def _exif_time(exif: _ExifFields, problems: list[str], local_utc_offset_h: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    original = _exif_datetime(exif, "EXIF DateTimeOriginal")
    if original is not None:
        sub = exif.text("EXIF SubSecTimeOriginal")
        if sub is not None and sub.isdigit():
            original = original.replace(microsecond=int(round(float("0." + sub) * 1e6)) % 1_000_000)
        out["datetime_original"] = original
    gps_time = _gps_time(exif)
    if gps_time is not None:
        out["taken_utc"], out["time_source"] = gps_time, "exif_gps"
    elif original is not None:
        zone = exif.text("EXIF OffsetTimeOriginal")
        if zone is not None:
            m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", zone)
            if m is None:
                raise exif.error("EXIF OffsetTimeOriginal", f"{zone!r} is not ±HH:MM")
            sign = -1 if m.group(1) == "-" else 1
            offset = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3))) * sign
            out["taken_utc"] = original.replace(tzinfo=dt.timezone(offset)).astimezone(dt.timezone.utc)
            out["time_source"] = "exif_offset"
        elif local_utc_offset_h is not None:
            out["taken_utc"] = (original - dt.timedelta(hours=local_utc_offset_h)).replace(tzinfo=dt.timezone.utc)
            out["time_source"] = "exif_local"
        else:
            problems.append("DateTimeOriginal has no time zone (no GPS time, no OffsetTimeOriginal): "
                            "taken_utc left None; give the camera's UTC offset")
    return out


def _exif_datetime(exif: _ExifFields, key: str) -> dt.datetime | None:
    text = exif.text(key)
    if text is None or text.strip(" :0") == "":  # EXIF writes blanks or zeros when unknown
        return None
    try:
        return dt.datetime.strptime(text[:19].replace("-", ":"), "%Y:%m:%d %H:%M:%S")
    except ValueError as err:
        raise exif.error(key, f"{text!r} is not 'YYYY:MM:DD HH:MM:SS'") from err


def _gps_time(exif: _ExifFields) -> dt.datetime | None:
    hms = exif.floats("GPS GPSTimeStamp", 3)
    date = exif.text("GPS GPSDate")
    if hms is None or date is None:
        return None
    hour, minute, second = hms
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 61):
        raise exif.error("GPS GPSTimeStamp", f"{hour}:{minute}:{second} is not a time of day")
    try:
        day = dt.datetime.strptime(date.replace("-", ":"), "%Y:%m:%d")
    except ValueError as err:
        raise exif.error("GPS GPSDate", f"{date!r} is not 'YYYY:MM:DD'") from err
    return (day.replace(tzinfo=dt.timezone.utc)
            + dt.timedelta(hours=hour, minutes=minute, microseconds=round(second * 1e6)))

"""Where, when and how a photo was taken, from its EXIF and XMP metadata.

:func:`read_photo_metadata` reads one JPEG into a :class:`PhotoMetadata`; the JPEG
segments are walked here (so a fault can be named by its byte offset), the EXIF block is
decoded by :mod:`flight_logs.exif` (ExifRead) and the XMP packet by ElementTree.

Conventions of the result, whatever the camera wrote:

- **Time.** ``taken_utc`` is timezone-aware UTC, taken from (first that applies)
  EXIF ``GPSDateStamp`` + ``GPSTimeStamp`` (UTC by definition; ``time_source="exif_gps"``);
  ``DateTimeOriginal`` (+ ``SubSecTimeOriginal``) with its ``OffsetTimeOriginal``
  (``"exif_offset"``); ``DateTimeOriginal`` read as local wall-clock time and shifted by the
  caller's ``local_utc_offset_h`` (``"exif_local"``). Otherwise ``taken_utc`` is None (a
  zoneless camera clock is not guessed to be UTC) and ``datetime_original`` still holds the
  camera's wall-clock reading.
- **Position.** WGS84 degrees; ``alt_amsl_m`` from ``GPSAltitude`` signed by
  ``GPSAltitudeRef`` (1 = below sea level); ``alt_rel_m`` (above take-off) only where the
  camera says so (DJI ``drone-dji:RelativeAltitude``).
- **Attitude** in degrees, DJI's gimbal convention, the one :class:`~flight_logs.models.Photo`
  stores: pitch -90 = nadir, 0 = horizon; yaw clockwise from north of the top of the
  image, normalised to [0, 360); roll about the optical axis.

  * DJI ``drone-dji`` (``http://www.dji.com/drone-dji/1.0/``): ``Gimbal{Pitch,Yaw,Roll}Degree``
    as written; ``Flight{Yaw,Pitch,Roll}Degree`` are the aircraft's.
  * Pix4D ``Camera`` namespace (``http://pix4d.com/camera/1.0/``, written by the Parrot
    Sequoia): Pix4D defines pitch 0 = nadir, 90 = looking forward; yaw 0 = top of the image
    to north; roll usually 0 on a gimbal (Pix4D support, "How are yaw, pitch, roll
    defined"; OpenDroneMap ``opendm/photo.py`` adds 90 to DJI's pitch for the same reason).
    So ``gimbal_pitch_deg = Camera:Pitch - 90``, ``gimbal_yaw_deg = Camera:Yaw mod 360``,
    ``gimbal_roll_deg = Camera:Roll``. The Sequoia is body-fixed, so this is the camera's
    attitude; ``flight_*`` stay None. The bundled Sequoia set bears this out: Camera:Pitch
    is 0.7 to 10.4 (gimbal pitch -89 to -80: near nadir, as a mapping camera is), and
    Camera:Yaw is the course between consecutive photos give or take 31 deg, the offset
    changing sign between northbound and southbound legs as a crosswind crab does.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any

from flight_logs.errors import PhotoMetadataError
from flight_logs.exif import TIFF_HEADERS, read_exif_block

__all__ = ["PhotoMetadata", "capture_time_from_name", "read_photo_metadata"]

DJI_NS = "http://www.dji.com/drone-dji/1.0/"
PIX4D_CAMERA_NS = "http://pix4d.com/camera/1.0/"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_EXIF_APP1_HEADER = b"Exif\x00\x00"
# Markers that stand alone (no length): TEM and RST0-7.
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_MARKER_NAMES = {0xDA: "SOS", 0xDB: "DQT", 0xC4: "DHT", 0xDD: "DRI", 0xFE: "COM",
                 **{0xE0 + n: f"APP{n}" for n in range(16)},
                 **{0xC0 + n: f"SOF{n}" for n in (0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15)}}
_NAME_TIME = re.compile(r"(?:^|\D)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$")


@dataclass(frozen=True)
class PhotoMetadata:
    """What a photo's EXIF and XMP say; None wherever the file is silent.

    Attributes
    ----------
    file_name : str
        The photo's file name.
    taken_utc : datetime or None
        Capture time, timezone-aware UTC (see the module docstring for the rule).
    time_source : str or None
        ``"exif_gps"``, ``"exif_offset"``, ``"exif_local"`` or None.
    datetime_original : datetime or None
        EXIF ``DateTimeOriginal`` (+ ``SubSecTimeOriginal``) as written: naive camera
        wall-clock time.
    lat_deg, lon_deg : float or None
        WGS84 position of the camera, degrees.
    alt_amsl_m : float or None
        ``GPSAltitude`` signed by ``GPSAltitudeRef``, metres.
    alt_rel_m : float or None
        Height above the take-off point, metres (DJI ``RelativeAltitude``).
    gimbal_pitch_deg, gimbal_yaw_deg, gimbal_roll_deg : float or None
        Camera attitude: pitch -90 = nadir; yaw clockwise from north in [0, 360).
    flight_yaw_deg, flight_pitch_deg, flight_roll_deg : float or None
        Aircraft attitude where the camera records it (DJI ``Flight*Degree``).
    attitude_source : str or None
        ``"drone-dji"`` or ``"pix4d-camera"``.
    width_px, height_px : int or None
        Image size from the JPEG frame header (SOFn; nothing is decoded), else from EXIF.
    make, model : str or None
        EXIF ``Make`` and ``Model``.
    focal_length_mm, focal_length_35mm : float or None
        EXIF ``FocalLength`` and ``FocalLengthIn35mmFilm``.
    xmp : Mapping[str, str]
        Every simple XMP property as written, keyed ``prefix:Name`` (for example
        ``"drone-dji:RelativeAltitude"``).
    problems : tuple of str
        Faults that did not stop the reading (image data truncated, a damaged field this
        module does not use, a zoneless time...).
    """

    file_name: str
    taken_utc: dt.datetime | None = None
    time_source: str | None = None
    datetime_original: dt.datetime | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_amsl_m: float | None = None
    alt_rel_m: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_roll_deg: float | None = None
    attitude_source: str | None = None
    width_px: int | None = None
    height_px: int | None = None
    make: str | None = None
    model: str | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    xmp: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    problems: tuple[str, ...] = ()

    @property
    def has_position(self) -> bool:
        """True when the photo carries a latitude and longitude."""
        return self.lat_deg is not None and self.lon_deg is not None


def capture_time_from_name(name: str) -> dt.datetime | None:
    """Capture time encoded in a file name as ``YYYYMMDDhhmmssccZ`` (UTC, cc = centiseconds).

    This is how the CUAV tools name their images (``2018080501004480Z.jpg``,
    ``exifimg2018021100040450Z.jpg``): the digits end the file's stem, after a non-digit
    prefix if any.

    Parameters
    ----------
    name : str
        A file name or path.

    Returns
    -------
    datetime or None
        Timezone-aware UTC, or None when the name does not follow the pattern or the
        digits are not a valid date and time.

    Examples
    --------
    >>> capture_time_from_name("2018080501004480Z.jpg")
    datetime.datetime(2018, 8, 5, 1, 0, 44, 800000, tzinfo=datetime.timezone.utc)
    >>> capture_time_from_name("exifimg2018021100040450Z.jpg").isoformat()
    '2018-02-11T00:04:04.500000+00:00'
    >>> capture_time_from_name("DJI_0018.JPG") is None
    True
    >>> capture_time_from_name("2018139901004480Z.jpg") is None   # month 13
    True
    """
    m = _NAME_TIME.search(PurePath(name).stem)
    if m is None:
        return None
    year, month, day, hour, minute, second, centi = (int(g) for g in m.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second, centi * 10_000, tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def read_photo_metadata(path: Path | str, *, local_utc_offset_h: float | None = None) -> PhotoMetadata:
    """Read a JPEG's position, time, attitude and camera from its EXIF and XMP.

    Parameters
    ----------
    path : Path or str
        The JPEG file.
    local_utc_offset_h : float, optional
        UTC offset of the camera clock in hours (for example -5 for US Central Daylight
        Time), used only when the photo has neither a GPS time stamp nor an
        ``OffsetTimeOriginal``: ``taken_utc = DateTimeOriginal - offset``. Without it such
        a photo gets ``taken_utc`` None.

    Returns
    -------
    PhotoMetadata
        A photo without EXIF (or without GPS tags) gives None position fields: that is not
        an error. Faults that leave the metadata usable are listed in ``problems``: image
        data truncated (no EOI marker), a damaged EXIF field this module does not read,
        EXIF pixel dimensions that disagree with the image.

    Raises
    ------
    PhotoMetadataError
        The file is empty, not a JPEG, truncated or malformed before the image data (the
        byte offset is named), or its EXIF block or XMP packet is corrupt (the field and
        byte offset are named).
    OSError
        The file cannot be opened or read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        segments, frame_size = _read_segments(fh, path, size)
        fh.seek(max(size - 2, 0))
        ends_with_eoi = fh.read(2) == b"\xff\xd9"
    problems: list[str] = []
    if not ends_with_eoi:
        problems.append(f"image data truncated: no JPEG EOI marker at the end ({size} bytes)")

    values: dict[str, Any] = {"file_name": path.name}
    exif_segment = next(((o, p) for o, p in segments if p.startswith(b"Exif")), None)
    for offset, payload in segments:
        if payload[6:10] in TIFF_HEADERS and not payload.startswith(b"Exif"):
            raise PhotoMetadataError(f"{path}: corrupt EXIF block: the APP1 segment at byte {offset} holds a "
                                     f"TIFF structure but its identifier is {payload[:6]!r}, not b'Exif\\x00\\x00'")
    if exif_segment is not None:
        offset, payload = exif_segment
        values.update(read_exif_block(payload[len(_EXIF_APP1_HEADER):], offset + 4 + len(_EXIF_APP1_HEADER),
                                      path, problems, local_utc_offset_h))
    xmp_display, xmp = _read_xmp(segments, path)
    values.update(_attitude_from_xmp(xmp, path))
    values["xmp"] = MappingProxyType(xmp_display)

    exif_size = values.pop("exif_size", (None, None))
    if frame_size is not None:
        values["width_px"], values["height_px"] = frame_size
        if exif_size != (None, None) and exif_size != frame_size:
            problems.append(f"EXIF ExifImageWidth/Length {exif_size[0]}x{exif_size[1]} differ from the "
                            f"frame header's {frame_size[0]}x{frame_size[1]} (the frame's are kept)")
    elif None not in exif_size:
        values["width_px"], values["height_px"] = exif_size
    values["problems"] = tuple(problems)
    return PhotoMetadata(**values)


# ------------------------------------------------------------------------------- JPEG structure
def _read_segments(fh, path: Path, size: int) -> tuple[list[tuple[int, bytes]], tuple[int, int] | None]:
    """The APP1 segments before the image data and the frame size.

    Walks the marker segments from SOI to SOS (ITU T.81 B.1.1): each is ``FF xx`` then a
    big-endian length that counts itself. Written here rather than left to Pillow so that a
    fault is named by its byte offset, and so that the EXIF block is parsed once (Pillow's
    ``Image.open`` parses it again and only warns about damage).

    Returns
    -------
    app1 : list of (int, bytes)
        File offset of each APP1 marker and the segment's payload.
    frame_size : (width_px, height_px) or None
        From the SOFn frame header (T.81 B.2.2); None when the header defers the height
        to a DNL marker.
    """
    if size == 0:
        raise PhotoMetadataError(f"{path}: empty file (0 bytes), not a JPEG")
    soi = fh.read(2)
    if soi != b"\xff\xd8":
        raise PhotoMetadataError(f"{path}: not a JPEG: starts with {soi.hex()} where a JPEG starts with ffd8 (SOI)")
    app1: list[tuple[int, bytes]] = []
    frame_size: tuple[int, int] | None = None
    pos = 2
    while True:
        head = fh.read(2)
        if len(head) < 2:
            raise PhotoMetadataError(f"{path}: truncated at byte {pos} of {size}, before the image data (no SOS marker)")
        if head[0] != 0xFF:
            raise PhotoMetadataError(f"{path}: byte {pos}: expected a JPEG marker (ff..), found {head.hex()}")
        marker = head[1]
        if marker == 0xFF:  # fill byte before a marker
            fh.seek(pos + 1)
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        name = _MARKER_NAMES.get(marker, f"marker ff{marker:02x}")
        if marker in (0xD8, 0xD9):
            raise PhotoMetadataError(f"{path}: byte {pos}: unexpected {'SOI' if marker == 0xD8 else 'EOI'} "
                                     "marker before the image data")
        length_bytes = fh.read(2)
        length = int.from_bytes(length_bytes, "big")
        if len(length_bytes) < 2 or length < 2:
            raise PhotoMetadataError(f"{path}: {name} segment at byte {pos}: bad or missing length")
        if pos + 2 + length > size:
            raise PhotoMetadataError(
                f"{path}: {name} segment at byte {pos} declares {length} bytes, past the end of the "
                f"file ({size} bytes): truncated or corrupt")
        if marker == 0xDA:
            return app1, frame_size
        if marker == 0xE1:
            app1.append((pos, fh.read(length - 2)))
        elif 0xE0 <= marker <= 0xEF:
            head = fh.read(min(6, length - 2))
            if head == _EXIF_APP1_HEADER:
                raise PhotoMetadataError(f"{path}: corrupt EXIF block: EXIF data in an {name} segment at byte {pos} "
                                         "(EXIF belongs in APP1)")
            fh.seek(length - 2 - len(head), io.SEEK_CUR)
        elif marker in _SOF_MARKERS:
            frame = fh.read(length - 2)
            if len(frame) < 5:
                raise PhotoMetadataError(f"{path}: {name} frame header at byte {pos} is too short ({length} bytes)")
            height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
            if width == 0:
                raise PhotoMetadataError(f"{path}: {name} frame header at byte {pos}: image width 0")
            frame_size = (width, height) if height else None
        else:
            fh.seek(length - 2, io.SEEK_CUR)
        pos += 2 + length


# ------------------------------------------------------------------------------- XMP
def _read_xmp(app1_segments: list[tuple[int, bytes]], path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Simple XMP properties of the first ``<x:xmpmeta>`` packet.

    Returns them twice: keyed ``prefix:Name`` as the file spells them (for display), and
    keyed ``{namespace URI}Name`` (for lookups: prefixes are the writer's choice).
    """
    for offset, payload in app1_segments:
        if payload.startswith(_EXIF_APP1_HEADER):
            continue
        start = payload.find(b"<x:xmpmeta")
        end = payload.find(b"</x:xmpmeta>")
        if start < 0:
            continue
        if end < start:
            raise PhotoMetadataError(f"{path}: XMP packet in the APP1 segment at byte {offset} is cut short "
                                     "(no </x:xmpmeta>)")
        packet = payload[start:end + len(b"</x:xmpmeta>")]
        try:
            return _xmp_properties(packet)
        except ET.ParseError as err:
            line, column = err.position
            raise PhotoMetadataError(f"{path}: XMP packet in the APP1 segment at byte {offset} is not "
                                     f"well-formed XML (line {line}, column {column}): {err}") from err
    return {}, {}


def _xmp_properties(packet: bytes) -> tuple[dict[str, str], dict[str, str]]:
    prefixes: dict[str, str] = {}
    root = None
    for event, item in ET.iterparse(io.BytesIO(packet), events=("start-ns", "end")):
        if event == "start-ns":
            prefixes.setdefault(item[1], item[0])
        else:
            root = item
    display: dict[str, str] = {}
    by_ns: dict[str, str] = {}
    if root is None:
        return display, by_ns
    for desc in root.iter(f"{{{_RDF_NS}}}Description"):
        items = [(k, v) for k, v in desc.attrib.items() if not k.startswith(f"{{{_RDF_NS}}}")]
        items += [(c.tag, c.text.strip()) for c in desc if len(c) == 0 and c.text and c.text.strip()]
        for key, value in items:
            uri, _, local = key[1:].partition("}") if key.startswith("{") else ("", "", key)
            prefix = prefixes.get(uri)
            display.setdefault(f"{prefix}:{local}" if prefix else key, value)
            by_ns.setdefault(f"{{{_normalise_ns(uri)}}}{local}", value)
    return display, by_ns


def _normalise_ns(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _attitude_from_xmp(xmp: dict[str, str], path: Path) -> dict[str, Any]:
    def number(ns: str, name: str) -> float | None:
        text = xmp.get(f"{{{ns}}}{name}")
        if text is None:
            return None
        try:
            return float(text)
        except ValueError as err:
            raise PhotoMetadataError(f"{path}: XMP property {name} = {text!r} is not a number") from err

    out: dict[str, Any] = {}
    if any(k.startswith(f"{{{DJI_NS}}}") for k in xmp):
        out["attitude_source"] = "drone-dji"
        out["alt_rel_m"] = number(DJI_NS, "RelativeAltitude")
        out["gimbal_pitch_deg"] = number(DJI_NS, "GimbalPitchDegree")
        out["gimbal_yaw_deg"] = _yaw(number(DJI_NS, "GimbalYawDegree"))
        out["gimbal_roll_deg"] = number(DJI_NS, "GimbalRollDegree")
        out["flight_yaw_deg"] = _yaw(number(DJI_NS, "FlightYawDegree"))
        out["flight_pitch_deg"] = number(DJI_NS, "FlightPitchDegree")
        out["flight_roll_deg"] = number(DJI_NS, "FlightRollDegree")
    elif number(PIX4D_CAMERA_NS, "Pitch") is not None or number(PIX4D_CAMERA_NS, "Yaw") is not None:
        pitch = number(PIX4D_CAMERA_NS, "Pitch")
        out["attitude_source"] = "pix4d-camera"
        out["gimbal_pitch_deg"] = None if pitch is None else pitch - 90.0
        out["gimbal_yaw_deg"] = _yaw(number(PIX4D_CAMERA_NS, "Yaw"))
        out["gimbal_roll_deg"] = number(PIX4D_CAMERA_NS, "Roll")
    return {k: v for k, v in out.items() if v is not None}


def _yaw(deg: float | None) -> float | None:
    """Yaw normalised to [0, 360).

    >>> _yaw(-16.7996), _yaw(360.0), _yaw(None)
    (343.2004, 0.0, None)
    """
    return None if deg is None else round(deg % 360.0, 9)

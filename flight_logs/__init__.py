"""The flight archive: raw files by content hash, flights segmented on arm/disarm with their
tracks, events and camera positions, and photos located by EXIF/XMP, CAMERA_FEEDBACK or track.

``import_paths`` archives any mix of tlogs, DataFlash logs and photo folders; ``import_tlog``,
``import_dataflash`` and ``import_photo_folder`` do one file or folder; ``FlightRecorder`` is
the state machine the tlog and DataFlash imports and the live daemon (``telemetry``) all feed.
"""

from flight_logs.dataflash import DataflashImport, check_dataflash, gps_to_utc_s, import_dataflash
from flight_logs.errors import ArchiveError, CorruptLogError, PhotoMetadataError
from flight_logs.geotag import interpolate_track, locate_from_camera_feedback
from flight_logs.importer import flight_summary, import_paths
from flight_logs.photo_metadata import PhotoMetadata, capture_time_from_name, read_photo_metadata
from flight_logs.photos import PhotoImport, import_photo_folder
from flight_logs.recorder import FlightRecorder, LinkRecorder
from flight_logs.store import file_sha256, resolve_stored, store_file
from flight_logs.tlog import TlogImport, TlogWriter, check_tlog, import_tlog

__all__ = [
    "ArchiveError",
    "CorruptLogError",
    "DataflashImport",
    "FlightRecorder",
    "LinkRecorder",
    "PhotoImport",
    "PhotoMetadata",
    "PhotoMetadataError",
    "TlogImport",
    "TlogWriter",
    "capture_time_from_name",
    "check_dataflash",
    "check_tlog",
    "file_sha256",
    "flight_summary",
    "gps_to_utc_s",
    "import_dataflash",
    "import_paths",
    "import_photo_folder",
    "import_tlog",
    "interpolate_track",
    "locate_from_camera_feedback",
    "read_photo_metadata",
    "resolve_stored",
    "store_file",
]

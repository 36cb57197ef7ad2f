"""Errors of the flight archive."""

from patrol.errors import PatrolError

__all__ = ["ArchiveError", "CorruptLogError", "PhotoMetadataError"]


class ArchiveError(PatrolError):
    """A file could not be archived or read; the message names the file and the fault."""


class CorruptLogError(ArchiveError):
    """A log is of the wrong type, empty, or unreadable past a given byte offset."""


class PhotoMetadataError(ArchiveError):
    """A photo's EXIF/XMP block is missing or corrupt in the named field."""

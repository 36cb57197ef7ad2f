"""Vision: georeferencing, detectors, findings (work in progress)."""

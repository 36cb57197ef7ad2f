"""The root of every error the project raises on purpose.

Each package derives its own base from :class:`PatrolError`::

    PatrolError
     +-- missions.MissionError        (bad areas, plans, files, mission protocol)
     +-- flight_logs.ArchiveError     (corrupt or unreadable logs and photos)
     +-- telemetry.TelemetryError     (links, commands refused, timeouts)
     +-- vision.VisionError           (georeferencing, detectors)
     +-- web.WebError                 (console)
          +-- web.WorkflowError       (case transitions not allowed)
"""


class PatrolError(Exception):
    """Base class of the project's own errors; the message names the file or value at fault."""

"""The daemon's configuration file: links, signing keys, alarm thresholds, timings.

TOML (read with the standard library's ``tomllib``) or YAML (``.yaml``/``.yml``, needs
PyYAML, which is not a dependency of the project), the same keys in both::

    flush_interval_s = 1.0          # tlog fsync and database writes (at most 1 s)
    stream_rate_hz = 4              # REQUEST_DATA_STREAM rate asked of every vehicle
    status_interval_s = 0.25        # vehicle_status rows and the live feed, at most this stale
    reconnect_initial_s = 0.5       # backoff of a failed link: first delay, doubling ...
    reconnect_max_s = 30.0          # ... up to this
    resume_within_s = 600.0         # an armed vehicle heard again this soon continues its flight

    [alarms]                        # telemetry.alarms.AlarmThresholds
    battery_low_pct = 30
    battery_critical_pct = 15
    link_loss_s = 5
    statustext_severity = "WARNING" # a MAV_SEVERITY name or number

    [signing]                       # default for every link (omit: no signing)
    key = "0f1e...64 hex digits"    # or: passphrase = "..." (SHA-256 of it, as MAVProxy's `signing setup`)
    require = true                  # reject unsigned frames

    [[links]]
    url = "udpin:0.0.0.0:14550"
    name = "Dock 1"                 # the vehicle's name in the archive
    [[links]]
    url = "tcp:10.0.0.7:5760"
    signing = false                 # this link without signing (or a table like [signing])

Every error names the file and the key at fault (:class:`ConfigError`). Keep a file holding
a key readable by the daemon's user only; :func:`load_config` warns otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.alarms import AlarmThresholds
from telemetry.errors import TelemetryError

__all__ = ["ConfigError", "DaemonConfig", "LinkConfig", "SigningConfig", "load_config", "parse_config",
           "passphrase_key"]

log = logging.getLogger(__name__)

_KEY_BYTES = 32


class ConfigError(TelemetryError):
    """The daemon's configuration is wrong; the message names the file and the key."""


def passphrase_key(passphrase: str) -> bytes:
    """The 32-byte MAVLink 2 signing key of a passphrase: its SHA-256, as MAVProxy's
    ``signing setup PASSPHRASE`` and Mission Planner derive it.

    >>> passphrase_key("drone-patrol").hex()[:16]
    'bd84da2ad059de3b'
    """
    return hashlib.sha256(passphrase.encode("utf-8")).digest()


@dataclass(frozen=True)
class SigningConfig:
    """MAVLink 2 signing on a link.

    Parameters
    ----------
    key : bytes
        The 32-byte secret key (shared with the vehicle).
    require : bool
        Reject unsigned frames (and frames whose signature fails).

    Raises
    ------
    ValueError
        ``key`` is not 32 bytes.
    """

    key: bytes = field(repr=False)
    require: bool = True

    def __post_init__(self) -> None:
        if len(self.key) != _KEY_BYTES:
            raise ValueError(f"a MAVLink 2 signing key is {_KEY_BYTES} bytes, got {len(self.key)}")


@dataclass(frozen=True)
class LinkConfig:
    """One link: its pymavlink connection string, a name for its vehicles, signing, serial speed."""

    url: str
    name: str | None = None
    signing: SigningConfig | None = None
    baud: int = 57600


@dataclass(frozen=True)
class DaemonConfig:
    """Everything the daemon is told (module docstring for the keys and their meaning);
    ``default_signing`` is the file's ``[signing]``, given to links added by URL."""

    links: tuple[LinkConfig, ...] = ()
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    flush_interval_s: float = 1.0
    stream_rate_hz: int = 4
    status_interval_s: float = 0.25
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    resume_within_s: float = 600.0
    default_signing: SigningConfig | None = field(default=None, repr=False)

    def with_links(self, urls: list[str] | tuple[str, ...]) -> "DaemonConfig":
        """This configuration plus links given by URL (the command line's ``--link``), which get
        the file's default signing; a URL already configured is not added twice."""
        known = {link.url for link in self.links}
        extra = tuple(LinkConfig(url, signing=self.default_signing) for url in dict.fromkeys(urls) if url not in known)
        return dataclasses.replace(self, links=self.links + extra)


_TOP = {"flush_interval_s": float, "stream_rate_hz": int, "status_interval_s": float,
        "reconnect_initial_s": float, "reconnect_max_s": float, "resume_within_s": float}
_ALARM_FIELDS = {f.name: f.type for f in dataclasses.fields(AlarmThresholds)}


def _number(source: str, where: str, value: Any, kind: type) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"{source}: {where} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    return kind(value)


def _unknown(source: str, where: str, data: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise ConfigError(f"{source}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
                          f"in {where} (known: {', '.join(sorted(known))})")


def _signing(source: str, where: str, data: Any) -> SigningConfig | None:
    if data is False or data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {where} must be a table with key or passphrase (or false), got {data!r}")
    _unknown(source, where, data, {"key", "passphrase", "require"})
    if ("key" in data) == ("passphrase" in data):
        raise ConfigError(f"{source}: {where} needs exactly one of key (64 hex digits) or passphrase")
    if "key" in data:
        text = str(data["key"]).strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ConfigError(f"{source}: {where}.key is not hexadecimal") from None
        if len(key) != _KEY_BYTES:
            raise ConfigError(f"{source}: {where}.key must be {2 * _KEY_BYTES} hex digits ({_KEY_BYTES} bytes), "
                              f"got {len(text)} characters")
    else:
        if not isinstance(data["passphrase"], str) or not data["passphrase"]:
            raise ConfigError(f"{source}: {where}.passphrase must be a non-empty string")
        key = passphrase_key(data["passphrase"])
    require = data.get("require", True)
    if not isinstance(require, bool):
        raise ConfigError(f"{source}: {where}.require must be true or false, got {require!r}")
    return SigningConfig(key, require)


def _alarms(source: str, data: Any) -> AlarmThresholds:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [alarms] must be a table, got {data!r}")
    _unknown(source, "[alarms]", data, set(_ALARM_FIELDS))
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "statustext_severity" and isinstance(value, str):
            entry = getattr(mavlink, "MAV_SEVERITY_" + value.upper().removeprefix("MAV_SEVERITY_"), None)
            if entry is None:
                raise ConfigError(f"{source}: alarms.statustext_severity {value!r} is not a MAV_SEVERITY "
                                  f"(EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG)")
            values[name] = entry
            continue
        kind = int if name == "statustext_severity" else float
        values[name] = _number(source, f"alarms.{name}", value, kind)
    try:
        return AlarmThresholds(**values)
    except ValueError as err:
        raise ConfigError(f"{source}: [alarms]: {err}") from None


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> DaemonConfig:
    """A :class:`DaemonConfig` from the parsed file (``source`` names it in errors).

    Raises
    ------
    ConfigError
        Unknown key, wrong type or value, a link without ``url``, a bad signing key.

    Examples
    --------
    >>> cfg = parse_config({"links": [{"url": "udpin:0.0.0.0:14550", "name": "Dock 1"}],
    ...                     "alarms": {"battery_low_pct": 25, "statustext_severity": "ERROR"}})
    >>> cfg.links[0].name, cfg.alarms.battery_low_pct, cfg.alarms.statustext_severity
    ('Dock 1', 25.0, 3)
    >>> parse_config({"links": [{"name": "Dock 1"}]}, "fleet.toml")
    Traceback (most recent call last):
    ...
    telemetry.config.ConfigError: fleet.toml: links[1] has no url
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table of settings at the top, got {type(data).__name__}")
    _unknown(source, "the top level", data, {"links", "alarms", "signing", *_TOP})
    values: dict[str, Any] = {name: _number(source, name, data[name], kind) for name, kind in _TOP.items()
                              if name in data}
    for name, value in values.items():
        if value <= 0:
            raise ConfigError(f"{source}: {name} must be > 0, got {value!r}")
    if values.get("flush_interval_s", 1.0) > 1.0:
        raise ConfigError(f"{source}: flush_interval_s must be at most 1 s (the archive's promise), "
                          f"got {values['flush_interval_s']}")
    if values.get("reconnect_initial_s", 0.5) > values.get("reconnect_max_s", 30.0):
        raise ConfigError(f"{source}: reconnect_initial_s is larger than reconnect_max_s")
    default_signing = _signing(source, "[signing]", data.get("signing"))
    raw_links = data.get("links", [])
    if not isinstance(raw_links, list):
        raise ConfigError(f"{source}: links must be a list of tables ([[links]]), got {raw_links!r}")
    links: list[LinkConfig] = []
    for k, raw in enumerate(raw_links, 1):
        where = f"links[{k}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: {where} must be a table, got {raw!r}")
        _unknown(source, where, raw, {"url", "name", "signing", "baud"})
        url = raw.get("url")
        if not url:
            raise ConfigError(f"{source}: {where} has no url")
        if not isinstance(url, str):
            raise ConfigError(f"{source}: {where}.url must be a string, got {url!r}")
        if url in {link.url for link in links}:
            raise ConfigError(f"{source}: {where}: link {url!r} is listed twice")
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{source}: {where}.name must be a string, got {name!r}")
        signing = _signing(source, f"{where}.signing", raw["signing"]) if "signing" in raw else default_signing
        baud = _number(source, f"{where}.baud", raw.get("baud", 57600), int)
        links.append(LinkConfig(url, name, signing, baud))
    alarms = _alarms(source, data["alarms"]) if "alarms" in data else AlarmThresholds()
    return DaemonConfig(links=tuple(links), alarms=alarms, default_signing=default_signing, **values)


def load_config(path: Path | str) -> DaemonConfig:
    """Read a daemon configuration file (``.toml``, or ``.yaml``/``.yml`` with PyYAML installed).

    Raises
    ------
    ConfigError
        Unreadable file, syntax error (with the parser's line), unknown suffix, or as
        :func:`parse_config`.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration: {err.strerror or err}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"{path}: reading YAML needs PyYAML (pip install PyYAML); "
                              f"or write the same keys as TOML (.toml)") from None
        try:
            data = yaml.safe_load(raw) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
    else:
        raise ConfigError(f"{path}: unknown configuration format {suffix or '(no suffix)'!r}: "
                          f"give a .toml (or .yaml) file")
    config = parse_config(data, str(path))
    has_key = config.default_signing is not None or any(link.signing is not None for link in config.links)
    if has_key and os.name == "posix" and path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s holds a MAVLink signing key and is readable by other users: chmod 600 it", path)
    return config

"""The case taxonomy as data: event classes (大类) and subclasses (小类) of GB/T 30428.

A bureau keeps its own codes, names, filing and closing conditions and time limits in a YAML
file (shipped example: ``web/data/taxonomy.yaml``; codes vary by city, so none is written in
Python). :func:`load_taxonomy` reads and checks one, naming the file, the entry and the field
of every fault; :func:`parse_taxonomy` checks text before an upload replaces the file in use.

Time limits are counted from dispatch in one of three units (:data:`TIME_UNITS`):
``working_hours`` and ``working_days`` on the work calendar (:mod:`web.workcalendar`), and
``urgent_hours``, calendar hours that run at night and on holidays (紧急时).

>>> tax = parse_taxonomy('''
... classes:
...   - {code: "01", name_zh: 市容环境, name_en: City appearance, subclasses: [
...      {code: "0102", name_zh: 暴露垃圾, name_en: Exposed garbage, filing_condition: 0.5 m² or more,
...       closing_condition: cleared, time_limit: 4, time_unit: working_hours,
...       detector_categories: [exposed_garbage]}]}
... ''')
>>> sub = tax.for_detector("exposed_garbage")
>>> sub.code, sub.label, sub.event_class.name_zh, sub.time_limit.describe()
('0102', '0102 暴露垃圾 Exposed garbage', '市容环境', '4 working hours')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from web.errors import WebError

__all__ = [
    "EventClass",
    "Subclass",
    "TIME_UNITS",
    "Taxonomy",
    "TaxonomyError",
    "TimeLimit",
    "clock_seconds",
    "load_taxonomy",
    "parse_taxonomy",
]

TIME_UNITS = ("working_hours", "working_days", "urgent_hours")
"""Units of a time limit: working time on the work calendar, or calendar hours (紧急时)."""

_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$")
_LABEL = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_TOP_KEYS = {"version", "name", "fallback_subclass", "classes"}
_CLASS_KEYS = {"code", "name_zh", "name_en", "subclasses"}
_SUB_REQUIRED = ("code", "name_zh", "name_en", "filing_condition", "closing_condition",
                 "time_limit", "time_unit")
_SUB_KEYS = set(_SUB_REQUIRED) | {"filing_condition_en", "closing_condition_en",
                                  "detector_categories"}


class TaxonomyError(WebError):
    """A taxonomy file that cannot be used; ``problems`` lists every fault, one per line."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class TimeLimit:
    """A handling time limit: ``value`` in ``unit`` (one of :data:`TIME_UNITS`).

    >>> TimeLimit(1.5, "working_days").describe(), TimeLimit(1, "urgent_hours").clock
    ('1.5 working days', 'calendar')
    """

    value: float
    unit: str

    @property
    def clock(self) -> str:
        """``"working"`` (runs on the work calendar) or ``"calendar"`` (urgent hours)."""
        return "calendar" if self.unit == "urgent_hours" else "working"

    @property
    def step(self) -> str:
        """What an extension of this limit is counted in: ``"hours"`` or ``"days"``."""
        return "days" if self.unit == "working_days" else "hours"

    def seconds(self, day_seconds: float) -> float:
        """The limit in seconds of its clock; ``day_seconds`` is a working day's length."""
        return clock_seconds(self.value, self.unit, day_seconds)

    def describe(self) -> str:
        """``"4 working hours"`` (English; pages translate the unit themselves)."""
        words = {"working_hours": "working hours", "working_days": "working days",
                 "urgent_hours": "urgent hours"}[self.unit]
        return f"{self.value:g} {words}"


def clock_seconds(amount: float, unit: str, day_seconds: float) -> float:
    """``amount`` of ``unit`` in seconds of its clock (working or calendar seconds).

    >>> clock_seconds(2, "working_days", 27000.0), clock_seconds(2, "urgent_hours", 27000.0)
    (54000.0, 7200.0)
    """
    if unit == "working_days":
        return float(amount) * day_seconds
    if unit in ("working_hours", "urgent_hours"):
        return float(amount) * 3600.0
    raise ValueError(f"time unit {unit!r} is not one of {', '.join(TIME_UNITS)}")


@dataclass(frozen=True)
class Subclass:
    """A subclass (小类): the unit a case is filed under.

    ``code`` is the bureau's code; ``event_class`` the class it belongs to; conditions are the
    bureau's text (Chinese, with optional English versions); ``detector_categories`` the
    detector labels it takes.
    """

    code: str
    name_zh: str
    name_en: str
    filing_condition: str
    closing_condition: str
    time_limit: TimeLimit
    detector_categories: tuple[str, ...] = ()
    filing_condition_en: str = ""
    closing_condition_en: str = ""
    event_class: "EventClass | None" = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """``"0102 暴露垃圾 Exposed garbage"``: code and both names, for selectors."""
        return f"{self.code} {self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class EventClass:
    """An event class (大类) and its subclasses, in file order."""

    code: str
    name_zh: str
    name_en: str
    subclasses: tuple[Subclass, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.code} {self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class Taxonomy:
    """A checked taxonomy: classes in file order, subclasses by code, detector mapping.

    ``source`` names the file (or ``"<text>"``); ``sha256`` is the hash of its bytes;
    ``fallback_code`` the subclass for detector labels no subclass takes (or None).
    """

    classes: tuple[EventClass, ...]
    source: str = "<text>"
    sha256: str = ""
    name: str = ""
    fallback_code: str | None = None
    _by_code: dict[str, Subclass] = field(default_factory=dict, compare=False, repr=False)
    _by_label: dict[str, tuple[Subclass, ...]] = field(default_factory=dict, compare=False,
                                                        repr=False)

    @property
    def subclasses(self) -> tuple[Subclass, ...]:
        """Every subclass, in file order."""
        return tuple(s for c in self.classes for s in c.subclasses)

    def get(self, code: str) -> Subclass | None:
        """The subclass with ``code``, or None."""
        return self._by_code.get(code)

    def subclass(self, code: str) -> Subclass:
        """The subclass with ``code``.

        Raises
        ------
        TaxonomyError
            If the taxonomy has no such code.
        """
        sub = self._by_code.get(code)
        if sub is None:
            raise TaxonomyError(f"{self.source}: no subclass with code {code!r}")
        return sub

    def subclasses_for(self, detector_category: str) -> tuple[Subclass, ...]:
        """The subclasses that take a detector label, the default first (may be empty)."""
        return self._by_label.get(detector_category, ())

    def for_detector(self, detector_category: str) -> Subclass | None:
        """The default subclass of a detector label: the first that takes it, else the
        fallback subclass, else None."""
        subs = self._by_label.get(detector_category)
        if subs:
            return subs[0]
        return self._by_code.get(self.fallback_code) if self.fallback_code else None

    @property
    def detector_categories(self) -> tuple[str, ...]:
        """Every detector label some subclass takes, in file order."""
        return tuple(self._by_label)


# ------------------------------------------------------------------ loading and checking
def _where(i: int, entry: Any, kind: str) -> str:
    code = entry.get("code") if isinstance(entry, Mapping) else None
    return f"{kind}[{i}]" + (f" (code {code!r})" if isinstance(code, (str, int)) else "")


def _text(entry: Mapping, key: str, where: str, problems: list[str], *, required: bool) -> str:
    if key not in entry or entry[key] is None:
        if required:
            problems.append(f"{where}: field '{key}' is missing")
        return ""
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: field '{key}' must be non-empty text, got {value!r}")
        return ""
    return value.strip()


def _code(entry: Mapping, where: str, problems: list[str]) -> str:
    if "code" not in entry:
        problems.append(f"{where}: field 'code' is missing")
        return ""
    value = entry["code"]
    if isinstance(value, int) and not isinstance(value, bool):
        problems.append(f"{where}: field 'code' is the number {value}: quote codes "
                        "(code: \"007\"), YAML reads 007 as a number and drops the leading zeros")
        return ""
    if not isinstance(value, str) or not _CODE.match(value):
        problems.append(f"{where}: field 'code' {value!r} must be 1-20 letters, digits, '.', "
                        "'_' or '-'")
        return ""
    return value


def _unknown(entry: Mapping, allowed: set[str], where: str, problems: list[str]) -> None:
    unknown = set(map(str, entry)) - allowed
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(sorted(allowed))}")


def _subclass(entry: Any, where: str, problems: list[str]) -> Subclass | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: must be a mapping of fields, got {type(entry).__name__}")
        return None
    before = len(problems)
    _unknown(entry, _SUB_KEYS, where, problems)
    code = _code(entry, where, problems)
    texts = {k: _text(entry, k, where, problems, required=True)
             for k in ("name_zh", "name_en", "filing_condition", "closing_condition")}
    optional = {k: _text(entry, k, where, problems, required=False)
                for k in ("filing_condition_en", "closing_condition_en")}
    value = entry.get("time_limit")
    if "time_limit" not in entry:
        problems.append(f"{where}: field 'time_limit' is missing")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or value != value or value == float("inf"):
        problems.append(f"{where}: field 'time_limit' must be a positive number, got {value!r}")
    unit = entry.get("time_unit")
    if "time_unit" not in entry:
        problems.append(f"{where}: field 'time_unit' is missing")
    elif unit not in TIME_UNITS:
        problems.append(f"{where}: field 'time_unit' {unit!r} is not one of "
                        f"{', '.join(TIME_UNITS)}")
    labels = entry.get("detector_categories") or []
    if not isinstance(labels, list):
        problems.append(f"{where}: field 'detector_categories' must be a list of labels")
        labels = []
    for k, label in enumerate(labels):
        if not isinstance(label, str) or not _LABEL.match(label):
            problems.append(f"{where}: detector_categories[{k}] {label!r} is not a snake_case "
                            "detector label such as exposed_garbage")
    if len(set(map(str, labels))) != len(labels):
        problems.append(f"{where}: field 'detector_categories' lists a label twice")
    if len(problems) > before:
        return None
    return Subclass(code=code, time_limit=TimeLimit(float(value), unit),
                    detector_categories=tuple(labels), **texts, **optional)


def parse_taxonomy(text: str | bytes, *, source: str = "<text>") -> Taxonomy:
    """Check and build a :class:`Taxonomy` from YAML text.

    Parameters
    ----------
    text : str or bytes
        The YAML document (UTF-8 when bytes).
    source : str
        The file name used in messages.

    Raises
    ------
    TaxonomyError
        Naming ``source``, the entry (``classes[2].subclasses[1] (code '0302')``) and the field
        of every fault: missing or empty fields, unquoted or duplicate codes, unknown fields,
        a time unit not in :data:`TIME_UNITS`, a non-positive limit, a bad detector label, an
        unknown ``fallback_subclass``.

    >>> parse_taxonomy("classes: []", source="bureau.yaml")
    Traceback (most recent call last):
    ...
    web.taxonomy.TaxonomyError: bureau.yaml: 'classes' must be a non-empty list of event classes
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise TaxonomyError(f"{source}: not UTF-8 text: {err}") from err
    except (yaml.YAMLError, ValueError) as err:  # ValueError: an impossible date
        raise TaxonomyError(f"{source}: not valid YAML: {err}") from err
    if not isinstance(data, Mapping):
        raise TaxonomyError(f"{source}: the taxonomy must be a YAML mapping with 'classes'")
    problems: list[str] = []
    _unknown(data, _TOP_KEYS, "top level", problems)
    classes_raw = data.get("classes")
    if not isinstance(classes_raw, list) or not classes_raw:
        raise TaxonomyError(f"{source}: 'classes' must be a non-empty list of event classes")
    classes: list[EventClass] = []
    seen_class: dict[str, str] = {}
    seen_sub: dict[str, str] = {}
    for i, entry in enumerate(classes_raw):
        where = _where(i, entry, "classes")
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping of fields, got {type(entry).__name__}")
            continue
        _unknown(entry, _CLASS_KEYS, where, problems)
        code = _code(entry, where, problems)
        if code and code in seen_class:
            problems.append(f"{where}: class code {code!r} is already used by {seen_class[code]}")
        elif code:
            seen_class[code] = where
        names = {k: _text(entry, k, where, problems, required=True)
                 for k in ("name_zh", "name_en")}
        subs_raw = entry.get("subclasses")
        if not isinstance(subs_raw, list) or not subs_raw:
            problems.append(f"{where}: field 'subclasses' must be a non-empty list")
            continue
        subs = []
        for j, sub_entry in enumerate(subs_raw):
            sub_where = f"{where}.{_where(j, sub_entry, 'subclasses')}"
            sub = _subclass(sub_entry, sub_where, problems)
            if sub is None:
                continue
            if sub.code in seen_sub:
                problems.append(f"{sub_where}: subclass code {sub.code!r} is already used by "
                                f"{seen_sub[sub.code]}")
                continue
            seen_sub[sub.code] = sub_where
            subs.append(sub)
        classes.append(EventClass(code=code, subclasses=tuple(subs), **names))
    fallback = data.get("fallback_subclass")
    if fallback is not None and (not isinstance(fallback, str) or fallback not in seen_sub):
        problems.append(f"top level: fallback_subclass {fallback!r} is not the code of a "
                        "subclass in this file")
    name = data.get("name", "")
    if not isinstance(name, str):
        problems.append(f"top level: name must be text, got {name!r}")
        name = ""
    if problems:
        raise TaxonomyError(f"{source}: " + "; ".join(problems),
                            [f"{source}: {p}" for p in problems])
    return _link(classes, source=source, sha256=digest, name=name, fallback=fallback)


def _link(classes: list[EventClass], *, source: str, sha256: str, name: str,
          fallback: str | None) -> Taxonomy:
    """Point each subclass at its class and index codes and detector labels."""
    linked = []
    by_code: dict[str, Subclass] = {}
    by_label: dict[str, list[Subclass]] = {}
    for cls in classes:
        shell = EventClass(cls.code, cls.name_zh, cls.name_en)
        subs = []
        for sub in cls.subclasses:
            sub = Subclass(**{**{f: getattr(sub, f) for f in sub.__dataclass_fields__},
                              "event_class": shell})
            subs.append(sub)
            by_code[sub.code] = sub
            for label in sub.detector_categories:
                by_label.setdefault(label, []).append(sub)
        full = EventClass(cls.code, cls.name_zh, cls.name_en, tuple(subs))
        object.__setattr__(shell, "subclasses", full.subclasses)
        linked.append(shell)
    return Taxonomy(classes=tuple(linked), source=source, sha256=sha256, name=name,
                    fallback_code=fallback, _by_code=by_code,
                    _by_label={k: tuple(v) for k, v in by_label.items()})


def load_taxonomy(path: Path | str) -> Taxonomy:
    """Read and check a taxonomy file (see :func:`parse_taxonomy`).

    Raises
    ------
    TaxonomyError
        If the file cannot be read or has faults (each named with file, entry and field).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise TaxonomyError(f"{path}: cannot read the taxonomy: {err}") from err
    return parse_taxonomy(raw, source=str(path))

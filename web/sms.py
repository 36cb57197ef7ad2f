"""Text messages to merchants through a pluggable SMS gateway.

A gateway is anything with ``send(number, text) -> message id`` (:class:`SmsGateway`). The
default, :class:`OutboxGateway`, sends nothing: it writes each message to the ``sms_outbox``
table, shown in the console at ``/merchants/outbox``. A bureau's real provider is plugged in
by a setting naming a factory as a dotted path (``package.module:Factory`` or
``package.module.Factory``), called with the database session and returning a gateway
(:func:`load_gateway`); provider credentials are the factory's business (its own environment
variables), never stored here.
"""

from __future__ import annotations

import importlib
import re
from typing import Protocol, runtime_checkable

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from patrol.db import utcnow
from web.errors import WebError
from web.models_merchants import SmsOutbox

__all__ = ["DEFAULT_GATEWAY", "MOBILE_PATTERN", "OutboxGateway", "SmsError", "SmsGateway",
           "gateway_name", "load_gateway", "normalise_mobile"]

DEFAULT_GATEWAY = "web.sms:OutboxGateway"

MOBILE_PATTERN = re.compile(r"1[3-9]\d{9}")
"""A mainland-China mobile number: 11 digits, ``1`` then ``3``-``9`` (MIIT numbering plan)."""


class SmsError(WebError):
    """A message could not be handed to the gateway (the gateway's own error, reworded)."""


@runtime_checkable
class SmsGateway(Protocol):
    """Sends one text message; returns the provider's message id (a string).

    Implementations raise an exception (preferably :class:`SmsError`) when the message was
    not accepted; the caller records the failure and carries on.
    """

    def send(self, number: str, text: str) -> str:
        ...


class OutboxGateway:
    """The default gateway: writes each message to ``sms_outbox`` in ``session`` (flushed,
    committed with the caller's transaction); the message id is ``"outbox-<row id>"``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def send(self, number: str, text: str) -> str:
        """Store the message for ``number`` (an 11-digit mobile number); its outbox id."""
        row = SmsOutbox(to_number=normalise_mobile(number), text=text, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return f"outbox-{row.id}"


def normalise_mobile(number: str) -> str:
    """The 11-digit form of a Chinese mobile number, or WebError.

    Spaces, dashes, dots and brackets are ignored, as is a ``+86``/``0086``/``86`` prefix.

    >>> normalise_mobile("+86 138-0013-8000")
    '13800138000'
    >>> normalise_mobile("12800138000")
    Traceback (most recent call last):
    ...
    web.errors.WebError: '12800138000' is not a Chinese mobile number (11 digits, 1[3-9]...)
    """
    digits = re.sub(r"[\s\-.()]", "", str(number or ""))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not MOBILE_PATTERN.fullmatch(digits):
        raise WebError(_("%(number)r is not a Chinese mobile number (11 digits, 1[3-9]...)",
                         number=number))
    return digits


def gateway_name(gateway: object) -> str:
    """``module:Class`` of a gateway object, as stored with each notice."""
    cls = type(gateway)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_gateway(path: str, session: Session) -> SmsGateway:
    """The gateway built by the factory at dotted ``path``, called with ``session``.

    >>> type(load_gateway("web.sms:OutboxGateway", None)).__name__
    'OutboxGateway'

    Raises
    ------
    WebError
        If the module or name cannot be imported, or what the factory returns has no
        ``send`` method; the message names the setting's value.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _dot, attr = path.rpartition(".")
    if not module_name or not attr:
        raise WebError(f"SMS gateway {path!r}: expected 'package.module:Factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise WebError(_("SMS gateway %(path)r cannot be loaded: %(error)s", path=path,
                         error=err)) from err
    gateway = factory(session)
    if not callable(getattr(gateway, "send", None)):
        raise WebError(f"SMS gateway {path!r} built a {type(gateway).__name__} without send()")
    return gateway

"""Error responses in one place: JSON for the API, a page for people.

Domain errors map to HTTP here: :class:`~web.errors.WorkflowError` and other
:class:`~web.errors.WebError` not handled by a view become 409 Conflict.
"""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from web.errors import WebError

__all__ = ["error_response", "register_error_handlers", "wants_json_response"]


ERROR_TITLES = {
    400: _l("Bad request"), 401: _l("Login required"), 403: _l("Not allowed"),
    404: _l("Not found"), 405: _l("Method not allowed"), 409: _l("Conflict"),
    500: _l("Server error"),
}
"""Titles of the error page in the user's language (the JSON answers keep HTTP's names)."""


def error_response(status: int, message: str | None = None):
    """A JSON error: ``{"error": "Not Found", "message": ...}`` with HTTP ``status``."""
    payload = {"error": HTTP_STATUS_CODES.get(status, "Unknown error")}
    if message:
        payload["message"] = message
    response = jsonify(payload)
    response.status_code = status
    return response


def wants_json_response() -> bool:
    """True for the JSON API and for clients preferring JSON to HTML."""
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def _respond(status: int, message: str):
    if wants_json_response():
        return error_response(status, message)
    title = ERROR_TITLES.get(status) or HTTP_STATUS_CODES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


def _http_error(err: HTTPException):
    return _respond(err.code or 500, err.description or "")


def _internal_error(err: InternalServerError):
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    return _respond(500, _("Something went wrong on the server; the change was not saved."))


def _web_error(err: WebError):
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    return _respond(409, str(err))


def register_error_handlers(app: Flask) -> None:
    """400, 401, 403, 404, 405 and 500 as JSON or a page; unhandled WebError as 409."""
    for status in (400, 401, 403, 404, 405):
        app.register_error_handler(status, _http_error)
    app.register_error_handler(500, _internal_error)
    app.register_error_handler(WebError, _web_error)

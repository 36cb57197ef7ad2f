"""The console's languages: Chinese (default) and English through Flask-Babel.

Which language a request gets, first match wins:

1. the user's choice (``/lang/<code>``, kept in the session and in the long-lived cookie
   ``patrol_lang``, so a shared tablet keeps it across log-outs);
2. the browser's ``Accept-Language`` (``zh-CN``, ``zh-TW`` -> ``zh``; ``en-GB`` -> ``en``);
3. ``BABEL_DEFAULT_LOCALE``, ``"zh"`` unless the app's config says otherwise.

Catalogues live in ``web/translations/<locale>/LC_MESSAGES/messages.po`` with their compiled
``messages.mo`` beside them (committed, so a fresh clone runs without a compile step).
The msgids are the English texts: ``{{ _('Cases') }}`` in templates, ``gettext`` /
``lazy_gettext`` in Python, ``_('...')`` in the console's JavaScript (``window.PatrolI18n``,
fed by :func:`js_catalog`). Refresh the catalogues with ``python -m web.i18n`` (extract, update,
compile; see ``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from babel.messages.extract import extract_from_dir
from flask import (Blueprint, Flask, current_app, has_request_context, redirect, request,
                   session, url_for)
from flask_babel import Babel, get_locale, get_translations

from web.auth import _safe_next as safe_next

__all__ = [
    "COOKIE",
    "DEFAULT_LOCALE",
    "KEYWORDS",
    "LANGUAGES",
    "TRANSLATIONS_DIR",
    "babel",
    "bp",
    "current_language",
    "init_app",
    "js_catalog",
    "js_msgids",
    "select_locale",
]

LANGUAGES = {"zh": "中文", "en": "English"}
"""Locale code -> the language's own name (shown in the switch)."""

HTML_LANG = {"zh": "zh-CN", "en": "en"}

DEFAULT_LOCALE = "zh"
COOKIE = "patrol_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

WEB_DIR = Path(__file__).resolve().parent
TRANSLATIONS_DIR = WEB_DIR / "translations"
JS_DIR = WEB_DIR / "static" / "js"
BABEL_CFG = WEB_DIR.parent / "babel.cfg"
POT_FILE = TRANSLATIONS_DIR / "messages.pot"

KEYWORDS = ("_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "lazy_ngettext:1,2",
            "pgettext:1c,2", "lazy_pgettext:1c,2")
"""Function names whose string arguments are msgids (``pybabel extract -k``; ``1c``: the
context, for a word that needs two translations, e.g. the status "Reported" and the column)."""

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The locale code for this request (module docstring); the default outside requests."""
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    if not has_request_context():
        return default
    chosen = session.get("lang") or request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(tuple(LANGUAGES)) or default


def current_language() -> str:
    """``"zh"`` or ``"en"``: the language of the current request."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES \
        else DEFAULT_LOCALE


@cache
def js_msgids(js_dir: Path = JS_DIR) -> tuple[str, ...]:
    """The msgids of ``_('...')`` calls in the console's JavaScript (``static/js/**.js``).

    Read once per process with Babel's JavaScript extractor.
    """
    found = []
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(js_dir), method_map=[("**.js", "javascript")],
            keywords={"_": None, "gettext": None}):
        msgid = message if isinstance(message, str) else message[0]
        if msgid and msgid not in found:
            found.append(msgid)
    return tuple(found)


def js_catalog() -> dict[str, str]:
    """msgid -> translation for the JavaScript msgids in the current locale.

    Only translated messages are listed (English pages get ``{}``: the msgids are English).
    """
    translations = get_translations()
    out = {}
    for msgid in js_msgids():
        text = translations.ugettext(msgid)
        if text != msgid:
            out[msgid] = text
    return out


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the console to ``code`` (``zh``, ``en``) and go back to ``?next=`` (a local path).

    A preference, not a change of data: open to everyone, including the login page.
    """
    if code not in LANGUAGES:
        code = DEFAULT_LOCALE
    session["lang"] = code
    response = redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE_S, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


def init_app(app: Flask) -> None:
    """Bind Flask-Babel (zh default, ``web/translations``) and the language switch to ``app``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.add_template_global(js_catalog, "js_catalog")
    app.add_template_global(current_language, "current_language")
    app.add_template_global(LANGUAGES, "languages")
    app.add_template_global(HTML_LANG, "html_lang")


# ------------------------------------------------------------------ catalogue maintenance
def _pybabel(*args: str) -> None:
    cmd = [sys.executable, "-m", "babel.messages.frontend", *args]
    print("+ pybabel", " ".join(args), flush=True)
    subprocess.run(cmd, check=True, cwd=WEB_DIR.parent)


def refresh_catalogues(steps: Sequence[str] = ("extract", "update", "compile")) -> None:
    """Run pybabel: extract the msgids into ``messages.pot``, merge them into every locale's
    ``.po``, compile the ``.mo`` files. Translate the new (empty) msgstrs between update and
    compile."""
    rel = lambda p: p.relative_to(WEB_DIR.parent).as_posix()  # noqa: E731
    if "extract" in steps:
        _pybabel("extract", "-F", rel(BABEL_CFG), *(f"-k{k}" for k in KEYWORDS),
                 "--no-wrap", "--sort-by-file", "--project", "drone-patrol",
                 "-o", rel(POT_FILE), ".")
    if "update" in steps:
        _pybabel("update", "-i", rel(POT_FILE), "-d", rel(TRANSLATIONS_DIR), "--no-wrap",
                 "--ignore-obsolete", "--no-fuzzy-matching")
    if "compile" in steps:
        _pybabel("compile", "-d", rel(TRANSLATIONS_DIR), "--statistics")


if __name__ == "__main__":  # python -m web.i18n [extract] [update] [compile]
    refresh_catalogues(sys.argv[1:] or ("extract", "update", "compile"))

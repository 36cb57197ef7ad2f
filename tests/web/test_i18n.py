"""Chinese and English: the catalogues cover every msgid, the console speaks Chinese by default,
follows Accept-Language and remembers the user's switch."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from web import create_app, i18n

REPO = Path(__file__).resolve().parents[2]
LOCALES = ("zh", "en")
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?[sdifr%]")


def _keywords() -> dict:
    """pybabel's -k specs (``ngettext:1,2``, ``pgettext:1c,2``) as extract_from_dir's keywords."""
    out = {}
    for spec in i18n.KEYWORDS:
        name, _, args = spec.partition(":")
        out[name] = tuple((int(a[:-1]), "c") if a.endswith("c") else int(a)
                          for a in args.split(",")) if args else None
    return out


def _extracted() -> dict[tuple[str, str | None], list[str]]:
    """(msgid, context) (the singular for plurals) -> where it is used, from the sources
    babel.cfg names."""
    with open(i18n.BABEL_CFG, encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str, str | None], list[str]] = {}
    only_web = lambda path: Path(path).relative_to(REPO).parts[:1] in ((), ("web",))  # noqa: E731
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=_keywords(), directory_filter=only_web):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


def _catalog(locale: str):
    path = i18n.TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale)


def _translated(message) -> bool:
    strings = [message.string] if isinstance(message.string, str) else list(message.string)
    return "fuzzy" not in message.flags and all(strings)


# ------------------------------------------------------------------ catalogues
def test_every_msgid_in_templates_python_and_scripts_has_a_chinese_translation():
    used = _extracted()
    assert len(used) > 300, "the extraction found the console's msgids"
    catalog = _catalog("zh")
    missing = [f"{msgid!r}{f' (context {context!r})' if context else ''}  ({', '.join(where[:2])})"
               for (msgid, context), where in sorted(used.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
               if catalog.get(msgid, context) is None or not _translated(catalog.get(msgid, context))]
    assert not missing, (
        f"{len(missing)} msgid(s) without a Chinese translation; run `python -m web.i18n extract "
        "update`, translate them in web/translations/zh/LC_MESSAGES/messages.po, then "
        "`python -m web.i18n compile`:\n" + "\n".join(missing))


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogues_match_their_sources(locale):
    """The committed .mo is the .po compiled (a fresh clone needs no compile step)."""
    catalog = _catalog(locale)
    mo_path = i18n.TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.mo"
    with open(mo_path, "rb") as fh:
        compiled = read_mo(fh)
    def key(value):
        return value if isinstance(value, str) else tuple(value)

    expected = {key(m.id): key(m.string) for m in catalog if m.id and _translated(m)}
    # write_mo stores an untranslated plural as its msgids: not a translation
    got = {key(m.id): key(m.string) for m in compiled if m.id and key(m.string) != key(m.id)}
    assert got == expected, f"{mo_path} is stale: run `python -m web.i18n compile`"
    buffer = BytesIO()
    write_mo(buffer, catalog)   # and it compiles
    assert buffer.getvalue()


def test_translations_keep_the_placeholders():
    catalog = _catalog("zh")
    wrong = []
    for m in catalog:
        if not m.id or not _translated(m):
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        want = sorted(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            if sorted(PLACEHOLDER.findall(s)) != want:
                wrong.append(f"{ids[0]!r} -> {s!r}")
    assert not wrong, "translations that drop or add placeholders:\n" + "\n".join(wrong)


# ------------------------------------------------------------------ choosing the language
@pytest.fixture
def zh_app(settings, engine, world, monkeypatch):
    """The console with its own default (Chinese), as served."""
    monkeypatch.setattr(i18n, "DEFAULT_LOCALE", "zh")
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    yield app
    app.extensions["drone_patrol"].engine.dispose()


def _login(client, username="supervisor", password="supervisor-demo", **headers):
    return client.post("/login", data={"username": username, "password": password}, headers=headers)


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_chinese_by_default_and_accept_language_respected(zh_app):
    client = zh_app.test_client()
    page = _html(client.get("/login"))
    assert '<html lang="zh-CN"' in page and "登录" in page and "用户名" in page
    english = _html(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert '<html lang="en"' in english and "Log in" in english and "Username" in english
    assert "登录" not in english
    taiwan = _html(client.get("/login", headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"}))
    assert '<html lang="zh-CN"' in taiwan
    french = _html(client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}))
    assert '<html lang="zh-CN"' in french, "a language we lack falls back to Chinese"


def test_the_switch_is_remembered_across_requests_and_log_outs(zh_app):
    client = zh_app.test_client()
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    cookie = client.get_cookie(i18n.COOKIE)
    assert cookie is not None and cookie.value == "en" and cookie.http_only
    page = _html(client.get("/login", headers={"Accept-Language": "zh-CN"}))
    assert "Log in" in page, "the user's choice beats the browser's"
    _login(client)
    assert "Dashboard" in _html(client.get("/"))
    client.post("/logout")
    assert "Log in" in _html(client.get("/login")), "kept in the cookie after logging out"
    client.get("/lang/zh?next=/")
    assert client.get_cookie(i18n.COOKIE).value == "zh"
    assert "登录" in _html(client.get("/login", headers={"Accept-Language": "en"}))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_the_switch_never_redirects_off_site(zh_app, target):
    response = zh_app.test_client().get("/lang/en", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_unknown_language_falls_back_to_chinese(zh_app):
    client = zh_app.test_client()
    client.get("/lang/xx")
    assert client.get_cookie(i18n.COOKIE).value == "zh"


def test_pages_nav_statuses_roles_and_categories_in_chinese(zh_app):
    client = zh_app.test_client()
    _login(client)
    home = _html(client.get("/"))
    for text in ("首页", "地图", "线索", "案件", "飞行记录", "机队", "值班长", "已立案", "已派遣", "已结案", "超期",
                 "待审核线索", "退出"):
        assert text in home, text
    assert "Dashboard" not in home and "Log out" not in home
    map_page = _html(client.get("/map"))
    labels = json.loads(re.search(r"data-labels='([^']*)'", map_page).group(1).replace("&#34;", '"'))
    assert labels["categories"]["exposed_garbage"] == "暴露垃圾"
    assert labels["statuses"]["filed"] == "已立案"
    catalog = json.loads(re.search(r'id="i18n-catalog">([^<]*)</script>', map_page).group(1))
    assert catalog["Jurisdictions"] == "中队辖区" and catalog["Unit grids"] == "单元网格"
    english = _html(client.get("/map", headers={"Accept-Language": "en"}))
    assert json.loads(re.search(r'id="i18n-catalog">([^<]*)</script>', english).group(1)) == {}


def test_categories_follow_the_language(zh_app):
    from web.cases import category_for
    from web.templating import category_label

    category = category_for("exposed_garbage")
    with zh_app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert category_label("exposed_garbage") == category.name_zh
        assert category_label("no_such_label") == "no_such_label"
    with zh_app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert category_label("exposed_garbage") == category.name_en


def test_flash_form_labels_and_error_pages_in_chinese(zh_app):
    client = zh_app.test_client()
    page = _html(_login(client, password="wrong"))
    assert "用户名或密码错误。" in page and "用户名" in page and "密码" in page
    _login(client)
    missing = client.get("/flights/999999")
    assert missing.status_code == 404
    text = _html(missing)
    assert "未找到" in text and "飞行 999999 不存在。" in text and "返回首页" in text
    api = client.get("/flights/999999", headers={"Accept": "application/json"})
    assert api.get_json()["error"] == "Not Found", "JSON keeps HTTP's names for programs"
    assert "退出登录" in _html(client.post("/logout", follow_redirects=True))


def test_js_msgids_are_found_in_the_scripts():
    msgids = i18n.js_msgids()
    assert "Jurisdictions" in msgids and "Draw, upload or pick an area first." in msgids
    assert len(msgids) == len(set(msgids))

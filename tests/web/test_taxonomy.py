"""The case taxonomy as data (web.taxonomy, web.case_rules): the shipped file, the checks,
choosing a bureau's file, replacing it from the console."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from vision.detectors import CATEGORIES as DETECTOR_LABELS
from web.case_rules import (DEFAULT_TAXONOMY_FILE, case_rules, replace_taxonomy, taxonomy_history,
                            taxonomy_path)
from web.taxonomy import TIME_UNITS, TaxonomyError, load_taxonomy, parse_taxonomy

NOW = dt.datetime(2026, 5, 6, 2, 0, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped():
    return load_taxonomy(DEFAULT_TAXONOMY_FILE)


def test_shipped_file_says_codes_vary_by_city():
    header = DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8").split("\nversion:")[0]
    assert "CODES VARY BY CITY" in header and "EXAMPLES" in header
    assert "GB/T 30428" in header and "PATROL_TAXONOMY_FILE" in header


def test_shipped_file_covers_the_classes_and_subclasses(shipped):
    classes = {c.name_zh for c in shipped.classes}
    assert {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序"} <= classes
    names = {s.name_zh for s in shipped.subclasses}
    assert {"暴露垃圾", "积存垃圾渣土", "私搭乱建", "工地扬尘", "无照经营游商", "店外经营",
            "机动车乱停放", "乱堆物堆料", "露天焚烧", "非机动车乱停放", "违章张贴悬挂"} <= names
    for sub in shipped.subclasses:
        assert sub.filing_condition and sub.closing_condition and sub.name_en
        assert sub.time_limit.value > 0 and sub.time_limit.unit in TIME_UNITS
        assert sub.event_class is not None and sub in sub.event_class.subclasses
    assert {s.time_limit.unit for s in shipped.subclasses} == set(TIME_UNITS)


@pytest.mark.parametrize("label", sorted(DETECTOR_LABELS))
def test_every_detector_label_has_a_subclass(shipped, label):
    sub = shipped.for_detector(label)
    assert sub is not None and label in sub.detector_categories
    assert re.search(r"[\u4e00-\u9fff]", sub.name_zh)


def test_a_label_taken_by_two_subclasses_defaults_to_the_first(shipped):
    assert [s.name_zh for s in shipped.subclasses_for("street_vending")] == ["无照经营游商", "店外经营"]
    assert [s.name_zh for s in shipped.subclasses_for("illegal_parking")] == \
        ["机动车乱停放", "非机动车乱停放"]
    assert shipped.for_detector("tree_on_road").code == shipped.fallback_code
    assert shipped.subclasses_for("tree_on_road") == ()


def _code_strings(path: Path) -> set[str]:
    """String constants of a module's code (docstrings and their examples left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings}


def test_no_subclass_code_is_written_in_python():
    codes = {s.code for s in load_taxonomy(DEFAULT_TAXONOMY_FILE).subclasses}
    for path in (REPO / "web").rglob("*.py"):
        strings = _code_strings(path)
        quoted = {c for c in codes
                  if any(re.search(rf"(?<![\w.]){c}(?![\w.])", s) for s in strings)}
        assert not quoted, f"{path} writes taxonomy codes {sorted(quoted)}"


def _doc(**changes) -> dict:
    sub = {"code": "0102", "name_zh": "暴露垃圾", "name_en": "Exposed garbage",
           "filing_condition": "≥ 0.5 m²", "closing_condition": "cleared", "time_limit": 4,
           "time_unit": "working_hours", "detector_categories": ["exposed_garbage"]}
    sub.update(changes)
    return {"classes": [{"code": "01", "name_zh": "市容环境", "name_en": "City appearance",
                         "subclasses": [sub]}]}


@pytest.mark.parametrize("changes, problem", [
    ({"time_unit": "hours"}, "field 'time_unit' 'hours' is not one of working_hours, "
                             "working_days, urgent_hours"),
    ({"time_limit": 0}, "field 'time_limit' must be a positive number, got 0"),
    ({"time_limit": "four"}, "field 'time_limit' must be a positive number, got 'four'"),
    ({"code": 102}, "field 'code' is the number 102: quote codes"),
    ({"filing_condition": ""}, "field 'filing_condition' must be non-empty text"),
    ({"name_en": None}, "field 'name_en' is missing"),
    ({"detector_categories": ["Exposed Garbage"]}, "detector_categories[0] 'Exposed Garbage' is "
                                                   "not a snake_case detector label"),
    ({"deadline": 3}, "unknown field(s) deadline"),
])
def test_faults_name_file_entry_and_field(changes, problem):
    text = yaml.safe_dump(_doc(**changes), allow_unicode=True)
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(text, source="bureau.yaml")
    [line] = err.value.problems
    assert line.startswith("bureau.yaml: classes[0] (code '01').subclasses[0]"), line
    assert problem in line


def test_unquoted_yaml_code_is_caught():
    text = yaml.safe_dump(_doc(), allow_unicode=True).replace("code: '0102'", "code: 0102")
    with pytest.raises(TaxonomyError, match="quote codes"):
        parse_taxonomy(text, source="t.yaml")


def test_duplicate_codes_and_a_bad_fallback_are_all_listed():
    doc = _doc()
    doc["classes"][0]["subclasses"].append(dict(doc["classes"][0]["subclasses"][0]))
    doc["fallback_subclass"] = "9999"
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(yaml.safe_dump(doc, allow_unicode=True), source="t.yaml")
    assert err.value.problems == [
        "t.yaml: classes[0] (code '01').subclasses[1] (code '0102'): subclass code '0102' is "
        "already used by classes[0] (code '01').subclasses[0] (code '0102')",
        "t.yaml: top level: fallback_subclass '9999' is not the code of a subclass in this file"]


@pytest.mark.parametrize("text, problem", [
    ("classes: [", "not valid YAML"),
    ("- a list", "must be a YAML mapping"),
    ("classes: {}", "'classes' must be a non-empty list"),
])
def test_files_that_are_not_a_taxonomy(text, problem):
    with pytest.raises(TaxonomyError, match=re.escape(problem)):
        parse_taxonomy(text, source="t.yaml")


def test_bureau_file_from_the_environment_or_the_data_root(tmp_path):
    own = tmp_path / "pinghu.yaml"
    own.write_text(yaml.safe_dump(_doc(code="PH-01"), allow_unicode=True), encoding="utf-8")
    data_dir = tmp_path / "var"
    assert taxonomy_path(data_dir, {}) == DEFAULT_TAXONOMY_FILE
    assert case_rules(data_dir, environ={"PATROL_TAXONOMY_FILE": str(own)}).taxonomy.get("PH-01")
    (data_dir / "config").mkdir(parents=True)
    (data_dir / "config" / "taxonomy.yaml").write_text(
        yaml.safe_dump(_doc(code="DR-01"), allow_unicode=True), encoding="utf-8")
    assert case_rules(data_dir, environ={}).taxonomy.get("DR-01")
    assert taxonomy_path(data_dir, {"PATROL_TAXONOMY_FILE": str(own)}) == own


def test_a_faulty_bureau_file_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes: []", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=f"^{re.escape(str(bad))}: 'classes'"):
        case_rules(tmp_path, environ={"PATROL_TAXONOMY_FILE": str(bad)})


def test_replacing_keeps_the_previous_file_and_refuses_faulty_ones(tmp_path):
    data_dir = tmp_path / "var"
    first = yaml.safe_dump(_doc(code="A-1"), allow_unicode=True).encode()
    tax, kept = replace_taxonomy(data_dir, first, now=NOW, environ={})
    assert kept is None and tax.get("A-1") and taxonomy_path(data_dir, {}) == \
        data_dir / "config" / "taxonomy.yaml"
    second = yaml.safe_dump(_doc(code="A-2"), allow_unicode=True).encode()
    tax, kept = replace_taxonomy(data_dir, second, now=NOW + dt.timedelta(minutes=1), environ={})
    assert tax.get("A-2") and kept.read_bytes() == first
    assert taxonomy_history(data_dir) == [kept]
    with pytest.raises(TaxonomyError, match="upload.yaml: classes"):
        replace_taxonomy(data_dir, b"classes: [1]", now=NOW, source_name="upload.yaml", environ={})
    assert (data_dir / "config" / "taxonomy.yaml").read_bytes() == second
    assert case_rules(data_dir, environ={}).taxonomy.get("A-2")
    assert DEFAULT_TAXONOMY_FILE.read_bytes() != second, "the shipped example is never written"

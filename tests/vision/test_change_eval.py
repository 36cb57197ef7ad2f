"""`patrol vision eval change DIR --json`: the real LEVIR-CD samples (skipped when absent) and a
GENERATED folder with a pair without label, a missing after-image and an unreadable file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from patrol.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["vision", "eval", "change", *args], catch_exceptions=False)


def _check_scores(obj: dict) -> None:
    for key in ("precision", "recall", "f1"):
        assert 0.0 <= obj[key] <= 1.0
    assert set(obj["counts"]) == {"true_flagged", "flagged", "found", "labelled"}


def test_cli_json_on_the_levir_samples(shared_data):
    folder = shared_data / "change_detection" / "levir_cd_samples"
    result = _run(str(folder), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    labelled = {p.stem for p in (folder / "label").glob("*.png")}
    assert out["pairs"] == len(labelled)
    for who in (out, out["ours"], out["baseline"]):
        _check_scores(who["pixel"])
        _check_scores(who["region"])
    assert out["pixel"] == out["ours"]["pixel"] and out["region"] == out["ours"]["region"]
    assert out["gsd_m"] == 0.5
    # the one sample pair without a label is listed, not scored
    unlabelled = sorted(p.name for p in (folder / "A").glob("*.png") if p.stem not in labelled)
    assert [s["name"] for s in out["skipped"]] == unlabelled
    assert out["errors"] == []
    # the baseline scored in the same run is the plain one (about 0.15-0.25 region F1)
    assert 0.05 < out["baseline"]["region"]["f1"] < 0.4
    assert out["baseline"]["region"]["counts"]["labelled"] == out["region"]["counts"]["labelled"]
    print(f"\nLEVIR-CD: ours pixel {out['pixel']['f1']} region {out['region']['f1']}; "
          f"baseline pixel {out['baseline']['pixel']['f1']} region {out['baseline']['region']['f1']}")


def _pair(size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    before = np.clip(rng.normal(110, 5, (size, size, 3)), 0, 255).astype(np.uint8)
    after = before.copy()
    after[20:50, 30:60] = (60, 60, 190)
    truth = np.zeros((size, size), np.uint8)
    truth[20:50, 30:60] = 255
    return before, after, truth


def test_generated_folder_reports_skipped_and_unreadable(tmp_path: Path):
    for sub in ("A", "B", "label"):
        (tmp_path / sub).mkdir()
    before, after, truth = _pair()
    cv2.imwrite(str(tmp_path / "A" / "good.png"), before)
    cv2.imwrite(str(tmp_path / "B" / "good.png"), after)
    cv2.imwrite(str(tmp_path / "label" / "good.png"), truth)
    cv2.imwrite(str(tmp_path / "A" / "nolabel.png"), before)
    cv2.imwrite(str(tmp_path / "B" / "nolabel.png"), after)
    cv2.imwrite(str(tmp_path / "A" / "noafter.png"), before)
    cv2.imwrite(str(tmp_path / "label" / "noafter.png"), truth)
    cv2.imwrite(str(tmp_path / "A" / "broken.png"), before)
    (tmp_path / "B" / "broken.png").write_bytes(b"not a png at all")
    cv2.imwrite(str(tmp_path / "label" / "broken.png"), truth)
    (tmp_path / "gsd.json").write_text('{"gsd_m": 0.3}')
    result = _run(str(tmp_path), "--json", "--per-pair")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["pairs"] == 1 and out["gsd_m"] == 0.3 and out["gsd_source"] == "gsd.json"
    assert {s["name"]: s["reason"] for s in out["skipped"]} == {
        "noafter": "no image in B/", "nolabel.png": "no label in label/"}
    assert len(out["errors"]) == 1
    assert out["errors"][0]["name"] == "broken.png" and "broken.png" in out["errors"][0]["error"]
    assert [p["name"] for p in out["per_pair"]] == ["good.png"]
    # the generated block is found by the baseline
    assert out["baseline"]["region"]["counts"]["found"] == 1


def test_bad_folder_and_bad_option(tmp_path: Path):
    result = CliRunner().invoke(main, ["vision", "eval", "change", str(tmp_path)])
    assert result.exit_code != 0 and "no A/ or B/ sub-folder" in result.output
    for sub in ("A", "B"):
        (tmp_path / sub).mkdir()
    result = CliRunner().invoke(main, ["vision", "eval", "change", str(tmp_path), "--option", "nonsense"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output
    result = CliRunner().invoke(main, ["vision", "eval", "change", str(tmp_path), "--option", "no_such=1"])
    assert result.exit_code != 0 and "bad configuration" in result.output

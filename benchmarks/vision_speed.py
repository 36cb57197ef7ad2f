"""Vision throughput: photos per second per core for georeferencing plus every detector on 20 MP photos.

Inputs: **resampled real photos**. The bundled DJI FC300S photos (4000 x 2250, 9 MP) of
``../shared/data/photos/brighton_beach_dji_fc300s`` are cut to 3:2 around their centre
(3375 x 2250) and resampled (bicubic) to 5472 x 3648, the 20 MP frame of a 1-inch camera
(DJI FC6310 / Phantom 4 Pro), then written as JPEG at quality 95. Their metadata (position,
time, height, gimbal attitude) is the original photo's; their intrinsics are the FC6310's
(8.8 mm on 13.2 mm: 73.7 deg across, within 3% of the crop's 71.7 deg). An upsampled photo
holds less fine detail than a native 20 MP one, so its JPEG decodes somewhat faster.

Everything runs on one thread (``cv2.setNumThreads(1)``, one BLAS thread) and is timed in
CPU time (``time.process_time``), so the figures are per core. Stages per photo, as
:func:`vision.pipeline.analyse_photos` runs them:

* **decode**: reading the JPEG at working scale (:func:`vision.images.load_photo_image`:
  libjpeg's DCT scaling decodes at 1/4, 1368 x 912, then ``cv2.INTER_AREA`` brings it to
  the 1000 px working long side, 1000 x 667); for comparison, decoding the full 20 MP frame
  and resizing it, which the pipeline does not do, is shown too;
* **features**: SIFT keypoints of the working image (:func:`vision.features.detect_features`);
* **georef**: :func:`vision.placement.place_photo_set` over the set, per photo (matching
  neighbours, RANSAC, turned-image check, footprints);
* **detector:NAME**: every registered detector (:func:`vision.detectors.detector_names`),
  built with its defaults; ``change`` gets the overlapping photo of the previous pass as its
  reference (registration, flow, difference). A detector that cannot be built without a
  model file or other settings is skipped with the reason;
* **evidence** (not in the total): decoding the full-resolution photo to cut an evidence
  crop, which happens only when a detection creates or improves a finding.

Then the whole :func:`vision.pipeline.analyse_photos` (database, findings, evidence crops
included) runs once over the same photos with one worker, for the end-to-end figure.

Run: ``make bench`` or ``.venv/bin/python benchmarks/vision_speed.py [--json] [--photos N]``.
Skips (exit 0, with a note) when ``../shared/data/photos`` is absent.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread: per-core figures
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_logs.models import Photo  # noqa: E402
from flight_logs.photo_metadata import read_photo_metadata  # noqa: E402
from patrol.db import make_engine, make_session_factory, upgrade  # noqa: E402
from patrol.settings import Settings  # noqa: E402
from vision import analyse_photos  # noqa: E402
from vision.detectors import DetectionContext, PhotoView, detector_names, get_detector  # noqa: E402
from vision.errors import VisionError  # noqa: E402
from vision.features import detect_features  # noqa: E402
from vision.images import load_photo_image  # noqa: E402
from vision.placement import place_photo_set  # noqa: E402
from vision.reference import assign_passes, overlap_fraction  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos"
SOURCE_SET = "brighton_beach_dji_fc300s"
UTC_OFFSET_H = -5.0  # the set's camera clock (see patrol.demo.PHOTO_SETS)
#: Two passes over the same ground: DJI_0025-0028 fly south-west, DJI_0031-0034 north-east.
DEFAULT_FILES = ("DJI_0025.JPG", "DJI_0026.JPG", "DJI_0027.JPG", "DJI_0028.JPG",
                 "DJI_0031.JPG", "DJI_0032.JPG", "DJI_0033.JPG", "DJI_0034.JPG")
SIZE_20MP = (5472, 3648)
TARGET_CAMERA = ("FC6310", 8.8)  # sensor-table key and focal length, mm


def make_20mp(src: Path, dest: Path) -> None:
    """Cut ``src`` to 3:2 around its centre and resample it to 5472 x 3648 (bicubic), JPEG q95."""
    img = cv2.imread(str(src), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    h, w = img.shape[:2]
    cw = min(w, int(round(h * 1.5)))
    ch = int(round(cw / 1.5))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    big = cv2.resize(img[y0:y0 + ch, x0:x0 + cw], SIZE_20MP, interpolation=cv2.INTER_CUBIC)
    if not cv2.imwrite(str(dest), big, [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"{dest}: could not write the resampled photo")


def photo_row(pid: int, src: Path, stored_path: str) -> Photo:
    """A Photo row with the original photo's metadata and the 20 MP camera."""
    meta = read_photo_metadata(src, local_utc_offset_h=UTC_OFFSET_H)
    return Photo(id=pid, sha256=f"resampled-{src.name}", stored_path=stored_path, original_name=src.name,
                 photo_set="resampled_20mp", taken_utc=meta.taken_utc, lat_deg=meta.lat_deg, lon_deg=meta.lon_deg,
                 alt_amsl_m=meta.alt_amsl_m, alt_rel_m=meta.alt_rel_m, gimbal_pitch_deg=meta.gimbal_pitch_deg,
                 gimbal_yaw_deg=meta.gimbal_yaw_deg, gimbal_roll_deg=meta.gimbal_roll_deg,
                 flight_yaw_deg=meta.flight_yaw_deg, width_px=SIZE_20MP[0], height_px=SIZE_20MP[1],
                 camera_make="DJI", camera_model=TARGET_CAMERA[0], focal_length_mm=TARGET_CAMERA[1],
                 position_source="exif")


class Clock:
    """CPU seconds per stage (``time.process_time``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def run(self, stage: str, fn, *args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[stage] += time.process_time() - t0
            self.calls[stage] += 1


def _detectors() -> tuple[dict, dict[str, str]]:
    built, skipped = {}, {}
    for name in detector_names():
        try:
            built[name] = get_detector(name)
        except (VisionError, TypeError, ValueError, OSError) as err:
            skipped[name] = f"cannot run with defaults ({err})"
    return built, skipped


def staged(rows: list[Photo], data_dir: Path, feature_method: str = "sift") -> dict:
    """Time each stage over the photos (see the module docstring)."""
    clock = Clock()
    images, features = {}, {}
    for p in rows:
        path = data_dir / p.stored_path
        images[p.id] = clock.run("decode", load_photo_image, path)
        full = clock.run("(full decode + resize, not used)", cv2.imread, str(path),
                         cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        t0 = time.process_time()
        cv2.resize(full, (images[p.id].width_px, images[p.id].height_px), interpolation=cv2.INTER_AREA)
        clock.seconds["(full decode + resize, not used)"] += time.process_time() - t0
        del full
        features[p.id] = clock.run("features", detect_features, images[p.id].pixels, method=feature_method)
    placements, errors = clock.run("georef", place_photo_set, rows, images, features)
    if errors:
        raise VisionError("; ".join(errors.values()))
    views = {p.id: PhotoView(p, images[p.id], placements[p.id].pose, placements[p.id].intrinsics,
                             placements[p.id].footprint_wgs84, features[p.id]) for p in rows}
    passes = assign_passes(rows)
    detectors, skipped = _detectors()
    found: dict[str, int] = defaultdict(int)
    problems: list[str] = []
    compared = 0
    for p in rows:
        refs = sorted((q for q in rows if passes.get(q.id) != passes.get(p.id)
                       and overlap_fraction(placements[p.id].footprint_wgs84, placements[q.id].footprint_wgs84) >= 0.3),
                      key=lambda q: -overlap_fraction(placements[p.id].footprint_wgs84, placements[q.id].footprint_wgs84))
        context = DetectionContext(views[p.id], tuple(views[q.id] for q in refs[:1]))
        compared += bool(refs)
        for name, det in detectors.items():
            try:
                found[name] += len(clock.run(f"detector:{name}", det.detect, images[p.id], context))
            except VisionError as err:
                problems.append(f"{p.original_name} {name}: {err}")
        clock.run("evidence (only for new/improved findings)", cv2.imread, str(data_dir / p.stored_path),
                  cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    n = len(rows)
    per_photo = {k: v / n for k, v in clock.seconds.items()}
    counted = [k for k in per_photo if not k.startswith("(") and not k.startswith("evidence")]
    total = sum(per_photo[k] for k in counted)
    return {"photos": n, "compared_with_reference": compared, "seconds_per_photo": per_photo,
            "total_s_per_photo": total, "photos_per_s_per_core": 1.0 / total if total > 0 else None,
            "detections": dict(found), "skipped_detectors": skipped, "problems": problems,
            "stages_in_total": counted}


def end_to_end(rows: list[Photo], data_dir: Path, feature_method: str = "sift") -> dict:
    """:func:`analyse_photos` over the photos in a fresh archive, one worker, CPU time."""
    settings = Settings.for_directory(data_dir)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        Session = make_session_factory(engine)
        with Session.begin() as session:
            session.add_all([Photo(**{c: getattr(p, c) for c in ("sha256", "stored_path", "original_name",
                                                                  "photo_set", "taken_utc", "lat_deg", "lon_deg",
                                                                  "alt_amsl_m", "alt_rel_m", "gimbal_pitch_deg",
                                                                  "gimbal_yaw_deg", "gimbal_roll_deg",
                                                                  "flight_yaw_deg", "width_px", "height_px",
                                                                  "camera_make", "camera_model", "focal_length_mm",
                                                                  "position_source")}) for p in rows])
        with Session.begin() as session:
            t0 = time.process_time()
            report = analyse_photos(session, data_dir, detectors=[n for n in detector_names()
                                                                   if n in _detectors()[0]],
                                    feature_method=feature_method, workers=1)
            cpu = time.process_time() - t0
    finally:
        engine.dispose()
    return {"photos_analysed": report.photos_analysed, "cpu_s": cpu,
            "photos_per_s_per_core": report.photos_analysed / cpu if cpu > 0 else None,
            "detections": report.detections, "findings_new": report.findings_new,
            "problems": [f"{p.name} {p.stage}: {p.message}" for p in report.problems]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--photos", type=int, default=len(DEFAULT_FILES),
                        help=f"how many of the {len(DEFAULT_FILES)} photos to use")
    parser.add_argument("--no-end-to-end", action="store_true", help="only the stage breakdown")
    parser.add_argument("--features", choices=("sift", "orb"), default="sift",
                        help="keypoints for georeferencing and registration (the pipeline's default: sift)")
    args = parser.parse_args(argv)
    source = PHOTOS / SOURCE_SET
    if not source.is_dir():
        print(f"vision speed benchmark skipped: {source} is absent (the real photo sets live there)")
        return 0
    cv2.setNumThreads(1)
    cv2.setRNGSeed(0)
    files = DEFAULT_FILES[:max(args.photos, 2)]
    with tempfile.TemporaryDirectory(prefix="vision-speed-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "photos").mkdir()
        rows = []
        for i, name in enumerate(files, start=1):
            make_20mp(source / name, data_dir / "photos" / name)
            rows.append(photo_row(i, source / name, f"photos/{name}"))
        result = {"benchmark": "vision_speed", "input": f"{len(rows)} real DJI FC300S photos resampled to "
                  f"{SIZE_20MP[0]} x {SIZE_20MP[1]} (20 MP)", "threads": 1, "opencv": cv2.__version__,
                  "features": args.features, "staged": staged(rows, data_dir, args.features)}
        if not args.no_end_to_end:
            result["end_to_end"] = end_to_end(rows, data_dir, args.features)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    s = result["staged"]
    print(f"Vision throughput on one core: {result['input']}; {args.features.upper()} keypoints; "
          f"OpenCV {result['opencv']}, 1 thread, CPU time\n")
    print("| stage | CPU ms per photo | share |")
    print("|---|---|---|")
    for stage, sec in sorted(s["seconds_per_photo"].items(), key=lambda kv: kv[0] not in s["stages_in_total"]):
        share = f"{sec / s['total_s_per_photo']:.0%}" if stage in s["stages_in_total"] else "not counted"
        print(f"| {stage} | {sec * 1000:.0f} | {share} |")
    print(f"| **total** | **{s['total_s_per_photo'] * 1000:.0f}** | **{s['photos_per_s_per_core']:.2f} photos/s/core** |")
    print(f"\n{s['compared_with_reference']} of {s['photos']} photos had a reference from the other pass; "
          f"detections: {s['detections']}")
    for name, why in s["skipped_detectors"].items():
        print(f"  skipped detector {name}: {why}")
    for problem in s["problems"]:
        print(f"  problem: {problem}")
    if "end_to_end" in result:
        e = result["end_to_end"]
        print(f"\nEnd to end (vision.analyse_photos, 1 worker, database and evidence crops included): "
              f"{e['photos_analysed']} photos in {e['cpu_s']:.1f} CPU s = {e['photos_per_s_per_core']:.2f} photos/s/core, "
              f"{e['detections']} detections, {e['findings_new']} new findings")
        for problem in e["problems"]:
            print(f"  problem: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

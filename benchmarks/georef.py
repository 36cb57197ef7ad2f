"""Georeferencing benchmark: how far apart neighbouring photos put the same ground point.

For each real photo set in ``../shared/data/photos``:

1. the folder is imported into a throw-away archive exactly as ``patrol import`` does
   (:func:`flight_logs.photos.import_photo_folder`: EXIF/XMP through
   :mod:`flight_logs.photo_metadata`, the same UTC offsets as the demo);
2. each photo is read at working scale and its SIFT keypoints found
   (:mod:`vision.images`, :mod:`vision.features`), and the set is placed on the ground by
   :func:`vision.placement.place_photo_set` (intrinsics from the sensor table, height from
   relative altitude or an estimated ground elevation, gimbal attitude, turned images),
   with the demo's per-set camera and ground settings (:mod:`patrol.demo`);
3. every pair of photos whose footprints overlap (>= ``--min-overlap`` of the smaller) is
   matched (ratio test) and RANSAC-filtered twice: with a homography (the ground plane's
   motion; what the detectors use) and with a fundamental matrix (any rigid scene: keeps
   matches on trees and roofs too);
4. each inlier match is projected to the ground from both photos with their own pose
   (:func:`vision.georef.pixel_to_ground`) and the geodesic distance between the two ground
   points is its **disagreement**.

5. **refinement, measured on held-out matches**: the tie-point refinement of
   :mod:`vision.refine` (what ``place_photo_set(refine=True)`` does) is fitted on the
   metadata poses with part of the matches and the disagreement is measured on the rest,
   beside the metadata's on the same matches: (a) *half*: a random half of each pair's
   matches fits, the other half measures; (b) *pairs*: 5-fold over pairs, each fold's pairs
   held out entirely (their photos are placed only from the other pairs). Two variants:
   per-photo corrections with the consumer-drone priors, and a set-wide boresight (camera
   attitude bias, 10 degree prior) with per-photo attitude held at the metadata. Fit
   residuals are never reported as the result. The time the refinement adds per photo is
   ``place_photo_set`` with and without it.

The error model (:mod:`vision.error_model`) predicts the disagreement of the same matched
pixels from a-priori pose errors of a consumer drone (:data:`A_PRIORI`), and the attitude
error that would explain the measured median (tilt and yaw scaled together) is reported as
"implied". The disagreement is a relative error between neighbours: an error both photos
share (GNSS bias) cancels.

Run: ``make bench`` or ``.venv/bin/python benchmarks/georef.py [--json] [--sets NAME,...]``.
Skips (exit 0, with a note) when ``../shared/data/photos`` is absent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_logs.photos import import_photo_folder  # noqa: E402
from patrol.db import make_engine, make_session_factory, upgrade  # noqa: E402
from patrol.geodesy import LocalProjection, distance_m  # noqa: E402
from patrol.demo import CAMERAS_BY_SET, GROUND_ELEVATION_BY_SET, PHOTO_SETS  # noqa: E402
from patrol.settings import Settings  # noqa: E402
from vision.calibration import PairMatch, ground_disagreement_m  # noqa: E402
from vision.error_model import CONSUMER_DRONE, PoseUncertainty, disagreement_m  # noqa: E402
from vision.errors import RegistrationError, VisionError  # noqa: E402
from vision.features import clear_match_cache, detect_features, estimate_homography, match_features  # noqa: E402
from vision.images import load_photo_image  # noqa: E402
from vision.placement import place_photo_set  # noqa: E402
from vision.reference import overlap_fraction  # noqa: E402
from vision.refine import refine_poses  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos"

#: A-priori one-sigma pose errors of a consumer drone photo (:data:`vision.error_model.CONSUMER_DRONE`).
A_PRIORI = CONSUMER_DRONE

#: Refinement variants measured: name -> keyword arguments of :func:`vision.refine.refine_poses`.
VARIANTS = {
    "per_photo": {},
    "boresight": {"boresight_sigma_deg": 10.0,
                  "uncertainty": PoseUncertainty(tilt_deg=0.01, yaw_deg=0.01)},
}


def _stats(d: np.ndarray) -> dict:
    d = d[np.isfinite(d)]
    if not len(d):
        return {"matches": 0, "median_m": None, "p90_m": None}
    return {"matches": int(len(d)), "median_m": round(float(np.median(d)), 2),
            "p90_m": round(float(np.percentile(d, 90)), 2)}


def _fundamental_inliers(pa: np.ndarray, pb: np.ndarray) -> np.ndarray | None:
    if len(pa) < 15:
        return None
    f, mask = cv2.findFundamentalMat(pa, pb, cv2.USAC_MAGSAC, 1.0, 0.999, 5000)
    if f is None or mask is None:
        return None
    return mask.ravel().astype(bool)


def _no_overlap_reason(placed: list, placements: dict) -> str:
    """Why no two footprints overlap: the closest cameras and the footprints' extent."""
    best = min(((distance_m(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg), a, b)
                for a, b in itertools.combinations(placed, 2)), key=lambda t: t[0])
    fp = placements[best[1].id].footprint_wgs84
    xy = LocalProjection.for_geometry(fp).project(fp).minimum_rotated_rectangle
    sides = sorted({round(math.dist(p, q)) for p, q in zip(xy.exterior.coords, xy.exterior.coords[1:])})
    return (f"no two footprints overlap: the closest photos, {best[1].original_name} and {best[2].original_name}, "
            f"were taken {best[0]:.0f} m apart and each covers about {' x '.join(str(v) for v in sides)} m")


def _implied_factor(measured_median: float, predict) -> float | None:
    """Attitude scale factor k (tilt and yaw times k) whose predicted median matches."""
    lo, hi = 0.0, 64.0
    if predict(hi) < measured_median:
        return None
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if predict(mid) < measured_median:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def bench_set(folder: Path, photo_set: str, utc_offset_h: float | None, *, min_overlap: float,
              say=lambda _t: None) -> dict:
    """Measure one photo set (see the module docstring); a dict of figures, or ``skipped``."""
    out: dict = {"set": photo_set}
    with tempfile.TemporaryDirectory(prefix="georef-bench-") as tmp:
        settings = Settings.for_directory(Path(tmp))
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session:
                imported = import_photo_folder(session, settings.data_dir, folder, photo_set=photo_set,
                                               local_utc_offset_h=utc_offset_h)
                photos = list(imported.photos)  # in time order
                images, features = {}, {}
                for p in photos:
                    images[p.id] = load_photo_image(settings.data_dir / p.stored_path)
                    features[p.id] = detect_features(images[p.id].pixels)
                notes: list[str] = []
                kwargs = dict(camera_model=CAMERAS_BY_SET.get(photo_set),
                              ground_elevation_m=GROUND_ELEVATION_BY_SET.get(photo_set))
                clear_match_cache()  # each run matches afresh (matches are remembered per feature set)
                t0 = time.perf_counter()
                placements, errors = place_photo_set(photos, images, features, refine=False, note=notes.append,
                                                     **kwargs)
                clear_match_cache()
                t1 = time.perf_counter()
                refined_notes: list[str] = []
                place_photo_set(photos, images, features, refine=True, note=refined_notes.append, **kwargs)
                t2 = time.perf_counter()
                notes += [n for n in refined_notes if n not in notes]
                out["refine_s_per_photo"] = round(((t2 - t1) - (t1 - t0)) / max(len(photos), 1), 2)
        finally:
            engine.dispose()
    out.update(photos=len(photos), placed=len(placements), notes=notes,
               errors=[f"{k}: {v}" for k, v in errors.items()])
    if len(placements) < 2:
        out["skipped"] = f"{len(placements)} of {len(photos)} photos placed: no pairs"
        return out
    first = next(iter(placements.values()))
    out["camera"] = photos[0].camera_model
    out["height_agl_m"] = round(float(np.median([pl.pose.height_agl_m for pl in placements.values()])), 1)
    out["gsd_cm_px"] = round(float(np.median([pl.gsd_cm_px for pl in placements.values()])), 2)
    out["height_source"] = first.height_source
    placed = [p for p in photos if p.id in placements]
    order = {p.id: i for i, p in enumerate(placed)}
    pairs_tried = pairs_ok = 0
    h_d, f_d, pred, tried_notes = [], [], [], []
    pair_rows, ties = [], []
    for a, b in itertools.combinations(placed, 2):
        fa, fb = placements[a.id].footprint_wgs84, placements[b.id].footprint_wgs84
        if not fa.intersects(fb):
            continue
        share = max(overlap_fraction(fa, fb), overlap_fraction(fb, fa))
        if share < min_overlap:
            continue
        pairs_tried += 1
        pa, pb = match_features(features[a.id], features[b.id])
        try:
            _, inl = estimate_homography(pa, pb, what=f"{a.original_name} and {b.original_name}")
        except RegistrationError as err:
            tried_notes.append(str(err))
            continue
        pairs_ok += 1
        pla, plb = placements[a.id], placements[b.id]

        def full(pid, pts):
            u, v = images[pid].to_full(pts[:, 0], pts[:, 1])
            return np.column_stack([u, v])

        ua, ub = full(a.id, pa[inl]), full(b.id, pb[inl])
        d = ground_disagreement_m(pla.pose, pla.intrinsics, ua, plb.pose, plb.intrinsics, ub)
        consecutive = abs(order[a.id] - order[b.id]) == 1
        dt_s = (abs((b.taken_utc - a.taken_utc).total_seconds()) if a.taken_utc and b.taken_utc else None)
        h_d.append((consecutive, d))
        pred.append((consecutive, dt_s, pla, ua, plb, ub))
        finl = _fundamental_inliers(pa, pb)
        if finl is not None and finl.sum() >= 15:
            f_d.append((consecutive, ground_disagreement_m(pla.pose, pla.intrinsics, full(a.id, pa[finl]),
                                                           plb.pose, plb.intrinsics, full(b.id, pb[finl]))))
        ties.append((consecutive, PairMatch(a.id, b.id, ua, ub),
                     None if finl is None or finl.sum() < 15
                     else PairMatch(a.id, b.id, full(a.id, pa[finl]), full(b.id, pb[finl]))))
        pair_rows.append({"a": a.original_name, "b": b.original_name, "consecutive": consecutive,
                          "seconds_apart": dt_s, "overlap": round(share, 2), "inliers": int(inl.sum()),
                          "median_m": round(float(np.median(d)), 2)})
    out.update(pairs_overlapping=pairs_tried, pairs_registered=pairs_ok, pairs=pair_rows)
    if not h_d:
        out["skipped"] = (f"no overlapping pair registers ({'; '.join(tried_notes[:3])})" if pairs_tried
                          else _no_overlap_reason(placed, placements))
        return out
    for group, keep in (("consecutive", lambda c: c), ("all", lambda c: True)):
        chosen = [p for p in pred if keep(p[0])]
        if not chosen:
            continue
        measured = _stats(np.concatenate([d for c, d in h_d if keep(c)]))
        f_list = [d for c, d in f_d if keep(c)]

        def simulate(unc: PoseUncertainty, samples: int) -> np.ndarray:
            sims = [disagreement_m(pa.pose, pa.intrinsics, ua, pb.pose, pb.intrinsics, ub, unc, dt_s=dt,
                                   samples=samples, seed=i).ravel()
                    for i, (_, dt, pa, ua, pb, ub) in enumerate(chosen)]
            s_all = np.concatenate(sims)
            return s_all[np.isfinite(s_all)]

        sims = simulate(A_PRIORI, 128)
        k = _implied_factor(measured["median_m"],
                            lambda f: float(np.median(simulate(A_PRIORI.scaled_attitude(f), 32))))
        out[group] = {
            "pairs": len(chosen), "homography_inliers": measured,
            "fundamental_inliers": _stats(np.concatenate(f_list)) if f_list else _stats(np.empty(0)),
            "predicted": {"median_m": round(float(np.median(sims)), 2),
                          "p90_m": round(float(np.percentile(sims, 90)), 2)},
            "implied_attitude": None if k is None else {"tilt_deg": round(A_PRIORI.tilt_deg * k, 2),
                                                        "yaw_deg": round(A_PRIORI.yaw_deg * k, 2)},
        }
    times = {p.id: p.taken_utc.timestamp() for p in placed if p.taken_utc is not None}
    out["refined"] = {name: held_out(placements, ties, times, kw) for name, kw in VARIANTS.items()}
    say(f"{photo_set}: {pairs_ok}/{pairs_tried} pairs, median {out['all']['homography_inliers']['median_m']} m")
    return out


def held_out(placements: dict, ties: list, times: dict, kwargs: dict, *, folds: int = 5, seed: int = 0) -> dict:
    """Disagreement on held-out matches, metadata poses against refined ones (module docstring, step 5).

    ``ties``: ``(consecutive, homography PairMatch, fundamental PairMatch or None)`` per pair.
    Returns ``{"half": {group: {"raw": stats, "refined": stats}}, "pairs": {...}, "fit_seconds": s}``
    with groups ``consecutive`` and ``all`` (and ``all_fundamental`` for the pair folds).
    """
    rng = np.random.default_rng(seed)
    poses = {pid: pl.pose for pid, pl in placements.items()}
    intr = {pid: pl.intrinsics for pid, pl in placements.items()}

    def dis(use: dict, m: PairMatch) -> np.ndarray:
        return ground_disagreement_m(use[m.key_a], intr[m.key_a], m.pts_a_px, use[m.key_b], intr[m.key_b], m.pts_b_px)

    def summary(rows: list) -> dict:
        out = {}
        for group, keep in (("consecutive", lambda c: c), ("all", lambda c: True)):
            chosen = [(r, f) for c, r, f in rows if keep(c)]
            if chosen:
                out[group] = {"raw": _stats(np.concatenate([r for r, _ in chosen])),
                              "refined": _stats(np.concatenate([f for _, f in chosen]))}
        return out

    fit_s = []
    # (a) half of each pair's matches
    fit, test = [], []
    for c, m, _ in ties:
        perm = rng.permutation(len(m))
        half = len(m) // 2
        fit.append(PairMatch(m.key_a, m.key_b, m.pts_a_px[perm[:half]], m.pts_b_px[perm[:half]]))
        test.append((c, PairMatch(m.key_a, m.key_b, m.pts_a_px[perm[half:]], m.pts_b_px[perm[half:]])))
    t = time.perf_counter()
    ref = refine_poses(poses, intr, fit, times_s=times, **kwargs)
    fit_s.append(time.perf_counter() - t)
    used = ref.poses if ref is not None else poses
    half_rows = [(c, dis(poses, m), dis(used, m)) for c, m in test]
    # (b) pairs held out, 5-fold
    order = rng.permutation(len(ties))
    pair_rows, f_rows = [], []
    for k in range(folds):
        held = set(order[k::folds].tolist())
        t = time.perf_counter()
        ref = refine_poses(poses, intr, [m for i, (_, m, _) in enumerate(ties) if i not in held], times_s=times,
                           **kwargs)
        fit_s.append(time.perf_counter() - t)
        used = ref.poses if ref is not None else poses
        for i in held:
            c, m, fm = ties[i]
            pair_rows.append((c, dis(poses, m), dis(used, m)))
            if fm is not None:
                f_rows.append((False, dis(poses, fm), dis(used, fm)))
    pairs = summary(pair_rows)
    if f_rows:
        pairs["all_fundamental"] = summary([(True, r, f) for _, r, f in f_rows])["all"]
    return {"half": summary(half_rows), "pairs": pairs, "fit_seconds": round(float(np.median(fit_s)), 1)}


def _refined_table(results: list[dict]) -> str:
    head = ("| photo set | variant | held out | pairs | matches | metadata median / p90 m | "
            "refined median / p90 m |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        for variant, v in r.get("refined", {}).items():
            for split, label in (("half", "half of each pair's matches"), ("pairs", "whole pairs (5-fold)")):
                for group, g in v[split].items():
                    lines.append(f"| {r['set']} | {variant} | {label} | {group.replace('_', ' ')} | "
                                 f"{g['raw']['matches']} | {g['raw']['median_m']} / {g['raw']['p90_m']} | "
                                 f"{g['refined']['median_m']} / {g['refined']['p90_m']} |")
    return "\n".join(lines)


def _table(results: list[dict]) -> str:
    head = ("| photo set | photos placed | height m (GSD cm/px) | pairs | registered / overlapping | matches | "
            "median m | p90 m | F-matrix inliers: matches, median, p90 m | model predicts: median, p90 m | "
            "implied attitude sigma |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['set']} | {r.get('placed', 0)}/{r.get('photos', 0)} | - | - | - | - | - | - | - | - | "
                         f"skipped: {r['skipped']} |")
            continue
        for group, label in (("consecutive", "consecutive"), ("all", "all overlapping")):
            if group not in r:
                continue
            g = r[group]
            h, f, p, imp = g["homography_inliers"], g["fundamental_inliers"], g["predicted"], g["implied_attitude"]
            implied = "-" if imp is None else f"tilt {imp['tilt_deg']} deg, yaw {imp['yaw_deg']} deg"
            registered = (f"{r['pairs_registered']}/{r['pairs_overlapping']}" if group == "all" else str(g["pairs"]))
            lines.append(
                f"| {r['set']} | {r['placed']}/{r['photos']} | {r['height_agl_m']} ({r['gsd_cm_px']}) | {label} | "
                f"{registered} | {h['matches']} | {h['median_m']} | {h['p90_m']} | "
                f"{f['matches']}, {f['median_m']}, {f['p90_m']} | {p['median_m']}, {p['p90_m']} | {implied} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--sets", default=None, help="comma-separated photo set names (default: all present)")
    parser.add_argument("--min-overlap", type=float, default=0.2,
                        help="smallest footprint overlap (share of either photo) of a pair")
    parser.add_argument("--pairs", action="store_true", help="with the table: one line per pair")
    args = parser.parse_args(argv)
    if not PHOTOS.is_dir():
        print(f"georef benchmark skipped: {PHOTOS} is absent (the real photo sets live there)")
        return 0
    cv2.setRNGSeed(0)
    wanted = set(args.sets.split(",")) if args.sets else None
    results, started = [], time.perf_counter()
    for folder, photo_set, utc_offset_h in PHOTO_SETS:
        path = PHOTOS / Path(folder).name
        if not folder.startswith("photos/") or (wanted and photo_set not in wanted):
            continue
        if not path.is_dir():
            results.append({"set": photo_set, "skipped": f"{path} is absent"})
            continue
        try:
            results.append(bench_set(path, photo_set, utc_offset_h, min_overlap=args.min_overlap,
                                     say=(lambda t: None) if args.json else (lambda t: print(t, file=sys.stderr))))
        except VisionError as err:
            results.append({"set": photo_set, "skipped": str(err)})
    if args.json:
        print(json.dumps({"benchmark": "georef", "a_priori": A_PRIORI.__dict__, "sets": results,
                          "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False))
        return 0
    print("Georeferencing: disagreement between neighbouring photos on the ground "
          f"(pairs with footprint overlap >= {args.min_overlap:.0%})\n")
    print(_table(results))
    print("\nTie-point refinement (vision.refine), disagreement on held-out matches (never the fitted ones):\n")
    print(_refined_table(results))
    for r in results:
        if "refine_s_per_photo" in r:
            print(f"  {r['set']}: refinement adds {r['refine_s_per_photo']} s per photo to place_photo_set "
                  f"(matching overlapping pairs and solving)")
    for r in results:
        for n in r.get("notes", []):
            print(f"  note: {n}")
        if args.pairs:
            for p in r.get("pairs", []):
                print(f"  {r['set']}: {p['a']} - {p['b']} {p['seconds_apart']:.0f} s apart, overlap {p['overlap']}, "
                      f"{p['inliers']} inliers, median {p['median_m']} m{' (consecutive)' if p['consecutive'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

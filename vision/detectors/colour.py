"""Colour/texture rules for categories with a visual signature, in one photo (no reference).

Each rule is a pixel test in HSV (OpenCV scales: hue 0-180, saturation and value 0-255) and
a local-texture test (regions get back the edge the texture window took from them, as far
as their colour holds), then morphology and region tests on the ground (area from the
georeferenced outline, shape from the minimum-area rectangle, brightness against a ring
around the region):

``blue_roof`` -> ``illegal_structure`` (私搭乱建 candidates)
    Keys on: strongly saturated blue (hue 95-125, saturation >= 150, value >= 90) - the
    painted corrugated steel sheet of temporary sheds and rooftop additions - in a region of
    at least 6 m2 that fills >= 60% of its minimum-area rectangle (roofs are rectangles).
    Shadows on asphalt in sunshine are blue too (skylight) but less saturated (90-130 on the
    Brighton Beach photos), hence the saturation floor.
    Confuses: blue tarpaulins, blue lorries and vans, swimming pools and blue sports courts,
    playground equipment, solar panels in bright sky reflection. Misses: white, grey or
    rusty sheets, faded paint, roofs under shade, sheds smaller than the minimum area.

``white_roof`` -> ``illegal_structure`` (私搭乱建 candidates: white steel-sheet roofs)
    Keys on: near-white (saturation <= 30, value >= 215: fresh white paint reflects 70-80%
    of daylight, against 30-40% for concrete and 10-20% for asphalt), smooth at a metre
    (local grey-level deviation <= 12; corrugation ridges at 0.2-0.3 m barely register),
    not vegetation, in a region of at least 15 m2 (a 3 x 5 m shed; cars are 8-10 m2) that
    fills >= 75% of its minimum-area rectangle, is at most 4 times as long as wide (road
    markings, kerbs and paths are longer) and is at least 30 grey levels brighter than a
    2 m ring around it. Regions cut by the frame's edge are left to the overlapping photo
    (the frame makes anything rectangular), and the rule is skipped when near-white covers
    more than half the frame (overexposure, snow, fog).
    Confuses: concrete pads, plazas and roof decks in strong sun (on the bundled sets the
    brightest, a concrete pad at Garfield Park, is 11 m2 and 18 levels above its
    surroundings), white lorries, vans and container tops, greenhouses and polytunnels,
    white tents and market canopies (street vending, itself a category), sand, snow, water
    glare and overexposed pale roofs. Misses: sheds under shade or in overcast light darker
    than the value floor, dirty or rusty sheets, roofs smaller than 15 m2, roofs against
    equally bright surroundings, roofs at the frame's edge in a photo without overlap.

``smoke`` -> ``open_burning`` (露天焚烧)
    Keys on: a grey-white haze - low saturation (<= 45), light but not clipped (value
    140-245), smooth at a metre (local deviation <= 10: smoke veils the texture under it),
    at most faintly green (excess green <= 0.05: thin smoke over grass keeps a tint) - over
    at least 20 m2, at least 10 grey levels brighter than a 2 m ring around it, **fed by a
    fire core** within 2 m: one connected blob of at least 0.05 m2 of incandescent pixels
    (:func:`fire_core_mask`: red and green channels clipped, still yellow, with orange flame
    within 0.5 m). Each fire core feeds one plume (the haze region reaching most of it).
    Skipped when haze-coloured smooth pixels cover more than half the frame (fog, low
    cloud, overexposure). Without the core the haze alone is not reported: at 4-11 cm per
    working pixel, grey-white haze is indistinguishable in one photo from sunlit concrete
    and asphalt - on the bundled photos every paved area passes the colour, smoothness and
    brightness tests (the rule without its fire core, ``flame_within_m=None``, marks 212
    regions in the 46 photos), and neither the sharpness of a region's outline nor the
    saturation profile inside it separated pavement from a generated plume (measured while
    building this rule). Orange alone is no fire either: the Garfield Park set's sunlit
    autumn crowns clip the red channel over tens of square metres beside pale paths (11
    false fires with an orange-only core), hence the clipped yellow-white core.
    The score rises with whiteness, brightness above the ring and the size of the fire core.
    Confuses: fog, mist and low cloud patches (the frame-share guard catches the
    widespread ones), steam from vents and cooling towers, dust plumes from earthworks
    (themselves a 工地扬尘 problem), pale pavement or roofs beside a light source or a
    glaring yellow-orange surface (lamps, reflections in windows or water, a safety vest in
    full sun), yellow foliage clipping in sunlight beside orange leaves on pale ground.
    Misses: smoke without visible flame (smouldering piles, the fire hidden under the plume
    or out of frame), dark smoke (burning tyres, plastics: not light grey), thin haze over
    bright ground that adds no brightness, plumes smaller than 20 m2, smoke drifting over
    pavement (it joins the pavement's region, which is then reported as the plume).

``bare_soil`` -> ``construction_dust`` (工地扬尘: uncovered soil on sites)
    Keys on: brown-to-yellow earth tones (hue 10-25, saturation 50-170, value 70-230) that
    are not green vegetation (excess-green index < 0.02) and are smooth at the scale of a
    metre (local standard deviation of grey level <= 10), over at least 150 m2, in a region
    filling >= 45% of its minimum-area rectangle (sites are fenced polygons; leaf litter and
    dry grass spread in ragged patches). Covered soil (green dust net) is not flagged: the
    net is green. Confuses: sand and beaches, baseball infields and running tracks, dirt
    paths, ploughed or harvested fields, dry lawns, brown roofs, dense fallen leaves in
    autumn woods (the Garfield Park set, November, gives five ragged patches of leaf litter
    without the rectangularity test). Misses: grey or dark soil, wet soil, small uncovered
    heaps (below the minimum area).

The score of a region is the mean of (a) its colour: how far its mean saturation lies above
the rule's minimum (0 at the minimum, 1 at +100), or for the white and grey rules how far
below the rule's maximum (1 for pure grey), and (b) its rectangularity (roofs), its
smoothness (bare soil) or, for smoke, the mean of its brightness above the ring (1 at twice
the required gain) and its fire core (1 at 0.5 m2); clipped to 0-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vision.detectors.base import (CategoryConfig, Detection, DetectionContext, detection_from_contour,
                                   merge_category_config, register)
from vision.images import PhotoImage

__all__ = ["ColourRule", "ColourRuleDetector", "DEFAULT_COLOUR_RULES", "FLAME_HSV", "fire_core_mask"]


@dataclass(frozen=True)
class ColourRule:
    """One colour/texture rule (see the module docstring for the built-in rules).

    Parameters
    ----------
    name : str
        Rule name, kept in the detection's details.
    category : str
        Category reported.
    hue : tuple of int
        Inclusive OpenCV hue range (0-180).
    saturation, value : tuple of int
        Inclusive ranges (0-255). A range starting at 0 selects greys and whites: the colour
        part of the score then grows as saturation falls.
    max_texture : float or None
        Largest local grey-level standard deviation (0-255, over ``texture_m`` of the
        detector) of a matching pixel.
    max_exg : float or None
        Largest excess-green index of a matching pixel (excludes vegetation).
    min_rectangularity : float
        Smallest region area / minimum-area-rectangle area.
    shape_score : str
        ``"rectangularity"``, ``"smoothness"`` or ``"plume"``: the second half of the score.
    max_elongation : float or None
        Largest long / short side of the region's minimum-area rectangle.
    min_brightness_gain : float or None
        Smallest difference, grey levels, between the region's mean and the median of a ring
        ``ring_m`` wide around it (pixels of the rule's colour left out of the ring).
    min_area_m2 : float
        Smallest ground area of this rule's regions, square metres (on top of the category's).
    flame_within_m : float or None
        When set, a region is reported only with a fire core (:func:`fire_core_mask`, one
        connected blob of at least ``min_flame_m2``) within this distance, metres.
    min_flame_m2 : float
        Smallest fire core, square metres.
    max_frame_fraction : float or None
        When the rule's pixels cover more than this share of the frame, the rule reports
        nothing for the photo (fog, overexposure).
    ring_m : float
        Width of the ring for ``min_brightness_gain``, metres.
    skip_border : bool
        Leave out regions touching the frame's edge (their shape is the frame's; the
        overlapping photo sees them whole).
    """

    name: str
    category: str
    hue: tuple[int, int]
    saturation: tuple[int, int]
    value: tuple[int, int]
    max_texture: float | None = None
    max_exg: float | None = None
    min_rectangularity: float = 0.0
    shape_score: str = "rectangularity"
    max_elongation: float | None = None
    min_brightness_gain: float | None = None
    min_area_m2: float = 0.0
    flame_within_m: float | None = None
    min_flame_m2: float = 0.05
    max_frame_fraction: float | None = None
    ring_m: float = 2.0
    skip_border: bool = False


#: Orange flame pixels (HSV lower and upper bounds): orange to yellow, saturated, near the
#: top of the value range. Red (hue < 5) is left out: red cars and roofs are common, flames
#: photographed in daylight clip towards orange and yellow.
FLAME_HSV: tuple[tuple[int, int, int], tuple[int, int, int]] = ((5, 120, 235), (35, 255, 255))


def fire_core_mask(bgr: np.ndarray, gsd_m: float, *, fringe_m: float = 0.5) -> np.ndarray:
    """Pixels of an incandescent fire core: yellow-white, red and green channels clipped, with
    orange flame (:data:`FLAME_HSV`) within ``fringe_m`` metres.

    A flame is a light source: exposed for the daylit scene, its core clips the red and green
    channels (R >= 250, G >= 235) while staying yellow (B at least 25 below G), and orange
    surrounds it. Sunlit orange leaves clip the red channel (the Garfield Park set), yellow
    ones sometimes the green too; the rule using this mask asks in addition for a haze
    region beside the core.

    Parameters
    ----------
    bgr : ndarray (H, W, 3) uint8
    gsd_m : float
        Metres per pixel.

    Returns
    -------
    ndarray (H, W) uint8
        255 on fire-core pixels.
    """
    b, g, r = (bgr[..., i].astype(np.int16) for i in range(3))
    hot = ((r >= 250) & (g >= 235) & (b <= g - 25)).astype(np.uint8) * 255
    if not hot.any():
        return hot
    orange = cv2.inRange(cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV), np.array(FLAME_HSV[0], np.uint8),
                         np.array(FLAME_HSV[1], np.uint8))
    near_orange = cv2.dilate(orange, _disc(_odd(2.0 * fringe_m / gsd_m)))
    return cv2.bitwise_and(hot, near_orange)

DEFAULT_COLOUR_RULES: tuple[ColourRule, ...] = (
    ColourRule("blue_roof", "illegal_structure", hue=(95, 125), saturation=(150, 255), value=(90, 255),
               min_rectangularity=0.6, shape_score="rectangularity"),
    ColourRule("white_roof", "illegal_structure", hue=(0, 180), saturation=(0, 30), value=(215, 255),
               max_texture=12.0, max_exg=0.02, min_rectangularity=0.75, shape_score="rectangularity",
               max_elongation=4.0, min_brightness_gain=30.0, min_area_m2=15.0, max_frame_fraction=0.5,
               skip_border=True),
    ColourRule("smoke", "open_burning", hue=(0, 180), saturation=(0, 45), value=(140, 245),
               max_texture=10.0, max_exg=0.05, shape_score="plume", min_brightness_gain=10.0,
               flame_within_m=2.0, min_flame_m2=0.05, max_frame_fraction=0.5),
    ColourRule("bare_soil", "construction_dust", hue=(10, 25), saturation=(50, 170), value=(70, 230),
               max_texture=10.0, max_exg=0.02, min_rectangularity=0.45, shape_score="smoothness"),
)

_DEFAULT_CATEGORIES = {
    "illegal_structure": CategoryConfig(min_area_m2=6.0, max_area_m2=5000.0, min_score=0.3),
    "construction_dust": CategoryConfig(min_area_m2=150.0, max_area_m2=50000.0, min_score=0.3),
    "open_burning": CategoryConfig(min_area_m2=20.0, max_area_m2=20000.0, min_score=0.3),
}


def _odd(n: float) -> int:
    n = max(int(round(n)), 1)
    return n if n % 2 == 1 else n + 1


def local_texture(gray: np.ndarray, size_px: int) -> np.ndarray:
    """Local standard deviation of a grey image over a ``size_px`` box, float32 (H, W)."""
    g = gray.astype(np.float32)
    mean = cv2.blur(g, (size_px, size_px))
    sq = cv2.blur(g * g, (size_px, size_px))
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def _disc(size_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size_px, size_px))


@register("colour")
class ColourRuleDetector:
    """Colour/texture rules (see the module docstring).

    Parameters
    ----------
    categories : mapping, optional
        Per-category :class:`CategoryConfig` overrides.
    rules : sequence of ColourRule
        Default :data:`DEFAULT_COLOUR_RULES`.
    texture_m : float
        Window of the local texture measure, metres (default 1).
    close_m, open_m : float
        Closing (joins a roof's sheets) and opening (drops speckle) sizes, metres.
    """

    name = "colour"

    def __init__(self, *, categories: Mapping[str, Any] | None = None,
                 rules: tuple[ColourRule, ...] = DEFAULT_COLOUR_RULES, texture_m: float = 1.0,
                 close_m: float = 0.8, open_m: float = 0.5) -> None:
        self.rules = tuple(rules)
        defaults = {r.category: _DEFAULT_CATEGORIES.get(r.category, CategoryConfig()) for r in self.rules}
        self.categories = merge_category_config(defaults, categories, detector=self.name)
        self.texture_m = float(texture_m)
        self.close_m = float(close_m)
        self.open_m = float(open_m)

    def detect(self, photo_image: PhotoImage, context: DetectionContext) -> list[Detection]:
        """Apply every enabled rule to the photo."""
        view = context.view
        pixels = photo_image.pixels
        gsd = view.gsd_m_work()
        hsv = cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        texture = local_texture(gray, _odd(self.texture_m / gsd))
        b, g, r = (pixels[..., i].astype(np.float32) for i in range(3))  # planes: a sum over axis 2 is slow
        exg = (2.0 * g - r - b) / (b + g + r + 1e-6)
        planes = _Planes(pixels, hsv, gray, texture, exg, gsd)
        out: list[Detection] = []
        for rule in self.rules:
            config = self.categories[rule.category]
            if not config.enabled:
                continue
            out.extend(self._apply(rule, config, view, planes))
        return out

    def _apply(self, rule: ColourRule, config: CategoryConfig, view, p: "_Planes") -> list[Detection]:
        hsv, gsd = p.hsv, p.gsd
        fire_labels = fire_px = None
        if rule.flame_within_m is not None:  # cheap and usually decisive: no fire, no plume
            fire = fire_core_mask(p.bgr, gsd)
            if not fire.any():
                return []
            _, fire_labels, fire_stats, _ = cv2.connectedComponentsWithStats(fire, connectivity=8)
            fire_px = fire_stats[:, cv2.CC_STAT_AREA]
            fire_px[0] = 0
            fire_px[fire_px * gsd ** 2 < rule.min_flame_m2] = 0  # too small to count: ignored
            if not fire_px.any():
                return []
        lo = np.array([rule.hue[0], rule.saturation[0], rule.value[0]], np.uint8)
        hi = np.array([rule.hue[1], rule.saturation[1], rule.value[1]], np.uint8)
        colour = cv2.inRange(hsv, lo, hi)
        mask = colour.copy()
        if rule.max_texture is not None:
            mask[p.texture > rule.max_texture] = 0
        if rule.max_exg is not None:
            mask[p.exg > rule.max_exg] = 0
        if rule.max_frame_fraction is not None and np.count_nonzero(mask) > rule.max_frame_fraction * mask.size:
            return []  # fog, low cloud, overexposure: the whole frame looks like it
        window = _odd(self.texture_m / gsd)
        if rule.max_texture is not None and mask.any():
            # the texture window straddles a region's outline and fails there: give the
            # region back its edge, as far as the window reaches and the colour holds
            mask = cv2.bitwise_and(cv2.dilate(mask, _disc(window)), colour)
        if not mask.any():
            return []
        close = _odd(self.close_m / gsd)
        opening = _odd(self.open_m / gsd)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disc(close))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disc(opening))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_px = 0.5 * max(config.min_area_m2, rule.min_area_m2) / gsd ** 2
        ring_px = _odd(rule.ring_m / gsd)
        reach_px = _odd(2.0 * rule.flame_within_m / gsd) if rule.flame_within_m is not None else 1
        pad = max(ring_px, reach_px) // 2 + 2
        out: list[Detection] = []
        fires: list[dict[int, int]] = []  # per detection in out: fire blob -> pixels near the region
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] < min_px:
                continue
            x, y, w, h = (int(v) for v in stats[i, :4])
            if rule.skip_border and (x == 0 or y == 0 or x + w == mask.shape[1] or y + h == mask.shape[0]):
                continue  # cut by the frame: its shape is the frame's; the overlapping photo judges it
            x0, y0 = max(x - pad, 0), max(y - pad, 0)
            x1, y1 = min(x + w + pad, mask.shape[1]), min(y + h + pad, mask.shape[0])
            region = (labels[y0:y1, x0:x1] == i).astype(np.uint8)
            contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            contour = max(contours, key=cv2.contourArea) + np.array([x0, y0])
            (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
            rectangularity = float(stats[i, cv2.CC_STAT_AREA] / max(rw * rh, 1.0))
            elongation = float(max(rw, rh) / max(min(rw, rh), 1.0))
            if rectangularity < rule.min_rectangularity:
                continue
            if rule.max_elongation is not None and elongation > rule.max_elongation:
                continue
            inside = region > 0
            details: dict[str, Any] = {"rule": rule.name, "rectangularity": round(rectangularity, 3),
                                       "elongation": round(elongation, 2)}
            gain = None
            if rule.min_brightness_gain is not None:
                ring = (cv2.dilate(region, _disc(ring_px)) > 0) & ~inside & (colour[y0:y1, x0:x1] == 0)
                if not ring.any():
                    continue
                gray = p.gray[y0:y1, x0:x1]
                gain = float(gray[inside].mean() - np.median(gray[ring]))
                details["brightness_gain"] = round(gain, 1)
                if gain < rule.min_brightness_gain:
                    continue
            flame_m2 = None
            touching: dict[int, int] = {}
            if fire_labels is not None:
                near = cv2.dilate(region, _disc(reach_px)) > 0
                ids, counts = np.unique(fire_labels[y0:y1, x0:x1][near], return_counts=True)
                touching = {int(b): int(c) for b, c in zip(ids, counts) if b > 0 and fire_px[b] > 0}
                if not touching:
                    continue
                flame_m2 = float(max(fire_px[b] for b in touching)) * gsd ** 2
                details["fire_core_m2"] = round(flame_m2, 2)
            sat = float(hsv[y0:y1, x0:x1, 1][inside].mean())
            details["mean_saturation"] = round(sat, 1)
            if rule.saturation[0] == 0:
                colour_part = np.clip((rule.saturation[1] - sat) / max(rule.saturation[1], 1), 0.0, 1.0)
            else:
                colour_part = np.clip((sat - rule.saturation[0]) / 100.0, 0.0, 1.0)
            if rule.shape_score == "smoothness" and rule.max_texture:
                smooth = 1.0 - float(p.texture[y0:y1, x0:x1][inside].mean()) / rule.max_texture
                shape_part = np.clip(smooth, 0.0, 1.0)
            elif rule.shape_score == "plume":
                gain_part = 1.0 if gain is None else np.clip(gain / (2.0 * (rule.min_brightness_gain or 1.0)), 0, 1)
                fire_part = 1.0 if flame_m2 is None else np.clip(flame_m2 / 0.5, 0.0, 1.0)
                shape_part = 0.5 * (gain_part + fire_part)
            else:
                shape_part = np.clip(rectangularity, 0.0, 1.0)
            score = float(0.5 * colour_part + 0.5 * shape_part)
            det = detection_from_contour(view, contour, category=rule.category, score=score, detector=self.name,
                                         details=details)
            if config.accepts(det.score, det.area_m2) and det.area_m2 >= rule.min_area_m2:
                out.append(det)
                fires.append(touching)
        if fire_labels is not None:
            # a fire feeds one plume: each fire core goes to the region reaching most of it
            owner: dict[int, int] = {}
            for k, touching in enumerate(fires):
                for b, c in touching.items():
                    if b not in owner or c > fires[owner[b]][b]:
                        owner[b] = k
            out = [d for k, d in enumerate(out) if k in owner.values()]
        return out


@dataclass(frozen=True)
class _Planes:
    """Per-photo planes shared by the rules (working scale)."""

    bgr: np.ndarray
    hsv: np.ndarray
    gray: np.ndarray
    texture: np.ndarray
    exg: np.ndarray
    gsd: float

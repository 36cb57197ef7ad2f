"""Georeferencing: image pixels <-> WGS84 ground points on a flat-ground model.

Conventions
-----------
* **Image**: pixel coordinates ``(u_px, v_px)`` are continuous, ``u`` to the right, ``v`` down,
  origin at the top-left corner of the top-left pixel (its centre is ``(0.5, 0.5)``); the
  principal point is the image centre unless given. Lens distortion is neglected.
* **Camera frame**: x right, y down, z forward along the optical axis (OpenCV's).
* **Attitude** (degrees), applied yaw, then pitch, then roll (Tait-Bryan Z-Y'-X''), from a
  camera looking horizontally north with the image upright:

  - ``yaw_deg``: clockwise from **true** north, the direction of the optical axis projected on
    the ground; for a nadir camera, the direction the **top of the image** points to.
  - ``pitch_deg``: elevation of the optical axis above the horizon: 0 horizontal, **-90 nadir**
    (DJI's ``GimbalPitchDegree``; Pix4D/Parrot ``Camera:Pitch`` is 0 at nadir, so subtract 90).
  - ``roll_deg``: rotation about the optical axis, positive turning the image's right side down.

* **Ground**: a horizontal plane ``height_agl_m`` below the camera. Horizontal offsets are
  computed in the local east-north plane of the camera (true north) and turned into WGS84 with
  the geodesic forward/inverse problem (pyproj ``Geod.fwd``/``Geod.inv``), which is exact for the
  tangent-plane offsets at these ranges (< 1 mm error at 1 km).

For the flat plane the pixel -> ground map is a homography ``G = [r_x; r_y; -r_z/h] K^-1``
(rows ``r`` of the camera-to-ENU rotation, ``K`` the intrinsic matrix, ``h`` the height), so
:func:`pixel_to_ground` and :func:`ground_to_pixel` are vectorised 3x3 products.

Error model
-----------
For a pixel whose ray makes the angle ``a`` with the vertical (``a`` = 0 at nadir; up to the
half diagonal field of view, 47 degrees for the DJI FC300S) at height ``h`` above the plane,
its ground point lies at range ``r = h tan a`` from the nadir point, and

* **Height error** ``dh`` (barometric/relative altitude drift, take-off point not at the same
  elevation as the scene, GNSS altitude for MSL-only sets): a radial error ``dh tan a``; zero
  at nadir, ``dh`` at 45 degrees. It scales the footprint by ``1 + dh / h``.
* **Tilt error** ``dt`` (pitch or roll, radians): ``h dt / cos^2 a`` along the tilt; at nadir
  ``h dt`` = 0.70 m per degree at 40 m.
* **Yaw error** ``dy`` (radians): ``r dy`` across the range; 0.75 m per degree at the corner of a
  40 m DJI photo (``r`` = 43 m).
* **Position error** of the GNSS fix: passes through one to one (about 1-3 m horizontal for the
  consumer receivers of these sets; Parrot records ``Camera:GPSXYAccuracy`` = 2.3 m).
* **Relief** (the flat-ground model): a point ``dz`` above the plane (tree crown, roof) is
  displaced outward by ``dz tan a`` - 15 m trees at 45 degrees move 15 m - and terrain
  slopes add the same way. This dominates off-nadir for tall objects.
* **Timing**: a capture-time offset ``dt_s`` at ground speed ``v`` moves the camera ``v dt_s``.
* **Lens distortion** (ignored): a few pixels to tens of pixels at the corners of wide lenses,
  i.e. a few decimetres at 40 m.

The errors add (roughly independently) as a root sum of squares. At nadir with 1 degree of
tilt, 2 m of GNSS error and 1 m of height error, a 40 m photo places ground points to about
2.1 m at the centre and 2.5 m at the corners.

Simulated: :mod:`vision.error_model` draws these errors (with the GNSS error correlated in
time) and projects the same pixels with the perturbed poses.

Measured (``benchmarks/georef.py``, figures in ``docs/BENCHMARKS.md``: features matched
between overlapping photos, projected from each photo, distance between the two ground
points): DJI FC300S at 40 m, neighbours on a pass median 0.93 m, 90th percentile 2.4 m
(the model with 0.5 degree of attitude error predicts 0.91 m; the tail is tree crowns off the
ground plane); pairs from other passes included, median 2.1 m - the GNSS position drifts by
2-5 m between lines flown a minute apart. This is the relative error between photos, blind
to an error all of them share (the GNSS bias). Parrot Sequoia at ~100 m: median 18 m,
90th percentile 33 m - its recorded attitude is about 5 degrees off, which at 100 m moves
the ground by 10-30 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box

from patrol.geodesy import WGS84
from vision.errors import GeoreferenceError

__all__ = [
    "CameraIntrinsics",
    "CameraPose",
    "camera_rotation",
    "footprint",
    "ground_to_pixel",
    "ground_homography",
    "pixel_to_enu",
    "pixel_to_ground",
]

#: Rays must point at least this far below the horizon (as the cosine-free z component of
#: the unnormalised ray, i.e. ~0.06 degrees) to reach the ground.
_MIN_DOWN = 1e-3


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera of one image (size as stored, full sensor width, square pixels).

    Parameters
    ----------
    focal_length_mm : float
        Lens focal length (EXIF ``FocalLength``), mm.
    sensor_width_mm, sensor_height_mm : float
        Size of the sensor area the image covers, mm.
    width_px, height_px : int
        Image size in pixels.
    principal_point_px : tuple of float, optional
        ``(cx, cy)`` in pixels; the image centre when None.

    Examples
    --------
    GSD of a 13.2 mm wide sensor behind an 8.8 mm lens, 5472 px wide, at 100 m:

    >>> cam = CameraIntrinsics(8.8, 13.2, 8.8, 5472, 3648)
    >>> round(cam.gsd_cm_px(100.0), 2)
    2.74
    >>> round(cam.scaled(1368, 912).gsd_cm_px(100.0), 2)
    10.96
    """

    focal_length_mm: float
    sensor_width_mm: float
    sensor_height_mm: float
    width_px: int
    height_px: int
    principal_point_px: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("focal_length_mm", "sensor_width_mm", "sensor_height_mm", "width_px", "height_px"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GeoreferenceError(f"camera intrinsics: {name} must be a positive number, got {value!r}")

    @property
    def fx_px(self) -> float:
        """Focal length in pixels along x: ``f_mm * width_px / sensor_width_mm``."""
        return self.focal_length_mm * self.width_px / self.sensor_width_mm

    @property
    def fy_px(self) -> float:
        """Focal length in pixels along y: ``f_mm * height_px / sensor_height_mm``."""
        return self.focal_length_mm * self.height_px / self.sensor_height_mm

    @property
    def cx_px(self) -> float:
        return self.width_px / 2.0 if self.principal_point_px is None else self.principal_point_px[0]

    @property
    def cy_px(self) -> float:
        return self.height_px / 2.0 if self.principal_point_px is None else self.principal_point_px[1]

    def matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix ``K`` (pixels)."""
        return np.array([[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]])

    def gsd_cm_px(self, height_agl_m: float) -> float:
        """Ground sample distance at nadir, cm per pixel: ``100 h s_w / (f W)`` (Pix4D/ODM formula)."""
        return 100.0 * height_agl_m * self.sensor_width_mm / (self.focal_length_mm * self.width_px)

    def scaled(self, width_px: int, height_px: int) -> "CameraIntrinsics":
        """The same camera for the image resampled to ``width_px`` x ``height_px``."""
        pp = self.principal_point_px
        if pp is not None:
            pp = (pp[0] * width_px / self.width_px, pp[1] * height_px / self.height_px)
        return replace(self, width_px=int(width_px), height_px=int(height_px), principal_point_px=pp)


@dataclass(frozen=True)
class CameraPose:
    """Where the camera was and where it looked.

    Parameters
    ----------
    lat_deg, lon_deg : float
        WGS84 position of the camera, degrees.
    height_agl_m : float
        Height of the camera above the (flat) ground, metres, > 0.
    yaw_deg : float
        Optical axis azimuth, clockwise from true north (image top for a nadir camera).
    pitch_deg : float
        Optical axis elevation; -90 is nadir (default).
    roll_deg : float
        Rotation about the optical axis, positive right side down (default 0).
    """

    lat_deg: float
    lon_deg: float
    height_agl_m: float
    yaw_deg: float = 0.0
    pitch_deg: float = -90.0
    roll_deg: float = 0.0

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat_deg <= 90.0 and -180.0 <= self.lon_deg <= 180.0):
            raise GeoreferenceError(f"camera position is not WGS84: lat {self.lat_deg}, lon {self.lon_deg}")
        if not (math.isfinite(self.height_agl_m) and self.height_agl_m > 0.0):
            raise GeoreferenceError(f"camera height above ground must be > 0 m, got {self.height_agl_m!r}")
        for name in ("yaw_deg", "pitch_deg", "roll_deg"):
            if not math.isfinite(getattr(self, name)):
                raise GeoreferenceError(f"camera {name} is not a finite angle: {getattr(self, name)!r}")


def camera_rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Camera-to-ENU rotation: columns are the camera's x (right), y (down), z (forward) axes.

    Parameters
    ----------
    yaw_deg, pitch_deg, roll_deg : float
        Attitude with the module's conventions (pitch -90 = nadir, yaw clockwise from north).

    Returns
    -------
    ndarray (3, 3)
        ``R`` with ``d_enu = R @ d_cam``.

    Examples
    --------
    Nadir, image top to the north: forward is down, right is east, image-down is south.

    >>> (camera_rotation(0.0, -90.0, 0.0).round(6) + 0.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]
    """
    psi, theta, phi = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    forward = np.array([math.sin(psi) * math.cos(theta), math.cos(psi) * math.cos(theta), math.sin(theta)])
    right0 = np.array([math.cos(psi), -math.sin(psi), 0.0])
    down0 = np.cross(forward, right0)
    right = math.cos(phi) * right0 + math.sin(phi) * down0
    down = -math.sin(phi) * right0 + math.cos(phi) * down0
    return np.column_stack([right, down, forward])


def ground_homography(pose: CameraPose, intr: CameraIntrinsics) -> np.ndarray:
    """3x3 homography from image pixels to ground offsets (east, north) in metres.

    ``[e', n', w'] = G @ [u, v, 1]``; the ground point is ``(e'/w', n'/w')`` from the nadir point
    of the camera and the ray reaches the ground only where ``w' > 0``.
    """
    rot = camera_rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    scale = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0 / pose.height_agl_m]])
    return scale @ rot @ np.linalg.inv(intr.matrix())


def pixel_to_enu(pose: CameraPose, intr: CameraIntrinsics, u_px, v_px) -> tuple[np.ndarray, np.ndarray]:
    """Ground offsets east/north (metres) from the camera's nadir point of image pixels.

    Parameters
    ----------
    u_px, v_px : float or array_like, same shape
        Pixel coordinates (x right, y down) in the image of ``intr``.

    Returns
    -------
    (east_m, north_m) : ndarray
        Same shape as the inputs.

    Raises
    ------
    GeoreferenceError
        If a pixel's ray does not reach the ground (at or above the horizon).
    """
    u = np.asarray(u_px, dtype=float)
    v = np.asarray(v_px, dtype=float)
    g = ground_homography(pose, intr)
    e = g[0, 0] * u + g[0, 1] * v + g[0, 2]
    n = g[1, 0] * u + g[1, 1] * v + g[1, 2]
    w = g[2, 0] * u + g[2, 1] * v + g[2, 2]
    bad = w * pose.height_agl_m <= _MIN_DOWN
    if np.any(bad):
        raise GeoreferenceError(
            f"{int(np.count_nonzero(bad))} pixel(s) look at or above the horizon "
            f"(pitch {pose.pitch_deg} deg): their rays never reach the ground")
    return e / w, n / w


def pixel_to_ground(pose: CameraPose, intr: CameraIntrinsics, u_px, v_px) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 ground position of image pixels on the flat-ground model.

    Parameters
    ----------
    pose : CameraPose
    intr : CameraIntrinsics
        Must describe the image the pixel coordinates refer to (see ``CameraIntrinsics.scaled``).
    u_px, v_px : float or array_like, same shape
        Pixel coordinates, x right, y down.

    Returns
    -------
    (lon_deg, lat_deg) : ndarray
        Same shape as the inputs.

    Raises
    ------
    GeoreferenceError
        If a ray does not reach the ground.

    Examples
    --------
    The image centre of a nadir photo is straight below the camera:

    >>> cam = CameraIntrinsics(3.61, 6.17, 3.47, 4000, 2250)
    >>> pose = CameraPose(46.8426, -91.9945, 40.0, yaw_deg=45.0)
    >>> lon, lat = pixel_to_ground(pose, cam, 2000.0, 1125.0)
    >>> round(float(lon), 7), round(float(lat), 7)
    (-91.9945, 46.8426)
    """
    east, north = pixel_to_enu(pose, intr, u_px, v_px)
    return _enu_to_lonlat(pose, east, north)


def ground_to_pixel(pose: CameraPose, intr: CameraIntrinsics, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Image pixels where WGS84 ground points appear (flat-ground model).

    Pixels may fall outside the image; callers check the bounds.

    Parameters
    ----------
    lon_deg, lat_deg : float or array_like, same shape
        Ground points, WGS84 degrees.

    Returns
    -------
    (u_px, v_px) : ndarray
        Same shape as the inputs.

    Raises
    ------
    GeoreferenceError
        If a point lies behind the camera (not on the visible side of the horizon).
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    lon0 = np.full(lon.shape, pose.lon_deg)
    lat0 = np.full(lat.shape, pose.lat_deg)
    az, _, dist = WGS84.inv(lon0, lat0, lon, lat)
    az = np.radians(np.asarray(az, dtype=float))
    dist = np.asarray(dist, dtype=float)
    east, north = dist * np.sin(az), dist * np.cos(az)
    ginv = np.linalg.inv(ground_homography(pose, intr))
    a = ginv[0, 0] * east + ginv[0, 1] * north + ginv[0, 2]
    b = ginv[1, 0] * east + ginv[1, 1] * north + ginv[1, 2]
    c = ginv[2, 0] * east + ginv[2, 1] * north + ginv[2, 2]
    # c is the pixel's homogeneous scale; it shares the sign of the ray's depth (z forward)
    if np.any(c <= 0):
        raise GeoreferenceError(
            f"{int(np.count_nonzero(c <= 0))} ground point(s) lie behind the camera's horizon")
    return a / c, b / c


def footprint(pose: CameraPose, intr: CameraIntrinsics, *, max_range_m: float | None = None) -> Polygon:
    """Ground footprint of the image as a WGS84 polygon (lon, lat) on the flat-ground model.

    The image rectangle is clipped to the rays that reach the ground, mapped to the plane by
    the ground homography (straight edges stay straight), and cut to a disc of ``max_range_m``
    around the nadir point (default ``20 * height_agl_m``) so that oblique photos looking near
    the horizon give a bounded polygon.

    Raises
    ------
    GeoreferenceError
        If no part of the image sees the ground.

    Examples
    --------
    A nadir 40 m photo of the DJI FC300S (6.17 mm sensor, 3.61 mm lens, 4000 x 2250 px) covers
    40 * 6.17 / 3.61 = 68.4 m by 38.5 m:

    >>> from patrol.geodesy import distance_m
    >>> cam = CameraIntrinsics(3.61, 6.17, 6.17 * 2250 / 4000, 4000, 2250)
    >>> corners = footprint(CameraPose(46.8426, -91.9945, 40.0, yaw_deg=30.0), cam).exterior.coords
    >>> sorted(round(distance_m(*corners[i], *corners[i + 1]), 1) for i in range(4))
    [38.5, 38.5, 68.4, 68.4]
    """
    g = ground_homography(pose, intr)
    rng = 20.0 * pose.height_agl_m if max_range_m is None else float(max_range_m)
    image = box(0.0, 0.0, float(intr.width_px), float(intr.height_px))
    # half-plane w'(u, v) >= MIN_DOWN / h: clip the image rectangle by a large polygon
    a, b, c = g[2] * pose.height_agl_m
    visible = _half_plane(a, b, c - _MIN_DOWN * 10, image.bounds)
    clipped = image.intersection(visible) if visible is not None else Polygon()
    if clipped.is_empty or clipped.area <= 0:
        raise GeoreferenceError(
            f"no part of the image sees the ground (pitch {pose.pitch_deg} deg, roll {pose.roll_deg} deg)")
    uv = np.asarray(clipped.exterior.coords)[:-1]
    pts = np.column_stack([uv, np.ones(len(uv))]) @ g.T
    enu = Polygon(pts[:, :2] / pts[:, 2:3])
    enu = enu.intersection(Point(0.0, 0.0).buffer(rng, quad_segs=16))
    if enu.is_empty or enu.geom_type != "Polygon":
        raise GeoreferenceError(f"no ground is visible within {rng:.0f} m of the nadir point")
    xy = np.asarray(enu.exterior.coords)
    lon, lat = _enu_to_lonlat(pose, xy[:, 0], xy[:, 1])
    return shapely.orient_polygons(Polygon(np.column_stack([lon, lat])))


def _half_plane(a: float, b: float, c: float, bounds: tuple[float, float, float, float]) -> Polygon | None:
    """Polygon of ``a u + b v + c >= 0`` inside a box larger than ``bounds``."""
    x0, y0, x1, y1 = bounds
    span = 4.0 * max(x1 - x0, y1 - y0)
    big = box(x0 - span, y0 - span, x1 + span, y1 + span)
    corners = np.asarray(big.exterior.coords)[:-1]
    if np.all(a * corners[:, 0] + b * corners[:, 1] + c >= 0):
        return big
    norm = math.hypot(a, b)
    if norm == 0.0:
        return None
    # shapely clip: intersect the big box with a huge polygon on the positive side of the line
    nx, ny = a / norm, b / norm
    px, py = -c * nx / norm, -c * ny / norm  # a point on the line
    far = 100.0 * span
    tx, ty = -ny, nx
    half = Polygon([
        (px + tx * far, py + ty * far),
        (px + tx * far + nx * far, py + ty * far + ny * far),
        (px - tx * far + nx * far, py - ty * far + ny * far),
        (px - tx * far, py - ty * far),
    ])
    return big.intersection(half)


def _enu_to_lonlat(pose: CameraPose, east: np.ndarray, north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    east = np.asarray(east, dtype=float)
    north = np.asarray(north, dtype=float)
    az = np.degrees(np.arctan2(east, north))
    dist = np.hypot(east, north)
    lon0 = np.full(east.shape, pose.lon_deg)
    lat0 = np.full(east.shape, pose.lat_deg)
    lon, lat, _ = WGS84.fwd(lon0, lat0, az, dist)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

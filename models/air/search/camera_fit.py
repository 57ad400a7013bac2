"""The camera read fitted to the image by the renderer (cameras that vary).

Under a camera range the network reads each image's camera (azimuth and
elevation, ``models.air.camera_head``); the markers at the cube's bottom
corners (``models.air.scenes.MARKERS``) are where that camera puts them, so
the renderer can check the reading: ``fit_camera`` turns the camera by
``+-step`` degrees in azimuth and in elevation, keeps every move that lowers
``sum |rendering - image|`` (the rendering of the kept primitives, which stay
where they are in the image, and of the markers seen by the trial camera) and
halves the step each round, as the pose fitting does (``explain.refine``).

Only the markers are ray-cast for a trial, at the renderer's sub-pixel
resolution, over the z-buffer of the kept primitives made once
(``layers.render_layers``, ``layers.zbuffer``): the numbers ``render_batch``
gives the whole scene.
"""
import numpy as np

from data_provider import scene_renderer as sr
from models.air import scenes
from models.air.search.explain import run_chunks
from models.air.search.layers import box_filter, render_layers, zbuffer

CAMERA_STEP = 2.0   # degrees: the first move of the fit
SCAN_STEP = 5.0     # degrees: the grid of the range searched for a reading far off
SCAN_BELOW = 0.9    # ... for images whose markers lower the error by less than this share
                    # of what they add to the rendering


def marker_hits(angles, image_size, supersample, camera="orthographic"):
    """The sub-pixels the markers of cameras ``angles [R, 2]`` (degrees) cover in their
    images: ``index`` (which camera), ``pixel``, ``sub``, float32 grey level and depth
    (as ``layers.layer_hits``)."""
    k = supersample
    side = image_size * k
    n, m = len(angles), len(scenes.MARKERS)
    framed, _ = scenes.to_camera_frame(np.broadcast_to(scenes.MARKERS, (n, m, 3)),
                                       np.broadcast_to(np.eye(3), (n, m, 3, 3)), angles)
    index, row, col, t, intensity = sr.primitive_hits(
        np.full(n * m, sr.KINDS.index("sphere")), scenes.WORLD_HALF * framed.reshape(-1, 3),
        np.eye(3), scenes.MARKER_RADIUS, scenes.camera(camera), side, side, light_dir=None,
        ambient=scenes.AMBIENT)
    grey = np.clip((scenes.MARKER_COLOURS[index % m] * intensity).astype(np.float32), 0.0, 1.0)
    order = np.argsort(-t, kind="stable")            # the nearest written last
    pixel = (row // k) * image_size + col // k
    return (index[order] // m, pixel[order], ((row % k) * k + col % k)[order], grey[order],
            t[order].astype(np.float32))


def fit_camera(slots, angles, images, image_size, supersample, rounds=4, step=CAMERA_STEP,
               chunk=100, progress=None, pool=None, camera="orthographic", camera_range=None,
               scan_step=SCAN_STEP):
    """``angles [N, 2]`` (degrees) fitted to ``images [N, H, W(, 1)]`` by coordinate descent
    over azimuth and elevation, ``rounds`` rounds of steps halving from ``step``; ``slots``:
    the kept primitives (presence logit > 0) in the images' camera frames.

    With ``camera_range``, an image whose markers the fitted camera does not explain
    (placed there they lower the error by less than half of what they add to the
    rendering) is then given the camera of the range's grid (every ``scan_step`` degrees)
    that explains it best, if any does better, and fitted again: a reading far off (a
    marker hidden, two taken for each other) is out of the descent's reach."""
    images = np.asarray(images, np.float64).reshape(len(images), image_size * image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.where(kept, np.asarray(slots["type_logits"]).argmax(-1), -1)
    grid = None if camera_range is None else scan_grid(camera_range, scan_step)
    fitted = run_chunks(_fit_chunk, len(images), chunk, pool, progress, types,
                        np.asarray(slots["position"], np.float64),
                        np.asarray(slots["rotation"], np.float64),
                        np.asarray(angles, np.float64), images, rounds=rounds, step=step,
                        image_size=image_size, supersample=supersample, camera=camera,
                        grid=grid)
    return np.concatenate(fitted)


def scan_grid(camera_range, step=SCAN_STEP):
    """``[G, 2]``: azimuths and elevations of ``camera_range`` every ``step`` degrees (the
    ends included; one azimuth end when the range goes all round)."""
    az_min, az_max, el_min, el_max = camera_range
    azimuths = np.unique(np.linspace(az_min, az_max,
                                     max(1, int(np.ceil((az_max - az_min) / step))) + 1))
    if az_max - az_min >= 360.0:
        azimuths = azimuths[:-1]
    elevations = np.unique(np.linspace(el_min, el_max,
                                       max(1, int(np.ceil((el_max - el_min) / step))) + 1))
    return np.stack(np.meshgrid(azimuths, elevations), -1).reshape(-1, 2)


def _fit_chunk(types, positions, rotations, angles, images, rounds, step, image_size,
               supersample, camera, grid=None):
    grey, depth = render_layers(types, positions, rotations, image_size, supersample, camera)
    back, near = zbuffer(np.moveaxis(grey, 1, 0), np.moveaxis(depth, 1, 0),
                         np.arange(grey.shape[1]))
    angles = angles.copy()

    def error(trial, rows):
        index, pixel, sub, g, d = marker_hits(trial, image_size, supersample, camera)
        image = back[rows]
        over = d < near[rows][index, pixel, sub]
        image[index[over], pixel[over], sub[over]] = g[over]
        return np.abs(box_filter(image, supersample) - images[rows]).sum(axis=1)

    def descend(rows):
        best = error(angles[rows], rows)
        for scale in 0.5 ** np.arange(rounds):
            for move in ([step * scale, 0.0], [-step * scale, 0.0], [0.0, step * scale],
                         [0.0, -step * scale]):
                trial = angles[rows] + move
                trial[:, 1] = np.clip(trial[:, 1], -89.0, 89.0)
                score = error(trial, rows)
                better = score < best - 1e-9
                angles[rows[better]], best[better] = trial[better], score[better]

    descend(np.arange(len(angles)))
    if grid is not None:
        rows = _scan(angles, grid, back, near, images, image_size, supersample, camera)
        if rows.size:
            descend(rows)
    return angles


def _scan(angles, grid, back, near, images, image_size, supersample, camera):
    """``angles`` of the images whose markers their camera does not explain well replaced, in
    place, by the camera of ``grid`` that explains them best (if it does better); returns
    the images looked at. A trial's error is told apart from the others' by the pixels its
    markers change only (float64; the fit's own error is ``render_batch``'s to the last
    bit)."""
    k2 = supersample ** 2
    pixels = image_size * image_size
    base = box_filter(back, supersample).astype(np.float64)        # [R, P]: no markers

    def change(hits, rows):
        """Per row: the markers' pixels' error minus the same pixels' error without them,
        and the grey level the markers add (``hits``: ``marker_hits`` of the rows)."""
        index, pixel, sub, g, d = hits
        index = rows[index]
        over = d < near[index, pixel, sub]
        index, pixel, sub, g = index[over], pixel[over], sub[over], g[over]
        key = (index * pixels + pixel) * k2 + sub
        _, last = np.unique(key[::-1], return_index=True)          # the nearest marker
        keep = len(key) - 1 - last
        index, pixel = index[keep], pixel[keep]
        added = g[keep].astype(np.float64) - back[index, pixel, sub[keep]]
        cells, at = np.unique(index * pixels + pixel, return_inverse=True)
        new = base.reshape(-1)[cells] + np.bincount(at, added) / k2
        old = base.reshape(-1)[cells]
        seen = images.reshape(-1)[cells]
        owner = np.searchsorted(rows, cells // pixels)
        delta = np.bincount(owner, np.abs(new - seen) - np.abs(old - seen), len(rows))
        return delta, np.bincount(owner, new - old, len(rows))

    everyone = np.arange(len(angles))
    delta, mass = change(marker_hits(angles, image_size, supersample, camera), everyone)
    rows = np.flatnonzero(-delta < SCAN_BELOW * mass)    # markers put there explain little
    if rows.size == 0:
        return rows
    best = delta[rows]
    for trial in grid:
        # one camera for every row: its markers are ray-cast once and their hits repeated
        score, _ = change(_repeated(marker_hits(trial[None], image_size, supersample, camera),
                                    rows.size), rows)
        better = score < best - 1e-9
        angles[rows[better]], best[better] = trial, score[better]
    return rows


def _repeated(hits, count):
    """The ``marker_hits`` of one camera as those of ``count`` images seen by it: the same
    sub-pixels, in the same (farthest first) order, for each image in turn."""
    index, *rest = hits
    return (np.repeat(np.arange(count), len(index)), *(np.tile(a, count) for a in rest))

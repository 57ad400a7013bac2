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
               chunk=100, progress=None, pool=None, camera="orthographic"):
    """``angles [N, 2]`` (degrees) fitted to ``images [N, H, W(, 1)]`` by coordinate descent
    over azimuth and elevation, ``rounds`` rounds of steps halving from ``step``; ``slots``:
    the kept primitives (presence logit > 0) in the images' camera frames."""
    images = np.asarray(images, np.float64).reshape(len(images), image_size * image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.where(kept, np.asarray(slots["type_logits"]).argmax(-1), -1)
    fitted = run_chunks(_fit_chunk, len(images), chunk, pool, progress, types,
                        np.asarray(slots["position"], np.float64),
                        np.asarray(slots["rotation"], np.float64),
                        np.asarray(angles, np.float64), images, rounds=rounds, step=step,
                        image_size=image_size, supersample=supersample, camera=camera)
    return np.concatenate(fitted)


def _fit_chunk(types, positions, rotations, angles, images, rounds, step, image_size,
               supersample, camera):
    grey, depth = render_layers(types, positions, rotations, image_size, supersample, camera)
    back, near = zbuffer(np.moveaxis(grey, 1, 0), np.moveaxis(depth, 1, 0),
                         np.arange(grey.shape[1]))

    def error(trial):
        index, pixel, sub, g, d = marker_hits(trial, image_size, supersample, camera)
        image = back.copy()
        over = d < near[index, pixel, sub]
        image[index[over], pixel[over], sub[over]] = g[over]
        return np.abs(box_filter(image, supersample) - images).sum(axis=1)

    angles = angles.copy()
    best = error(angles)
    for scale in 0.5 ** np.arange(rounds):
        for move in ([step * scale, 0.0], [-step * scale, 0.0], [0.0, step * scale],
                     [0.0, -step * scale]):
            trial = angles + move
            trial[:, 1] = np.clip(trial[:, 1], -89.0, 89.0)
            score = error(trial)
            better = score < best - 1e-9
            angles[better], best[better] = trial[better], score[better]
    return angles

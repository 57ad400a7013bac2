"""Count by re-rendering (``explain``) and pose fitting (``refine``), with the renderer.

The inference network proposes candidates (``models.air.heads``, ``propose``:
type, position, rotation and presence of each, most present first). The
renderer is the generative model the network inverts, so the count is settled
with it: every non-empty subset of at most ``max_primitives`` of the first
``search`` candidates (those with presence above ``floor``, the first always)
is rendered, and the subset with the smallest

    sum over pixels |rendering - image| + gain x (number of primitives)

is kept: a primitive must explain at least ``gain`` grey-level units (a
primitive covers about 130 pixels at 64x64) to be counted. A second reading of
a primitive already in the scene explains nothing new and is left out; a
primitive the network doubted but the image shows is taken in. Unlike adding
candidates one at a time, the search also finds the pair that replaces one
merged reading of two overlapping primitives.

Then the kept primitives are fitted to the image by the renderer (``refine``:
small turns and shifts that lower the same error, and under the perspective
camera moves in depth along the pixel's ray) and the search runs again,
so that a primitive read a few degrees off no longer leaves a rim for a
phantom to explain (the order of these steps: ``models.air.search.pipeline``).
Two kept primitives of one type on nearly the same image point (``doubles``)
are then tried as one (``undouble``): the count compared the pair with one of
them as it was fitted beside the other; there both answers are fitted alone.

The subsets are not ray-cast one by one: each candidate is rendered once
alone and a subset's image is composited from those layers
(``models.air.search.layers``), the renderer's own image. At ``K = 3`` and 12
candidates that is 298 subsets per image from 12 renderings. Every rendering,
of a candidate or of a trial pose, is by the scenes' camera (``camera``:
``models.air.scenes.CAMERAS``).

How it is fast, with the same numbers as rendering every subset and every
trial pose with ``render_batch`` (float for float, so the same answer):

- ``explain`` takes one image at a time and all its subsets at once, and
  composites only the pixels some candidate covers: elsewhere every subset
  renders the background, 0, so ``|rendering - image|`` is ``|image|``;
- ``refine`` ray-casts a trial pose only where the primitive can be, for the
  images where it is kept, and lays the hits over the others' z-buffer, made
  once per primitive and round;
- both run ``chunk`` images at a time, by ``pool`` when given (an executor,
  e.g. of threads); the images are independent, so the answer does not
  depend on the chunks.
"""
import functools
import itertools

import numpy as np

from models.air.scenes import image_coordinates, render_scenes, take_slots
from models.air.search.layers import box_filter, composite, layer_hits, render_layers, zbuffer

DEPTH_STEP = 0.2   # refine's first depth move (perspective camera), position units


def search_space(candidates, max_primitives, floor, search=None):
    """What the count tries: the first ``m`` candidates (``search``, default
    ``2 * max_primitives + 1``), which of them may be kept (``allowed [N, m]``:
    present above ``floor``, the most present always), their types ``[N, m]``
    and every subset of at most ``max_primitives`` of them."""
    m = min(candidates["presence_logit"].shape[1], search or 2 * max_primitives + 1)
    logit = np.clip(candidates["presence_logit"][:, :m].astype(np.float64), -50.0, 50.0)
    allowed = 1.0 / (1.0 + np.exp(-logit)) > floor
    allowed[:, 0] = True
    types = candidates["type_logits"][:, :m].argmax(-1)
    subsets = [list(s) for size in range(1, min(max_primitives, m) + 1)
               for s in itertools.combinations(range(m), size)]
    return m, allowed, types, subsets


def explain(candidates, images, max_primitives, image_size, supersample, gain=4.0, floor=0.05,
            search=None, chunk=100, progress=None, pool=None, camera="orthographic"):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``.

    ``search`` (default ``2 * max_primitives + 1``) first candidates are tried,
    ``chunk`` images at a time (in ``pool`` if given); ``progress(done, n)`` is called
    after each chunk."""
    images = np.asarray(images).reshape(len(images), image_size * image_size)
    candidates = {k: np.asarray(v) for k, v in candidates.items()}
    n = len(candidates["presence_logit"])
    m, allowed, types, subsets = search_space(candidates, max_primitives, floor, search)
    width = len(subsets[-1])
    table = np.array([s + [m] * (width - len(s)) for s in subsets])  # m: an empty layer
    sizes = np.array([len(s) for s in subsets])
    best = np.concatenate(run_chunks(
        _explain_chunk, n, chunk, pool, progress, types, candidates["position"][:, :m],
        candidates["rotation"][:, :m], images, allowed, table=table, sizes=sizes, gain=gain,
        image_size=image_size, supersample=supersample, camera=camera))
    chosen = np.zeros((n, m + 1), bool)                              # column m: padding
    chosen[np.arange(n)[:, None], table[best]] = True
    chosen = chosen[:, :m]
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: take_slots(v[:, :m], order) for k, v in candidates.items()}
    kept = take_slots(chosen, order)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


def run_chunks(job, n, chunk, pool, progress, *arrays, **fixed):
    """``job(*[a[lo:hi] for a in arrays], **fixed)`` for each ``chunk`` of the ``n``
    images, in ``pool`` (``map`` of an executor) if given, ``progress(hi, n)`` after
    each: the results in order."""
    spans = [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]
    calls = [functools.partial(job, *[a[lo:hi] for a in arrays], **fixed) for lo, hi in spans]
    results = []
    for (_, hi), result in zip(spans, (pool.map if pool else map)(_call, calls)):
        results.append(result)
        if progress is not None:
            progress(hi, n)
    return results


def _call(function):
    return function()


def _explain_chunk(types, positions, rotations, images, allowed, table, sizes, gain, image_size,
                   supersample, camera):
    """``explain`` of a few images: the index of each one's best subset in ``table``."""
    n, m = types.shape
    on = np.flatnonzero(allowed.reshape(-1))                  # only allowed ones are tried
    index, pixel, sub, grey, depth = layer_hits(types.reshape(-1)[on],
                                                positions.reshape(-1, 3)[on],
                                                rotations.reshape(-1, 3, 3)[on],
                                                image_size, supersample, camera)
    index = on[index]
    order = np.argsort(index, kind="stable")
    ends = np.searchsorted(index[order], np.arange(1, n + 1) * m)
    best = []
    for i, hits in enumerate(np.split(order, ends[:-1])):
        hits = (index[hits] - i * m, pixel[hits], sub[hits], grey[hits], depth[hits])
        best.append(_best_subset(hits, images[i], allowed[i], table, sizes, gain, supersample))
    return np.array(best, int)


def _best_subset(hits, image, allowed, table, sizes, gain, supersample):
    """Index of the subset (row of ``table``, padded with the empty layer ``M``) with the
    smallest ``sum |rendering - image| + gain x size`` among those of ``allowed``
    candidates, the first on a tie; ``hits``: ``candidate, pixel, sub, grey, depth`` of
    the allowed candidates' sub-pixels (``layer_hits``)."""
    candidate, pixel, sub, g, d = hits
    ok = np.append(allowed, True)[table].all(axis=1)
    lit, at = np.unique(pixel, return_inverse=True)                # the covered pixels
    shape = (len(allowed) + 1, lit.size, supersample ** 2)         # layer M: empty
    grey, depth = np.zeros(shape, np.float32), np.full(shape, np.inf, np.float32)
    grey[candidate, at, sub], depth[candidate, at, sub] = g, d
    diff = np.repeat(-image[None], ok.sum(), axis=0)               # 0 - image off them
    diff[:, lit] = composite(grey, depth, table[ok], supersample) - image[lit]
    error = np.abs(diff, out=diff).sum(axis=1)
    score = error + (gain * sizes[ok]).astype(error.dtype)
    return np.flatnonzero(ok)[np.argmin(score)]


def refine(slots, images, image_size, supersample, rounds=3, turn=0.12, shift=0.5, chunk=100,
           progress=None, pool=None, camera="orthographic", depth=DEPTH_STEP):
    """``slots`` (numpy dict ``[N, K, ...]``) with the kept primitives (presence logit
    > 0) fitted to ``images [N, H, W(, 1)]`` by the renderer seen by ``camera``:
    coordinate descent on the summed |rendering - image|.

    Each round tries, for each kept primitive in turn, turns by ``+-turn``
    radians about the image's right, up and viewing axes and shifts by
    ``+-shift`` pixels along right and up (at the primitive's depth: under the
    perspective camera a pixel is ``scenes.image_scale`` times as wide there as
    at the cube's centre), and under the perspective camera, where a
    primitive's size tells its depth, moves by ``+-depth`` position units along
    the view axis on the ray through its image point (which keep that point),
    keeping every move that lowers the error; each round halves the steps. A
    reading that is a few degrees off leaves a rim that another primitive could
    "explain"; fitted, it does not. Only the moved primitive is ray-cast again,
    over the z-buffer of the others (``layer_hits``, ``zbuffer``). ``chunk``
    images at a time (in ``pool`` if given); ``progress(done, n)`` is called
    after each chunk.
    """
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, check_camera, view_axes

    check_camera(camera)
    images = np.asarray(images, np.float64).reshape(len(images), image_size * image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.asarray(slots["type_logits"]).argmax(-1)
    positions = np.asarray(slots["position"], np.float64)
    rotations = np.asarray(slots["rotation"], np.float64)
    axes = view_axes()                                            # right, up, forward
    pixel = CAMERA_EXTENT / image_size / WORLD_HALF               # in position units
    moves = []                                  # per round: turns, shifts (, depth moves)
    for scale in 0.5 ** np.arange(rounds):
        moves.append([(axis_angle(axis, sign * turn * scale), 0.0, 0.0) for axis in axes
                      for sign in (1, -1)]
                     + [(np.eye(3), sign * shift * scale * pixel * axis, 0.0)
                        for axis in axes[:2] for sign in (1, -1)]
                     + [(np.eye(3), 0.0, sign * depth * scale) for sign in (1, -1)
                        if camera == "perspective"])
    fitted = run_chunks(_refine_chunk, len(images), chunk, pool, progress, kept, types,
                        positions, rotations, images, moves=moves, image_size=image_size,
                        supersample=supersample, camera=camera)
    return dict(slots, position=np.concatenate([f[0] for f in fitted]).astype(np.float32),
                rotation=np.concatenate([f[1] for f in fitted]).astype(np.float32))


def _refine_chunk(kept, types, positions, rotations, images, moves, image_size, supersample,
                  camera):
    """``refine`` of a few images: their fitted positions and rotations (float64)."""
    positions, rotations = positions.copy(), rotations.copy()
    grey, depth = render_layers(np.where(kept, types, -1), positions, rotations, image_size,
                                supersample, camera)
    for round_moves in moves:
        for j in range(kept.shape[1]):
            rows = np.flatnonzero(kept[:, j])
            if rows.size == 0:
                continue
            fit = _Fit(grey[rows], depth[rows], j, images[rows], supersample)
            for turned, shifted, deeper in round_moves:
                pos = _moved(positions[rows, j], shifted, deeper, camera)
                rot = turned @ rotations[rows, j]
                better = fit.trial(*layer_hits(types[rows, j], pos, rot, image_size, supersample,
                                               camera))
                positions[rows[better], j] = pos[better]
                rotations[rows[better], j] = rot[better]
            grey[rows, j], depth[rows, j] = fit.grey, fit.depth
    return positions, rotations


def _moved(positions, shifted, deeper, camera="orthographic"):
    """Positions ``[R, 3]`` moved across the view axis by ``shifted`` (position units at
    the cube's centre's depth; at the positions' own depth under the perspective camera,
    so that the image point moves as much) and, under the perspective camera, by
    ``deeper`` along the view axis on the ray from the eye (the image point kept)."""
    if camera == "orthographic":
        return positions + shifted
    from models.air.scenes import CAMERA_DISTANCE, WORLD_HALF, eye_position, view_axes

    eye = eye_position()
    offset = positions - eye
    distance = offset @ view_axes()[2]                # from the eye, along the view axis
    return (eye + offset * ((distance + deeper) / distance)[:, None]
            + np.asarray(shifted) * (distance / (CAMERA_DISTANCE / WORLD_HALF))[:, None])


def doubles(slots, image_size, radius, camera="orthographic"):
    """``[N, 2]``: for each image, the closest pair of kept primitives (presence logit > 0)
    of one type whose image points (seen by ``camera``) lie within ``radius`` pixels of
    each other, or ``-1, -1`` where there is none."""
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.asarray(slots["type_logits"]).argmax(-1)
    uv = image_coordinates(slots["position"], camera) * (image_size / 2.0)     # pixels
    distance = np.linalg.norm(uv[:, :, None] - uv[:, None], axis=-1)
    k = kept.shape[1]
    pair = (kept[:, :, None] & kept[:, None] & (types[:, :, None] == types[:, None])
            & np.triu(np.ones((k, k), bool), 1) & (distance < radius))
    distance = np.where(pair, distance, np.inf).reshape(len(kept), -1)
    closest = distance.argmin(1)
    found = np.isfinite(distance.min(1))
    return np.where(found[:, None], np.stack(np.unravel_index(closest, (k, k)), -1), -1)


def undouble(slots, images, image_size, supersample, radius, gain=4.0, rounds=3, chunk=100,
             pool=None, camera="orthographic"):
    """``slots`` with one of each pair of ``doubles`` dropped where the image is better
    explained without it.

    Two kept primitives of one type on nearly the same image point are mostly two
    readings of one primitive: a primitive read a little off leaves a rim that a
    second copy of it explains. The count compares the pair with the one left
    alone as it was fitted beside the other, where it cannot win. Here the answer,
    and the answer without either of the two, are each fitted to the image alone
    (``refine``, ``rounds``), and the one with the smallest ``sum |rendering - image| +
    gain x (number of primitives)`` is kept (the answer itself, unchanged, when it is
    that one)."""
    pair = doubles(slots, image_size, radius, camera)
    rows = np.flatnonzero(pair[:, 0] >= 0)
    if rows.size == 0:
        return slots
    images = np.asarray(images).reshape(len(images), image_size * image_size)[rows]
    trials = []
    for drop in (None, 0, 1):
        trial = {key: np.asarray(value)[rows] for key, value in slots.items()}
        if drop is not None:
            logit = trial["presence_logit"].copy()
            logit[np.arange(rows.size), pair[rows, drop]] = -10.0
            trial["presence_logit"] = logit
        trial = refine(trial, images, image_size, supersample, rounds, chunk=chunk, pool=pool,
                       camera=camera)
        trials.append(trial)
    scores = np.stack([_score(t, images, image_size, supersample, gain, camera)
                       for t in trials])
    best = scores.argmin(0)
    out = {key: np.array(value) for key, value in slots.items()}
    for t in (1, 2):
        took = rows[best == t]
        for key in out:
            out[key][took] = trials[t][key][best == t]
    return out


def _score(slots, images, image_size, supersample, gain, camera):
    """``[N]``: ``sum |rendering - image| + gain x (number of primitives)`` of ``slots``."""
    kept = np.asarray(slots["presence_logit"]) > 0
    rendering = render_scenes(np.where(kept, np.asarray(slots["type_logits"]).argmax(-1), -1),
                              slots["position"], slots["rotation"], image_size, supersample,
                              camera=camera)
    return (np.abs(rendering.reshape(len(images), -1) - images).sum(1)
            + gain * kept.sum(1))


class _Fit:
    """Trial poses of primitive ``j`` of some images (their layers ``[R, K, H * W, k * k]``
    with the primitives not kept empty): ``trial`` takes the hits of one trial pose per
    image and keeps those that lower ``sum |rendering - image|`` by more than 1e-9."""

    def __init__(self, grey, depth, j, images, supersample):
        self.k, self.images = supersample, images
        others = [i for i in range(grey.shape[1]) if i != j]
        # the others' z-buffer, once; a trial of primitive j goes over or under it
        self.back, self.near = zbuffer(np.moveaxis(grey, 1, 0), np.moveaxis(depth, 1, 0),
                                       others)
        self.grey, self.depth = grey[:, j], depth[:, j]
        self.best = self.error(np.where(self.depth < self.near, self.grey, self.back))

    def error(self, sub):
        return np.abs(box_filter(sub, self.k) - self.images).sum(axis=1)

    def trial(self, index, pixel, sub, grey, depth):
        """Boolean ``[R]``: the images whose trial (hits of ``layer_hits``) was kept."""
        over = depth < self.near[index, pixel, sub]
        image = self.back.copy()
        image[index[over], pixel[over], sub[over]] = grey[over]
        error = self.error(image)
        better = error < self.best - 1e-9
        self.best[better] = error[better]
        took = better[index]
        rows = np.flatnonzero(better)
        self.grey[rows], self.depth[rows] = 0.0, np.inf
        self.grey[index[took], pixel[took], sub[took]] = grey[took]
        self.depth[index[took], pixel[took], sub[took]] = depth[took]
        return better

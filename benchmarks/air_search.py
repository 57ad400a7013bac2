"""AIR 3D's count search and pose fitting: the previous path against the current one.

    python benchmarks/air_search.py --weights RUN [--scenes 64] [--seed 1] [--workers 2]

Reads the network's candidates for the same test scenes (``evaluate_air``'s,
seed ``--seed``) with the same weights, then answers them three ways, one
after the other in one run: the previous count and fitting (kept below as
``previous_explain`` and ``previous_refine``: every subset z-buffered over
whole sub-pixel frames, one ``render_batch`` of every image per trial pose),
the current ones in one thread, and the current ones in ``--workers``
threads. Prints the seconds of each (the network's reading included, the
same in all three), the ratio, the CPU seconds, whether the answers are equal (every array
of the predictions, bit for bit) and the load average, since timings on a
shared machine depend on it.
"""
import argparse
import os
import time

import numpy as np

from data_provider import scene_renderer as sr
from evaluation.air_eval import load_weights
from models.air.scenes import _render_arguments, generate_dataset, take_slots
from models.air.search import pipeline
from models.air.search.explain import search_space

# ---- the previous path, as it was: dense [N, M, S, S] layers, one render per trial ----


def previous_layers(types, positions, rotations, image_size, supersample):
    n, m = np.asarray(types).shape
    side = image_size * supersample
    args, kwargs = _render_arguments(np.reshape(types, (n * m, 1)),
                                     np.reshape(positions, (n * m, 1, 3)),
                                     np.reshape(rotations, (n * m, 1, 3, 3)), side, 1)
    kwargs["supersample"] = 1
    grey, depth = sr.render_batch(*args, return_depth=True, **kwargs)
    return grey[..., 0].reshape(n, m, side, side), depth.reshape(n, m, side, side)


def previous_zbuffer(grey, depth, layers):
    layers = list(layers)
    if not layers:
        return np.zeros_like(grey[:, 0]), np.full_like(depth[:, 0], np.inf)
    image, nearest = grey[:, layers[0]], depth[:, layers[0]]
    for j in layers[1:]:
        closer = depth[:, j] < nearest
        image = np.where(closer, grey[:, j], image)
        nearest = np.where(closer, depth[:, j], nearest)
    return image, nearest


def previous_box(image, k):
    n, side = image.shape[0], image.shape[1]
    return image.reshape(n, side // k, k, side // k, k).mean(axis=(2, 4))


def previous_explain(candidates, images, max_primitives, image_size, supersample, gain=4.0,
                     floor=0.05, search=None, chunk=100, progress=None, pool=None,
                     camera="orthographic"):
    images = np.asarray(images).reshape(len(images), image_size, image_size)
    n = len(candidates["presence_logit"])
    m, allowed, types, subsets = search_space(candidates, max_primitives, floor, search)
    chosen = np.zeros((n, m), bool)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        grey, depth = previous_layers(types[lo:hi], candidates["position"][lo:hi, :m],
                                      candidates["rotation"][lo:hi, :m], image_size, supersample)
        best = np.full(hi - lo, np.inf)
        for subset in subsets:
            todo = allowed[lo:hi, subset].all(axis=1)
            if not todo.any():
                continue
            rendered = previous_box(previous_zbuffer(grey[todo], depth[todo], subset)[0],
                                    supersample)
            score = np.full(hi - lo, np.inf)
            score[todo] = (np.abs(rendered - images[lo:hi][todo]).sum(axis=(1, 2))
                           + gain * len(subset))
            better = score < best
            best[better] = score[better]
            chosen[lo:hi][better] = False
            chosen[np.flatnonzero(better) + lo, np.array(subset)[:, None]] = True
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]
    out = {k: take_slots(np.asarray(v)[:, :m], order) for k, v in candidates.items()}
    out["presence_logit"] = np.where(take_slots(chosen, order),
                                     np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


def previous_refine(slots, images, image_size, supersample, rounds=3, turn=0.12, shift=0.5,
                    chunk=100, progress=None, pool=None, camera="orthographic"):
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, view_axes

    images = np.asarray(images, np.float64).reshape(len(images), image_size, image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.asarray(slots["type_logits"]).argmax(-1)
    positions = np.asarray(slots["position"], np.float64).copy()
    rotations = np.asarray(slots["rotation"], np.float64).copy()
    n, k = kept.shape
    axes, pixel = view_axes(), CAMERA_EXTENT / image_size / WORLD_HALF

    def error(image, lo, hi):
        return np.abs(previous_box(image, supersample) - images[lo:hi]).sum(axis=(1, 2))

    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        on = kept[lo:hi, :, None, None]
        grey, depth = previous_layers(types[lo:hi], positions[lo:hi], rotations[lo:hi],
                                      image_size, supersample)
        grey, depth = np.where(on, grey, 0.0), np.where(on, depth, np.inf)
        for r in range(rounds):
            scale = 0.5 ** r
            for j in range(k):
                if not kept[lo:hi, j].any():
                    continue
                back, near = previous_zbuffer(grey, depth, (i for i in range(k) if i != j))
                best = error(np.where(depth[:, j] < near, grey[:, j], back), lo, hi)
                moves = [(axis_angle(axis, sign * turn * scale), 0.0) for axis in axes
                         for sign in (1, -1)]
                moves += [(np.eye(3), sign * shift * scale * pixel * axis) for axis in axes[:2]
                          for sign in (1, -1)]
                for turned, shifted in moves:
                    pos = positions[lo:hi, j] + shifted
                    rot = turned @ rotations[lo:hi, j]
                    g, d = previous_layers(types[lo:hi, j:j + 1], pos[:, None], rot[:, None],
                                           image_size, supersample)
                    off = ~kept[lo:hi, j, None, None]
                    g, d = np.where(off, 0.0, g[:, 0]), np.where(off, np.inf, d[:, 0])
                    trial = error(np.where(d < near, g, back), lo, hi)
                    better = (trial < best - 1e-9) & kept[lo:hi, j]
                    positions[lo:hi, j][better] = pos[better]
                    rotations[lo:hi, j][better] = rot[better]
                    grey[better, j], depth[better, j] = g[better], d[better]
                    best[better] = trial[better]
    return dict(slots, position=positions.astype(np.float32),
                rotation=rotations.astype(np.float32))


# ---- the run ----


def answer(model, images, config, workers, previous=False):
    """Seconds, CPU seconds of this process and predictions of ``predict_slots`` (the
    previous path if ``previous``)."""
    current = pipeline.explain, pipeline.refine
    if previous:
        pipeline.explain, pipeline.refine = previous_explain, previous_refine
    try:
        start, cpu = time.perf_counter(), time.process_time()
        slots = pipeline.predict_slots(model, images, config, workers=workers)
        return time.perf_counter() - start, time.process_time() - cpu, slots
    finally:
        pipeline.explain, pipeline.refine = current


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="train_air.py's run folder")
    parser.add_argument("--scenes", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    model, config = load_weights(args.weights, None, None)
    if config["camera"] != "orthographic":
        parser.error(f"--weights {args.weights}: the previous path knew only the orthographic "
                     f"camera, these weights read the {config['camera']} camera's scenes")
    data = generate_dataset(args.scenes, args.seed, config["image_size"],
                            config["max_primitives"], "test", config["supersample"])
    answer(model, data["images"][:2], config, 1)              # traces the network once
    print(f"{args.scenes} scenes of seed {args.seed}, weights {args.weights}, load average "
          f"{os.getloadavg()[0]:.1f}")
    runs, seconds = {}, {}
    for name, workers, previous in (("previous", 1, True), ("current", 1, False),
                                    (f"current, {args.workers} threads", args.workers, False)):
        seconds[name], cpu, runs[name] = answer(model, data["images"], config, workers, previous)
        print(f"{name:22s} {seconds[name]:6.1f} s  {args.scenes / seconds[name]:5.1f} scenes/s  "
              f"{seconds['previous'] / seconds[name]:4.1f}x  ({cpu:.1f} CPU s)")
    first = runs["previous"]
    for name, slots in list(runs.items())[1:]:
        same = all(np.array_equal(slots[key], first[key]) for key in first)
        print(f"{name} equals previous, every array bit for bit: {same}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

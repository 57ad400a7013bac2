"""A tour of a hotel of test mazes rendered by a trained GEN, and its test L2 per hotel size.

    python evaluation/gen_views.py --model_dir M --data_dir D [--dataset Labyrinth] \\
        [--hotel_dim 3] [--out DIR]

Reads ``<model_dir>/config.json`` (written by ``training/train_gen.py``) and
the latest checkpoint, then:

1. **Tour GIF** (``gen_views.gif``, as the original's ``draw.py``): a
   ``hotel_dim x hotel_dim`` hotel of test scenes (shift 0), 8 context views
   per maze drawn at random; at the ``--spots`` (2) places of each maze that
   hold the most views, ``--headings`` (11) headings of a full turn
   (yaw = -pi + 2 pi k / 11, pitch 0). Each frame shows, side by side, the
   generated view (z from the prior) and a top-down map of the hotel: all
   nodes of the graph (white) and its edges, the 4 active nodes of the query
   in red, larger and more opaque with their interpolation weight, and the
   camera as an arrow pointing along its yaw. ``gen_views.png`` is a strip of
   frames.
2. **Test L2** (``gen_l2.json`` and stdout): for each hotel size d in
   ``--sizes`` (1..5), ``--batches`` test batches of ``floor(D^2 / d^2)``
   hotels, D the largest size asked for (25 / d^2 with the default sizes, as
   the training's test evaluation), the mean over held-out query views of the
   mean squared error between the generated view and the true one.

The map (as the original: the floor just ahead of each true view, spread by
nearest neighbours; done differently here): every one of the 300 true views
of each maze gives one sample, the mean colour of the bottom-centre block of
the image (rows 52-63, columns 26-37 of 64: the floor just ahead), placed
``--ahead`` (0.05) in front of the camera; a map pixel takes the colour of the
nearest sample of its own maze, or stays dark beyond 0.08 (never seen). The
map has x to the right and y up; yaw turns from +x towards +y. The original's
glyph recovers yaw by ``arccos`` and a heuristic sign, and pairs the active
nodes with the weights of other corners; here the arrow uses
``atan2(sin yaw, cos yaw)`` and each node its own weight.
"""
import json
import math
import os
import sys

import numpy as np

from data_provider import cli, folder_lock, images

FLOOR_ROWS, FLOOR_COLS = slice(52, 64), slice(26, 38)
MAP_PIXELS, VIEW_PIXELS = 288, 288
NEVER_SEEN = 0.08
BACKGROUND = (24, 24, 32)


class GenViewsError(cli.UsageError):
    """A bad flag, model folder or data set (exit code 2)."""


# ----------------------------------------------------------------- query poses
def main_spots(xy, count):
    """The ``count`` (x, y) places holding the most views, most first ([count, 2]).

    Ties go to the place seen first. ``xy`` [S, 2] camera positions.
    """
    places, first, counts = np.unique(np.round(np.asarray(xy, np.float64), 5), axis=0,
                                      return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return places[order[:count]].astype(np.float32)


def turn_poses(spots, headings):
    """Camera 7-vectors ``[x, y, 0, sin yaw, cos yaw, 0, 1]`` for every spot and
    ``headings`` yaws -pi + 2 pi k / headings: [len(spots) * headings, 7]."""
    yaw = -math.pi + 2.0 * math.pi * np.arange(headings) / headings
    poses = []
    for x, y in np.asarray(spots):
        for a in yaw:
            poses.append([x, y, 0.0, math.sin(a), math.cos(a), 0.0, 1.0])
    return np.asarray(poses, np.float32)


# ------------------------------------------------------------------------ map
def floor_samples(frames, cameras, ahead=0.05):
    """(points [S, 2], colours [S, 3]): each view's floor colour just ahead of it."""
    frames, cameras = np.asarray(frames), np.asarray(cameras)
    colours = frames[:, FLOOR_ROWS, FLOOR_COLS].mean(axis=(1, 2))
    heading = np.stack([cameras[:, 4], cameras[:, 3]], axis=1)  # (cos yaw, sin yaw)
    return cameras[:, :2] + ahead * heading, colours


class MapView:
    """World (x, y) <-> pixels of a square top-down map of the grid (y up)."""

    def __init__(self, grid_min, grid_max, pixels=MAP_PIXELS, margin=0.25):
        self.lo = np.asarray(grid_min, np.float64) - margin
        self.side = float(np.max(np.asarray(grid_max) - np.asarray(grid_min))) + 2 * margin
        self.pixels = pixels
        self.scale = pixels / self.side

    def to_pixels(self, xy):
        xy = (np.asarray(xy, np.float64) - self.lo) * self.scale
        return np.stack([xy[..., 0], self.pixels - xy[..., 1]], axis=-1)

    def pixel_centres(self):
        c = (np.arange(self.pixels) + 0.5) / self.scale
        x, y = np.meshgrid(self.lo[0] + c, self.lo[1] + self.side - c)
        return np.stack([x, y], axis=-1)  # [row, col, 2]


def top_down_map(view, points, colours, mazes, grid_min, dim):
    """[pixels, pixels, 3] uint8: nearest floor sample of the pixel's own maze.

    ``mazes`` [S] is the maze index ``ix * dim + iy`` of each sample.
    """
    centres = view.pixel_centres().reshape(-1, 2)
    cell = np.floor((centres - np.asarray(grid_min)) / 2.0).astype(int)
    inside = ((cell >= 0) & (cell < dim)).all(axis=1)
    pixel_maze = np.where(inside, cell[:, 0] * dim + cell[:, 1], -1)
    image = np.tile(np.array(BACKGROUND, np.float64), (len(centres), 1))
    for m in np.unique(mazes):
        pix = np.flatnonzero(pixel_maze == m)
        own = np.flatnonzero(mazes == m)
        for chunk in np.array_split(pix, max(1, len(pix) // 4096)):
            d2 = ((centres[chunk, None, :] - points[None, own, :]) ** 2).sum(-1)
            nearest = d2.argmin(axis=1)
            seen = d2[np.arange(len(chunk)), nearest] <= NEVER_SEEN ** 2
            image[chunk[seen]] = 255.0 * colours[own[nearest[seen]]]
    return image.reshape(view.pixels, view.pixels, 3).clip(0, 255).astype(np.uint8)


def map_panel(base_map, view, node_positions, edges, pose, corners, weights):
    """The hotel map (PIL image) with every node and edge, the 4 active nodes in red
    (larger and more opaque with their weight) and the camera as an arrow along its yaw."""
    from PIL import Image, ImageDraw

    panel = Image.fromarray(base_map).convert("RGBA")
    overlay = Image.new("RGBA", panel.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    nodes = view.to_pixels(node_positions)
    for a, b in edges:
        draw.line([tuple(nodes[a]), tuple(nodes[b])], fill=(255, 255, 255, 60), width=1)
    for x, y in nodes:
        draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=(255, 255, 255, 110))
    for index, w in zip(corners, weights):
        x, y = nodes[index]
        radius = 3.0 + 6.0 * float(w)
        alpha = int(255 * max(0.25, float(w) ** 0.5))
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(230, 30, 30, alpha))
    x, y = view.to_pixels(pose[:2])
    yaw = math.atan2(float(pose[3]), float(pose[4]))
    length = 0.3 * view.scale
    tip = (x + length * math.cos(yaw), y - length * math.sin(yaw))
    left = (x + 0.4 * length * math.cos(yaw + 2.5), y - 0.4 * length * math.sin(yaw + 2.5))
    right = (x + 0.4 * length * math.cos(yaw - 2.5), y - 0.4 * length * math.sin(yaw - 2.5))
    draw.polygon([tip, left, (x, y), right], fill=(255, 220, 40, 230), outline=(0, 0, 0, 255))
    return Image.alpha_composite(panel, overlay).convert("RGB")


def side_by_side(views, panel, labels=None, view_pixels=VIEW_PIXELS):
    """One frame (PIL image): the ``views`` ([64, 64, 3] in [0, 1]) enlarged, then ``panel``;
    ``labels`` (optional) are written above the views."""
    from PIL import Image, ImageDraw

    top = 16 if labels else 0
    width = len(views) * (view_pixels + 6) + panel.width
    frame = Image.new("RGB", (width, max(view_pixels + top, panel.height)), (255, 255, 255))
    draw = ImageDraw.Draw(frame)
    for k, image in enumerate(views):
        image = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
        frame.paste(image.resize((view_pixels, view_pixels), Image.NEAREST),
                    (k * (view_pixels + 6), top))
        if labels:
            draw.text((k * (view_pixels + 6) + 4, 2), labels[k], fill=(0, 0, 0))
    frame.paste(panel, (len(views) * (view_pixels + 6), 0))
    return frame


def draw_frame(generated, base_map, view, node_positions, edges, pose, corners, weights):
    """One GIF frame (PIL image): generated view | map with nodes, active nodes, camera."""
    panel = map_panel(base_map, view, node_positions, edges, pose, corners, weights)
    return side_by_side([generated], panel)


# ---------------------------------------------------------------------- data
def read_test_scenes(root, dataset, count, seed):
    """(frames [count, S, 64, 64, 3], cameras [count, S, 7]) of the first ``count``
    test scenes, every view (read again from the start when the split is smaller; a scene
    read again is decoded once)."""
    import tensorflow as tf

    from data_provider import gen_hotels
    from data_provider import gqn_tfr_provider as provider

    name = gen_hotels.hotel_data(dataset).dataset
    scenes = provider.gqn_scene_dataset(name, root, "test", num_epochs=None, seed=seed)
    paths, jpegs, cameras = (t.numpy() for t in next(iter(scenes.take(count).batch(count))))
    keys = [path + c.tobytes() for path, c in zip(paths, cameras)]
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    unique = sorted(first.values())
    decode = tf.function(lambda j, p: gen_hotels.decode_views(j, p, name), autograph=False)
    frames = decode(tf.constant(jpegs[unique]), tf.constant(paths[unique])).numpy()
    row = {keys[i]: r for r, i in enumerate(unique)}
    return frames[[row[key] for key in keys]], cameras


def tour_batch(frames, cameras, dim, context_size, spots, headings, seed):
    """The hotel (shift 0) with ``context_size`` random views per maze and the tour's
    query poses: (batch dict, map samples (points, colours, maze of each))."""
    import tensorflow as tf

    from data_provider.gen_hotels import hotel_offsets

    rng = np.random.default_rng(seed)
    mazes, views = cameras.shape[:2]
    offsets = hotel_offsets(dim, (0.0, 0.0)).numpy()
    moved = cameras.copy()
    moved[..., :2] += offsets[:, None, :]
    chosen = np.stack([rng.choice(views, context_size, replace=False) for _ in range(mazes)])
    context_frames = np.stack([frames[m, chosen[m]] for m in range(mazes)])
    context_cameras = np.stack([moved[m, chosen[m]] for m in range(mazes)])
    queries = np.concatenate([
        turn_poses(main_spots(cameras[m, :, :2], spots) + offsets[m], headings)
        for m in range(mazes)])
    batch = {
        "context_frames": tf.constant(context_frames.reshape(1, -1, *frames.shape[2:])),
        "context_cameras": tf.constant(context_cameras.reshape(1, -1, 7)),
        "query_cameras": tf.constant(queries[None]),
        "num_scenes_per_dim": tf.constant(dim, tf.int32),
        "shift": tf.constant([0.0, 0.0]),
    }
    points, colours = floor_samples(frames.reshape(-1, *frames.shape[2:]), moved.reshape(-1, 7))
    return batch, (points, colours, np.repeat(np.arange(mazes), views))


def render_tour(model, frames, cameras, dim, context_size, spots, headings, seed):
    """(list of PIL frames, generated views [Q, 64, 64, 3])."""
    import tensorflow as tf

    batch, (points, colours, mazes) = tour_batch(frames, cameras, dim, context_size, spots,
                                                 headings, seed)
    tf.random.set_seed(seed)
    generated = model.generate(batch)["mu_target"].numpy()
    graph = model.graph(batch)
    positions, sources, sinks = graph.numpy()
    corners, weights = (t.numpy()[0] for t in graph.interpolation_corners(batch["query_cameras"]))
    view = MapView(graph.grid_min.numpy(), graph.grid_max.numpy())
    base = top_down_map(view, points, colours, mazes, graph.grid_min.numpy(), dim)
    edges = [(a, b) for a, b in zip(sources, sinks) if a < b]
    queries = batch["query_cameras"].numpy()[0]
    tour = [draw_frame(generated[i], base, view, positions, edges, queries[i], corners[i],
                       weights[i]) for i in range(len(queries))]
    return tour, generated


def render_comparison_tour(models, frames, cameras, dim, context, held_out, seed,
                           view_pixels=192):
    """Frames (PIL) of a ``dim x dim`` hotel (shift 0) of the mazes ``frames`` [M, S, 64, 64,
    3] / ``cameras`` [M, S, 7]: maze m has the context views ``context[m]`` and is queried at
    its held-out views ``held_out[m]``. Each frame: every model's generated view (``models``:
    {label: GENModel}, the same prior noise seed), the true view, and the map with the
    graph's active nodes and the camera."""
    import tensorflow as tf

    from data_provider.gen_hotels import hotel_offsets

    mazes = len(frames)
    offsets = hotel_offsets(dim, (0.0, 0.0)).numpy()
    moved = np.asarray(cameras, np.float32).copy()
    moved[..., :2] += offsets[:, None, :]
    pick = np.arange(mazes)[:, None]
    batch = {
        "context_frames": tf.constant(frames[pick, context].reshape(1, -1, 64, 64, 3)),
        "context_cameras": tf.constant(moved[pick, context].reshape(1, -1, 7)),
        "query_cameras": tf.constant(moved[pick, held_out].reshape(1, -1, 7)),
        "num_scenes_per_dim": tf.constant(dim, tf.int32),
        "shift": tf.constant([0.0, 0.0]),
    }
    truth = frames[pick, held_out].reshape(-1, 64, 64, 3)
    generated = {}
    for label, model in models.items():
        tf.random.set_seed(seed)
        generated[label] = model.generate(batch)["mu_target"].numpy()
    graph = next(iter(models.values())).graph(batch)
    positions, sources, sinks = graph.numpy()
    corners, weights = (t.numpy()[0] for t in graph.interpolation_corners(batch["query_cameras"]))
    view = MapView(graph.grid_min.numpy(), graph.grid_max.numpy())
    points, colours = floor_samples(frames.reshape(-1, 64, 64, 3), moved.reshape(-1, 7))
    base = top_down_map(view, points, colours, np.repeat(np.arange(mazes), frames.shape[1]),
                        graph.grid_min.numpy(), dim)
    edges = [(a, b) for a, b in zip(sources, sinks) if a < b]
    queries = batch["query_cameras"].numpy()[0]
    labels = list(models) + ["truth"]
    return [side_by_side([generated[k][i] for k in models] + [truth[i]],
                         map_panel(base, view, positions, edges, queries[i], corners[i],
                                   weights[i]), labels, view_pixels)
            for i in range(len(queries))]


def l2_per_size(model, root, dataset, sizes, batches, seed, log=print):
    """{"dxd": {"l2": mean over held-out queries of the per-view MSE, "queries": n}}."""
    import tensorflow as tf

    from data_provider.gen_hotels import gen_hotel_dataset

    results = {}
    for d in sizes:
        data = gen_hotel_dataset(dataset, root, "test", batch_size=1, dims=(d,),
                                 max_dim=max(sizes), num_batches=batches, seed=seed + d)
        total, count = 0.0, 0
        for batch in data:
            generated = model.generate(batch)["mu_target"]
            target = tf.reshape(batch["target"], tf.shape(generated))
            error = tf.reduce_mean(tf.square(generated - target), axis=[1, 2, 3]).numpy()
            total, count = total + float(error.sum()), count + len(error)
        results[f"{d}x{d}"] = {"l2": total / count, "queries": count}
        log(f"{d}x{d} hotels: mean L2 {total / count:.6f} over {count} held-out views")
    return results


# --------------------------------------------------------------------- model
def load_model(model_dir):
    """(GENModel restored from the latest checkpoint of ``model_dir``, its step)."""
    from models.restore import restore

    run = restore(model_dir, "gen")
    return run.model, run.step


def save_strip(path, frames, every):
    """PNG of every ``every``-th frame stacked vertically (at most 6)."""
    chosen = [np.asarray(f) for f in frames[::every][:6]]
    return images.save_png(images.tile(chosen, -3, gap=4, fill=255), path)


def build_parser():
    p = cli.ArgumentParser(description="Render a tour of a hotel of test mazes with a trained "
                                       "GEN and measure its test L2 per hotel size.")
    p.add_argument("--model_dir", required=True, help="training output (config.json, ckpt-N)")
    p.add_argument("--data_dir", required=True, help="GQN root holding mazes/test/*.tfrecord")
    p.add_argument("--dataset", default="Labyrinth", choices=("Labyrinth", "Room"))
    p.add_argument("--out", default=None, help="output folder (default <model_dir>/views)")
    p.add_argument("--hotel_dim", type=int, default=3, help="mazes per side of the tour's hotel")
    p.add_argument("--spots", type=int, default=2, help="places per maze (most views first)")
    p.add_argument("--headings", type=int, default=11, help="headings of a full turn per place")
    p.add_argument("--fps", type=float, default=2.1, help="GIF frames per second")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                   help="hotel sizes d of the L2 evaluation")
    p.add_argument("--batches", type=int, default=1, help="test batches per hotel size")
    p.add_argument("--no_gif", action="store_true", help="only the L2 evaluation")
    p.add_argument("--seed", type=int, default=3, help="seed of view draws and prior noise")
    cli.add_verbose_argument(p)
    return p


def check_args(args):
    for name in ("hotel_dim", "spots", "headings", "batches"):
        if getattr(args, name) < 1:
            raise GenViewsError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not args.fps > 0:
        raise GenViewsError(f"--fps must be positive, got {args.fps}")
    for flag, values in (("--hotel_dim", [args.hotel_dim]), ("--sizes", args.sizes)):
        for d in values:
            if not 1 <= d <= 5:
                raise GenViewsError(f"{flag}: hotel sizes go from 1 to 5 (a 10-wide plane), "
                                    f"got {d}")
    from data_provider import gen_hotels
    from data_provider.gqn_tfr_provider import find_shard_files

    try:
        find_shard_files(args.data_dir, gen_hotels.hotel_data(args.dataset).dataset, "test")
    except FileNotFoundError as e:
        raise GenViewsError(f"--data_dir: {e}") from None


def run(args, log=print):
    from data_provider import gen_hotels

    check_args(args)
    out = args.out or os.path.join(args.model_dir, "views")
    model, step = load_model(args.model_dir)
    log(f"restored {args.model_dir} at step {step}")
    context_size = gen_hotels.hotel_data(args.dataset).context_size
    with folder_lock.hold(out, "--out", "gen_views.py", log), cli.OutputSet(out) as outputs:
        if not args.no_gif:
            frames, cameras = read_test_scenes(args.data_dir, args.dataset, args.hotel_dim ** 2,
                                               args.seed)
            tour, _ = render_tour(model, frames, cameras, args.hotel_dim, context_size,
                                  args.spots, args.headings, args.seed)
            images.write_gif(tour, outputs.path("gen_views.gif"), int(round(1000.0 / args.fps)))
            save_strip(outputs.path("gen_views.png"), tour, max(1, args.headings // 3))
            log(f"tour: {len(tour)} frames ({args.hotel_dim}x{args.hotel_dim} hotel, "
                f"{args.spots} places per maze, {args.headings} headings)")
        results = l2_per_size(model, args.data_dir, args.dataset, args.sizes, args.batches,
                              args.seed, log)
        outputs.write_text("gen_l2.json", json.dumps({"step": step, "l2": results}, indent=2))
    log(f"wrote {out}")
    return results


def main(argv=None):
    args = build_parser().parse_args(argv)
    cli.quiet_tensorflow(args.verbose)
    return cli.run_main("gen_views", lambda a: run(a, log=lambda m: print(m, flush=True)), args,
                        tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

"""Novel views of a trained GQN: predicted images, a ring of query poses, test ELBO and L2.

    python evaluation/gqn_views.py --model_dir M --data_dir D --dataset NAME \\
        [--num_scenes K] [--out DIR]

Reads the model configuration from ``<model_dir>/config.json`` (written by the
training loop), restores the latest checkpoint and, for the first K test
scenes, runs the generation pass (z from the prior, no target). Writes to
``--out`` (default ``<model_dir>/views``):

* ``context.npy`` [K, C, H, W, 3], ``context_cameras.npy`` [K, C, 7],
  ``target.npy`` [K, H, W, 3], ``query_camera.npy`` [K, 7];
* ``predicted_mean.npy`` [K, H, W, 3] and ``predicted_variance.npy``
  [K, H, W, 3] (the names of tf-gqn's PREDICT outputs);
* ``ring_cameras.npy`` [K, N, 7] and ``ring.npy`` [K, N, H, W, 3]: the query
  camera rotated about the vertical (z) axis through the origin in N equal
  steps (position and yaw turn together, height and pitch are kept), i.e. a
  view interpolation around the scene;
* ``views.png``: one row per scene (context views | target | predicted mean);
  ``ring_<k>.gif``: the ring as an animation; ``metrics.json``.

It also evaluates the posterior pass over the whole test split: the negative
ELBO (``elbo = target_llh + kl_regularizer``) and ``l2_reconstruction``, at the
image sigma of the checkpoint's step, printed and written to ``metrics.json``.

Original behaviour kept behind a flag: tf-gqn returns the annealed standard
deviation sigma_t under the name ``predicted_variance``; by default this tool
writes the variance sigma_t^2 there, ``--original_variance`` writes sigma_t.
"""
import argparse
import json
import os
import sys

import numpy as np

RING_STEPS = 16


class UsageError(ValueError):
    """Bad flag, model folder or data (exit code 2)."""


def build_parser():
    p = argparse.ArgumentParser(description="Render novel views with a trained GQN.")
    p.add_argument("--model_dir", required=True, help="training output with config.json and ckpt-N")
    p.add_argument("--data_dir", required=True, help="root holding <dataset>/test/*.tfrecord")
    p.add_argument("--dataset", required=True, help="name of the GQN dataset")
    p.add_argument("--num_scenes", type=int, default=4, help="test scenes to render (K)")
    p.add_argument("--out", default=None, help="output folder (default <model_dir>/views)")
    p.add_argument("--ring_steps", type=int, default=RING_STEPS, help="poses on the ring (N)")
    p.add_argument("--batch_size", type=int, default=8, help="batch size of the test evaluation")
    p.add_argument("--seed", type=int, default=0, help="seed of the view draws and the prior noise")
    p.add_argument("--original_variance", action="store_true",
                   help="write sigma (as tf-gqn) instead of sigma^2 as predicted_variance")
    return p


def ring_cameras(query_camera, steps):
    """[B, 7] cameras ``x, y, z, sin yaw, cos yaw, sin pitch, cos pitch`` -> [B, steps, 7].

    Pose k turns the camera by ``2 pi k / steps`` about the z axis through the
    origin: position rotated, yaw increased by the same angle, z and pitch kept.
    """
    q = np.asarray(query_camera, np.float64)
    yaw = np.arctan2(q[:, 3], q[:, 4])
    angles = 2.0 * np.pi * np.arange(steps) / steps
    cos, sin = np.cos(angles)[None], np.sin(angles)[None]
    x = q[:, :1] * cos - q[:, 1:2] * sin
    y = q[:, :1] * sin + q[:, 1:2] * cos
    z = np.repeat(q[:, 2:3], steps, axis=1)
    new_yaw = yaw[:, None] + angles[None]
    pitch = [np.repeat(q[:, i:i + 1], steps, axis=1) for i in (5, 6)]
    return np.stack([x, y, z, np.sin(new_yaw), np.cos(new_yaw), *pitch], axis=-1).astype(np.float32)


def load_system(model_dir, batch_size=8):
    """(GQNSystem with restored model and optimizer, step) from ``model_dir``."""
    import tensorflow as tf
    from models.gqn import create_gqn_config
    from training import loop
    from training.gqn_system import GQNSystem

    path = os.path.join(model_dir, loop.CONFIG_FILE)
    if not os.path.isfile(path):
        raise UsageError(f"--model_dir: {path} not found; expected a training output folder")
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        raise UsageError(f"--model_dir: no checkpoint (ckpt-N.index) in {model_dir}")
    with open(path) as f:
        saved = json.load(f)
    original_prior_timing = bool(saved.get("ORIGINAL_PRIOR_TIMING", False))
    try:
        cfg = create_gqn_config(saved)
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None
    system = GQNSystem(cfg, batch_size, log=lambda message: None,
                       original_prior_timing=original_prior_timing)
    system.build()
    step = tf.Variable(0, dtype=tf.int64, name="step")
    tf.train.Checkpoint(step=step, **loop.checkpoint_objects(system.checkpoint_items())) \
        .restore(latest).expect_partial()
    return system, int(step.numpy())


def _to_uint8(images):
    return (np.clip(np.asarray(images), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_grid(path, rows):
    """PNG of ``rows`` (each a list of [H, W, 3] float images in [0, 1]) with 2-pixel gaps."""
    from PIL import Image

    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    grid = np.full(((h + 2) * len(rows), (w + 2) * cols, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            grid[i * (h + 2):i * (h + 2) + h, j * (w + 2):j * (w + 2) + w] = _to_uint8(image)
    Image.fromarray(grid).save(path)


def save_gif(path, frames, duration_ms=120):
    """Animated GIF of [N, H, W, 3] float frames in [0, 1], looping."""
    from PIL import Image

    images = [Image.fromarray(f) for f in _to_uint8(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)


def render_views(system, step, data_dir, dataset, num_scenes, out, ring_steps=RING_STEPS,
                 seed=0, original_variance=False):
    """Write the npy files, ``views.png`` and ``ring_<k>.gif`` for ``num_scenes`` test scenes."""
    import tensorflow as tf
    from data_provider.gqn_tfr_provider import Context, Query, gqn_input_fn
    from training.gqn_system import annealed_value

    cfg = system.cfg
    dataset_obj = gqn_input_fn(dataset, cfg.CONTEXT_SIZE, data_dir, "test", batch_size=num_scenes,
                               custom_frame_size=cfg.IMG_HEIGHT, seed=seed)
    query, target = next(iter(dataset_obj))
    k = int(target.shape[0])
    tf.random.set_seed(seed)
    mean = system.model.generate(query)["mu_target"].numpy()
    sigma = annealed_value(step, cfg.GENERATOR_SIGMA_ALPHA, cfg.GENERATOR_SIGMA_BETA,
                           cfg.ANNEAL_SIGMA_TAU)
    variance = np.full_like(mean, sigma if original_variance else sigma ** 2)
    ring_cams = ring_cameras(query.query_camera.numpy(), ring_steps)
    frames, cameras = query.context.frames, query.context.cameras
    ring = []
    for i in range(ring_steps):
        ring_query = Query(context=Context(frames=frames, cameras=cameras),
                           query_camera=tf.constant(ring_cams[:, i]))
        ring.append(system.model.generate(ring_query)["mu_target"].numpy())
    ring = np.stack(ring, axis=1)
    os.makedirs(out, exist_ok=True)
    arrays = {"context": frames.numpy(), "context_cameras": cameras.numpy(),
              "target": target.numpy(), "query_camera": query.query_camera.numpy(),
              "predicted_mean": mean, "predicted_variance": variance,
              "ring_cameras": ring_cams, "ring": ring}
    for name, array in arrays.items():
        np.save(os.path.join(out, f"{name}.npy"), array)
    rows = [list(arrays["context"][i]) + [arrays["target"][i], mean[i]] for i in range(k)]
    save_grid(os.path.join(out, "views.png"), rows)
    for i in range(k):
        save_gif(os.path.join(out, f"ring_{i:03d}.gif"), ring[i])
    return k


def evaluate_test(system, data_dir, dataset, batch_size, seed=0):
    """Negative ELBO, its terms and L2 averaged over every test example."""
    from data_provider.gqn_tfr_provider import gqn_dataset_fn
    from training import loop

    cfg = system.cfg
    fn = gqn_dataset_fn(dataset, cfg.CONTEXT_SIZE, data_dir, "test", batch_size,
                        custom_frame_size=cfg.IMG_HEIGHT, seed=seed)
    return loop.evaluate(system, fn, batch_size)


def run(args, log=print):
    from data_provider import gqn_datasets

    try:
        gqn_datasets.dataset_info(args.dataset)
    except ValueError as e:
        raise UsageError(f"--dataset: {e}") from None
    for name in ("num_scenes", "ring_steps", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    from data_provider.gqn_tfr_provider import find_shard_files
    try:
        find_shard_files(args.data_dir, args.dataset, "test")
    except FileNotFoundError as e:
        raise UsageError(f"--data_dir: {e}") from None
    out = args.out or os.path.join(args.model_dir, "views")
    system, step = load_system(args.model_dir, args.batch_size)
    log(f"restored {args.model_dir} at step {step}")
    k = render_views(system, step, args.data_dir, args.dataset, args.num_scenes, out,
                     args.ring_steps, args.seed, args.original_variance)
    metrics = evaluate_test(system, args.data_dir, args.dataset, args.batch_size, args.seed)
    metrics["step"] = step
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    log(f"test split ({metrics['examples']} examples): elbo {metrics['elbo']:.6g}, "
        f"l2_reconstruction {metrics['l2_reconstruction']:.6g}")
    log(f"wrote {k} scenes to {out}: views.png, ring_*.gif, *.npy, metrics.json")
    return metrics


def main(argv=None):
    args = build_parser().parse_args(argv)
    import tensorflow as tf

    try:
        run(args, log=lambda message: print(message, flush=True))
    except UsageError as e:
        print(f"gqn_views.py: error: {e}", file=sys.stderr)
        sys.exit(2)
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        message = (getattr(e, "message", None) or str(e)).strip().splitlines()[0][:500]
        print(f"gqn_views.py: data error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()

"""Novel views of a trained GQN: predicted images, a ring of query poses, test ELBO and L2.

    python evaluation/gqn_views.py --model_dir M --data_dir D --dataset NAME \\
        [--num_scenes K] [--out DIR]

Reads the model configuration from ``<model_dir>/config.json`` (written by the
training loop), restores the model of the latest checkpoint (not the optimizer)
and, for the first K test
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
* ``views.png``: one row per scene, columns labelled context 1..C | target |
  prediction, each view enlarged to at least 128 pixels; ``ring_<k>.gif``: the
  ring as an animation; ``metrics.json``.

All outputs are written under temporary names and renamed into place together.

It also evaluates the posterior pass over the whole test split: the negative
ELBO (``elbo = target_llh + kl_regularizer``) and ``l2_reconstruction``, at the
image sigma of the checkpoint's step, printed and written to ``metrics.json``.

Original behaviour kept behind a flag: tf-gqn returns the annealed standard
deviation sigma_t under the name ``predicted_variance``; by default this tool
writes the variance sigma_t^2 there, ``--original_variance`` writes sigma_t.
"""
import json
import os
import sys

import numpy as np

from data_provider import cli, folder_lock, images

PROG = "gqn_views.py"
RING_STEPS = 16
MIN_VIEW_SIDE = 128


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Render novel views with a trained GQN.")
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
    cli.add_verbose_argument(p)
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


def load_model(model_dir):
    """(GQNModel restored from the latest checkpoint, its config, its step)."""
    from models.restore import restore

    run = restore(model_dir, "gqn")
    return run.model, run.config, run.step


def save_grid(path, rows, column_labels):
    """PNG of ``rows`` (lists of [H, W, 3] float images in [0, 1]) under labelled columns,
    each view enlarged (nearest neighbour) to at least ``MIN_VIEW_SIDE`` pixels."""
    side = rows[0][0].shape[0]
    scale = max(1, -(-MIN_VIEW_SIDE // side))
    grid = [[images.enlarge(images.to_uint8(image), scale) for image in row] for row in rows]
    sheet = images.labelled_grid(grid, column_labels, [str(i + 1) for i in range(len(rows))],
                                 pad=max(24, side * scale // 6))
    return images.save_png(sheet, path)


def render_views(model, cfg, step, data_dir, dataset, num_scenes, out, ring_steps=RING_STEPS,
                 seed=0, original_variance=False):
    """Write the npy files, ``views.png`` and ``ring_<k>.gif`` for ``num_scenes`` test
    scenes into the ``cli.OutputSet`` ``out``; returns the number of scenes."""
    import tensorflow as tf

    from data_provider.gqn_tfr_provider import Context, Query, gqn_input_fn
    from models.gqn import objective

    dataset_obj = gqn_input_fn(dataset, cfg.CONTEXT_SIZE, data_dir, "test", batch_size=num_scenes,
                               custom_frame_size=cfg.IMG_HEIGHT, seed=seed)
    query, target = next(iter(dataset_obj))
    k = int(target.shape[0])
    tf.random.set_seed(seed)
    mean = model.generate(query)["mu_target"].numpy()
    sigma = float(objective.sigma_at(step, cfg))
    variance = np.full_like(mean, sigma if original_variance else sigma ** 2)
    ring_cams = ring_cameras(query.query_camera.numpy(), ring_steps)
    frames, cameras = query.context.frames, query.context.cameras
    ring = []
    for i in range(ring_steps):
        ring_query = Query(context=Context(frames=frames, cameras=cameras),
                           query_camera=tf.constant(ring_cams[:, i]))
        ring.append(model.generate(ring_query)["mu_target"].numpy())
    ring = np.stack(ring, axis=1)
    arrays = {"context": frames.numpy(), "context_cameras": cameras.numpy(),
              "target": target.numpy(), "query_camera": query.query_camera.numpy(),
              "predicted_mean": mean, "predicted_variance": variance,
              "ring_cameras": ring_cams, "ring": ring}
    for name, array in arrays.items():
        out.save_npy(f"{name}.npy", array)
    rows = [list(arrays["context"][i]) + [arrays["target"][i], mean[i]] for i in range(k)]
    labels = [f"context {c + 1}" for c in range(cfg.CONTEXT_SIZE)] + ["target", "prediction"]
    save_grid(out.path("views.png"), rows, labels)
    for i in range(k):
        images.write_gif(images.to_uint8(ring[i]), out.path(f"ring_{i:03d}.gif"))
    return k


def evaluate_test(model, cfg, step, data_dir, dataset, batch_size, seed=0):
    """Negative ELBO, its terms and L2 (posterior pass at the step's sigma), averaged
    over every test example."""
    import tensorflow as tf

    from data_provider.gqn_tfr_provider import gqn_input_fn
    from models.draw.objective import elbo_terms
    from models.gqn import objective

    sigma = objective.sigma_at(step, cfg)

    @tf.function(autograph=False)
    def terms(query, target):
        nll, kl, l2 = elbo_terms(model((query, target)), target, sigma)
        return {"elbo": nll + kl, "target_llh": nll, "kl_regularizer": kl,
                "l2_reconstruction": l2}

    totals, examples = {}, 0
    for query, target in gqn_input_fn(dataset, cfg.CONTEXT_SIZE, data_dir, "test", batch_size,
                                      custom_frame_size=cfg.IMG_HEIGHT, seed=seed):
        for key, values in terms(query, target).items():
            totals[key] = totals.get(key, 0.0) + float(tf.reduce_sum(values))
        examples += int(target.shape[0])
    metrics = {k: v / examples for k, v in totals.items()}
    metrics["examples"] = examples
    return metrics


def run(args, log=print):
    cli.quiet_tensorflow(args.verbose)
    from data_provider import gqn_datasets
    from data_provider.gqn_tfr_provider import find_shard_files

    try:
        gqn_datasets.dataset_info(args.dataset)
    except ValueError as e:
        raise cli.UsageError(f"--dataset: {e}") from None
    for name in ("num_scenes", "ring_steps", "batch_size"):
        if getattr(args, name) < 1:
            raise cli.UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    try:
        find_shard_files(args.data_dir, args.dataset, "test")
    except FileNotFoundError as e:
        raise cli.UsageError(f"--data_dir: {e}") from None
    out_dir = args.out or os.path.join(args.model_dir, "views")
    model, cfg, step = load_model(args.model_dir)
    log(f"restored {args.model_dir} at step {step}")
    with folder_lock.hold(out_dir, "--out", "gqn_views.py", log), cli.OutputSet(out_dir) as out:
        k = render_views(model, cfg, step, args.data_dir, args.dataset, args.num_scenes, out,
                         args.ring_steps, args.seed, args.original_variance)
        metrics = evaluate_test(model, cfg, step, args.data_dir, args.dataset, args.batch_size,
                                args.seed)
        metrics["step"] = step
        out.write_text("metrics.json", json.dumps(metrics, indent=2))
    log(f"test split ({metrics['examples']} examples): elbo {metrics['elbo']:.6g}, "
        f"l2_reconstruction {metrics['l2_reconstruction']:.6g}")
    log(f"wrote {k} scenes to {out_dir}: views.png, ring_*.gif, *.npy, metrics.json")
    return metrics


def main(argv=None):
    args = build_parser().parse_args(argv)
    sys.exit(cli.run_main(PROG, lambda a: run(a, log=lambda m: print(m, flush=True)), args,
                          tensorflow=True))


if __name__ == "__main__":
    main()

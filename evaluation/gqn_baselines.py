"""How good are GQN's generated views? L2 against the target, beside two baselines.

    python evaluation/gqn_baselines.py --model_dir M --data_dir D --dataset NAME \\
        [--num_scenes 200] [--out FILE.json]

For the first ``--num_scenes`` test scenes (one example per scene: context views,
query camera, target view, drawn with ``--seed`` as the test pipeline does), three
images are compared with the target, all at the model's image size and measured the
same way, ``L2 = mean over pixels and channels of (image - target)^2`` per example,
then averaged over the examples:

* ``l2_generated``: the model's generated view, ``model.generate(query)["mu_target"]``
  (the prior pass: latents drawn from the prior, no target seen);
* ``l2_mean_image``: the mean training image (the per-pixel mean of the context and
  target views of one pass over the train split);
* ``l2_nearest_context``: the context view whose camera is nearest to the query camera
  (Euclidean distance between the 7-vectors ``x, y, z, sin yaw, cos yaw, sin pitch,
  cos pitch``).

A model that has learnt nothing about the scene scores about the mean image; copying
the closest view the model was shown is the nearest-context baseline. Also reported:
``elbo``, the negative ELBO (NLL + KL) of the posterior pass at the image sigma of the
checkpoint's step, over the same examples. The model is built from
``<model_dir>/config.json`` and its latest checkpoint (or ``--checkpoint ckpt-N``) is
restored without the optimizer.
"""
import json
import sys

import numpy as np

from data_provider import cli

DEFAULT_NUM_SCENES = 200


def l2_per_example(images, target):
    """``mean_{h,w,c} (images - target)^2`` per example: [B, H, W, C] x2 -> [B] float64."""
    images = np.asarray(images, np.float64)
    target = np.asarray(target, np.float64)
    if images.shape != target.shape:
        raise ValueError(f"images {images.shape} and target {target.shape} differ in shape")
    return np.mean(np.square(images - target), axis=tuple(range(1, images.ndim)))


def nearest_context_view(frames, cameras, query_camera):
    """The context view of each example whose camera is nearest to the query camera.

    ``frames`` [B, K, H, W, C], ``cameras`` [B, K, 7], ``query_camera`` [B, 7] ->
    ([B, H, W, C] views, [B] indices); distance: Euclidean over the 7 camera values
    (the first view wins a tie).
    """
    frames, cameras = np.asarray(frames), np.asarray(cameras, np.float64)
    query_camera = np.asarray(query_camera, np.float64)
    distance = np.linalg.norm(cameras - query_camera[:, None, :], axis=-1)
    index = np.argmin(distance, axis=1)
    return frames[np.arange(frames.shape[0]), index], index


def mean_training_image(data_dir, dataset, img_size, max_scenes=None, seed=0):
    """Per-pixel mean [H, W, 3] of every view of the training scenes.

    Reads the train split in one deterministic pass (files in a seeded order,
    one reader), decodes and resizes every view as the model's input pipeline
    does; ``max_scenes`` stops after that many scenes.
    """
    from data_provider.gqn_tfr_provider import decode_frames, gqn_scene_dataset

    scenes = gqn_scene_dataset(dataset, data_dir, "train", num_epochs=1, num_threads=1,
                               seed=seed)
    if max_scenes is not None:
        scenes = scenes.take(max_scenes)
    total, views = None, 0
    for path, jpegs, _ in scenes.batch(8):
        frames = decode_frames(jpegs, path, dataset, custom_frame_size=img_size).numpy()
        frames = frames.reshape(-1, *frames.shape[2:])
        total = frames.sum(0, dtype=np.float64) + (0.0 if total is None else total)
        views += frames.shape[0]
    if not views:
        raise cli.UsageError(f"--data_dir {data_dir}: no training scenes of {dataset}")
    return (total / views).astype(np.float32)


def load_model(model_dir, checkpoint=None):
    """(GQNModel, config, step) from ``model_dir``: its ``config.json`` and its latest
    checkpoint, or ``checkpoint`` (a ``ckpt-N`` prefix) when given; no optimizer."""
    from models.restore import restore

    run = restore(model_dir, "gqn", checkpoint=checkpoint)
    return run.model, run.config, run.step


def evaluate(model, cfg, data_dir, dataset, mean_image, num_scenes=DEFAULT_NUM_SCENES,
             batch_size=32, seed=0, step=None):
    """Mean L2 of the generated view and of the two baselines over ``num_scenes`` test scenes.

    Returns ``{"l2_generated", "l2_mean_image", "l2_nearest_context", "num_scenes"}``
    (fewer scenes when the test split holds fewer); with ``step``, also ``"elbo"``: the
    negative ELBO (NLL + KL) of the posterior pass at the image sigma of that step,
    averaged over the same examples.
    """
    import tensorflow as tf

    from data_provider.gqn_tfr_provider import gqn_input_fn
    from models.draw.objective import elbo_terms
    from models.gqn import objective

    ds = gqn_input_fn(dataset, cfg.CONTEXT_SIZE, data_dir, "test", batch_size=batch_size,
                      custom_frame_size=cfg.IMG_HEIGHT, seed=seed)
    tf.random.set_seed(seed)
    sums = {"l2_generated": 0.0, "l2_mean_image": 0.0, "l2_nearest_context": 0.0}
    if step is not None:
        sums["elbo"] = 0.0
        sigma = objective.sigma_at(step, cfg)
    count = 0
    for query, target in ds:
        take = min(int(target.shape[0]), num_scenes - count)
        target_all = target.numpy()
        target = target_all[:take]
        generated = model.generate(query)["mu_target"].numpy()[:take]
        nearest, _ = nearest_context_view(query.context.frames.numpy()[:take],
                                          query.context.cameras.numpy()[:take],
                                          query.query_camera.numpy()[:take])
        mean = np.broadcast_to(mean_image, target.shape)
        for key, images in (("l2_generated", generated), ("l2_mean_image", mean),
                            ("l2_nearest_context", nearest)):
            sums[key] += float(l2_per_example(images, target).sum())
        if step is not None:
            nll, kl, _ = elbo_terms(model((query, tf.constant(target_all)), training=False),
                                    target_all, sigma)
            sums["elbo"] += float(tf.reduce_sum((nll + kl)[:take]))
        count += take
        if count >= num_scenes:
            break
    if not count:
        raise cli.UsageError(f"--data_dir {data_dir}: no test scenes of {dataset}")
    result = {key: value / count for key, value in sums.items()}
    result["num_scenes"] = count
    return result


def run(args, log=print):
    """Restore, compute the mean training image, evaluate; returns the result dict."""
    from data_provider import gqn_datasets
    from data_provider.gqn_tfr_provider import find_shard_files

    try:
        gqn_datasets.dataset_info(args.dataset)
    except ValueError as e:
        raise cli.UsageError(f"--dataset: {e}") from None
    for name in ("num_scenes", "batch_size"):
        if getattr(args, name) < 1:
            raise cli.UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    for split in ("train", "test"):
        try:
            find_shard_files(args.data_dir, args.dataset, split)
        except FileNotFoundError as e:
            raise cli.UsageError(f"--data_dir: {e}") from None
    model, cfg, step = load_model(args.model_dir, args.checkpoint)
    log(f"[gqn_baselines] restored {args.model_dir} at step {step}")
    mean_image = mean_training_image(args.data_dir, args.dataset, cfg.IMG_HEIGHT,
                                     args.mean_scenes, args.seed)
    result = evaluate(model, cfg, args.data_dir, args.dataset, mean_image, args.num_scenes,
                      args.batch_size, args.seed, step)
    result["step"] = step
    log(f"[gqn_baselines] {result['num_scenes']} test scenes, L2 against the target: "
        f"generated {result['l2_generated']:.5f}, mean training image "
        f"{result['l2_mean_image']:.5f}, nearest context view {result['l2_nearest_context']:.5f}; "
        f"test elbo {result['elbo']:.6g}")
    if args.out:
        with cli.atomic_write(args.out) as f:
            json.dump(result, f, indent=2)
        log(f"[gqn_baselines] wrote {args.out}")
    return result


def build_parser():
    p = cli.ArgumentParser(prog="gqn_baselines.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model_dir", required=True, help="training output with config.json and ckpt-N")
    p.add_argument("--data_dir", required=True,
                   help="root holding <dataset>/{train,test}/*.tfrecord")
    p.add_argument("--dataset", required=True, help="name of the GQN dataset")
    p.add_argument("--checkpoint", default=None,
                   help="a ckpt-N prefix in --model_dir to evaluate (default: the latest)")
    p.add_argument("--num_scenes", type=int, default=DEFAULT_NUM_SCENES,
                   help="test scenes to evaluate (one example each)")
    p.add_argument("--mean_scenes", type=int, default=None,
                   help="training scenes for the mean image (default: all)")
    p.add_argument("--batch_size", type=int, default=32, help="examples per generation batch")
    p.add_argument("--seed", type=int, default=0, help="seed of the view draws and the prior noise")
    p.add_argument("--out", default=None, help="write the result as JSON to this file")
    cli.add_verbose_argument(p)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    cli.quiet_tensorflow(args.verbose)
    return cli.run_main("gqn_baselines.py", run, args, tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

"""Training-step speed of GEN: naive vs fused paths, fp32 / bf16, side by side in one run.

A training step is the posterior pass, the negative ELBO, gradients and the
Adam update inside one ``tf.function``, on a fixed random batch of 2x2
hotels (64x64 frames, 8 context views per maze, 1 query per maze). Configs:

- ``original``: the original's training batch (B = 16): 16 hotels, 64
  queries, 512 context images, L = 8;
- ``small``: 1 hotel, 4 queries, 32 context images, L = 2.

The naive path is the original's computation (r and the pose upsampled and
convolved at every DRAW step, the 64x64 canvas formed, the edge MLP on
every edge); the fused path computes the step-invariant terms once per pass,
keeps the canvas latent and runs the edge MLP per node (same variables and
outputs); in fp32 it also runs the 3x3 and 5x5 convolutions as Winograd
F(4x4, k x k) (``models/winograd.py``). ``fused_direct`` is the fused path
with direct convolutions, to show what Winograd adds. Prints wall s/step,
process CPU s/step and the ratio to the naive fp32 step of the same config.
``--parts`` also times, on the fused path, the composer alone (forward +
backward to its variables) and ConvDRAW alone (forward + backward from a fixed
r) to show where a step's time goes.

    python benchmarks/gen_train_step.py --configs small --steps 3
"""
import sys
import time

import numpy as np

from data_provider import cli

# TensorFlow quiet before anything imports it (keras and the models are imported where used).
tf = cli.quiet_tensorflow("--verbose" in sys.argv[1:])

CONFIGS = {  # name -> (hotels, num_steps); 2x2 hotels
    "original": (16, 8),
    "small": (1, 2),
}
VARIANTS = {"fp32": "float32", "bf16": "mixed_bfloat16"}
PATHS = {"naive": dict(optimized=False), "fused_direct": dict(optimized=True, winograd=False),
         "fused": dict(optimized=True)}
DIM, CONTEXT = 2, 8


def make_batch(hotels, seed=0, dim=DIM, shift=(3.0, 4.0)):
    """A fixed random batch of ``hotels`` d x d hotels with poses on the graph."""
    rng = np.random.default_rng(seed)
    lo = np.array(shift) - 1.0

    def poses(n):
        xy = rng.uniform(lo, lo + 2 * dim, size=(hotels, n, 2))
        yaw = rng.uniform(-np.pi, np.pi, size=(hotels, n, 1))
        return np.concatenate([xy, np.zeros_like(yaw), np.sin(yaw), np.cos(yaw),
                               np.zeros_like(yaw), np.ones_like(yaw)], -1).astype(np.float32)

    mazes = dim * dim
    return {
        "context_frames": tf.constant(rng.uniform(size=(hotels, CONTEXT * mazes, 64, 64, 3)),
                                      tf.float32),
        "context_cameras": tf.constant(poses(CONTEXT * mazes)),
        "query_cameras": tf.constant(poses(mazes)),
        "target": tf.constant(rng.uniform(size=(hotels, mazes, 64, 64, 3)), tf.float32),
        "num_scenes_per_dim": tf.constant(dim),
        "shift": tf.constant(shift, tf.float32),
    }


def make_train_step(model, optimizer):
    from models.gen import GENModel, objective

    step = tf.Variable(0, dtype=tf.int64, trainable=False)

    @tf.function
    def train_step(batch):
        with tf.GradientTape() as tape:
            out = model(batch, training=True)
            loss, _, _ = objective.gen_loss(out, GENModel.flat_target(batch),
                                            objective.sigma_at(step))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        step.assign_add(1)
        return loss

    return train_step


def _touch(grads):
    """A scalar that depends on every gradient (so none is pruned from the graph)."""
    return tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in grads if g is not None])


def make_part_steps(model):
    """(composer step, ConvDRAW step): forward + gradients of one part only."""
    from models.gen import objective

    @tf.function
    def composer_step(batch):
        with tf.GradientTape() as tape:
            r, _ = model.representation(batch)
            loss = tf.reduce_sum(tf.cast(r, tf.float32))
        return _touch(tape.gradient(loss, model.composer.trainable_variables))

    @tf.function
    def draw_step(r, pose, target):
        with tf.GradientTape() as tape:
            out = model.draw((r, pose, target), training=True)
            loss, _, _ = objective.gen_loss(out, target, 2.0)
        return _touch(tape.gradient(loss, model.draw.trainable_variables))

    return composer_step, draw_step


def timed(fn, args, steps, warmup):
    """(wall s, CPU s) per call, means over ``steps`` after ``warmup`` calls."""
    for _ in range(warmup):
        out = fn(*args)
    float(out)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        out = fn(*args)
    float(out)
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu_start) / steps


def time_step(config, path, variant, steps, warmup):
    from models.gen import GENModel
    from training.fused_adam import FusedAdam

    hotels, num_steps = CONFIGS[config]
    model = GENModel(num_steps=num_steps, dtype=VARIANTS[variant], **PATHS[path])
    optimizer = FusedAdam(learning_rate=8e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    return timed(make_train_step(model, optimizer), (make_batch(hotels),), steps, warmup)


def time_parts(config, variant, steps, warmup):
    from models.gen import GENModel

    hotels, num_steps = CONFIGS[config]
    model = GENModel(num_steps=num_steps, optimized=True, dtype=VARIANTS[variant])
    batch = make_batch(hotels)
    composer_step, draw_step = make_part_steps(model)
    r, pose = model.representation(batch)
    return {"composer": timed(composer_step, (batch,), steps, warmup),
            "ConvDRAW": timed(draw_step, (r, pose, GENModel.flat_target(batch)), steps, warmup)}


def parse_args(argv):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=["naive", "fused"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=2, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps (tracing)")
    parser.add_argument("--parts", action="store_true",
                        help="also time the composer and ConvDRAW alone (fused path)")
    cli.add_verbose_argument(parser)
    args = parser.parse_args(argv)
    for flag in ("steps", "warmup"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    return args


def run(args):
    import keras

    print(f"tensorflow {tf.__version__}, {args.steps} timed steps after {args.warmup} warm-up; "
          "2x2 hotels, 8 context views per maze")
    print(f"{'config':9} {'path':12} {'variant':7} {'s/step':>8} {'vs naive fp32':>14} "
          f"{'cpu-s/step':>10}")
    for config in args.configs:
        reference = None
        for path in args.paths:
            for variant in args.variants:
                seconds, cpu = time_step(config, path, variant, args.steps, args.warmup)
                if path == "naive" and variant == "fp32":
                    reference = seconds
                ratio = f"{reference / seconds:13.2f}x" if reference else f"{'-':>14}"
                print(f"{config:9} {path:12} {variant:7} {seconds:8.2f} {ratio} {cpu:10.2f}",
                      flush=True)
                keras.backend.clear_session()
        if args.parts:
            for variant in args.variants:
                for part, (seconds, cpu) in time_parts(config, variant, args.steps,
                                                       args.warmup).items():
                    print(f"{config:9} {'fused':12} {variant:7} {seconds:8.2f} "
                          f"{'(' + part + ' only)':>14} {cpu:10.2f}", flush=True)
                keras.backend.clear_session()


def main(argv=None):
    return cli.run_main("gen_train_step", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

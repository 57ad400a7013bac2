"""Training-step speed of the GQN: naive vs optimised cores, fp32 / bf16 / XLA.

A training step is forward (posterior pass) + loss + gradients + Adam update
inside one ``tf.function``, on a fixed random batch. Configs:

- ``a``: tf-gqn's default config (LSTM 256, canvas 256, z 64, pool, 8 steps,
  64x64, 5 context views) at batch 4, cores shared across steps.
- ``b``: the config of the most used PyTorch GQN port (LSTM 128 channels,
  canvas 128, z 64, pool representation 256, 8 steps, 64x64, 5 context
  views) at batch 4 with unshared cores (one core per DRAW step).

Paths: ``naive`` (the original's computation), ``optimized`` (the fused
ConvDRAW path with Winograd gate convolutions, the default) and
``optimized_direct`` (the fused path with direct convolutions, as before
Winograd). Prints s/step and steps/s per (config, path, variant), each time's ratio
to the naive fp32 step of the same config, and the process CPU seconds per
step (a steadier figure when the machine is shared). Example (short run):

    python benchmarks/gqn_train_step.py --configs b --steps 3

``--optimizers keras fused`` times Keras' Adam beside ``FusedAdam`` (same
maths, one ResourceApplyAdam per variable). Measured on the shared 2-core
machine (config b, batch 4; wall s/step, CPU-s/step in brackets): naive
fp32 3.43 s (6.71), optimised fp32 1.81 s (3.51), optimised bf16 1.05-1.10 s
(2.05-2.12) over five processes, XLA slower in every case (2.11 s optimised).
The optimised bf16 step went 1.41 s -> 1.18 s with FusedAdam, the matmul
``broadcast_conv`` and the zero first step, then -> 1.05 s with the canvas
composed into the generator states and the first inference step as one
convolution of the target blocks. Inter-op 1 or 2 threads were slower than
the default. Winograd gate convolutions (idle machine, one run): config b
fp32 1.89 -> 1.14 s, bf16 1.10 -> 0.98 s; config a fp32 5.74 -> 2.17 s.
"""
import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from models.gqn import GQNModel, create_gqn_config, objective
from training.fused_adam import FusedAdam
from training.system import present_gradients

CONFIGS = {
    "a": ({}, True),
    "b": ({"LSTM_OUTPUT_CHANNELS": 128, "LSTM_CANVAS_CHANNELS": 128, "Z_CHANNELS": 64,
           "ENC_TYPE": "pool", "ENC_CHANNELS": 256, "SEQ_LENGTH": 8}, False),
}
VARIANTS = {  # name -> (dtype policy, jit_compile)
    "fp32": ("float32", False),
    "bf16": ("mixed_bfloat16", False),
    "xla": ("float32", True),
    "bf16+xla": ("mixed_bfloat16", True),
}
PATHS = {"naive": dict(optimized=False),
         "optimized_direct": dict(optimized=True, winograd=False),  # before Winograd
         "optimized": dict(optimized=True)}
OPTIMIZERS = {"keras": keras.optimizers.Adam, "fused": FusedAdam}  # same maths


def make_batch(cfg, batch, seed=0):
    """A fixed random (query, target) batch of the config's shapes."""
    rng = np.random.default_rng(seed)
    k, h, w = cfg.CONTEXT_SIZE, cfg.IMG_HEIGHT, cfg.IMG_WIDTH
    frames = rng.uniform(size=(batch, k, h, w, cfg.IMG_CHANNELS)).astype(np.float32)
    cameras = rng.normal(size=(batch, k, cfg.POSE_CHANNELS)).astype(np.float32)
    query_camera = rng.normal(size=(batch, cfg.POSE_CHANNELS)).astype(np.float32)
    target = rng.uniform(size=(batch, h, w, cfg.IMG_CHANNELS)).astype(np.float32)
    query = ((tf.constant(frames), tf.constant(cameras)), tf.constant(query_camera))
    return query, tf.constant(target)


def make_train_step(model, optimizer, cfg, jit_compile):
    """The full training step as one tf.function."""
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)

    @tf.function(jit_compile=jit_compile)
    def train_step(query, target):
        sigma = objective.sigma_at(step_var, cfg)
        with tf.GradientTape() as tape:
            out = model((query, target), training=True)
            loss, _, _ = objective.gqn_loss(
                target, out["mu_target"], sigma, out["posterior_mu"], out["posterior_sigma"],
                out["prior_mu"], out["prior_sigma"])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(present_gradients(grads, model.trainable_variables))
        step_var.assign_add(1)
        return loss

    return train_step


def time_step(config, path, variant, batch, steps, warmup, optimizer="fused"):
    """(wall s/step, process CPU s/step, final loss), means over ``steps`` after ``warmup``."""
    params, share = CONFIGS[config]
    cfg = create_gqn_config(params)
    policy, jit = VARIANTS[variant]
    model = GQNModel(cfg, share_cores=share, dtype=policy, **PATHS[path])
    optimizer = OPTIMIZERS[optimizer](learning_rate=float(cfg.ADAM_LR_ALPHA))
    train_step = make_train_step(model, optimizer, cfg, jit)
    query, target = make_batch(cfg, batch)
    for _ in range(warmup):
        loss = train_step(query, target)
    float(loss)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = train_step(query, target)
    loss = float(loss)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return wall / steps, cpu / steps, loss


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["a", "b"])
    parser.add_argument("--paths", nargs="+", choices=list(PATHS),
                        default=["naive", "optimized"])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        default=["fp32", "bf16", "xla"])
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS), default=["fused"],
                        help="Adam implementation(s): keras (element-wise ops) or fused "
                             "(ResourceApplyAdam per variable)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (tracing)")
    args = parser.parse_args(argv)
    for flag in ("batch", "steps", "warmup"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    print(f"tensorflow {tf.__version__}, batch {args.batch}, {args.steps} timed steps "
          f"after {args.warmup} warm-up, threads: intra "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    print(f"{'config':6} {'path':16} {'variant':9} {'adam':6} {'s/step':>8} {'steps/s':>8} "
          f"{'vs naive fp32':>14} {'cpu-s/step':>10} {'loss':>12}")
    for config in args.configs:
        reference = None
        for path in args.paths:
            for variant in args.variants:
                for adam in args.optimizers:
                    seconds, cpu, loss = time_step(config, path, variant, args.batch,
                                                   args.steps, args.warmup, adam)
                    if reference is None and path == "naive" and variant == "fp32":
                        reference = seconds
                    ratio = f"{reference / seconds:13.2f}x" if reference else f"{'-':>14}"
                    print(f"{config:6} {path:16} {variant:9} {adam:6} {seconds:8.3f} "
                          f"{1 / seconds:8.3f} {ratio} {cpu:10.3f} {loss:12.1f}", flush=True)
                    keras.backend.clear_session()


if __name__ == "__main__":
    sys.exit(main())

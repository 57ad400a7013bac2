"""FCR-alphaGAN training-iteration speed, float32 and bfloat16 side by side.

Prints iterations/s of the original iteration (phase "before": 2 x (encoder, generator)
+ discriminator + code discriminator steps; phase "after": refiner + discriminator
steps) at a small config, and seconds per iteration at the original config
(80x48x80, 12 classes, ``--orig_batch`` scenes; 20 is the original batch), for float32
and ``mixed_bfloat16`` compute, with the ratio.

    python benchmarks/fcr_alphagan_step.py [--iters 5] [--orig_batch 2] [--skip_original]
"""
import argparse
import tempfile
import time

import numpy as np
import tensorflow as tf

from models.fcr_alphagan.config import cfg_from_list, default_config
from training.fcr_alphagan_system import FCRAlphaGANSystem

SMALL = ["CONST.N_VOX", "[32,16,32]", "NET.START_VOX", "[2,1,2]", "NET.DIM",
         "[64,32,16,16,12]", "CONST.BATCH_SIZE", "4"]


def time_iterations(cfg, dtype, phase, iters, seed=0):
    """(seconds per iteration after one warm-up, last recons_loss) for one phase."""
    batch_size = int(cfg.CONST.BATCH_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        system = FCRAlphaGANSystem(cfg, tmp, batch_size, seed=seed, dtype=dtype)
        system.build()
    rng = np.random.default_rng(seed)
    batch = tf.constant(rng.integers(0, 12, size=(batch_size, *cfg.CONST.N_VOX)), tf.int32)
    step = tf.function(lambda b, s: system.train_step(phase, b, s))
    out = step(batch, tf.constant(0, tf.int64))  # trace + first run
    float(out["recons_loss"])
    start = time.perf_counter()
    for i in range(iters):
        out = step(batch, tf.constant(i + 1, tf.int64))
    loss = float(out["recons_loss"])
    return (time.perf_counter() - start) / iters, loss


def compare(title, cfg, iters, unit):
    print(title)
    for phase in ("before", "after"):
        t32, l32 = time_iterations(cfg, None, phase, iters)
        t16, l16 = time_iterations(cfg, "mixed_bfloat16", phase, iters)
        if unit == "it/s":
            print(f"  phase {phase:6s}: float32 {1 / t32:7.3f} it/s   bfloat16 {1 / t16:7.3f} it/s"
                  f"   bf16/fp32 speed {t32 / t16:5.2f}x   (recons {l32:.1f} / {l16:.1f})")
        else:
            print(f"  phase {phase:6s}: float32 {t32:7.2f} s/it   bfloat16 {t16:7.2f} s/it"
                  f"   bf16/fp32 speed {t32 / t16:5.2f}x   (recons {l32:.1f} / {l16:.1f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=5, help="timed iterations at the small config")
    p.add_argument("--orig_iters", type=int, default=1, help="timed iterations, original config")
    p.add_argument("--orig_batch", type=int, default=2,
                   help="batch at the original config (the original trains with 20)")
    p.add_argument("--skip_original", action="store_true")
    args = p.parse_args(argv)
    print(f"TensorFlow {tf.__version__}, CPU threads: "
          f"{tf.config.threading.get_inter_op_parallelism_threads() or 'default'}")
    small = cfg_from_list(default_config(), SMALL)
    compare(f"small config: N_VOX {small.CONST.N_VOX}, DIM {small.NET.DIM}, batch 4, "
            f"{args.iters} iterations", small, args.iters, "it/s")
    if not args.skip_original:
        orig = cfg_from_list(default_config(), ["CONST.BATCH_SIZE", str(args.orig_batch)])
        compare(f"original config: N_VOX {orig.CONST.N_VOX}, DIM {orig.NET.DIM}, "
                f"batch {args.orig_batch}, {args.orig_iters} iteration(s)", orig,
                args.orig_iters, "s/it")


if __name__ == "__main__":
    main()

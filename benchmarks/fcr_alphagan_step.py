"""FCR-alphaGAN training-iteration speed, float32 and bfloat16 side by side.

Prints iterations/s of the original iteration (phase "autoencoder_gan": 2 x (encoder, generator)
+ discriminator + code discriminator steps; phase "refiner": refiner + discriminator
steps) at a small config, and seconds per iteration at the original config
(80x48x80, 12 classes, ``--orig_batch`` scenes; 20 is the original batch), for float32
and ``mixed_bfloat16`` compute, with the ratio. Beside each figure: the GFLOP of one
iteration (convolutions and matrix products of the traced step, counted from their
static shapes, ops that feed no output left out) and the rate achieved, which shows
whether a phase is compute bound.

Measured (2-core shared CPU, one run, float32): small config, phase "autoencoder_gan" 11.9
GFLOP/it at 35 GFLOP/s, phase "refiner" 254.9 GFLOP/it at 90 GFLOP/s (a single 3x3x3
convolution peaks near 115 GFLOP/s here); original config, batch 2, autoencoder_gan 1286
GFLOP/it in 15.3 s, refiner 2798 GFLOP/it in 28.2 s. The refiner phase is compute bound:
its refiner runs at full resolution with 241,920 multiply-adds per voxel per forward (as
many as its weights), 4 forwards and 2 backwards per iteration, while the small config
shrinks the channels of the other networks but not the refiner's 32 (21x the work of
the autoencoder_gan phase there, 2.2x at the original config).

    python benchmarks/fcr_alphagan_step.py [--iters 5] [--orig_batch 2] [--skip_original]
"""
import argparse
import tempfile
import time

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import tensor_util

from models.fcr_alphagan.config import cfg_from_list, default_config
from training.fcr_alphagan_system import FCRAlphaGANSystem

SMALL = ["CONST.N_VOX", "[32,16,32]", "NET.START_VOX", "[2,1,2]", "NET.DIM",
         "[64,32,16,16,12]", "CONST.BATCH_SIZE", "4"]


def _shape(tensor, batch):
    return [batch if d is None else d for d in tensor.shape.as_list()]


def _shape_input(tensor, batch):
    """Static value of a shape-valued input (a constant, or Shape/ShapeN of a tensor)."""
    if tensor.op.type in ("Shape", "ShapeN"):
        return _shape(tensor.op.inputs[tensor.value_index], batch)
    return tensor_util.constant_value(tensor)


def graph_flops(graph, batch):
    """FLOPs (2 x multiply-adds) of the Conv3D, Conv3D-backprop and MatMul ops of
    ``graph`` that feed its outputs or control outputs; unknown dims read as ``batch``."""
    todo = [t.op for t in graph.outputs] + list(graph.control_outputs)
    seen, total = set(), 0
    while todo:
        op = todo.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        todo.extend(t.op for t in op.inputs)
        todo.extend(op.control_inputs)
        if op.type == "Conv3D":  # output voxels x kernel volume x in x out
            macs = np.prod(_shape(op.outputs[0], batch)[:-1]) * np.prod(_shape(op.inputs[1], batch))
        elif op.type == "Conv3DBackpropInputV2":
            macs = np.prod(_shape(op.inputs[2], batch)[:-1]) * np.prod(_shape(op.inputs[1], batch))
        elif op.type == "Conv3DBackpropFilterV2":
            macs = np.prod(_shape(op.inputs[2], batch)[:-1]) * np.prod(_shape_input(op.inputs[1],
                                                                                    batch))
        elif op.type == "MatMul":
            a, b = _shape(op.inputs[0], batch), _shape(op.inputs[1], batch)
            macs = np.prod(a) * (b[0] if op.get_attr("transpose_b") else b[1])
        else:
            continue
        total += 2 * int(macs)
    return total


def time_iterations(cfg, dtype, phase, iters, seed=0):
    """(seconds per iteration after one warm-up, last recons_loss, GFLOP per iteration)."""
    batch_size = int(cfg.CONST.BATCH_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        system = FCRAlphaGANSystem(cfg, tmp, batch_size, seed=seed, dtype=dtype)
        system.build()
    rng = np.random.default_rng(seed)
    batch = tf.constant(rng.integers(0, 12, size=(batch_size, *cfg.CONST.N_VOX)), tf.int32)
    step = tf.function(lambda b, s: system.train_step(b, s, phase)[0])
    out = step(batch, tf.constant(0, tf.int64))  # trace + first run
    float(out["recons_loss"])
    start = time.perf_counter()
    for i in range(iters):
        out = step(batch, tf.constant(i + 1, tf.int64))
    loss = float(out["recons_loss"])
    seconds = (time.perf_counter() - start) / iters
    graph = step.get_concrete_function(batch, tf.constant(0, tf.int64)).graph
    return seconds, loss, graph_flops(graph, batch_size) / 1e9


def compare(title, cfg, iters, unit):
    print(title)
    for phase in ("autoencoder_gan", "refiner"):
        t32, l32, gflop = time_iterations(cfg, None, phase, iters)
        t16, l16, _ = time_iterations(cfg, "mixed_bfloat16", phase, iters)
        if unit == "it/s":
            figures = f"float32 {1 / t32:7.3f} it/s   bfloat16 {1 / t16:7.3f} it/s"
        else:
            figures = f"float32 {t32:7.2f} s/it   bfloat16 {t16:7.2f} s/it"
        print(f"  phase {phase:15s}: {figures}   bf16/fp32 speed {t32 / t16:5.2f}x   "
              f"{gflop:8.1f} GFLOP/it: fp32 {gflop / t32:6.1f} GFLOP/s, bf16 {gflop / t16:6.1f}"
              f" GFLOP/s   (recons {l32:.1f} / {l16:.1f})")


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

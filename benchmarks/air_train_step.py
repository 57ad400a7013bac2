"""AIR 3D training-step speed: float32 against bfloat16 compute, side by side in one run.

A step is the canonical run's (``train_air.py`` defaults: batch 64 of 64x64 scenes,
the glimpse head, the canvas channel of the second look, mirroring, AdamW) inside
one ``tf.function``, on one fixed batch of rendered scenes. The two precisions
alternate for ``--rounds`` rounds; the medians of wall and process-CPU seconds per
step and their ratio are printed, with whether the CPU lists bfloat16 instructions
(``models.precision``: the default compute follows that).

    python benchmarks/air_train_step.py --steps 5 --rounds 3
"""
import argparse
import statistics
import sys
import time

import numpy as np

from data_provider import cli

tf = cli.quiet_tensorflow("--verbose" in sys.argv[1:])


def step_body(mixed_precision, data):
    """The canonical training step on the batch ``data`` (``generate_dataset``), untraced."""
    import keras

    from models.air.config import make_config
    from training.air_system import AIRSystem, network_inputs

    config = make_config({"mixed_precision": mixed_precision})
    keras.utils.set_random_seed(0)
    system = AIRSystem(config, steps_per_epoch=10)
    system.build()
    inputs = network_inputs(data, config, np.random.default_rng(0))
    batch = {k: tf.constant(inputs[k]) for k in ("images", "types", "positions", "rotations")}
    step = tf.Variable(0, dtype=tf.int64)
    return lambda: system.train_step(batch, step, "train")


def make_step(mixed_precision, data):
    return tf.function(step_body(mixed_precision, data), autograph=False)


def time_steps(run, steps):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, run())
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    from models import precision
    from models.air.scenes import generate_dataset

    data = generate_dataset(64, seed=0)
    runs = {"float32": make_step(False, data), "bfloat16": make_step(True, data)}
    for run in runs.values():
        time_steps(run, 1)  # trace and warm up
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            times[name].append(time_steps(run, args.steps))
    print(f"tensorflow {tf.__version__}, batch 64, {args.steps} steps x {args.rounds} rounds; "
          f"CPU bfloat16 instructions: {precision.cpu_has_bfloat16()}; "
          f"default compute here: {'bfloat16' if precision.use_bfloat16() else 'float32'}")
    print(f"{'compute':10} {'s/step':>8} {'cpu-s/step':>11}")
    medians = {}
    for name, rows in times.items():
        medians[name] = statistics.median(r[0] for r in rows)
        print(f"{name:10} {medians[name]:8.3f} {statistics.median(r[1] for r in rows):11.3f}")
    print(f"bfloat16 / float32 wall time: {medians['bfloat16'] / medians['float32']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

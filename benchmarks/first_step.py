"""The first training step with and without AutoGraph, side by side in one run.

The loop traces every system's step with ``tf.function(autograph=False)``
(``training/distribution.py``): the steps are written with TensorFlow ops, so
AutoGraph's conversion of their Python source buys nothing and costs its time at
every start. This measures that time: the first call of one system's training
step (tracing, graph optimisation and the step itself) in a fresh interpreter
(AutoGraph keeps what it converted for the life of a process), AutoGraph on and
off alternating for ``--rounds`` rounds, the medians and their ratio printed.
The same graph is built either way: its number of operations is printed, and whether the
first step's losses are equal in every run (the same seeds: they are bit for bit).

Systems: ``air`` (``train_air.py``'s default network, batch 64 of 64x64 scenes)
and ``gen`` (a small GEN: 2 DRAW steps, 16 channels, one 2x2 hotel).

    python benchmarks/first_step.py --rounds 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SYSTEMS = ("air", "gen")


def air_step():
    from air_train_step import step_body

    from models.air.scenes import generate_dataset

    return step_body(None, generate_dataset(64, seed=0))  # the canonical config and batch


def gen_step():
    from gen_train_step import make_batch

    from models.gen.config import gen_config
    from training.gen_system import GENSystem

    cfg = gen_config({"num_steps": 2, "hidden_channels": 16, "canvas_channels": 16,
                      "upsample_channels": 16, "embedding_channels": 30,
                      "embedder_channels": 32, "mlp_units": 64, "message_channels": 32})
    system = GENSystem(cfg, 1, log=lambda message: None)
    system.build()
    batch = make_batch(1)  # benchmarks/gen_train_step.py's fixed random 2x2 hotel
    return lambda: system.train_step(batch, system.optimizer.iterations, "train")


def child(system, autograph):
    """One measurement in this interpreter: prints a JSON line."""
    from data_provider import cli

    tf = cli.quiet_tensorflow(False)
    import keras

    keras.utils.set_random_seed(0)  # the same weights and noise in every run
    body = {"air": air_step, "gen": gen_step}[system]()
    run = tf.function(body, autograph=autograph)
    wall, cpu = time.perf_counter(), time.process_time()
    out = tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, run())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ops = len(run.get_concrete_function().graph.get_operations())
    values = [float(v) for v in tf.nest.flatten(out)]  # the step's losses and values
    print(json.dumps({"wall": wall, "cpu": cpu, "ops": ops, "values": values}))
    return 0


def measure(system, autograph):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", system,
                           str(int(autograph))], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"first_step.py: the {system} measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds per system")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--child", nargs=2, metavar=("SYSTEM", "AUTOGRAPH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1] == "1")
    if args.rounds < 1:
        p.error("--rounds must be a positive integer")
    print(f"first training step in a fresh interpreter, medians of {args.rounds} round(s)")
    print(f"{'system':7} {'autograph':>9} {'wall s':>7} {'cpu s':>7} {'graph ops':>9}")
    for system in args.systems:
        rows = {True: [], False: []}
        for _ in range(args.rounds):
            for autograph in (True, False):
                rows[autograph].append(measure(system, autograph))
        medians = {}
        for autograph, runs in rows.items():
            medians[autograph] = statistics.median(r["wall"] for r in runs)
            print(f"{system:7} {'on' if autograph else 'off':>9} {medians[autograph]:7.2f} "
                  f"{statistics.median(r['cpu'] for r in runs):7.2f} {runs[0]['ops']:9d}")
        same = all(r["values"] == rows[True][0]["values"] for r in rows[True] + rows[False])
        print(f"{system:7} off / on wall time: {medians[False] / medians[True]:.2f}; "
              f"the step's losses equal: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

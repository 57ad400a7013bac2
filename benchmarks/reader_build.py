"""CPU seconds to build a GQN / GEN reader and read its first batch:
``python benchmarks/reader_build.py [--data_dir D] [--rounds N]``.

Side by side in one interpreter, alternating: the strict readers (the default: a damaged
record or JPEG fails the pipeline, so nothing is masked out) and the readers that skip
damaged data (``skip_corrupt``: the records and views are masked and counted), for
``gqn_input_fn`` (mazes, 5 context views, train) and ``gen_hotel_dataset`` (2x2 test
hotels). Building a pipeline traces its map functions in Python, which is most of what a
short run or a test spends on its data; the ratio is strict / skipping. Reads the real
mazes shards beside the project by default.
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, os.pardir, "shared", "data", "gqn-dataset")


def readers(data_dir):
    """{name: make(skip_corrupt)}."""
    from data_provider.gen_hotels import gen_hotel_dataset
    from data_provider.gqn_tfr_provider import gqn_input_fn

    return {
        "gqn_input_fn": lambda skip: gqn_input_fn("mazes", 5, data_dir, "train", batch_size=2,
                                                  seed=3, skip_corrupt=skip),
        "gen_hotel_dataset": lambda skip: gen_hotel_dataset(
            "Labyrinth", data_dir, "test", batch_size=1, dims=(2,), max_dim=2, num_batches=1,
            seed=3, skip_corrupt=skip),
    }


def measure(make, skip):
    """(CPU s to build, CPU s to the first batch) of one pipeline."""
    start = time.process_time()
    data = make(skip)
    built = time.process_time()
    next(iter(data))
    return built - start, time.process_time() - built


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=SHARED, help="a GQN root holding mazes/")
    parser.add_argument("--rounds", type=int, default=5, help="pipelines of each kind")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be a positive integer")
    if not os.path.isdir(os.path.join(args.data_dir, "mazes")):
        parser.error(f"--data_dir {args.data_dir} holds no mazes/ folder")
    from data_provider import cli
    cli.quiet_tensorflow()
    print(f"{'reader':18s} {'mode':8s} {'build CPU s':>12s} {'first batch':>12s}")
    for name, make in readers(args.data_dir).items():
        measure(make, False)  # the first pipeline of a kind also loads its kernels
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for skip in (False, True):
                times[skip].append(measure(make, skip))
        medians = {}
        for skip in (False, True):
            build = statistics.median(t[0] for t in times[skip])
            first = statistics.median(t[1] for t in times[skip])
            medians[skip] = build + first
            print(f"{name:18s} {'skipping' if skip else 'strict':8s} {build:12.3f} "
                  f"{first:12.3f}")
        print(f"{name:18s} strict / skipping, build + first batch: "
              f"{medians[False] / medians[True]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train GEN (Graph Element Networks + ConvDRAW) on hotels of GQN mazes.

    python training/train_gen.py --data_dir /tmp/data/gqn-dataset \\
        --root_log_dir /tmp/logs --log_dir GEN

Flags kept from the original's ``train_scene_rendering.py``: ``--dataset``
(Labyrinth = GQN ``mazes``, Room = ``rooms_ring_camera``), ``--root_log_dir``
and ``--log_dir`` (the run folder is their join: checkpoints, ``config.json``,
``eval.json``, TensorBoard events under ``train/`` and ``eval/``),
``--layers`` (DRAW steps, 8), ``--saved_model`` (a checkpoint, or a run
folder's latest one, whose model weights start a new run); and as flags here
what the original fixes in its code: ``--batch_size`` 16, ``--seed`` 3,
``--baseline`` (the GQN composer), the hotel sizes
``--min_train_structure_dim 1 --max_train_structure_dim 2
--min_test_structure_dim 1 --max_test_structure_dim 5``, ``--max_steps``
100000 (the original's iterations; 0 builds the model, logs
``trainable parameters: N`` and exits), ``--eval_interval`` 500 (test loss
and KL per hotel size, image grids), ``--save_interval`` 1000,
``--log_steps`` 100. The data are read from the tfrecords under
``--data_dir`` (no conversion step); many GPUs or machines through the
shared loop (``TF_CONFIG``) instead of ``--device_ids``.

Added: ``--epochs`` (passes over the train scenes), ``--max_seconds``,
``--test_batches`` (raw test batches of ``max_test_dim^2`` mazes per hotel
size and evaluation, 1 as the original), ``--image_steps``,
``--mixed_precision {none,bf16}``, ``--naive`` (the original's computation
instead of the fused path), ``--direct_convolutions`` (the fused path
without Winograd convolutions: half the memory on CPU, twice the time),
``--set KEY VALUE`` (any key of ``models/gen/config.py``, e.g.
``--set hidden_channels 32`` for a quick run),
``--verbose``. A run resumes from the latest checkpoint of its folder with
the optimizer and the schedules' step.

Exit codes: 0 done, 130 interrupted (SIGINT / SIGTERM save a checkpoint first),
1 training diverged (checkpoints whose weights give a non-finite loss are set
aside, the newest good one is named), 2 bad flags, data, or a run folder of
another model.
"""
import os
import sys

from data_provider import cli, overrides

PROG = "train_gen.py"
DATA_HELP = "download mazes shards with data_provider/download_gqn.py --dataset mazes"
EPOCH_SEED_STRIDE = 7919


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Train GEN (graph composer + ConvDRAW) on "
                           "hotels of GQN mazes.")
    p.add_argument("--dataset", default="Labyrinth", choices=("Labyrinth", "Room"),
                   help="Labyrinth: GQN mazes (8 context views per maze); Room: "
                        "rooms_ring_camera (5)")
    p.add_argument("--data_dir", default="/tmp/data/gqn-dataset",
                   help="GQN root holding mazes/{train,test}/*.tfrecord")
    p.add_argument("--root_log_dir", default="/tmp/logs", help="root of the run folders")
    p.add_argument("--log_dir", default="GEN", help="run folder under --root_log_dir")
    p.add_argument("--layers", type=int, default=8, help="DRAW generation steps L")
    p.add_argument("--saved_model", default=None,
                   help="checkpoint (ckpt-N prefix or run folder) whose model starts a new run")
    p.add_argument("--batch_size", type=int, default=16,
                   help="B: a step has B max_train_dim^2 queries, split over the replicas")
    p.add_argument("--max_steps", type=int, default=100000,
                   help="stop after this many steps in total (0: build, log the size, exit)")
    p.add_argument("--epochs", type=int, default=None, help="stop after this many passes")
    p.add_argument("--max_seconds", type=float, default=None, help="time budget for training")
    p.add_argument("--seed", type=int, default=3, help="random seed")
    p.add_argument("--baseline", action="store_true", help="GQN composer instead of the graph")
    p.add_argument("--min_train_structure_dim", type=int, default=1)
    p.add_argument("--max_train_structure_dim", type=int, default=2)
    p.add_argument("--min_test_structure_dim", type=int, default=1)
    p.add_argument("--max_test_structure_dim", type=int, default=5)
    p.add_argument("--test_batches", type=int, default=1,
                   help="test batches per hotel size per evaluation")
    p.add_argument("--eval_interval", type=int, default=500, help="steps between evaluations")
    p.add_argument("--save_interval", type=int, default=1000, help="steps between checkpoints")
    p.add_argument("--log_steps", type=int, default=100, help="steps between log lines")
    p.add_argument("--image_steps", type=int, default=500,
                   help="steps between train image grids (at log steps)")
    p.add_argument("--mixed_precision", choices=("none", "bf16"), default="none")
    p.add_argument("--naive", action="store_true",
                   help="the original's computation (r and pose upsampled at every DRAW step)")
    p.add_argument("--direct_convolutions", action="store_true",
                   help="no Winograd convolutions on the fused path (CPU: about half the "
                        "memory, twice the time per step)")
    cli.add_set_argument(p, "GEN config override, e.g. --set hidden_channels 32")
    cli.add_verbose_argument(p)
    return p


def config_from_args(args):
    from models.gen.config import GEN_DEFAULT_CONFIG, gen_config

    params = {"num_steps": args.layers, "baseline": args.baseline}
    params.update(overrides.parse(cli.set_pairs(args.set), GEN_DEFAULT_CONFIG,
                                  what="GEN config"))
    try:
        return gen_config(params)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None


def check_args(args):
    """Check the flags, the config overrides and the data, in that order, before anything
    is built; returns (config, train dims, test dims)."""
    from data_provider.gqn_datasets import find_shard_files, hotel_data

    for name in ("layers", "batch_size", "test_batches", "eval_interval", "save_interval",
                 "log_steps", "image_steps"):
        if getattr(args, name) < 1:
            raise cli.UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.max_steps is not None and args.max_steps < 0:
        raise cli.UsageError(f"--max_steps must be >= 0, got {args.max_steps}")
    if args.epochs is not None and args.epochs < 1:
        raise cli.UsageError(f"--epochs must be >= 1, got {args.epochs}")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise cli.UsageError(f"--max_seconds must be > 0, got {args.max_seconds}")
    dims = {}
    for split in ("train", "test"):
        lo = getattr(args, f"min_{split}_structure_dim")
        hi = getattr(args, f"max_{split}_structure_dim")
        if not 1 <= lo <= hi <= 5:
            raise cli.UsageError(
                f"--min_{split}_structure_dim {lo} / --max_{split}_structure_dim {hi}: "
                "expected 1 <= min <= max <= 5 (hotels of up to 5x5 mazes fit the 10-wide plane)")
        dims[split] = tuple(range(lo, hi + 1))
    cfg = config_from_args(args)
    gqn_name = hotel_data(args.dataset).dataset
    for split in ("train", "test"):
        try:
            find_shard_files(args.data_dir, gqn_name, split)
        except FileNotFoundError as e:
            raise cli.UsageError(f"--data_dir: {e}; {DATA_HELP}") from None
    if args.saved_model:
        from models import checkpoints
        checkpoints.resolve(args.saved_model, "--saved_model")
    return cfg, dims["train"], dims["test"]


def train_dataset_fn(args, dims):
    """A dataset fn whose every call (one per epoch) draws new hotels."""
    from data_provider.gen_hotels import gen_hotel_dataset_fn

    calls = []

    def dataset_fn(input_context):
        calls.append(None)
        seed = args.seed + EPOCH_SEED_STRIDE * len(calls)
        return gen_hotel_dataset_fn(args.dataset, args.data_dir, "train", args.batch_size,
                                    dims=dims, seed=seed)(input_context)

    return dataset_fn


def test_dataset_fns(args, dims):
    """{"dxd": dataset fn} of test hotels of each size, the same batches every evaluation."""
    from data_provider.gen_hotels import gen_hotel_dataset

    def for_size(d):
        def dataset_fn(input_context):
            return gen_hotel_dataset(args.dataset, args.data_dir, "test", batch_size=1,
                                     dims=(d,), max_dim=max(dims),
                                     num_batches=args.test_batches, seed=args.seed + d,
                                     num_shards=input_context.num_input_pipelines,
                                     shard_index=input_context.input_pipeline_id)
        return dataset_fn

    return {f"{d}x{d}": for_size(d) for d in dims}


def run(args, log=print):
    """Train as the flags say; returns the ``loop.train`` result (None for --max_steps 0)."""
    cfg, train_dims, test_dims = check_args(args)   # before TensorFlow's start-up
    tf = cli.quiet_tensorflow(args.verbose)
    model_dir = os.path.join(args.root_log_dir, args.log_dir)
    from training.distribution import make_strategy
    strategy = make_strategy()

    import keras

    from training import loop
    from training.gen_system import GENSystem

    keras.utils.set_random_seed(args.seed)
    eval_sets = test_dataset_fns(args, test_dims)
    eval_images = {}
    system = GENSystem(cfg, args.batch_size, train_dims=train_dims, optimized=not args.naive,
                       winograd=not args.direct_convolutions,
                       mixed_precision=args.mixed_precision, saved_model=args.saved_model,
                       image_steps=args.image_steps, eval_images=eval_images, log=log,
                       run_settings={"dataset": args.dataset, "test_dims": list(test_dims),
                                     "seed": args.seed})
    if args.max_steps == 0:
        with strategy.scope():
            system.build()
        return None
    for name, fn in eval_sets.items():
        eval_images[name] = next(iter(fn(tf.distribute.InputContext())))
    try:
        result = loop.train(
            system, train_dataset_fn(args, train_dims), model_dir=model_dir,
            global_batch_size=args.batch_size, max_steps=args.max_steps, epochs=args.epochs,
            max_seconds=args.max_seconds, chkpt_steps=args.save_interval,
            log_steps=args.log_steps, eval_dataset_fn=eval_sets, eval_steps=args.eval_interval,
            strategy=strategy, model_dir_flag="--log_dir", tool=PROG, log=log)
    except loop.EmptyDatasetError:
        from data_provider import gen_hotels
        from data_provider.gqn_tfr_provider import smaller_than_a_batch
        per_hotel = max(train_dims) ** 2
        error = smaller_than_a_batch(
            args.data_dir, gen_hotels.hotel_data(args.dataset).dataset, "train",
            f"{args.batch_size} hotels of up to {max(train_dims)}x{max(train_dims)} mazes = "
            f"{args.batch_size * per_hotel}",
            lambda n: f"use --batch_size {n // per_hotel} or less")
        raise cli.UsageError(str(error)) from None
    log(f"{result['status']} at step {result['step']} (stopped by {result['stopped_by']}); "
        f"checkpoint {result['checkpoint']}")
    return result


def main(argv=None):
    args = build_parser().parse_args(argv)
    sys.exit(cli.run_main(PROG, lambda a: run(a, log=lambda m: print(m, flush=True)), args,
                          tensorflow=True))


if __name__ == "__main__":
    main()

"""Train a GQN with the ConvDRAW generator on a DeepMind GQN dataset.

    python training/train_gqn_draw.py --dataset rooms_ring_camera \\
        --data_dir /tmp/data/gqn-dataset --model_dir /tmp/models/gqn

Flags and defaults kept from tf-gqn's ``train_gqn_draw.py``: ``--data_dir
/tmp/data/gqn-dataset``, ``--dataset rooms_ring_camera``, ``--model_dir
/tmp/models/gqn``, ``--seq_length 8``, ``--context_size 5``, ``--img_size 64``,
``--adam_lr_alpha 5*10e-5``, ``--adam_lr_beta 5*10e-6``, ``--train_epochs 2``,
``--chkpt_steps 10000``, ``--batch_size 36``, ``--memcap 1.0``,
``--queue_threads 4``, ``--queue_buffer 64``, ``--log_steps 100``,
``--debug``, ``--initial_eval``; evaluation over the test split after every
epoch (and before training with ``--initial_eval``).

An epoch is one pass over the train shard files present in
``<data_dir>/<dataset>/train`` (``--samples_per_scene`` examples drawn from
every scene read). ``--batch_size`` is the global batch, split over the
replicas of the distribution strategy (all visible GPUs, or the workers of
``TF_CONFIG``).

Added: ``--enc_type``, ``--max_steps`` (0 builds the model, logs
``trainable parameters: N`` and exits), ``--max_seconds`` (a time budget for
the training steps), ``--seed``, ``--mixed_precision {none,bf16}``, ``--xla``,
``--samples_per_scene``, ``--skip_corrupt`` (skip and count damaged records
instead of stopping), ``--original_prior_timing`` (tf-gqn's off-by-one prior
in the KL), ``--set KEY VALUE [KEY VALUE ...]`` (any ``GQNConfig`` key, value
typed by its default, ``data_provider/overrides.py``, repeatable), ``--verbose``. ``--img_size``
also sets ``ENC_HEIGHT`` / ``ENC_WIDTH`` to a quarter of it (the canvas is
upsampled 4x); ``--set`` is applied last. ``--memcap`` below 1 turns on GPU
memory growth (TensorFlow 2 has no per-process fraction).

Exit codes: 0 done, 130 interrupted (SIGINT / SIGTERM save a checkpoint first),
1 training diverged (NaN / Inf; checkpoints whose weights give a non-finite
loss are set aside in ``diverged-step<N>/``, the newest good one is named and
a rerun resumes from it), 2 bad flags,
data (a damaged record is reported in one line naming the file) or a
``--model_dir`` holding another model or files this tool did not write.
"""
import sys

from data_provider import cli, overrides

PROG = "train_gqn_draw.py"
DATA_HELP = ("download shards with data_provider/download_gqn.py or render a stand-in with "
             "data_provider/render_dataset.py")


def build_parser(prog=PROG):
    """The CLI's parser; ``prog`` names the command in its errors (quickstart passes its own)."""
    p = cli.ArgumentParser(prog=prog, description="Train a GQN (ConvDRAW) with a custom "
                           "distributed loop.")
    p.add_argument("--data_dir", default="/tmp/data/gqn-dataset",
                   help="root holding <dataset>/{train,test}/*.tfrecord")
    p.add_argument("--dataset", default="rooms_ring_camera", help="name of the GQN dataset")
    p.add_argument("--model_dir", default="/tmp/models/gqn",
                   help="checkpoints, config.json, eval.json and TensorBoard events")
    p.add_argument("--seq_length", type=int, default=8, help="DRAW generation steps")
    p.add_argument("--context_size", type=int, default=5, help="context views per example")
    p.add_argument("--img_size", type=int, default=64, help="square image side")
    p.add_argument("--enc_type", choices=("pool", "tower"), default="pool",
                   help="scene representation architecture")
    p.add_argument("--adam_lr_alpha", type=float, default=5 * 10e-5, help="initial learning rate")
    p.add_argument("--adam_lr_beta", type=float, default=5 * 10e-6, help="final learning rate")
    p.add_argument("--train_epochs", type=int, default=2, help="passes over the train files")
    p.add_argument("--max_steps", type=int, default=None,
                   help="stop after this many steps in total (0: build, log the size, exit)")
    p.add_argument("--max_seconds", type=float, default=None,
                   help="stop before the training steps of this run exceed this many seconds")
    p.add_argument("--chkpt_steps", type=int, default=10000, help="steps between checkpoints")
    p.add_argument("--batch_size", type=int, default=36, help="global batch size")
    p.add_argument("--memcap", type=float, default=1.0, help="GPU memory fraction (see docs)")
    p.add_argument("--queue_threads", type=int, default=4, help="files read in parallel")
    p.add_argument("--queue_buffer", type=int, default=64, help="shuffle buffer in batches")
    p.add_argument("--log_steps", type=int, default=100, help="steps between log lines")
    p.add_argument("--debug", action="store_true", help="image summaries every --log_steps")
    p.add_argument("--initial_eval", action="store_true", help="evaluate before training")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--mixed_precision", choices=("none", "bf16"), default="none",
                   help="bf16: bfloat16 compute, float32 variables and losses")
    p.add_argument("--original_prior_timing", action="store_true",
                   help="tf-gqn's KL: posterior of step l against the prior of step l+1 "
                        "(the original's off-by-one); default: the prior of step l")
    p.add_argument("--xla", action="store_true", help="compile the step with XLA")
    p.add_argument("--samples_per_scene", type=int, default=1,
                   help="examples drawn from every scene read")
    p.add_argument("--skip_corrupt", action="store_true",
                   help="skip damaged records (logged and counted) instead of stopping")
    cli.add_set_argument(p, "override GQNConfig keys, e.g. --set LSTM_OUTPUT_CHANNELS 64")
    cli.add_verbose_argument(p)
    return p


def config_from_args(args):
    """The ``GQNConfig`` of the flags; ``UsageError`` naming a bad key or value."""
    from models.gqn import GQN_DEFAULT_PARAM_DICT, create_gqn_config

    params = {
        "IMG_HEIGHT": args.img_size, "IMG_WIDTH": args.img_size,
        "ENC_HEIGHT": args.img_size // 4, "ENC_WIDTH": args.img_size // 4,
        "CONTEXT_SIZE": args.context_size, "SEQ_LENGTH": args.seq_length,
        "ENC_TYPE": args.enc_type,
        "ADAM_LR_ALPHA": args.adam_lr_alpha, "ADAM_LR_BETA": args.adam_lr_beta,
        "ORIGINAL_PRIOR_TIMING": args.original_prior_timing,
    }
    params.update(overrides.parse(cli.set_pairs(args.set), GQN_DEFAULT_PARAM_DICT,
                                  what="GQNConfig"))
    try:
        return create_gqn_config(params)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None


def check_flags(args):
    """Check the flags and the config overrides (no file is read); returns the config."""
    from data_provider import gqn_datasets

    try:
        info = gqn_datasets.dataset_info(args.dataset)
    except ValueError as e:
        raise cli.UsageError(f"--dataset: {e}") from None
    for name in ("seq_length", "context_size", "img_size", "train_epochs", "chkpt_steps",
                 "batch_size", "queue_threads", "queue_buffer", "log_steps", "samples_per_scene"):
        if getattr(args, name) < 1:
            raise cli.UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.max_steps is not None and args.max_steps < 0:
        raise cli.UsageError(f"--max_steps must be >= 0, got {args.max_steps}")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise cli.UsageError(f"--max_seconds must be > 0, got {args.max_seconds}")
    if args.img_size % 4:
        raise cli.UsageError(f"--img_size must be a multiple of 4, got {args.img_size}")
    if args.context_size >= info.sequence_size:
        raise cli.UsageError(f"--context_size must be below the {info.sequence_size} views per "
                             f"scene of {args.dataset}, got {args.context_size}")
    if not 0.0 < args.memcap <= 1.0:
        raise cli.UsageError(f"--memcap must be in (0, 1], got {args.memcap}")
    return config_from_args(args)


def check_args(args):
    """Check the flags, the config overrides and the data folder, in that order, before
    any model is built.

    Returns the config and the train and test shard lists (test may be empty: no
    evaluation).
    """
    from data_provider.gqn_datasets import find_shard_files

    cfg = check_flags(args)
    try:
        train_files = find_shard_files(args.data_dir, args.dataset, "train")
    except FileNotFoundError as e:
        raise cli.UsageError(f"--data_dir: {e}; {DATA_HELP}") from None
    try:
        test_files = find_shard_files(args.data_dir, args.dataset, "test")
    except FileNotFoundError:
        test_files = []
    return cfg, train_files, test_files


def command_line(args):
    """The shell command that trains with ``args`` (to continue a run by hand)."""
    import shlex

    parser, words = build_parser(), []
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest in ("help", "verbose"):
            continue
        flag = action.option_strings[0]
        if action.dest == "set":
            for group in value:
                words += [flag, *group]
        elif isinstance(action.const, bool) or action.nargs == 0:
            if value:
                words.append(flag)
        elif value is not None and value != action.default:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in ["python", "training/train_gqn_draw.py", *words])


def run(args, log=print):
    """Train as the flags say; returns the ``loop.train`` result (or None for --max_steps 0)."""
    cfg, train_files, test_files = check_args(args)  # before TensorFlow's seconds of start-up
    tf = cli.quiet_tensorflow(args.verbose)
    log(f"{args.dataset}: {len(train_files)} train and {len(test_files)} test files in "
        f"{args.data_dir}")
    if args.memcap < 1.0:
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    from training.distribution import make_strategy
    strategy = make_strategy()

    import keras

    from data_provider.gqn_tfr_provider import gqn_dataset_fn
    from training import loop
    from training.gqn_system import GQNSystem

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    system = GQNSystem(cfg, args.batch_size, mixed_precision=args.mixed_precision,
                       xla=args.xla, debug=args.debug, log=log)
    if args.max_steps == 0:
        with strategy.scope():
            system.build()
        return None
    common = dict(custom_frame_size=args.img_size, num_threads=args.queue_threads,
                  buffer_size=args.queue_buffer, skip_corrupt=args.skip_corrupt)
    train_fn = gqn_dataset_fn(args.dataset, cfg.CONTEXT_SIZE, args.data_dir, "train",
                              args.batch_size, seed=args.seed,
                              samples_per_scene=args.samples_per_scene, **common)
    eval_fn = None
    if test_files:
        eval_fn = gqn_dataset_fn(args.dataset, cfg.CONTEXT_SIZE, args.data_dir, "test",
                                 args.batch_size, seed=0 if args.seed is None else args.seed,
                                 **common)
    else:
        log(f"no test files for {args.dataset} in {args.data_dir}: evaluation is skipped")
    try:
        result = loop.train(
            system, train_fn, model_dir=args.model_dir, global_batch_size=args.batch_size,
            max_steps=args.max_steps, epochs=args.train_epochs, max_seconds=args.max_seconds,
            chkpt_steps=args.chkpt_steps, log_steps=args.log_steps, eval_dataset_fn=eval_fn,
            initial_eval=args.initial_eval, strategy=strategy, tool=PROG, log=log)
    except loop.EmptyDatasetError:
        from data_provider.gqn_tfr_provider import smaller_than_a_batch
        error = smaller_than_a_batch(args.data_dir, args.dataset, "train", args.batch_size,
                                     lambda n: f"use --batch_size {n} or less")
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

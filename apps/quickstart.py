"""The quick-start job behind ``bash run.sh demo``: data, minutes of GQN training, novel views.

    python apps/quickstart.py [--data_dir D] [--minutes 5] [train_gqn_draw.py flags]

1. Without ``--data_dir``, renders the rooms_ring_camera stand-in into
   ``./demo/data`` (``--num_train`` 2000 / ``--num_test`` 200 scenes, about a
   minute on two cores) unless train shards are already there. Of the stand-ins
   this one learns fastest on a CPU: measured against the mean training image and
   the nearest context view with ``evaluation/gqn_baselines.py`` (see README), the
   ``shepard_metzler_5_parts`` stand-in stayed above its (strong) mean-image
   baseline after 1200 steps where rooms were 29 % below theirs; 2000 scenes keep
   a few thousand steps from overfitting.
2. Trains a small configuration (32x32 images, 3 context views, 4 DRAW
   steps, 32-channel LSTMs, 16 latent channels, the pixel sigma held at 2.0
   instead of annealed from 2.0 to 0.7: measured, generated views then keep
   improving for 10,000 steps where with a sigma annealed to 0.7 they got worse
   after 3,000 (README), 4 examples drawn per scene read) into
   ``./demo/model`` for ``--minutes`` minutes of training steps (the loop's
   time budget: it stops before a step that would overrun it, saves a
   checkpoint and ends as completed), resuming when a checkpoint is there.
   Every other flag goes to ``train_gqn_draw.py`` and overrides these defaults
   (e.g. ``--batch_size 16`` or ``--set LSTM_OUTPUT_CHANNELS 64``).
3. Renders novel views with ``evaluation/gqn_views.py`` into ``./demo/views``,
   prints where everything is and the exact ``train_gqn_draw.py`` command that
   continues the training by hand.

Exit codes: 0 done, 1 training diverged, 2 bad flags or data, 130 stopped by
the user (Ctrl-C: the checkpoint is saved, no views are rendered).
"""
import os
import sys

from data_provider import cli

PROG = "quickstart.py"

DATASET = "rooms_ring_camera"
DEMO_TRAIN_FLAGS = [
    "--img_size", "32", "--context_size", "3", "--seq_length", "4", "--batch_size", "8",
    "--log_steps", "20", "--chkpt_steps", "200", "--train_epochs", "100000",
    "--samples_per_scene", "4",
    "--set", "LSTM_OUTPUT_CHANNELS", "32", "--set", "LSTM_CANVAS_CHANNELS", "32",
    "--set", "Z_CHANNELS", "16", "--set", "ENC_CHANNELS", "64",
    "--set", "GENERATOR_SIGMA_BETA", "2.0",
]


def build_parser():
    p = cli.ArgumentParser(
        prog=PROG, description="Render demo data, train a small GQN for a few minutes, render "
                               "novel views. Unknown flags are passed to train_gqn_draw.py.")
    p.add_argument("--data_dir", default=None,
                   help="existing GQN data root (default: render ./demo/data when absent)")
    p.add_argument("--demo_dir", default="demo", help="where data/, model/ and views/ go")
    p.add_argument("--minutes", type=float, default=5.0,
                   help="time budget of the training steps of this run")
    p.add_argument("--num_train", type=int, default=2000, help="scenes to render for training")
    p.add_argument("--num_test", type=int, default=200, help="scenes to render for testing")
    p.add_argument("--num_scenes", type=int, default=4, help="test scenes for the novel views")
    p.add_argument("--seed", type=int, default=0, help="seed of the rendered scenes")
    return p


def _has_train_shards(root):
    from data_provider import gqn_datasets

    folder = gqn_datasets.split_dir(root, DATASET, "train")
    return os.path.isdir(folder) and any(n.endswith(".tfrecord") for n in os.listdir(folder))


def prepare_data(args, log=print):
    """The data root to train on, rendering the demo data first when needed."""
    if args.data_dir is not None:
        return args.data_dir
    root = os.path.join(args.demo_dir, "data")
    if _has_train_shards(root):
        log(f"[demo] using the rendered data in {root}")
        return root
    from data_provider.render_dataset import render_dataset

    log(f"[demo] rendering {args.num_train} train and {args.num_test} test scenes of "
        f"{DATASET} into {root} (once)")
    written = render_dataset(DATASET, root, args.num_train, args.num_test, seed=args.seed)
    log(f"[demo] rendered at {written['scenes_per_minute']:.0f} scenes/min")
    return root


def render_views(model_dir, data_dir, dataset, num_scenes, views_dir, log=print):
    """Novel views of the trained model (``evaluation/gqn_views.py``) into ``views_dir``;
    returns their test metrics."""
    from evaluation import gqn_views

    args = gqn_views.build_parser().parse_args(
        ["--model_dir", model_dir, "--data_dir", data_dir, "--dataset", dataset,
         "--num_scenes", str(num_scenes), "--out", views_dir])
    return gqn_views.run(args, log=log)


def run(argv=None, log=print):
    args, extra = build_parser().parse_known_args(argv)
    if args.minutes <= 0:
        raise cli.UsageError(f"--minutes must be > 0, got {args.minutes}")
    from training import train_gqn_draw

    model_dir = os.path.join(args.demo_dir, "model")
    views_dir = os.path.join(args.demo_dir, "views")
    data_root = args.data_dir or os.path.join(args.demo_dir, "data")
    train_argv = (["--data_dir", data_root, "--dataset", DATASET, "--model_dir", model_dir,
                   "--max_seconds", str(args.minutes * 60.0)] + DEMO_TRAIN_FLAGS + extra)
    train_args = train_gqn_draw.build_parser(prog=PROG).parse_args(train_argv)
    train_gqn_draw.check_flags(train_args)  # a bad flag or --set is named before any rendering
    data_dir = prepare_data(args, log)
    log(f"[demo] training for {args.minutes:g} minutes into {model_dir}")
    result = train_gqn_draw.run(train_args, log=log)
    if result is None:
        return 0
    if result["status"] == "interrupted":
        log(f"[demo] stopped; resume with the same command. Checkpoint: {result['checkpoint']}")
        return cli.EXIT_INTERRUPTED
    render_views(model_dir, data_dir, train_args.dataset, args.num_scenes, views_dir, log)
    train_args.max_seconds = None
    log("[demo] outputs:\n"
        f"  data:        {data_dir}\n"
        f"  checkpoints: {model_dir} (config.json, eval.json, ckpt-N; run again to train more)\n"
        f"  TensorBoard: tensorboard --logdir {model_dir}\n"
        f"  novel views: {views_dir}/views.png, {views_dir}/ring_*.gif, *.npy, metrics.json\n"
        f"  train more by hand: {train_gqn_draw.command_line(train_args)}")
    log(f"[demo] completed: {result['step']} training steps in {model_dir}")
    return 0


def main(argv=None):
    code = {}

    def job(a):
        code["exit"] = run(a, log=lambda m: print(m, flush=True))

    status = cli.run_main(PROG, job, argv, tensorflow=True)
    sys.exit(status if status else code.get("exit", 0))


if __name__ == "__main__":
    main()

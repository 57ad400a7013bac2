"""The quick-start job behind ``bash run.sh demo``: data, a few minutes of GQN training, novel views.

    python training/quickstart.py [--data_dir D] [--minutes 5] [train_gqn_draw.py flags]

1. Without ``--data_dir``, renders the rooms_ring_camera stand-in into
   ``./demo/data`` (``--num_train`` / ``--num_test`` scenes) unless train
   shards are already there.
2. Trains a small configuration (32x32 images, 3 context views, 4 DRAW
   steps, 32-channel LSTMs, 16 latent channels, sigma annealed over 2000
   steps instead of 200000 so that a short run gets sharp, 4 examples drawn
   per scene read) into
   ``./demo/model`` for ``--minutes`` minutes of wall time, resuming when a
   checkpoint is there. When the time is up the run stops as on SIGTERM:
   checkpoint, clean exit. Every other flag goes to ``train_gqn_draw.py`` and
   overrides these defaults (e.g. ``--batch_size 16`` or
   ``--set LSTM_OUTPUT_CHANNELS 64``).
3. Runs ``evaluation/gqn_views.py`` into ``./demo/views`` and prints where
   everything is.

Exit codes: 0 done, 1 training diverged, 2 bad flags or data, 130 stopped by
the user (Ctrl-C: the checkpoint is saved, no views are rendered).
"""
import argparse
import os
import signal
import sys
import threading
import time

DATASET = "rooms_ring_camera"
DEMO_TRAIN_FLAGS = [
    "--img_size", "32", "--context_size", "3", "--seq_length", "4", "--batch_size", "8",
    "--log_steps", "20", "--chkpt_steps", "200", "--train_epochs", "100000",
    "--samples_per_scene", "4",
    "--set", "LSTM_OUTPUT_CHANNELS", "32", "--set", "LSTM_CANVAS_CHANNELS", "32",
    "--set", "Z_CHANNELS", "16", "--set", "ENC_CHANNELS", "64",
    "--set", "ANNEAL_SIGMA_TAU", "2000",
]


def build_parser():
    p = argparse.ArgumentParser(
        description="Render demo data, train a small GQN for a few minutes, render novel views. "
                    "Unknown flags are passed to train_gqn_draw.py.")
    p.add_argument("--data_dir", default=None,
                   help="existing GQN data root (default: render ./demo/data when absent)")
    p.add_argument("--demo_dir", default="demo", help="where data/, model/ and views/ go")
    p.add_argument("--minutes", type=float, default=5.0, help="wall-clock training budget per run")
    p.add_argument("--num_train", type=int, default=200, help="scenes to render for training")
    p.add_argument("--num_test", type=int, default=20, help="scenes to render for testing")
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


class _Deadline:
    """Sends this process SIGTERM after ``minutes`` (the loop then saves and stops)."""

    def __init__(self, minutes):
        self.fired = False
        self.end = time.monotonic() + minutes * 60.0
        self._timer = threading.Timer(minutes * 60.0, self._fire)
        self._timer.daemon = True

    def log_with_time_left(self, log):
        """``log`` whose progress lines end with the time left of the budget.

        The demo trains for a fixed time, so the loop's ETA (from the epoch
        count) means nothing here; it is replaced by the budget's end.
        """
        def wrapped(message):
            if ", ETA " in message:
                left = max(0, int(self.end - time.monotonic()))
                message = message.split(", ETA ")[0] + f", {left // 60}:{left % 60:02d} left"
            log(message)
        return wrapped

    def _fire(self):
        self.fired = True
        os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False


def run(argv=None, log=print):
    args, extra = build_parser().parse_known_args(argv)
    if args.minutes <= 0:
        raise SystemExit("quickstart.py: error: --minutes must be > 0")
    from training import train_gqn_draw
    from evaluation import gqn_views

    data_dir = prepare_data(args, log)
    model_dir = os.path.join(args.demo_dir, "model")
    views_dir = os.path.join(args.demo_dir, "views")
    train_argv = (["--data_dir", data_dir, "--dataset", DATASET, "--model_dir", model_dir]
                  + DEMO_TRAIN_FLAGS + extra)
    train_args = train_gqn_draw.build_parser().parse_args(train_argv)
    log(f"[demo] training for {args.minutes:g} minutes into {model_dir}")
    with _Deadline(args.minutes) as deadline:
        result = train_gqn_draw.run(train_args, log=deadline.log_with_time_left(log))
    if result is None:
        return 0
    if result["status"] == "interrupted" and not deadline.fired:
        log(f"[demo] stopped; resume with the same command. Checkpoint: {result['checkpoint']}")
        return 130
    view_args = gqn_views.build_parser().parse_args(
        ["--model_dir", model_dir, "--data_dir", data_dir, "--dataset", train_args.dataset,
         "--num_scenes", str(args.num_scenes), "--out", views_dir])
    gqn_views.run(view_args, log=log)
    log("[demo] outputs:\n"
        f"  data:        {data_dir}\n"
        f"  checkpoints: {model_dir} (config.json, eval.json, ckpt-N; run again to train more)\n"
        f"  TensorBoard: tensorboard --logdir {model_dir}\n"
        f"  novel views: {views_dir}/views.png, {views_dir}/ring_*.gif, *.npy, metrics.json")
    return 0


def main(argv=None):
    from evaluation.gqn_views import UsageError as ViewsUsageError
    import tensorflow as tf
    from training import loop
    from training.train_gqn_draw import UsageError, one_line

    def log(message):
        print(message, flush=True)

    try:
        code = run(argv, log)
    except (UsageError, ViewsUsageError, ValueError, FileExistsError) as e:
        print(f"quickstart.py: error: {e}", file=sys.stderr)
        code = 2
    except loop.TrainingDivergedError as e:
        print(f"quickstart.py: training diverged: {e}", file=sys.stderr)
        code = 1
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as e:
        print(f"quickstart.py: data error: {one_line(e)}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()

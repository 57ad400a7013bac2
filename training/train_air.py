"""Train the AIR 3D primitives inference network on freshly rendered scenes.

    python training/train_air.py --seed 0 --image-size 64 --max-primitives 3 \\
        --n-epochs 80 --n-train 3000 --n-test 500 --weight-decay 1e-3 --out air_run

The reference's flags and defaults (``--seed 0 --image-size 64
--max-primitives 3 --n-epochs 80 --n-train 3000 --n-test 500 --weight-decay
1e-3``); added: ``--out`` (the output folder), ``--camera`` (``orthographic``,
the default, or ``perspective``: ``models.air.scenes``; part of the model),
``--camera-range AZ_MIN AZ_MAX EL_MIN EL_MAX`` (degrees: each scene's camera
drawn in it, the network reading it too; part of the model; without it the
one isometric camera),
``--set KEY VALUE [KEY VALUE ...]`` (any key of
``models.air.config.DEFAULT_CONFIG``, repeatable), ``--render-workers``
(processes rendering the scenes) and ``--verbose``.
``--set`` values are typed by the defaults (``data_provider.overrides``); the
search's keys (``models.air.search.config``) can be changed later without
retraining (``evaluate_air --set``).

Renders ``n_train`` training, ``n_val`` validation and ``n_test`` test scenes
(independent random streams of ``--seed``), trains with the shared loop
(``training/loop.py``, system ``training/air_system.py``), evaluates on the
validation scenes after every epoch, restores the weights of the best
validation epoch and measures them on the test scenes. Writes to ``--out``:

* ``results.json``: ``config``, ``metrics`` (``models.air.metrics``),
  ``history`` (per epoch the mean training terms and the validation terms),
  ``best_epoch``, ``timing`` (synthesis, training and evaluation seconds, the
  CPU seconds of this process, which do not depend on other people's load, and
  the load average) and ``environment`` (Python, TensorFlow, numpy, SciPy, OS,
  processor, cores);
* ``weights.npz``: the restored weights and the model config (an export;
  ``evaluation/run.py --mode evaluate_air`` reads it or the run folder);
* ``snapshots.npz``: predictions for 6 validation scenes after every epoch
  (the frames of ``visualization/air_pictures.py``'s animation);
* ``model/``: the shared checkpoints (``models/checkpoints.py``, one per
  epoch and one when stopped; ``models.restore`` rebuilds the best epoch's
  network from them), ``config.json``, ``eval.json`` and TensorBoard events.

The same seed gives the same scenes, initial weights, training and metrics on
the same machine. ``--out`` is held by one writer at a time (a second one is
refused, naming the holder). Ctrl-C or SIGTERM saves a checkpoint and stops
without final results (exit 130); the same command run again resumes from
the latest checkpoint (also after ``kill -9``) and says so; evaluations the
stopped run made after that checkpoint are dropped from ``eval.json``. A
rerun with other data, network, loss or training settings is refused (the
search's may differ), a run of the other camera among them; so is an
``--out`` holding files this tool did not write. Exit codes: 0 done, 1
training diverged, 2 bad flags or output folder, 130 stopped.
"""
import json
import os
import platform
import sys
import time

from data_provider import cli
from models import precision
from models.air.scenes import CAMERAS

PROG = "train_air.py"
MARK = "gen3d-scenes air3d"
OUTPUTS = ("results.json", "weights.npz", "snapshots.npz")
SNAPSHOT_SCENES = 6
FLAG_KEYS = ("seed", "image_size", "max_primitives", "n_epochs", "n_train", "n_test",
             "weight_decay", "camera", "camera_range")


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Train the AIR 3D primitives inference "
                           "network on rendered scenes.")
    p.add_argument("--seed", type=int, default=0, help="scenes, initial weights and data order")
    p.add_argument("--image-size", type=int, default=64, help="square image side in pixels")
    p.add_argument("--max-primitives", type=int, default=3, help="primitives per scene: 1 to K")
    p.add_argument("--n-epochs", type=int, default=80, help="passes over the training scenes")
    p.add_argument("--n-train", type=int, default=3000, help="training scenes")
    p.add_argument("--n-test", type=int, default=500, help="test scenes (metrics)")
    p.add_argument("--weight-decay", type=float, default=1e-3,
                   help="AdamW decoupled weight decay (per step: learning rate x this), "
                   "kernels only")
    p.add_argument("--camera", choices=CAMERAS, default="orthographic",
                   help="the scenes' camera (models/air/scenes.py); part of the model")
    add_camera_range_argument(p, "AZ_MIN AZ_MAX EL_MIN EL_MAX: each scene's camera drawn in "
                              "this range (degrees; azimuth from +x towards +y, elevation "
                              "above the ground plane), the network reading it too; part of "
                              "the model [the isometric camera, 45 35.26]")
    p.add_argument("--out", default="air_run", help="output folder")
    p.add_argument("--render-workers", type=int, default=1,
                   help="processes rendering the scenes (1: in this process)")
    p.add_argument("--log-epochs", type=int, default=5, help="epochs between progress lines")
    p.add_argument("--chkpt-steps", type=int, default=None,
                   help="steps between checkpoints [one epoch]")
    cli.add_set_argument(p, "AIR config override, e.g. --set head slots matching sorted")
    cli.add_verbose_argument(p)
    return p


def add_camera_range_argument(parser, help_text):
    """``--camera-range AZ_MIN AZ_MAX EL_MIN EL_MAX`` (degrees; the count is checked with the
    values, ``models.air.scenes.check_camera_range``, to say what is wrong in one line)."""
    parser.add_argument("--camera-range", nargs="+", type=float, default=None,
                        metavar="DEGREES", help=help_text)


def config_from_args(args):
    """The AIR config of the flags; ``UsageError`` naming a bad key or value."""
    from data_provider import overrides as override_parser
    from models.air.config import DEFAULT_CONFIG, ConfigError, make_config

    if args.render_workers < 1:
        raise cli.UsageError(f"--render-workers must be >= 1, got {args.render_workers}")
    if args.log_epochs < 1:
        raise cli.UsageError(f"--log-epochs must be >= 1, got {args.log_epochs}")
    if args.chkpt_steps is not None and args.chkpt_steps < 1:
        raise cli.UsageError(f"--chkpt-steps must be >= 1, got {args.chkpt_steps}")
    overrides = {"seed": args.seed, "image_size": args.image_size,
                 "max_primitives": args.max_primitives, "n_epochs": args.n_epochs,
                 "n_train": args.n_train, "n_test": args.n_test,
                 "weight_decay": args.weight_decay, "camera": args.camera,
                 "camera_range": args.camera_range}
    pairs = cli.set_pairs(args.set)
    for key, _ in pairs:
        if key in overrides:
            raise cli.UsageError(f"--set {key}: use the flag --{key.replace('_', '-')}")
    overrides.update(override_parser.parse(pairs, DEFAULT_CONFIG, what="AIR config"))
    try:
        config = make_config(overrides)
    except ConfigError as e:   # name the flag the user gave, not the config key
        key, rest = str(e).split(" ", 1)
        flag = f"--{key.replace('_', '-')}" if key in FLAG_KEYS else f"--set {key}"
        raise cli.UsageError(f"{flag} {rest}") from None
    if config["n_train"] < config["batch_size"]:
        raise cli.UsageError(f"--n-train must be at least the batch size {config['batch_size']}, "
                             f"got {config['n_train']}")
    return config


def check_out(out, config=None):
    """Refuse an ``--out`` holding files this tool did not write, or a run of other settings.

    A run of the same settings (the search's may differ) is resumed; returns the
    checkpoint to resume from, or None.
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise cli.UsageError(f"--out {out} is a file, expected a folder")
    for name in OUTPUTS:
        path = os.path.join(out, name)
        if os.path.exists(path) and not _ours(path):
            raise cli.UsageError(f"--out {out}: {name} was not written by {PROG}; it is left "
                                 "untouched: choose another --out")
    model_dir = os.path.join(out, "model")
    if config is None or not os.path.isdir(model_dir):
        return None
    from models.air.config import model_config
    from models.air.search.config import SEARCH_DEFAULTS
    from models.checkpoints import latest, read_config
    from training.checkpointing import ConfigMismatchError, check_model_dir, differences

    checkpoint = latest(model_dir)
    saved = read_config(model_dir)
    trained = (saved or {}).get("model", {}).get("camera", "orthographic")
    if checkpoint is not None and saved and saved.get("system") == "air3d" and \
            trained != config["camera"]:
        raise ConfigMismatchError(
            f"--camera {config['camera']}: --out {out} holds a run of the {trained} camera "
            f"(another model); rerun it with --camera {trained} to resume it, or choose "
            "another --out")
    trained_range = (saved or {}).get("model", {}).get("camera_range")
    if checkpoint is not None and saved and saved.get("system") == "air3d" and \
            trained_range != config["camera_range"]:
        said = lambda r: "the isometric camera" if r is None else \
            "--camera-range " + " ".join(f"{v:g}" for v in r)  # noqa: E731
        raise ConfigMismatchError(
            f"{said(config['camera_range'])}: --out {out} holds a run of "
            f"{said(trained_range)} (another model); rerun it with that to resume it, or "
            "choose another --out")
    if checkpoint is not None and saved and saved.get("system") == "air3d" and \
            "input_channels" in saved.get("model", {}):
        # the network keeps the canvas channel it was trained with, whatever ``repeat`` says
        config["input_channels"] = saved["model"]["input_channels"]
    saved = check_model_dir(model_dir, "air3d", model_config(config), "--out")
    if saved is None or checkpoint is None:
        return None
    from models.air.config import CAMERA_RANGE_KEYS

    # the camera and its range: the model's
    ignored = set(SEARCH_DEFAULTS) | {"deterministic", "camera", *CAMERA_RANGE_KEYS}
    run = {k: v for k, v in config.items() if k not in model_config(config) and k not in ignored}
    before = {k: v for k, v in saved.get("run", {}).items() if k in run}
    diffs = differences(before, run)
    if diffs:
        raise ConfigMismatchError(
            f"--out {out} holds a run of other settings (" + "; ".join(diffs)
            + "); rerun it with its own settings to resume it, or choose another --out")
    return checkpoint


def _ours(path):
    try:
        if path.endswith(".json"):
            with open(path) as f:
                return json.load(f).get("written_by") == MARK
        import numpy as np
        with np.load(path, allow_pickle=False) as z:
            return str(z["written_by"]) == MARK
    except Exception:  # anything unreadable is not ours
        return False


def environment():
    """Python, TensorFlow, numpy, SciPy, OS and processor of this machine."""
    import numpy as np
    import scipy
    import tensorflow as tf

    processor = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            processor = next((line.split(":", 1)[1].strip() for line in f
                              if line.startswith("model name")), processor)
    except OSError:
        pass
    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__,
            "os": platform.platform(), "processor": processor or platform.machine(),
            "cpu_bfloat16": precision.cpu_has_bfloat16(),
            "cpu_count": os.cpu_count()}


def synthesise(config, workers=1, log=print):
    """Training, validation and test scenes: (dict split -> arrays, seconds)."""
    import numpy as np

    from data_provider.progress import Progress
    from models.air.config import input_channels
    from models.air.scenes import generate_dataset, sample_cameras, seen_from, turn_about_view
    from training.air_system import network_inputs

    start = time.monotonic()
    sizes = {"train": config["n_train"], "val": config["n_val"], "test": config["n_test"]}
    progress = Progress("render", sum(sizes.values()), "scenes", log=log)
    data, done = {}, 0
    for split, n in sizes.items():
        data[split] = generate_dataset(
            n, config["seed"], config["image_size"], config["max_primitives"], split,
            config["supersample"], workers=workers,
            progress=lambda k, base=done: progress.update(base + k), camera=config["camera"],
            camera_range=config["camera_range"])
        done += n
    if config["camera_range"] is None:
        # The training scenes turned about the view axis (``models.air.scenes.turn_about_view``).
        data["train_turns"] = [turn_about_view(data["train"], t, config["image_size"],
                                               config["supersample"], workers, config["camera"])
                               for t in range(1, config["turns"])]
    else:
        # A turn about the view axis would roll the camera: the training scenes are seen
        # instead by other cameras of the range (a stream of their own).
        views = np.random.default_rng(np.random.SeedSequence([config["seed"], 2000]))
        data["train_turns"] = [
            seen_from(data["train"], sample_cameras(config["n_train"], views,
                                                    config["camera_range"]),
                      config["image_size"], config["supersample"], workers, config["camera"])
            for _ in range(1, config["turns"])]
    # What the network is taught from: with ``repeat``, the scenes with their canvases.
    rng = np.random.default_rng(np.random.SeedSequence([config["seed"], 1000]))
    teach = lambda d: network_inputs(d, config, rng, workers)  # noqa: E731
    draws = config["canvas_draws"] if input_channels(config) > 1 else 1
    data["train_inputs"] = [teach(d) for d in [data["train"]] + data["train_turns"]
                            for _ in range(draws)]
    data["val_inputs"] = teach(data["val"])
    return data, time.monotonic() - start


def save_weights(path, model, config):
    """``weights.npz``: every weight of ``model`` in order, the model config, the run's
    search settings and our mark."""
    import numpy as np

    from models.air.config import model_config
    from models.air.search.config import search_config

    arrays = {f"w{i:04d}": w.numpy() for i, w in enumerate(model.weights)}
    with open(path, "wb") as f:
        np.savez(f, written_by=MARK, config=json.dumps(model_config(config)),
                 search=json.dumps(search_config(config)), **arrays)


def resume_point(checkpoint):
    """Where a run resumes: ``(step, loop epoch, evaluations done)`` of ``checkpoint``."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint)
    value = lambda name: int(reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE"))  # noqa: E731
    return value("step"), value("epoch"), value("progress/evaluations")


def train(config, out, workers=1, log_epochs=5, log=print, checkpoint=None, chkpt_steps=None):
    """Render, train (or resume from ``checkpoint``), restore the best epoch, measure; writes
    the outputs. Returns the results, or ``{"status": "interrupted", ...}`` when stopped."""
    import keras
    import tensorflow as tf

    from models.air import metrics
    from models.air.search import predict_slots
    from training import loop, run_folder
    from training.air_system import AIRSystem, dataset_fn

    load_start = os.getloadavg()
    cpu_start = time.process_time()
    data, synth_seconds = synthesise(config, workers, log)
    synth_cpu = time.process_time() - cpu_start
    keras.utils.set_random_seed(config["seed"])
    if config["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    batch = config["batch_size"]
    steps_per_epoch = config["n_train"] // batch
    model_dir = os.path.join(out, "model")
    # A resumed run carries on with the epoch it stopped in, its batches already trained
    # on left out; at an epoch's end, its evaluation is done first if it was not saved.
    step, loop_epoch, evaluated = 0, 0, 0
    if checkpoint is not None:
        step, loop_epoch, evaluated = resume_point(checkpoint)
    done, into = divmod(step, steps_per_epoch)
    initial_eval = evaluated < done
    if checkpoint is not None:
        dropped = run_folder.trim_history(model_dir, step - 1 if initial_eval else step)
        log(f"resuming the run in {out} from {os.path.basename(checkpoint)}: step {step} of "
            f"{steps_per_epoch * config['n_epochs']}, {done} of {config['n_epochs']} epochs done"
            + (f"; {dropped} later evaluation(s) of the stopped run dropped" if dropped else ""))
    system = AIRSystem(config, steps_per_epoch, data["val"]["images"][:SNAPSHOT_SCENES])
    bfloat16 = precision.use_bfloat16(config["mixed_precision"])
    if config["mixed_precision"] is None:
        log("compute in bfloat16 (the hardware has bfloat16 units)" if bfloat16 else
            "compute in float32 (no bfloat16 units here; --set mixed_precision True forces "
            "bfloat16)")
    seed = config["seed"]
    versions = data["train_inputs"]
    train_fn = dataset_fn(versions[0], batch, shuffle_seed=lambda epoch: seed * 100003 + epoch,
                          versions=versions[1:], first_epoch=done, skip=into)
    val_fn = dataset_fn(data["val_inputs"], batch)
    start, cpu_start = time.monotonic(), time.process_time()
    os.makedirs(out, exist_ok=True)
    result = loop.train(system, train_fn, model_dir=model_dir, global_batch_size=batch,
                        epochs=loop_epoch + config["n_epochs"] - done,
                        chkpt_steps=chkpt_steps or steps_per_epoch,
                        log_steps=steps_per_epoch * log_epochs,
                        eval_dataset_fn=val_fn, initial_eval=initial_eval,
                        model_dir_flag="--out", tool=PROG, log=log)
    if result["status"] == "interrupted":
        log(f"stopped at step {result['step']}, saved in {result['checkpoint']}; run the same "
            "command again to resume")
        return result
    train_seconds = time.monotonic() - start
    train_cpu = time.process_time() - cpu_start
    start = time.monotonic()
    test = data["test"]
    log(f"[test] searching the answers for {len(test['images'])} test scenes")
    pred = predict_slots(system.model, test["images"], config, log=log)
    measured = metrics.compute_metrics(pred, test, metrics.assign_slots(pred, test, config),
                                       config["camera"])
    eval_seconds = time.monotonic() - start
    results = {
        "written_by": MARK,
        "config": config,
        "metrics": dict(measured, best_epoch=system.best_epoch,
                        synthesis_seconds=synth_seconds, training_seconds=train_seconds),
        "history": system.history(),
        "best_epoch": system.best_epoch,
        "status": result["status"],
        "resumed_from_step": step if checkpoint is not None else None,
        "timing": {"synthesis_seconds": synth_seconds, "training_seconds": train_seconds,
                   "evaluation_seconds": eval_seconds, "synthesis_cpu_seconds": synth_cpu,
                   "training_cpu_seconds": train_cpu, "load_average_start": load_start,
                   "load_average_end": os.getloadavg()},
        "environment": environment(),
        "compute_dtype": system.model.dtype_policy.compute_dtype,
    }
    write_outputs(out, results, system, data["val"], config)
    return results


def write_outputs(out, results, system, val, config):
    """``results.json``, ``weights.npz`` and ``snapshots.npz``, all together or none."""
    import numpy as np

    with cli.OutputSet(out) as outputs:
        with open(outputs.path("results.json"), "w") as f:
            json.dump(results, f, indent=2)
        save_weights(outputs.path("weights.npz"), system.model, config)
        snaps = system.snapshots()
        with open(outputs.path("snapshots.npz"), "wb") as f:
            np.savez(f, written_by=MARK, images=val["images"][:SNAPSHOT_SCENES],
                     **snaps, **{f"true_{k}": val[k][:SNAPSHOT_SCENES]
                                 for k in ("types", "positions", "rotations", "euler", "camera")
                                 if k in val})


def summary_lines(results):
    """The metrics table as text lines."""
    m, t = results["metrics"], results["timing"]
    fmt = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
    perspective = results["config"].get("camera") == "perspective"
    camera_range = results["config"].get("camera_range")
    return [
        *(["camera                  perspective"] if perspective else []),
        *([f"camera range            {' '.join(f'{v:g}' for v in camera_range)} degrees"]
          if camera_range is not None else []),
        *([f"camera error (median)   azimuth {m['camera_azimuth_error_median']:.2f}, "
           f"elevation {m['camera_elevation_error_median']:.2f} degrees"]
          if "camera_azimuth_error_median" in m else []),
        f"count accuracy          {100 * m['count_accuracy']:.1f} %",
        f"presence accuracy       {100 * m['presence_accuracy']:.1f} %",
        f"type accuracy           {100 * m['type_accuracy']:.1f} %",
        f"position MAE x/y/z      {fmt(m['position_mae'])}",
        (f"  image point alone     {fmt(m['depth_blind_position_mae'])}" if perspective else
         f"  depth-blind bound     {fmt(m['depth_blind_position_mae'])}"),
        f"  right/up/depth        {fmt(m['position_mae_view'])}",
        f"rotation MAE (Euler)    {fmt(m['rotation_mae_euler'])} rad",
        f"rotation geodesic (sym) mean {m['rotation_geodesic_mean']:.3f}, median "
        f"{m['rotation_geodesic_median']:.3f} rad",
        f"best validation epoch   {results['best_epoch']} / {results['config']['n_epochs']}",
        f"synthesis + training    {t['synthesis_seconds']:.1f} s + {t['training_seconds']:.1f} s",
    ]


def run(args, log=print):
    from data_provider import folder_lock

    config = config_from_args(args)
    check_out(args.out, config)
    with folder_lock.hold(args.out, "--out", PROG, log):
        checkpoint = check_out(args.out, config)
        results = train(config, args.out, args.render_workers, args.log_epochs, log, checkpoint,
                        args.chkpt_steps)
        if results.get("status") == "interrupted":
            return results
    for line in summary_lines(results):
        log(line)
    log(f"wrote {os.path.join(args.out, 'results.json')} and weights.npz")
    return results


def main(argv=None):
    """Command line: returns the exit code."""
    args = build_parser().parse_args(argv)
    code = cli.run_main(PROG, lambda a: (config_from_args(a), check_out(a.out)), args)
    if code:
        return code
    cli.quiet_tensorflow(args.verbose)
    from training.loop import TrainingDivergedError
    outcome = {}
    code = cli.run_main(PROG, lambda a: outcome.update(result=run(a)), args,
                        failure_types=(TrainingDivergedError,), tensorflow=True)
    if code == cli.EXIT_OK and outcome["result"].get("status") == "interrupted":
        return cli.EXIT_INTERRUPTED   # saved; the same command resumes
    return code


if __name__ == "__main__":
    sys.exit(main())

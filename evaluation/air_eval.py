"""``evaluate_air``: the metrics of a trained AIR 3D model on freshly rendered scenes.

    python evaluation/run.py --mode evaluate_air --weights air_run --seed 1 --n-test 500 \\
        [--max-primitives K] [--camera C] [--camera-range AZ_MIN AZ_MAX EL_MIN EL_MAX] \\
        [--out air_eval_seed1.json] [--set explain_gain 8 ...]

``--weights`` is ``training/train_air.py``'s output folder (or its ``model/``
folder: the network of the best validation epoch is rebuilt from the shared
checkpoint by ``models.restore``) or its ``weights.npz`` export. The scenes
are the test stream of ``--seed`` (``models.air.scenes.generate_dataset(
split="test")``) with up to ``--max-primitives`` primitives (default: as
trained). A grid or glimpse model reports up to as many slots as the scenes
can hold; a slot model has as many slots as it was trained with and cannot be
asked for more. The scenes are seen by the camera the model was trained with
(the camera is part of the model: ``--camera``, when given, must name it), and
by cameras drawn in the range it was trained with (``--camera-range``, when
given, must be it); the metrics then include the errors of the camera read.
``--set`` changes the search (``models.air.search.config``:
``explain_gain``, ``refine_rounds``, ``repeat``, ...; no retraining needed).
The metrics (``models.air.metrics``) go to stdout and, as JSON, to ``--out``
(default ``air_eval_seed<S>_k<K>.json`` beside the weights). A weights file of
another kind (a ``.npy``, a damaged or truncated archive, another tool's
file), of another configuration, of another camera or of another camera range
is refused in one line (exit 2).
"""
import json
import os
import sys
import time
import zipfile
import zlib

import numpy as np

from data_provider import cli

MARK = "gen3d-scenes air3d"


class WeightsError(cli.UsageError):
    """The weights file is missing, damaged, foreign, or of another configuration."""


def _read_npz(path):
    """(saved model config, the run's search settings, arrays in order) of a
    ``weights.npz``; ``WeightsError``."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        kind = "a .npy array" if magic == b"\x93NUM" else "not a .npz archive"
        raise WeightsError(f"--weights {path} is {kind}; expected train_air.py's weights.npz "
                           "or its output folder")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("written_by", "config") if k not in z.files]
            if missing:
                raise WeightsError(f"--weights {path} is not an AIR weights file of "
                                   f"train_air.py (no {' or '.join(missing)} entry)")
            mark, saved = str(z["written_by"]), json.loads(str(z["config"]))
            search = json.loads(str(z["search"])) if "search" in z.files else {}
            arrays = [z[k] for k in sorted(k for k in z.files if k.startswith("w"))
                      if k != "written_by"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        if isinstance(e, WeightsError):
            raise
        raise WeightsError(f"--weights {path} is not a valid .npz archive of arrays "
                           "(damaged or truncated; expected train_air.py's weights.npz)") from None
    if mark != MARK:
        raise WeightsError(f"--weights {path} was not written by train_air.py")
    return saved, search, arrays


def _run_folder(path):
    """The checkpoint folder of ``path`` (a train_air.py output folder or its model/), or None."""
    for folder in (os.path.join(path, "model"), path):
        if os.path.isfile(os.path.join(folder, "config.json")):
            return folder
    return None


def load_weights(path, max_primitives=None, search=None, camera=None, camera_range=None):
    """(model, config) from a run folder or a ``weights.npz``; ``WeightsError`` naming what
    does not fit. ``search``: search keys overriding the run's; ``camera``, ``camera_range``:
    the camera and camera range the model must have been trained with (None: any)."""
    from models.air import build_air_model_3d
    from models.air.config import ConfigError, config_from_saved, make_config

    if not os.path.exists(path):
        raise WeightsError(f"--weights {path} does not exist")
    folder = _run_folder(path) if os.path.isdir(path) else None
    if folder is not None:
        from models.restore import restore, saved_config
        _check_camera(path, saved_config(folder, "air3d", flag="--weights")[1], camera,
                      camera_range)
        restored = restore(folder, "air3d", flag="--weights")
        model, config = restored.model, dict(restored.config)
    else:
        if os.path.isdir(path):
            path = os.path.join(path, "weights.npz")
            if not os.path.exists(path):
                raise WeightsError(f"--weights {os.path.dirname(path)} holds neither a run "
                                   "(model/config.json) nor weights.npz")
        saved, run, arrays = _read_npz(path)
        try:
            config = config_from_saved(saved, run)
        except ConfigError as e:
            raise WeightsError(f"--weights {path}: its config is not an AIR config "
                               f"({cli.one_line(e)})") from None
        _check_camera(path, config, camera, camera_range)
        model = build_air_model_3d(config)
        if len(arrays) != len(model.weights) or any(
                a.shape != tuple(w.shape) for a, w in zip(arrays, model.weights)):
            raise WeightsError(f"--weights {path}: its arrays do not fit the model of its "
                               "config (another model or a damaged file)")
        for weight, value in zip(model.weights, arrays):
            weight.assign(value)
    if max_primitives is not None:
        limit = model.head_type.slot_limit(config["max_primitives"])
        if limit is not None and max_primitives > limit:
            raise WeightsError(f"--weights {path} holds a {config['head']} model for at most "
                               f"{limit} primitives; --max-primitives {max_primitives} needs a "
                               "model trained for as many")
        if limit is None:
            config["max_primitives"] = max_primitives
    return model, make_config(dict(config, **(search or {})))


def _check_camera(path, config, camera, camera_range=None):
    """``WeightsError`` unless ``camera`` and ``camera_range`` (None: any) are those of the
    model of ``config``."""
    if camera is not None and camera != config["camera"]:
        raise WeightsError(f"--camera {camera}: --weights {path} holds a model of the "
                           f"{config['camera']} camera (the camera is part of the model); "
                           f"leave --camera out or give --camera {config['camera']}")
    trained = config["camera_range"]
    if camera_range is not None and (trained is None or [float(v) for v in trained]
                                     != [float(v) for v in camera_range]):
        said = "the isometric camera alone" if trained is None else \
            "the camera range " + " ".join(f"{v:g}" for v in trained)
        raise WeightsError(f"--camera-range {' '.join(f'{v:g}' for v in camera_range)}: "
                           f"--weights {path} holds a model of {said} (the camera range is "
                           "part of the model); leave --camera-range out"
                           + ("" if trained is None else " or give it as trained"))


def search_overrides(args):
    """The search keys of ``--set`` (``models.air.search.config``), typed by their defaults."""
    from data_provider import overrides
    from models.air.search.config import SEARCH_DEFAULTS

    return overrides.parse(cli.set_pairs(args.set), SEARCH_DEFAULTS, what="AIR search config")


def evaluate_air(weights, seed, n_test, max_primitives=None, out=None, log=print, search=None,
                 camera=None, camera_range=None):
    """Render ``n_test`` scenes of ``seed`` seen by the model's camera (``camera``, if
    given, must be it) or cameras of its camera range (``camera_range``, if given, must
    be it), predict, measure; writes ``out``; returns the metrics."""
    from models.air import metrics
    from models.air.scenes import generate_dataset
    from models.air.search import predict_slots, search_config

    model, config = load_weights(weights, max_primitives, search, camera, camera_range)
    k = config["max_primitives"] if max_primitives is None else max_primitives
    if out is None:
        folder = weights if os.path.isdir(weights) else os.path.dirname(os.path.abspath(weights))
        out = os.path.join(folder, f"air_eval_seed{seed}_k{k}.json")
    start = time.monotonic()
    data = generate_dataset(n_test, seed, config["image_size"], k, "test", config["supersample"],
                            camera=config["camera"], camera_range=config["camera_range"])
    synth = time.monotonic() - start
    log(f"rendered {n_test} scenes in {synth:.1f} s; searching ...")
    pred = predict_slots(model, data["images"], config, log=log)
    measured = metrics.compute_metrics(pred, data, metrics.assign_slots(pred, data, config),
                                       config["camera"])
    result = {"written_by": MARK, "weights": os.path.abspath(weights), "seed": seed,
              "n_test": n_test, "max_primitives": k, "camera": config["camera"],
              **({} if config["camera_range"] is None else
                 {"camera_range": config["camera_range"]}),
              "synthesis_seconds": synth,
              "search": search_config(config), "metrics": measured}
    with cli.atomic_write(out) as f:
        json.dump(result, f, indent=2)
    for line in format_metrics(measured, config["camera"]):
        log(line)
    log(f"wrote {out}")
    return result


def format_metrics(m, camera="orthographic"):
    """Text lines of a metrics dict (of scenes seen by ``camera``)."""
    fmt = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
    # the depth-blind estimate bounds the error only where the depth is hidden
    blind = "image point alone" if camera == "perspective" else "depth-blind"
    return [*(["camera               perspective"] if camera == "perspective" else []),
            *([f"camera error         azimuth median {m['camera_azimuth_error_median']:.2f}, "
               f"elevation median {m['camera_elevation_error_median']:.2f} degrees"]
              if "camera_azimuth_error_median" in m else []),
            f"count accuracy       {100 * m['count_accuracy']:.1f} %",
            f"presence accuracy    {100 * m['presence_accuracy']:.1f} %",
            f"type accuracy        {100 * m['type_accuracy']:.1f} %",
            f"position MAE x/y/z   {fmt(m['position_mae'])}  ({blind} "
            f"{fmt(m['depth_blind_position_mae'])})",
            f"rotation MAE Euler   {fmt(m['rotation_mae_euler'])} rad",
            f"rotation geodesic    mean {m['rotation_geodesic_mean']:.3f}, median "
            f"{m['rotation_geodesic_median']:.3f} rad"]


def check_flags(args):
    """UsageError for flags ``evaluate_air`` cannot use."""
    if args.weights is None:
        raise cli.UsageError("--mode evaluate_air needs --weights (train_air.py's output "
                             "folder or its weights.npz)")
    if args.n_test < 1:
        raise cli.UsageError(f"--n-test must be a positive integer, got {args.n_test}")
    if args.max_primitives is not None and args.max_primitives < 1:
        raise cli.UsageError(f"--max-primitives must be a positive integer, got "
                             f"{args.max_primitives}")
    if args.camera_range is not None:
        from models.air.scenes import check_camera_range
        try:
            check_camera_range(args.camera_range)
        except ValueError as e:
            raise cli.UsageError("--camera-range " + str(e).split(" ", 1)[1]) from None
    if args.seed is None:
        args.seed = 0
    if args.out is not None and os.path.exists(args.out) and not _ours(args.out):
        raise cli.UsageError(f"--out {args.out} was not written by evaluate_air; it is left "
                             "untouched")
    search_overrides(args)


def _ours(path):
    try:
        with open(path) as f:
            return json.load(f).get("written_by") == MARK
    except (OSError, ValueError, AttributeError):
        return False


def run(args):
    return evaluate_air(args.weights, args.seed, args.n_test, args.max_primitives, args.out,
                        log=lambda line: print(line, file=sys.stdout),
                        search=search_overrides(args), camera=args.camera,
                        camera_range=args.camera_range)

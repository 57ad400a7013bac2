"""``evaluate_air``: the metrics of trained AIR 3D weights on freshly rendered scenes.

    python evaluation/run.py --mode evaluate_air --weights air_run/weights.npz \\
        --seed 1 --n-test 500 [--max-primitives K] [--out air_eval_seed1.json]

The weights file (``training/train_air.py``'s ``weights.npz``) carries the
model config; the scenes are the test stream of ``--seed``
(``models.air.scenes.generate_dataset(split="test")``) with up to
``--max-primitives`` primitives (default: as trained). A grid or glimpse
model reports up to as many slots as the scenes can hold; a slot model has
as many slots as it was trained with and cannot be asked for more. The
metrics (``models.air.metrics``) go to stdout and, as JSON, to ``--out``
(default ``air_eval_seed<S>.json`` beside the weights).
"""
import json
import os
import sys
import time

import numpy as np

from data_provider import cli

MARK = "gen3d-scenes air3d"


class WeightsError(cli.UsageError):
    """The weights file is missing, damaged, foreign, or of another configuration."""


def load_weights(path, max_primitives=None):
    """(model, config) from a ``weights.npz``; ``WeightsError`` naming what does not fit."""
    from models.air.config import make_config
    from models.air import build_air_model_3d

    if os.path.isdir(path):
        path = os.path.join(path, "weights.npz")
    if not os.path.exists(path):
        raise WeightsError(f"--weights {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            mark, saved = str(z["written_by"]), json.loads(str(z["config"]))
            arrays = [z[k] for k in sorted(k for k in z.files if k.startswith("w"))
                      if k != "written_by"]
    except KeyError as e:
        raise WeightsError(f"--weights {path} is not an AIR weights file of train_air.py "
                           f"(no {cli.one_line(e)} entry)") from None
    except (OSError, ValueError, EOFError):
        raise WeightsError(f"--weights {path} is not a valid .npz archive of arrays "
                           "(expected train_air.py's weights.npz)") from None
    if mark != MARK:
        raise WeightsError(f"--weights {path} was not written by train_air.py")
    config = make_config(saved)
    if max_primitives is not None:
        if config["head"] == "slots" and max_primitives > config["max_primitives"]:
            raise WeightsError(f"--weights {path} holds a slot model for at most "
                               f"{config['max_primitives']} primitives; --max-primitives "
                               f"{max_primitives} needs a model trained for as many")
        if config["head"] != "slots":
            config["max_primitives"] = max_primitives
    model = build_air_model_3d(config)
    if len(arrays) != len(model.weights) or any(
            a.shape != tuple(w.shape) for a, w in zip(arrays, model.weights)):
        raise WeightsError(f"--weights {path}: its arrays do not fit the model of its config "
                           "(another model or a damaged file)")
    for weight, value in zip(model.weights, arrays):
        weight.assign(value)
    return model, config


def evaluate_air(weights, seed, n_test, max_primitives=None, out=None, log=print):
    """Render ``n_test`` scenes of ``seed``, predict, measure; writes ``out``; returns the metrics."""
    from models.air import metrics
    from models.air.scenes import generate_dataset
    from models.air.explain import predict_slots

    model, config = load_weights(weights, max_primitives)
    k = max_primitives or config["max_primitives"]
    if out is None:
        folder = weights if os.path.isdir(weights) else os.path.dirname(os.path.abspath(weights))
        out = os.path.join(folder, f"air_eval_seed{seed}_k{k}.json")
    start = time.monotonic()
    data = generate_dataset(n_test, seed, config["image_size"], k, "test", config["supersample"])
    synth = time.monotonic() - start
    pred = predict_slots(model, data["images"], config)
    measured = metrics.compute_metrics(pred, data, metrics.assign_slots(pred, data, config))
    result = {"written_by": MARK, "weights": os.path.abspath(weights), "seed": seed,
              "n_test": n_test, "max_primitives": k, "synthesis_seconds": synth,
              "metrics": measured}
    with cli.atomic_write(out) as f:
        json.dump(result, f, indent=2)
    for line in format_metrics(measured):
        log(line)
    log(f"wrote {out}")
    return result


def format_metrics(m):
    """Text lines of a metrics dict."""
    fmt = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
    return [f"count accuracy       {100 * m['count_accuracy']:.1f} %",
            f"presence accuracy    {100 * m['presence_accuracy']:.1f} %",
            f"type accuracy        {100 * m['type_accuracy']:.1f} %",
            f"position MAE x/y/z   {fmt(m['position_mae'])}  (depth-blind "
            f"{fmt(m['depth_blind_position_mae'])})",
            f"rotation MAE Euler   {fmt(m['rotation_mae_euler'])} rad",
            f"rotation geodesic    mean {m['rotation_geodesic_mean']:.3f}, median "
            f"{m['rotation_geodesic_median']:.3f} rad"]


def check_flags(args):
    """UsageError for flags ``evaluate_air`` cannot use."""
    if args.weights is None:
        raise cli.UsageError("--mode evaluate_air needs --weights (train_air.py's weights.npz)")
    if args.n_test < 1:
        raise cli.UsageError(f"--n-test must be a positive integer, got {args.n_test}")
    if args.max_primitives is not None and args.max_primitives < 1:
        raise cli.UsageError(f"--max-primitives must be a positive integer, got "
                             f"{args.max_primitives}")
    if args.seed is None:
        args.seed = 0
    if args.out is not None and os.path.exists(args.out) and not _ours(args.out):
        raise cli.UsageError(f"--out {args.out} was not written by evaluate_air; it is left "
                             "untouched")


def _ours(path):
    try:
        with open(path) as f:
            return json.load(f).get("written_by") == MARK
    except (OSError, ValueError, AttributeError):
        return False


def run(args):
    return evaluate_air(args.weights, args.seed, args.n_test, args.max_primitives, args.out,
                        log=lambda line: print(line, file=sys.stdout))

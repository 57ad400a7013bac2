"""Pictures of an AIR 3D primitives run (``training/train_air.py``'s output folder).

    python visualization/air_pictures.py --run air_run [--out air_run/pictures] [--scenes 8]

Writes into ``--out``:

* ``air_gallery.png``: each primitive type at four rotations;
* ``air_scenes.png``: training scenes of the run's seed, with their counts and types;
* ``air_curves.png``: training and validation loss terms per epoch, the best epoch marked;
* ``air_predictions.png``: test scenes, the scene re-rendered from the predicted
  slots, and the absolute difference;
* ``air_errors.png``: histograms of the position error per axis and of the
  symmetry-aware rotation error, and the type confusion matrix, on the run's
  test scenes;
* ``air_depth.png``: each test primitive's predicted depth against its true
  depth (position units along its camera's viewing axis), by type;
* ``air_training.gif``: the predictions for six validation scenes re-rendered
  after every epoch (from ``snapshots.npz``).

Every scene is seen by the run's camera (``models.air.scenes``: orthographic
or perspective); under a camera range a scene re-rendered from the predictions
is seen by the camera the network read. Every input is checked before anything
is drawn; each picture is written under a temporary name and renamed into place.
"""
import json
import os
import sys

import numpy as np

from data_provider import cli, images

PROG = "air_pictures.py"
ZOOM = 3


def _grey(image, zoom=ZOOM):
    """uint8 RGB picture of a [H, W] grey image, enlarged ``zoom`` times."""
    picture = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return images.enlarge(np.stack([picture] * 3, -1), zoom)


def _sheet(grid, column_labels=(), row_labels=(), pad=22):
    """Tile ``grid[row][col]`` pictures (same size) with labels above and at the left."""
    return images.sheet(grid, column_labels, row_labels, top=pad if any(column_labels) else 4,
                        left=pad * 3 if any(row_labels) else 4, gap=4, font_size=13)


def _save_figure(fig, path):
    """A matplotlib figure to a PNG at ``path`` (written whole or not at all), closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with cli.atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path


def slots_to_scene(slots):
    """(types, positions, rotations) of the slots predicted present (-1 elsewhere)."""
    present = np.asarray(slots["presence_logit"]) > 0
    types = np.where(present, np.asarray(slots["type_logits"]).argmax(-1), -1)
    return types, np.asarray(slots["position"]), np.asarray(slots["rotation"])


def rerender(slots, image_size, supersample, camera="orthographic"):
    """The scenes of ``slots`` rendered, each by the camera read (``camera``: azimuth,
    elevation) if the slots carry one."""
    from models.air.scenes import render_scenes
    types, positions, rotations = slots_to_scene(slots)
    cameras = slots.get("camera")
    return render_scenes(types, positions, rotations, image_size, supersample, camera=camera,
                         cameras=None if cameras is None else np.asarray(cameras, np.float64))


def gallery(out, image_size=64, camera="orthographic"):
    from models.air.scenes import TYPES, render_3d_scene
    angles = ([0.0, 0.0, 0.0], [0.6, 0.3, 0.0], [1.2, 0.8, 0.5], [2.5, 1.9, 1.2])
    grid = [[_grey(render_3d_scene([t], [[0, 0, 0]], [a], image_size,
                                   camera=camera)[16:48, 16:48], 4)
             for a in angles] for t in TYPES]
    labels = [f"{a[0]:.1f},{a[1]:.1f},{a[2]:.1f}" for a in angles]
    return images.save_png(_sheet(grid, labels, TYPES), os.path.join(out, "air_gallery.png"))


def scene_examples(out, data, n=16):
    from models.air.scenes import TYPES
    pictures = [_grey(data["images"][i, ..., 0]) for i in range(n)]
    captions = [", ".join(TYPES[t] for t in data["types"][i] if t >= 0) for i in range(n)]
    return images.save_png(_captioned(pictures, captions, 8), os.path.join(out, "air_scenes.png"))


def _captioned(pictures, captions, per_row):
    from PIL import Image, ImageDraw, ImageFont
    h, w = pictures[0].shape[:2]
    rows = (len(pictures) + per_row - 1) // per_row
    sheet = Image.new("RGB", (per_row * (w + 4), rows * (h + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(11)
    for i, (picture, text) in enumerate(zip(pictures, captions)):
        x, y = (i % per_row) * (w + 4), (i // per_row) * (h + 18)
        sheet.paste(Image.fromarray(picture), (x, y))
        draw.text((x + w // 2, y + h + 8), text, fill="black", font=font, anchor="mm")
    return sheet


def curves(out, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = results["history"]
    epochs = [h["epoch"] for h in history]
    names = [k for k in history[0]["val"] if k != "loss"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(epochs, [h["train"]["loss"] for h in history], label="train")
    axes[0].plot(epochs, [h["val"]["loss"] for h in history], label="validation")
    axes[0].axvline(results["best_epoch"], color="grey", linestyle=":", label="best epoch")
    axes[0].set_title("loss per scene")
    for name in names:
        axes[1].plot(epochs, [h["val"][name] for h in history], label=name)
    axes[1].set_yscale("log")
    axes[1].set_title("validation terms (per scene)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    return _save_figure(fig, os.path.join(out, "air_curves.png"))


def predictions(out, slots, data, config, n=8):
    shown = data["images"][:n, ..., 0]
    again = rerender({k: v[:n] for k, v in slots.items()}, config["image_size"],
                     config["supersample"], config["camera"])
    grid = [[_grey(shown[i]) for i in range(n)], [_grey(again[i]) for i in range(n)],
            [_grey(np.abs(shown[i] - again[i])) for i in range(n)]]
    return images.save_png(_sheet(grid, [], ["image", "predicted", "|error|"]),
                           os.path.join(out, "air_predictions.png"))


def errors(out, slots, data, config):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.air import metrics, rotations
    from models.air.scenes import TYPES

    assignment = metrics.assign_slots(slots, data, config)
    e = metrics.per_primitive_errors(slots, data, assignment)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for axis, name in enumerate("xyz"):
        axes[0].hist(e["position_error"][:, axis], bins=60, range=(-1, 1), histtype="step",
                     label=name)
    axes[0].set_title("position error (targets in [-1, 1])")
    axes[0].legend()
    for index in (rotations.CUBE, rotations.CYLINDER):
        chosen = e["rotation_error"][e["types"] == index]
        axes[1].hist(chosen, bins=45, range=(0, np.pi / 2 + 0.3), histtype="step",
                     label=f"{TYPES[index]} (median {np.median(chosen):.2f})")
    axes[1].set_title("symmetry-aware rotation error (rad)")
    axes[1].legend()
    confusion = np.zeros((3, 3), int)
    np.add.at(confusion, (e["types"], e["pred_types"]), 1)
    axes[2].imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        axes[2].text(j, i, str(v), ha="center", va="center",
                     color="white" if v > confusion.max() / 2 else "black")
    axes[2].set_xticks(range(3), TYPES)
    axes[2].set_yticks(range(3), TYPES)
    axes[2].set_xlabel("predicted")
    axes[2].set_ylabel("true")
    axes[2].set_title("type confusion")
    return _save_figure(fig, os.path.join(out, "air_errors.png"))


def depth_scatter(out, slots, data, config):
    """Predicted against true depth of every test primitive (``metrics.view_depths``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.air import metrics
    from models.air.scenes import TYPES

    e = metrics.per_primitive_errors(slots, data, metrics.assign_slots(slots, data, config))
    fig, ax = plt.subplots(figsize=(5, 5))
    for index, name in enumerate(TYPES):
        chosen = e["types"] == index
        ax.scatter(e["depth"][chosen], e["pred_depth"][chosen], s=6, alpha=0.6, label=name)
    reach = np.sqrt(3.0)              # the cube's corners along any axis
    ax.plot([-reach, reach], [-reach, reach], color="grey", linewidth=0.8)
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_xlabel("true depth (position units, along the view)")
    ax.set_ylabel("predicted depth")
    camera = config["camera"] + (", cameras that vary" if config.get("camera_range") else "")
    mae = np.abs(e["pred_depth"] - e["depth"]).mean()
    ax.set_title(f"{camera}: depth MAE {mae:.3f}")
    ax.legend(fontsize=8, loc="upper left")
    return _save_figure(fig, os.path.join(out, "air_depth.png"))


def training_gif(out, snapshots, config, duration=250):
    top = [_grey(image) for image in snapshots["images"][..., 0]]
    frames = []
    for e, epoch in enumerate(snapshots["epochs"]):
        slots = {k: snapshots[k][e] for k in ("presence_logit", "type_logits", "position",
                                              "rotation", "camera") if k in snapshots}
        again = rerender(slots, config["image_size"], config["supersample"], config["camera"])
        frames.append(_sheet([top, [_grey(a) for a in again]], [], ["image", f"epoch {epoch}"]))
    return images.write_gif(frames, os.path.join(out, "air_training.gif"), duration)


def load_run(run):
    """(results, snapshots) of a run folder; UsageError naming what is missing."""
    for name in ("results.json", "model", "snapshots.npz"):
        if not os.path.exists(os.path.join(run, name)):
            raise cli.UsageError(f"--run {run}: no {name} (expected train_air.py's --out folder)")
    try:
        with open(os.path.join(run, "results.json")) as f:
            results = json.load(f)
        with np.load(os.path.join(run, "snapshots.npz"), allow_pickle=False) as z:
            snapshots = dict(z)
    except (OSError, ValueError) as e:
        raise cli.UsageError(f"--run {run}: unreadable outputs ({cli.one_line(e)})") from None
    if not {"config", "history", "best_epoch"} <= set(results):
        raise cli.UsageError(f"--run {run}: results.json is not train_air.py's")
    return results, snapshots


def make_pictures(run, out, scenes=8, log=print):
    """Every picture of the run folder ``run`` into ``out``; returns their paths."""
    results, snapshots = load_run(run)
    os.makedirs(out, exist_ok=True)
    cli.quiet_tensorflow()
    from models.air.scenes import generate_dataset
    from models.air.search import predict_slots
    from models.restore import restore

    restored = restore(os.path.join(run, "model"), "air3d", flag="--run")
    model, model_config = restored.model, restored.config
    camera = model_config["camera"]     # the model's (results.json of older runs has none)
    config = dict(results["config"], camera=camera)
    config["camera_range"] = model_config["camera_range"]
    test = generate_dataset(config["n_test"], config["seed"], config["image_size"],
                            config["max_primitives"], "test", config["supersample"],
                            camera=camera, camera_range=config["camera_range"])
    train = generate_dataset(16, config["seed"], config["image_size"], config["max_primitives"],
                             "train", config["supersample"], camera=camera,
                             camera_range=config["camera_range"])
    log(f"[pictures] searching the answers for {len(test['images'])} test scenes")
    slots = predict_slots(model, test["images"], config, log=log)
    paths = [gallery(out, config["image_size"], camera), scene_examples(out, train),
             curves(out, results), predictions(out, slots, test, model_config, scenes),
             errors(out, slots, test, model_config), depth_scatter(out, slots, test, model_config),
             training_gif(out, snapshots, model_config)]
    for path in paths:
        log(f"wrote {path}")
    return paths


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Pictures of an AIR 3D primitives run.")
    p.add_argument("--run", default="air_run", help="train_air.py's output folder")
    p.add_argument("--out", default=None, help="picture folder [<run>/pictures]")
    p.add_argument("--scenes", type=int, default=8, help="test scenes in the prediction panel")
    return p


def run(args):
    if args.scenes < 1:
        raise cli.UsageError(f"--scenes must be >= 1, got {args.scenes}")
    return make_pictures(args.run, args.out or os.path.join(args.run, "pictures"), args.scenes)


def main(argv=None):
    args = build_parser().parse_args(argv)
    return cli.run_main(PROG, run, args, tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

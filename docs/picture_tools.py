"""Small picture and summary helpers of ``docs/make_pictures.sh``.

    python docs/picture_tools.py crop PNG [PNG ...]            # white margin off, 8-pixel border
    python docs/picture_tools.py enlarge SRC DST K              # nearest-neighbour K x (PNG or GIF)
    python docs/picture_tools.py strip TFRECORD DST SCENE N     # N views of one scene, 2 x enlarged
    python docs/picture_tools.py beside DST PNG [PNG ...]       # side by side, 2/3 the size
    python docs/picture_tools.py summary --fcr_eval DIR --fcr1_log F --fcr2_log F \\
        --gqn_l2 JSON --gqn_log F --minutes M --out summary.json
"""
import argparse
import io
import json
import os
import re
import sys

CLASS_ROWS = {"all": 12, "ceiling": 1, "floor": 2, "wall": 3}


def crop(paths):
    from PIL import Image, ImageChops

    from data_provider import images

    for path in paths:
        im = Image.open(path).convert("RGB")
        box = ImageChops.difference(im, Image.new("RGB", im.size, "white")).getbbox()
        if box:
            m = 8
            im = im.crop((max(box[0] - m, 0), max(box[1] - m, 0),
                          min(box[2] + m, im.width), min(box[3] + m, im.height)))
        images.save_png(im, path, optimize=True)
        print(f"cropped {path} to {im.size}")


def enlarge(src, dst, k):
    import numpy as np
    from PIL import Image, ImageSequence

    from data_provider import images

    im = Image.open(src)
    frames = [images.enlarge(np.asarray(f.convert("RGB")), k) for f in ImageSequence.Iterator(im)]
    if len(frames) > 1:
        images.write_gif(frames, dst, im.info.get("duration", 100), optimize=True)
    else:
        images.save_png(frames[0], dst, optimize=True)
    print(f"wrote {dst}: {len(frames)} frame(s) of {tuple(frames[0].shape[1::-1])}")


def strip(path, dst, scene, n):
    import numpy as np
    from PIL import Image

    from data_provider import cli, images

    tf = cli.quiet_tensorflow()

    raw = next(iter(tf.data.TFRecordDataset(path).skip(scene).take(1))).numpy()
    jpegs = tf.train.Example.FromString(raw).features.feature["frames"].bytes_list.value
    step = max(1, len(jpegs) // n)
    views = [images.enlarge(np.asarray(Image.open(io.BytesIO(jpegs[i])).convert("RGB")), 2)
             for i in range(0, step * n, step)]
    images.save_png(images.tile(views, -2, gap=4, fill=255), dst, optimize=True)
    print(f"wrote {dst}: {len(views)} of {len(jpegs)} views of scene {scene}")


def _finished_iteration(log_path):
    with open(log_path) as f:
        found = re.findall(r"^finished at iteration (\d+)", f.read(), re.M)
    if not found:
        raise SystemExit(f"picture_tools.py: error: {log_path} has no 'finished at iteration' line")
    return int(found[-1])


def _completed_steps(log_path):
    with open(log_path) as f:
        found = re.findall(r"completed: (\d+) training steps", f.read())
    return int(found[-1]) if found else None


def summary(args):
    with open(os.path.join(args.fcr_eval, "metrics.json")) as f:
        fcr = json.load(f)
    with open(args.gqn_l2) as f:
        gqn = json.load(f)
    switch = _finished_iteration(args.fcr1_log)
    total = _finished_iteration(args.fcr2_log)
    out = {"machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())}}
    out["fcr"] = {"minutes": args.minutes, "iterations": total,
                  "refiner_iterations": total - switch, "test_scenes": fcr["num_scenes"]}
    for name, row in CLASS_ROWS.items():
        out["fcr"][f"iou_{name}"] = fcr["Jaccard_refine"][row]
        out["fcr"][f"iou_original_{name}"] = fcr["IoU_refine"][row]
        out["fcr"][f"iou_unrefined_{name}"] = fcr["Jaccard"][row]
    out["gqn"] = {"minutes": args.minutes, "steps": _completed_steps(args.gqn_log),
                  "test_scenes": gqn["num_scenes"],
                  **{k: gqn[k] for k in ("l2_generated", "l2_mean_image", "l2_nearest_context")}}
    if args.air_results:
        with open(args.air_results) as f:
            air = json.load(f)
        keys = ("count_accuracy", "presence_accuracy", "type_accuracy", "position_mae",
                "position_mae_view", "rotation_mae_euler", "rotation_geodesic_median")
        out["air"] = {**{k: air["metrics"][k] for k in keys}, "best_epoch": air["best_epoch"],
                      "minutes": (air["timing"]["synthesis_seconds"]
                                  + air["timing"]["training_seconds"]) / 60}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))


def beside(dst, paths, scale=2 / 3):
    """PNGs side by side (tops aligned, white between), the whole scaled by ``scale``."""
    from PIL import Image

    from data_provider import images

    pictures = [Image.open(p).convert("RGB") for p in paths]
    sheet = Image.new("RGB", (sum(p.width for p in pictures),
                              max(p.height for p in pictures)), "white")
    x = 0
    for picture in pictures:
        sheet.paste(picture, (x, 0))
        x += picture.width
    sheet = sheet.resize((round(sheet.width * scale), round(sheet.height * scale)),
                         Image.LANCZOS)
    images.save_png(sheet, dst, optimize=True)
    print(f"wrote {dst} {sheet.size}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("crop").add_argument("paths", nargs="+")
    e = sub.add_parser("enlarge")
    e.add_argument("src")
    e.add_argument("dst")
    e.add_argument("k", type=int)
    s = sub.add_parser("strip")
    s.add_argument("path")
    s.add_argument("dst")
    s.add_argument("scene", type=int)
    s.add_argument("n", type=int)
    b = sub.add_parser("beside")
    b.add_argument("dst")
    b.add_argument("paths", nargs="+")
    m = sub.add_parser("summary")
    for flag in ("--fcr_eval", "--fcr1_log", "--fcr2_log", "--gqn_l2", "--gqn_log", "--out"):
        m.add_argument(flag, required=True)
    m.add_argument("--minutes", type=float, required=True)
    m.add_argument("--air_results", default=None, help="train_air.py's results.json")
    args = p.parse_args(argv)
    if args.command == "crop":
        crop(args.paths)
    elif args.command == "enlarge":
        enlarge(args.src, args.dst, args.k)
    elif args.command == "strip":
        strip(args.path, args.dst, args.scene, args.n)
    elif args.command == "beside":
        beside(args.dst, args.paths)
    else:
        summary(args)


if __name__ == "__main__":
    sys.exit(main())

"""AIR 3D's count errors on test scenes: short or over, per true count, and how many wrong
scenes hold a primitive the image hardly shows.

    python benchmarks/air_count_errors.py --weights RUN [--seed 2] [--n-test 500]
        [--set KEY VALUE ...]

Renders ``evaluate_air``'s test scenes of ``--seed`` for the weights' camera, answers
them with the search (``--set``: search keys, as ``evaluate_air`` takes them) and prints
the count accuracy, the scenes counted short and over, the same per true count, and the
scenes whose least visible primitive changes the image by less than ``--hidden`` grey
levels summed over the pixels (the image rendered without it against the image, in the
units of ``explain_gain``): the count search, which keeps a primitive only when it
explains at least ``explain_gain`` of them, cannot count such a primitive.
"""
import sys
import time

import numpy as np

from data_provider import cli


def least_visible(data, image_size, supersample, camera):
    """``[N]``: for each scene (``generate_dataset`` arrays), the smallest summed
    ``|image without the primitive - image|`` over its primitives (inf: none)."""
    from models.air.scenes import render_scenes

    types, n = data["types"], len(data["types"])
    images = np.asarray(data["images"]).reshape(n, -1)
    least = np.full(n, np.inf)
    for j in range(types.shape[1]):
        present = types[:, j] >= 0
        if not present.any():
            continue
        without = np.array(types)
        without[:, j] = -1
        rendered = render_scenes(without[present], data["positions"][present],
                                 data["rotations"][present], image_size, supersample,
                                 camera=camera)
        change = np.abs(rendered.reshape(present.sum(), -1) - images[present]).sum(1)
        least[present] = np.minimum(least[present], change)
    return least


def breakdown(predicted, true, max_primitives):
    """Counts of ``predicted`` against ``true`` (``[N]`` ints): a dict with the accuracy, the
    scenes short and over, and ``per_count`` rows ``(count, scenes, right, short, over)``."""
    predicted, true = np.asarray(predicted), np.asarray(true)
    rows = [(c, int((true == c).sum()), int(((true == c) & (predicted == c)).sum()),
             int(((true == c) & (predicted < c)).sum()), int(((true == c) & (predicted > c)).sum()))
            for c in range(1, max_primitives + 1)]
    return {"accuracy": float(np.mean(predicted == true)), "short": int((predicted < true).sum()),
            "over": int((predicted > true).sum()), "per_count": rows}


def parse(argv):
    parser = cli.ArgumentParser(prog="air_count_errors.py", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True, help="a train_air.py run folder")
    parser.add_argument("--seed", type=int, default=2, help="test scenes of this seed")
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--hidden", type=float, default=5.0,
                        help="a primitive changing its image by less than this is hidden")
    cli.add_set_argument(parser, "search keys (models/air/search/config.py)")
    args = parser.parse_args(argv)
    if args.n_test < 1:
        parser.error("--n-test must be a positive integer")
    return args


def run(args):
    from evaluation.air_eval import load_weights, search_overrides

    search = search_overrides(args)        # a bad key is refused before TensorFlow loads
    cli.quiet_tensorflow()
    from models.air.scenes import generate_dataset
    from models.air.search import predict_slots

    model, config = load_weights(args.weights, search=search)
    k, size, supersample = config["max_primitives"], config["image_size"], config["supersample"]
    data = generate_dataset(args.n_test, args.seed, size, k, "test", supersample,
                            camera=config["camera"], camera_range=config["camera_range"])
    start = time.monotonic()
    predicted = (predict_slots(model, data["images"], config)["presence_logit"] > 0).sum(1)
    seconds = time.monotonic() - start
    found = breakdown(predicted, data["count"], k)
    wrong = predicted != data["count"]
    if config["camera_range"] is None:
        hidden = least_visible(data, size, supersample, config["camera"]) < args.hidden
        hidden_line = (f"wrong scenes holding a primitive that changes the image by less than "
                       f"{args.hidden:g}: {int((hidden & wrong).sum())} of {int(wrong.sum())} "
                       f"(all scenes: {int(hidden.sum())})")
    else:   # the scenes' images hold markers and cameras of their own
        hidden_line = "hidden primitives: not measured under a camera range"
    print(f"{args.n_test} scenes of seed {args.seed}, {config['camera']} camera, search "
          f"{search or 'as trained'}: count {100 * found['accuracy']:.1f} %, "
          f"{found['short']} short, {found['over']} over (search {seconds:.1f} s)")
    for count, scenes, right, short, over in found["per_count"]:
        share = 100 * right / scenes if scenes else float("nan")
        print(f"  {count} primitive(s): {scenes} scenes, {share:.1f} % right, {short} short, "
              f"{over} over")
    print(hidden_line)
    return 0


def main(argv=None):
    return cli.run_main("air_count_errors.py", run, parse(argv), tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

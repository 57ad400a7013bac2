"""Evaluate a trained FCR-alphaGAN checkpoint (the original ``main.py --mode evaluate_*``).

    python evaluation/run.py --mode evaluate_recons --conf_epoch 10000
    python evaluation/run.py --mode evaluate_interpolate --conf_epoch 10000 --pairs 4
    python evaluation/run.py --mode evaluate_noise --conf_epoch 10000

Defaults as the original: ``--conf_epoch 10000``, ``--batch_size`` =
``CONST.BATCH_SIZE`` (20), checkpoints in ``DIR.CHECK_POINT_PATH``
(``./Checkpt``), scenes in ``DIR.SCENE_ID_PATH`` (``./Scenevox``), outputs in
``DIR.EVAL_PATH`` (``./eval``). The config is read from
``<checkpoint_dir>/config.json`` when present, then ``--set KEY VALUE``.
Unknown modes are rejected (the original's mode test accepted anything).
The modes are implemented in :mod:`evaluation.alphagan_eval`.
"""
import argparse
import os
import sys

MODES = ("evaluate_recons", "evaluate_interpolate", "evaluate_noise")


def build_parser():
    p = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", required=True, choices=MODES, help="what to evaluate")
    p.add_argument("--conf_epoch", type=int, default=10000,
                   help="checkpoint number N (ckpt-N, after N * CHECK_FREQ iterations) [10000]")
    p.add_argument("--batch_size", type=int, default=None,
                   help="batch size and number of codes / bases [CONST.BATCH_SIZE = 20]")
    p.add_argument("--checkpoint_dir", default=None, help="[DIR.CHECK_POINT_PATH = ./Checkpt]")
    p.add_argument("--voxel_root", default=None, help="scene voxels [DIR.SCENE_ID_PATH = ./Scenevox]")
    p.add_argument("--eval_dir", default=None, help="outputs [DIR.EVAL_PATH = ./eval]")
    p.add_argument("--num_scenes", type=int, default=200, help="test scenes for evaluate_recons [200]")
    p.add_argument("--pairs", type=int, default=None,
                   help="evaluate_interpolate: only the first K ordered pairs [all]")
    p.add_argument("--bases", type=int, default=None,
                   help="evaluate_noise: only the first K base codes [batch_size]")
    p.add_argument("--seed", type=int, default=None, help="random seed [none, as the original]")
    p.add_argument("--per_sample", action="store_true",
                   help="interpolate/noise: run every code in a batch with the other test codes, "
                        "one run per code, as the original (slow)")
    p.add_argument("--workers", type=int, default=None, help="threads for the AP metric [all cores]")
    p.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="override a config key, e.g. --set CONST.N_VOX '[16,16,16]'")
    return p


def _check_positive(parser, args):
    for name in ("batch_size", "num_scenes", "pairs", "bases", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer, got {value}")
    if args.conf_epoch < 0:
        parser.error(f"--conf_epoch must be >= 0, got {args.conf_epoch}")


def run(args):
    """Run one mode for parsed ``args``; returns the mode's result."""
    from evaluation import alphagan_eval as ev
    from models.fcr_alphagan.config import default_config
    checkpoint_dir = args.checkpoint_dir or default_config().DIR.CHECK_POINT_PATH
    cfg = ev.load_config(checkpoint_dir, [x for pair in args.set for x in pair])
    batch_size = args.batch_size or cfg.CONST.BATCH_SIZE
    eval_dir = args.eval_dir or cfg.DIR.EVAL_PATH
    if args.mode != "evaluate_recons":
        ev.load_decode_z(eval_dir, batch_size, args.mode)  # fail before loading the networks
    nets = ev.restore_networks(cfg, checkpoint_dir, args.conf_epoch)
    print(f"[run] restored ckpt-{args.conf_epoch} from {checkpoint_dir}", file=sys.stderr)
    os.makedirs(eval_dir, exist_ok=True)
    if args.mode == "evaluate_recons":
        return ev.evaluate_recons(nets, cfg, args.voxel_root or cfg.DIR.SCENE_ID_PATH, eval_dir,
                                  batch_size, args.num_scenes, args.seed, args.workers)
    if args.mode == "evaluate_interpolate":
        return ev.evaluate_interpolate(nets, cfg, eval_dir, batch_size, args.pairs, args.per_sample)
    return ev.evaluate_noise(nets, cfg, eval_dir, batch_size, args.seed, args.per_sample, args.bases)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_positive(parser, args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from data_provider.voxel_provider import VoxelFileError
    from evaluation.alphagan_eval import EvaluationError
    from models.fcr_alphagan.config import ConfigError
    try:
        run(args)
    except (EvaluationError, ConfigError, VoxelFileError) as e:
        print(f"run.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""Evaluate a trained FCR-alphaGAN checkpoint (the original ``main.py --mode evaluate_*``).

    python evaluation/run.py --mode evaluate_recons --conf_epoch 10000
    python evaluation/run.py --mode evaluate_interpolate --conf_epoch 10000 --pairs 4
    python evaluation/run.py --mode evaluate_noise --conf_epoch 10000
    python evaluation/run.py --mode evaluate_air --weights air_run/weights.npz --seed 1 --n-test 500

``evaluate_air`` measures AIR 3D weights on freshly rendered scenes
(:mod:`evaluation.air_eval`); the other modes evaluate FCR-alphaGAN.

Defaults as the original: ``--conf_epoch 10000``, ``--batch_size`` =
``CONST.BATCH_SIZE`` (20), checkpoints in ``DIR.CHECK_POINT_PATH``
(``./Checkpt``), scenes in ``DIR.SCENE_ID_PATH`` (``./Scenevox``), outputs in
``DIR.EVAL_PATH`` (``./eval``). The config is read from
``<checkpoint_dir>/config.json`` when present, then ``--set KEY VALUE [KEY
VALUE ...]`` (repeatable). Unknown modes are rejected (the original's mode
test accepted anything).

Every input is checked before the networks are restored and before anything
is written: the flags, the checkpoint ``ckpt-N``, the voxel root and its test
scenes (``evaluate_recons``) or ``decode_z.npy`` and its shape (the other
modes). A mode's files appear together when it completes; a failure leaves
the previous files byte for byte. Exit codes: 0 done, 2 bad input (one line
naming the flag, file or value), 130 stopped with Ctrl-C. TensorFlow's
start-up messages are hidden unless ``--verbose``. The modes are implemented
in :mod:`evaluation.alphagan_eval`.
"""
import sys

from data_provider import cli, folder_lock
from models.air.scenes import CAMERAS

MODES = ("evaluate_recons", "evaluate_interpolate", "evaluate_noise", "evaluate_air")


def build_parser():
    p = cli.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", required=True, choices=MODES, help="what to evaluate")
    p.add_argument("--conf_epoch", type=int, default=10000,
                   help="checkpoint number N (ckpt-N, after N * CHECK_FREQ iterations)")
    p.add_argument("--batch_size", type=int, default=None,
                   help="batch size and number of codes / bases [CONST.BATCH_SIZE = 20]")
    p.add_argument("--checkpoint_dir", default=None,
                   help="checkpoints and config.json [DIR.CHECK_POINT_PATH = ./Checkpt]")
    p.add_argument("--voxel_root", default=None,
                   help="scene voxels [DIR.SCENE_ID_PATH = ./Scenevox]")
    p.add_argument("--eval_dir", default=None, help="outputs [DIR.EVAL_PATH = ./eval]")
    p.add_argument("--num_scenes", type=int, default=200, help="test scenes for evaluate_recons")
    p.add_argument("--pairs", type=int, default=None,
                   help="evaluate_interpolate: only the first K ordered pairs [all]")
    p.add_argument("--bases", type=int, default=None,
                   help="evaluate_noise: only the first K base codes [batch_size]")
    p.add_argument("--seed", type=int, default=None, help="random seed [none, as the original]")
    p.add_argument("--per_sample", action="store_true",
                   help="interpolate/noise: run every code in a batch with the other test codes, "
                        "one run per code, as the original (slow)")
    p.add_argument("--workers", type=int, default=None,
                   help="threads for the AP metric [all cores]")
    p.add_argument("--weights", default=None, help="evaluate_air: train_air.py's weights.npz")
    p.add_argument("--n-test", type=int, default=500, help="evaluate_air: scenes to render")
    p.add_argument("--max-primitives", type=int, default=None,
                   help="evaluate_air: primitives per scene [as trained]")
    p.add_argument("--camera", choices=CAMERAS, default=None,
                   help="evaluate_air: the scenes' camera, the one the weights were trained "
                        "with (part of the model) [as trained]")
    p.add_argument("--camera-range", nargs="+", type=float, default=None,
                   metavar="DEGREES",
                   help="evaluate_air: AZ_MIN AZ_MAX EL_MIN EL_MAX, the range the scenes' "
                        "cameras are drawn in (degrees), "
                        "the one the weights were trained with (part of the model) [as trained]")
    p.add_argument("--out", default=None,
                   help="evaluate_air: metrics JSON "
                        "[air_eval_seed<S>_k<K>.json beside the weights]")
    cli.add_set_argument(p, "config override, e.g. --set CONST.N_VOX '[16,16,16]'")
    cli.add_verbose_argument(p)
    return p


def check_flags(args):
    """UsageError naming the first flag whose value cannot work."""
    if args.mode == "evaluate_air":
        from evaluation import air_eval
        air_eval.check_flags(args)
        return []
    for name in ("batch_size", "num_scenes", "pairs", "bases", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise cli.UsageError(f"--{name} must be a positive integer, got {value}")
    if args.conf_epoch < 0:
        raise cli.UsageError(f"--conf_epoch must be >= 0, got {args.conf_epoch}")
    return cli.set_pairs(args.set)


def check_inputs(args):
    """The flags, and for the FCR-alphaGAN modes the config overrides and the checkpoint's
    presence, in that order: what can be checked without TensorFlow."""
    overrides = check_flags(args)
    if args.mode != "evaluate_air":
        from evaluation import alphagan_eval as ev
        from models.fcr_alphagan.config import default_config
        checkpoint_dir = args.checkpoint_dir or default_config().DIR.CHECK_POINT_PATH
        ev.load_config(checkpoint_dir, [x for pair in overrides for x in pair])
        ev.checkpoint_path(checkpoint_dir, args.conf_epoch)


def run(args):
    """Check every input, restore ``ckpt-N``, run one mode; returns the mode's result."""
    overrides = check_flags(args)
    if args.mode == "evaluate_air":
        from evaluation import air_eval
        return air_eval.run(args)
    from evaluation import alphagan_eval as ev
    from models.fcr_alphagan.config import default_config
    checkpoint_dir = args.checkpoint_dir or default_config().DIR.CHECK_POINT_PATH
    cfg = ev.load_config(checkpoint_dir, [x for pair in overrides for x in pair])
    batch_size = args.batch_size or cfg.CONST.BATCH_SIZE
    eval_dir = args.eval_dir or cfg.DIR.EVAL_PATH
    ev.check_eval_dir(eval_dir)
    ev.checkpoint_path(checkpoint_dir, args.conf_epoch)
    if args.mode == "evaluate_recons":
        voxel_root = args.voxel_root or cfg.DIR.SCENE_ID_PATH
        plan = ev.recons_plan(cfg, voxel_root, batch_size, args.num_scenes, args.seed)
    else:
        ev.load_decode_z(eval_dir, batch_size, args.mode, cfg)
    nets = ev.restore_networks(cfg, checkpoint_dir, args.conf_epoch)
    print(f"[run] restored ckpt-{args.conf_epoch} from {checkpoint_dir}", file=sys.stderr)
    with folder_lock.hold(eval_dir, "--eval_dir", "run.py"):
        if args.mode == "evaluate_recons":
            return ev.evaluate_recons(nets, cfg, voxel_root, eval_dir, batch_size,
                                      args.num_scenes, args.seed, args.workers, plan=plan)
        if args.mode == "evaluate_interpolate":
            return ev.evaluate_interpolate(nets, cfg, eval_dir, batch_size, args.pairs,
                                           args.per_sample)
        return ev.evaluate_noise(nets, cfg, eval_dir, batch_size, args.seed, args.per_sample,
                                 args.bases)


def main(argv=None):
    """Command line: returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    code = cli.run_main("run.py", check_inputs, args)  # answered before TensorFlow loads
    if code:
        return code
    cli.quiet_tensorflow(args.verbose)
    return cli.run_main("run.py", run, args, tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

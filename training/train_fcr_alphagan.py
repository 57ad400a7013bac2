"""Train FCR-alphaGAN on a voxel scene tree (``<voxel_root>/<sceneId>/<modelId>.npy``).

Flags of the original ``main.py``: ``--epoch`` (TRAIN.NUM_EPOCH 15), ``--learning_rate_G``,
``--learning_rate_D`` (0.0001), ``--batch_size`` (CONST.BATCH_SIZE 20), ``--middle_start``
(resume; the original's ``--ini_epoch`` names the checkpoint number to resume from).
Added: ``--voxel_root``, ``--checkpoint_dir``, ``--max_iterations``, ``--max_seconds``, ``--seed``,
``--mixed_precision`` (bfloat16 compute), ``--legacy_swapped_gan_loss``,
``--bn_moving_averages``, ``--config FILE.yaml``, ``--set KEY VALUE [KEY VALUE ...]``
(repeatable) and ``--verbose``.

Training stops at ``--max_iterations``, after ``--epoch`` epochs or when the time budget
``--max_seconds`` of training iterations is used, whichever comes first; an explicit
``--max_iterations`` or ``--max_seconds`` without ``--epoch`` lifts the default epoch
count. The last line names the limit that ended the run.

Before anything is written to ``--checkpoint_dir``, every voxel file of the train and test
splits is checked (shape ``CONST.N_VOX``, integer dtype, labels 0..11, complete; the first
bad file is named, exit 2), as are the flags, the config, a training split of at least one
batch, the checkpoints to resume from and a ``sample_z.npy`` beside them.

Outputs in ``--checkpoint_dir``: ``ckpt-N`` (N = iteration // CHECK_FREQ, at most SAVER_MAX
kept), ``config.json`` (the model part is compared on resume: data paths, epochs and
intervals may change), ``sample_z.npy`` (with the first checkpoint), ``train_vox/<N>.npy``
(and ``<N>_refine.npy`` after SWITCHING_ITE), TensorBoard scalars in ``train/``. Without
``--middle_start`` a directory that already holds checkpoints is refused, so nothing is
overwritten by accident. The final (or interrupted) save at an iteration that is not a multiple of
CHECK_FREQ is written as ``ckpt-(iteration // CHECK_FREQ)`` too, replacing the regular
checkpoint of that number; resuming always continues from the latest state.

Example (CPU, tiny grid)::

    python training/train_fcr_alphagan.py --voxel_root rooms --checkpoint_dir ck \\
        --max_iterations 20 --set CONST.N_VOX [16,16,16] NET.START_VOX [1,1,1] \\
        NET.DIM [32,16,8,8,12] CONST.BATCH_SIZE 4 CHECK_FREQ 10
"""
import math
import os
import sys

from data_provider import cli

PROG = "train_fcr_alphagan.py"


def build_parser():
    from models.fcr_alphagan.config import default_config

    defaults = default_config()
    p = cli.ArgumentParser(prog=PROG, description="Train FCR-alphaGAN (two phases: "
                           "auto-encoding GAN, then refiner).")
    p.add_argument("--epoch", type=int, default=None,
                   help=f"epochs to train [TRAIN.NUM_EPOCH, {defaults.TRAIN.NUM_EPOCH}; lifted "
                        "by an explicit --max_iterations]")
    p.add_argument("--learning_rate_G", type=float, default=None,
                   help=f"generator Adam rate [LEARNING_RATE_G, {defaults.LEARNING_RATE_G}]")
    p.add_argument("--learning_rate_D", type=float, default=None,
                   help=f"discriminator Adam rate [LEARNING_RATE_D, {defaults.LEARNING_RATE_D}]")
    p.add_argument("--batch_size", type=int, default=None,
                   help=f"global batch of scenes [CONST.BATCH_SIZE, {defaults.CONST.BATCH_SIZE}]")
    p.add_argument("--middle_start", action="store_true",
                   help="resume from the checkpoints in --checkpoint_dir")
    p.add_argument("--ini_epoch", type=int, default=0,
                   help="with --middle_start: checkpoint number N (ckpt-N) to resume from; "
                        "0 = the latest")
    p.add_argument("--voxel_root", default=defaults.DIR.SCENE_ID_PATH,
                   help="voxel tree <root>/<sceneId>/<modelId>.npy")
    p.add_argument("--checkpoint_dir", default=defaults.DIR.CHECK_POINT_PATH,
                   help="checkpoints, config.json, sample_z.npy, train_vox/")
    p.add_argument("--max_seconds", type=float, default=None,
                   help="time budget of the training iterations of this run (then a checkpoint "
                        "and a clean stop)")
    p.add_argument("--max_iterations", type=int, default=None,
                   help="stop after this many iterations in total (0: build, log, exit)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--mixed_precision", action="store_true",
                   help="compute in bfloat16 (variables and losses stay float32)")
    p.add_argument("--legacy_swapped_gan_loss", action="store_true",
                   help="reproduce the original's swapped labels/logits in the GAN losses")
    p.add_argument("--bn_moving_averages", action="store_true",
                   help="batch norm uses moving averages at inference (original: batch stats)")
    p.add_argument("--log_steps", type=int, default=10, help="log every N iterations")
    p.add_argument("--config", default=None, help="YAML file of config overrides")
    cli.add_set_argument(p, "config overrides, e.g. --set CONST.N_VOX [16,16,16] CHECK_FREQ 2")
    cli.add_verbose_argument(p)
    return p


def make_config(args):
    """The config: defaults, then --config, then --set, then the explicit flags."""
    from models.fcr_alphagan.config import (
        cfg_from_file,
        cfg_from_list,
        check_config,
        default_config,
    )

    cfg = default_config()
    if args.config:
        cfg_from_file(cfg, args.config)
    cfg_from_list(cfg, [x for pair in cli.set_pairs(args.set) for x in pair])
    if args.epoch is not None:
        cfg.TRAIN.NUM_EPOCH = args.epoch
    if args.learning_rate_G is not None:
        cfg.LEARNING_RATE_G = args.learning_rate_G
    if args.learning_rate_D is not None:
        cfg.LEARNING_RATE_D = args.learning_rate_D
    if args.batch_size is not None:
        cfg.CONST.BATCH_SIZE = args.batch_size
    if args.legacy_swapped_gan_loss:
        cfg.TRAIN.LEGACY_SWAPPED_GAN_LOSS = True
    if args.bn_moving_averages:
        cfg.NET.BN_MOVING_AVERAGES = True
    root = os.path.abspath(args.voxel_root)
    ckpt = os.path.abspath(args.checkpoint_dir)
    cfg.DIR.SCENE_ID_PATH = root
    cfg.DIR.VOXEL_PATH = os.path.join(root, "%s", "%s")
    cfg.DIR.CHECK_POINT_PATH = ckpt
    cfg.DIR.CHECK_PT_PATH = os.path.join(ckpt, "ckpt")
    cfg.DIR.TRAIN_OBJ_PATH = os.path.join(ckpt, "train_vox")
    cfg.DIR.LOG_PATH = ckpt
    return check_config(cfg)


def log_parameter_counts(nets, log=print):
    """One line per network: ``trainable parameters <network>: N``."""
    from models.fcr_alphagan import NETWORK_NAMES, count_trainable

    for name in NETWORK_NAMES:
        log(f"trainable parameters {name}: {count_trainable(nets[name])}")


def resume_target(checkpoint_dir, middle_start, ini_epoch):
    """Refuse to overwrite without --middle_start; the checkpoint to resume from (or None).

    Only checks, writes nothing: the system makes ``ckpt-<ini_epoch>`` the
    latest when it is built, with the run folder held.
    """
    import tensorflow as tf

    from models import checkpoints

    latest = checkpoints.latest(checkpoint_dir)
    if not middle_start:
        if latest:
            raise cli.UsageError(f"--checkpoint_dir {checkpoint_dir} already holds checkpoints "
                                 f"(latest {os.path.basename(latest)}); pass --middle_start to "
                                 "resume or choose another directory")
        return None
    if latest is None:
        raise cli.UsageError(f"--middle_start: no checkpoint in --checkpoint_dir {checkpoint_dir}")
    if ini_epoch:
        wanted = os.path.join(checkpoint_dir, f"{checkpoints.CHECKPOINT_PREFIX}-{ini_epoch}")
        if not tf.io.gfile.exists(wanted + ".index"):
            raise cli.UsageError(f"--ini_epoch {ini_epoch}: {wanted}.index does not exist")
        return wanted
    return latest


def check_data(cfg, voxel_root, log=print):
    """Every voxel file of the train and test splits, and a training split of a full batch.

    Raises ``VoxelFileError`` naming the first bad file (shape, dtype, labels
    outside 0..11, unreadable or cut short) or ``cli.UsageError`` when the
    training split is smaller than one batch. Returns the training pairs.
    """
    from data_provider import voxel_provider

    train, test = voxel_provider.train_test_pairs(voxel_root, tuple(cfg.TRAIN.DATASET_PORTION))
    batch = int(cfg.CONST.BATCH_SIZE)
    if len(train) < batch:
        raise cli.UsageError(
            f"the training split under --voxel_root {voxel_root} holds {len(train)} scenes "
            f"(TRAIN.DATASET_PORTION {list(cfg.TRAIN.DATASET_PORTION)} of "
            f"{len(train) + len(test)}), fewer than one batch of {batch} (--batch_size)")
    voxel_provider.check_files(voxel_root, train + test, tuple(cfg.CONST.N_VOX), log=log)
    log(f"checked {len(train) + len(test)} voxel files ({len(train)} train, {len(test)} test)")
    return train


def train(cfg, args, log=print):
    """Build the system and run the shared loop; returns the loop's result dict."""
    from data_provider import voxel_provider
    from models.fcr_alphagan import build_networks
    from models.fcr_alphagan.config import model_config
    from training import checkpointing, loop
    from training.distribution import make_strategy
    from training.fcr_alphagan_system import FCRAlphaGANSystem, sample_z_shape, saved_sample_z

    dtype = "mixed_bfloat16" if args.mixed_precision else None
    if args.max_iterations == 0:
        log_parameter_counts(build_networks(cfg, dtype=dtype), log)
        return {"step": 0, "status": "built", "stopped_by": "max_iterations 0"}
    strategy = make_strategy()
    # everything that can be checked is checked before the first write to --checkpoint_dir
    checkpointing.check_model_dir(args.checkpoint_dir, FCRAlphaGANSystem.name,
                                  model_config(cfg), "--checkpoint_dir")
    wanted = resume_target(args.checkpoint_dir, args.middle_start, args.ini_epoch)
    saved_sample_z(args.checkpoint_dir, sample_z_shape(cfg, cfg.CONST.BATCH_SIZE))
    pairs = check_data(cfg, args.voxel_root, log)
    log(f"---amount of data: {len(pairs)}")
    dataset_fn = voxel_provider.voxel_dataset_fn(
        args.voxel_root, pairs, cfg.CONST.BATCH_SIZE, n_vox=tuple(cfg.CONST.N_VOX),
        seed=args.seed)
    system = FCRAlphaGANSystem(cfg, args.checkpoint_dir, cfg.CONST.BATCH_SIZE, args.seed, dtype,
                               on_build=lambda nets: log_parameter_counts(nets, log),
                               resume_from=wanted if args.ini_epoch else None)
    epochs = cfg.TRAIN.NUM_EPOCH
    if (args.max_iterations is not None or args.max_seconds is not None) and args.epoch is None:
        epochs = None  # an explicit iteration count wins over the default epoch count
    return loop.train(system, dataset_fn, model_dir=args.checkpoint_dir,
                      global_batch_size=cfg.CONST.BATCH_SIZE, max_steps=args.max_iterations,
                      max_seconds=args.max_seconds,
                      epochs=epochs, chkpt_steps=cfg.CHECK_FREQ, log_steps=args.log_steps,
                      max_to_keep=cfg.SAVER_MAX, number_checkpoints_by="interval",
                      model_dir_flag="--checkpoint_dir", strategy=strategy, tool=PROG, log=log)


def run(args):
    if args.max_iterations is not None and args.max_iterations < 0:
        raise cli.UsageError(f"--max_iterations must be >= 0, got {args.max_iterations}")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise cli.UsageError(f"--max_seconds must be > 0, got {args.max_seconds}")
    for flag in ("--learning_rate_G", "--learning_rate_D"):
        rate = getattr(args, flag[2:])
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise cli.UsageError(f"{flag} must be a positive number, got {rate}")
    cfg = make_config(args)
    cli.quiet_tensorflow(args.verbose)   # flags and config are checked before its start-up
    if args.seed is not None:
        import keras
        keras.utils.set_random_seed(args.seed)
    result = train(cfg, args, log=lambda m: print(m, flush=True))
    limit = {"max_steps": f"--max_iterations {args.max_iterations}",
             "max_seconds": f"--max_seconds {args.max_seconds}",
             "epochs": f"{cfg.TRAIN.NUM_EPOCH} epochs (--epoch)"}.get(
        result["stopped_by"], result["stopped_by"])
    print(f"finished at iteration {result['step']} ({result['status']}: {limit})", flush=True)
    return result


def main(argv=None):
    args = build_parser().parse_args(argv)
    return cli.run_main(PROG, run, args, tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())

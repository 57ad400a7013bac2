"""Benchmark of the FCR-alphaGAN evaluation: batched modes and fast metrics vs the original's way.

1. ``evaluate_noise`` and ``evaluate_interpolate`` at a small config: every code
   in its own run of a whole batch (the original; ``per_sample=True``) against
   all codes of a base / pair in batches. Moving-average batch normalisation is
   used so both give identical scenes, which is checked.
2. The metrics step on random 80x48x80 scenes: the original's loops
   (``tests/metrics_reference.py``: float64 one-hot volumes, scikit-learn per
   scene and class) against :mod:`evaluation.metrics` (label counts, sort-based
   AP over a thread pool). Equality of the numbers is checked.

    python benchmarks/eval_alphagan.py [--num_scenes 200] [--batch_size 20] [--skip_metrics]

The reference metrics hold float64 one-hot volumes of all scenes (about 30 MB
per scene per volume); use ``--num_scenes`` to stay within memory.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def random_scenes(num, shape=(80, 48, 80), seed=0, classes=12):
    """Label volumes (70 % empty) and softmax scores that favour the true class."""
    rng = np.random.default_rng(seed)
    true = rng.integers(1, classes, (num,) + shape).astype(np.uint8)
    true[rng.random(true.shape) < 0.7] = 0
    probs = np.empty(true.shape + (classes,), np.float32)
    for n in range(num):
        logits = rng.standard_normal(shape + (classes,), dtype=np.float32)
        np.put_along_axis(logits, true[n][..., None].astype(np.intp), 1.5, axis=-1)
        e = np.exp(logits)
        probs[n] = e / e.sum(-1, keepdims=True)
    return true, probs


def _metrics_reference():
    """The test suite's transcription of the original loops (``tests/metrics_reference.py``)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests",
                        "metrics_reference.py")
    spec = importlib.util.spec_from_file_location("metrics_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_metrics(num_scenes, workers):
    from evaluation import metrics as M
    R = _metrics_reference()
    print(f"== metrics: {num_scenes} random 80x48x80 scenes, 12 classes, {workers} threads")
    true, probs = random_scenes(num_scenes)
    pred = probs.argmax(-1).astype(np.uint8)
    t_iou_ref, iou_ref = _timed(R.reference_iou, pred, true)
    t_iou, iou = _timed(M.iou_rows, pred, true)
    t_ap_ref, ap_ref = _timed(R.reference_ap, true, probs)
    t_all, fast = _timed(M.evaluate_reconstruction, true, probs, workers)
    same_iou = np.allclose(iou, iou_ref, rtol=0, atol=1e-12, equal_nan=True)
    same = same_iou and np.allclose(fast["AP"], ap_ref, rtol=0, atol=1e-12)
    t_ref = t_iou_ref + t_ap_ref
    print(f"IoU  reference loops {t_iou_ref:8.2f} s   label counts {t_iou:8.3f} s   "
          f"ratio {t_iou_ref / t_iou:6.1f}x")
    print(f"AP   reference loops {t_ap_ref:8.2f} s")
    print(f"all  reference loops {t_ref:8.2f} s   fast metrics {t_all:8.2f} s   "
          f"ratio {t_ref / t_all:6.1f}x   (argmax + IoU + AP)")
    print(f"per scene: reference {1000 * t_ref / num_scenes:.0f} ms, "
          f"fast {1000 * t_all / num_scenes:.0f} ms; identical to 1e-12: {same}")
    return same


def bench_modes(batch_size, size):
    from evaluation import alphagan_eval as ev
    from models.fcr_alphagan import build_networks
    from models.fcr_alphagan.config import cfg_from_list, default_config
    start = [s // 16 for s in size]
    cfg = cfg_from_list(default_config(), [
        "CONST.N_VOX", str(list(size)), "NET.START_VOX", str(start), "NET.DIM", "[64,32,16,8,12]",
        "NET.REFINE_CH", "8", "NET.BN_MOVING_AVERAGES", "True"])
    nets = build_networks(cfg)
    positions = int(np.prod(start))
    print(f"== modes: N_VOX {list(size)}, START_VOX {start}, DIM [64,32,16,8,12], REFINE_CH 8, "
          f"batch {batch_size}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        slow_dir, fast_dir = os.path.join(tmp, "slow"), os.path.join(tmp, "fast")
        codes = np.random.default_rng(0).normal(size=[batch_size] + start + [16]).astype(np.float32)
        for d in (slow_dir, fast_dir):
            os.makedirs(d)
            np.save(os.path.join(d, "decode_z.npy"), codes)
        ev.generate_labels({k: nets[k] for k in ("generator", "refiner")}, codes[:2], 2)  # warm up
        runs = [("evaluate_noise (1 base, %d codes)" % (positions * 10),
                 lambda d, slow: ev.evaluate_noise(nets, cfg, d, batch_size, seed=0,
                                                   per_sample=slow, bases=1,
                                                   out=open(os.devnull, "w")),
                 "noise0_" + "0" * len(start) + ".npy"),
                ("evaluate_interpolate (2 pairs, 60 codes)",
                 lambda d, slow: ev.evaluate_interpolate(nets, cfg, d, batch_size, pairs=2,
                                                         per_sample=slow),
                 "interpolation0-1.npy")]
        for name, fn, probe in runs:
            t_slow, _ = _timed(fn, slow_dir, True)
            t_fast, _ = _timed(fn, fast_dir, False)
            same = np.array_equal(np.load(os.path.join(slow_dir, probe)),
                                  np.load(os.path.join(fast_dir, probe)))
            ok &= same
            print(f"{name:42s} per sample {t_slow:7.2f} s   batched {t_fast:7.2f} s   "
                  f"ratio {t_slow / t_fast:5.1f}x   identical: {same}")
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num_scenes", type=int, default=200, help="scenes for the metrics step [200]")
    p.add_argument("--batch_size", type=int, default=20,
                   help="batch of the modes [20, the original]")
    p.add_argument("--size", type=int, nargs=3, default=[32, 32, 32], help="N_VOX of the modes")
    p.add_argument("--workers", type=int, default=None, help="threads for AP [all cores]")
    p.add_argument("--skip_metrics", action="store_true")
    p.add_argument("--skip_modes", action="store_true")
    args = p.parse_args(argv)
    if args.num_scenes < 1 or args.batch_size < 2 or any(s % 16 for s in args.size):
        p.error("--num_scenes >= 1, --batch_size >= 2 and --size multiples of 16 expected")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from evaluation.metrics import default_workers
    ok = True
    if not args.skip_modes:
        ok &= bench_modes(args.batch_size, args.size)
    if not args.skip_metrics:
        ok &= bench_metrics(args.num_scenes, args.workers or default_workers())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

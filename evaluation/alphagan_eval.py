"""FCR-alphaGAN evaluation modes: reconstruction metrics, interpolation, latent noise.

Facts kept from the original ``evaluate.py`` (3D-FCR-alphaGAN):

- checkpoint ``N`` (``--conf_epoch``) holds the weights after ``N * CHECK_FREQ``
  iterations; the encoder code of a scene is the mean output ``z_mean``.
- ``evaluate_recons``: ``B`` codes ``z ~ N(0, 1)`` of shape ``[B, 5, 3, 5, 16]``
  (``sample_z.npy``), their generated and refined scenes as labels
  (``generate.npy``, ``generate_refine.npy``); 200 test scenes drawn at random
  (``real.npy``), their reconstructions before / after the refiner
  (``recons.npy``, ``recons_refine.npy``) and codes (``decode_z.npy``); IoU and
  AP as in :mod:`evaluation.metrics` (``IoU.csv``, ``AP.csv``,
  ``IoU_refine.csv``, ``AP_refine.csv``; AP scores are the softmax outputs); beyond the
  original, the usual IoU (Jaccard) in ``Jaccard.csv`` / ``Jaccard_refine.csv``.
- ``evaluate_interpolate``: for each ordered pair ``l != r`` of the first ``B``
  codes of ``decode_z.npy``, 30 codes ``z_0 = z_l``, ``z_i = z_{i-1} + (z_r -
  z_l) / 29`` (accumulated in float32 as the original does), refined labels in
  ``interpolation{l}-{r}.npy`` ``[30, X, Y, Z]``, codes in
  ``interpolation_z{l}-{r}.npy`` ``[30, 5, 3, 5, 16]``.
- ``evaluate_noise``: for each of the first ``B`` codes, 9 vectors
  ``eps ~ N(0, 1)`` of length 16, and for each latent position ``(c, l, d)``
  10 codes: the base and the base with ``eps_k`` added at that position;
  ``noise_z{b}_{c}{l}{d}.npy`` ``[10, 5, 3, 5, 16]`` and refined labels
  ``noise{b}_{c}{l}{d}.npy`` ``[10, X, Y, Z]``.

Differences, on purpose:

- Label volumes are saved as ``uint8`` (the original: float32 ``real.npy``,
  int64 argmax), 8x smaller, same values.
- The original feeds every single code to the networks inside a batch made of
  that code and the ``B - 1`` other test codes, one run per code. Here all the
  codes of a pair (or of a base) go through the generator and refiner in
  batches of at most ``B``. With moving-average batch normalisation
  (``NET.BN_MOVING_AVERAGES True``) both give the same scenes; with the
  original's batch statistics a scene depends on its batch companions, and
  ``per_sample=True`` (``--per_sample``) reproduces the original's companions.
- Every test scene is evaluated (the original used ``floor(200 / B) * B`` and
  failed when 200 was not a multiple of ``B``); the metrics are accumulated
  batch by batch instead of holding float64 one-hot volumes of all scenes.
- Beyond: ``change_map{b}.npy`` ``[5, 3, 5, X, Z]``, for each latent position
  the fraction of voxels (over the 9 noisy variants and the height axis) whose
  refined class differs from the base scene, drawn as ``change_map{b}.png``.

Safe outputs: each mode checks its inputs (voxel root and the test scenes'
headers, or ``decode_z.npy`` and its shape) before it runs the networks, and
writes all its files through one ``cli.OutputSet``: they appear together when
the mode completes, and a failure leaves the earlier files of the same names
byte for byte as they were.
"""
import glob
import json
import os
import re
import sys

import numpy as np

from data_provider import cli, images
from data_provider.progress import Progress
from evaluation import metrics as metrics_lib

INTERPOLATE_STEPS = 30
NOISE_VARIANTS = 10
DEFAULT_NUM_SCENES = 200


class EvaluationError(cli.UsageError):
    """Evaluation cannot run: a missing checkpoint, file or inconsistent input (exit code 2)."""


# ---------------------------------------------------------------- configuration, checkpoints

def load_config(checkpoint_dir, overrides=()):
    """The config of a run: ``<checkpoint_dir>/config.json`` (model and run parts) when
    present, else the defaults; then the ``--set`` overrides (a flat ``[KEY, VALUE, ...]``)."""
    from models import checkpoints
    from models.fcr_alphagan.config import cfg_from_list, default_config, from_saved

    checkpoint_dir = os.fspath(checkpoint_dir)
    if os.path.isfile(os.path.join(checkpoint_dir, checkpoints.CONFIG_FILE)):
        model, run = checkpoints.load_saved_config(checkpoint_dir, "fcr_alphagan",
                                                   "--checkpoint_dir")
        cfg = from_saved(model, run, source=os.path.join(checkpoint_dir, "config.json"))
    else:
        cfg = default_config()
    return cfg_from_list(cfg, list(overrides), source="--set")


def checkpoint_numbers(checkpoint_dir):
    """Sorted numbers ``N`` of the ``ckpt-N`` checkpoints in ``checkpoint_dir``."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(os.fspath(checkpoint_dir)), "ckpt-*.index")):
        match = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(path))
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def checkpoint_path(checkpoint_dir, conf_epoch):
    """``<checkpoint_dir>/ckpt-N``; EvaluationError listing the existing ones if absent."""
    path = os.path.join(os.fspath(checkpoint_dir), f"ckpt-{conf_epoch}")
    if not os.path.isfile(path + ".index"):
        existing = checkpoint_numbers(checkpoint_dir)
        listing = (", ".join(str(n) for n in existing) if existing else
                   "none" if os.path.isdir(checkpoint_dir) else "none (no such directory)")
        raise EvaluationError(f"no checkpoint ckpt-{conf_epoch} in {checkpoint_dir} "
                              f"(--conf_epoch {conf_epoch}); checkpoints there: {listing}")
    return path


def restore_networks(cfg, checkpoint_dir, conf_epoch):
    """Encoder, generator and refiner of ``cfg`` with the weights of checkpoint ``conf_epoch``."""
    from models import checkpoints
    from models.fcr_alphagan import build_networks

    path = checkpoint_path(checkpoint_dir, conf_epoch)
    nets = build_networks(cfg)
    keep = {k: nets[k] for k in ("encoder", "generator", "refiner")}
    try:
        checkpoints.restore(path, keep, "--conf_epoch")
    except checkpoints.CheckpointError as e:
        raise EvaluationError(f"{e}; this config has N_VOX {cfg.CONST.N_VOX}, "
                              f"DIM {cfg.NET.DIM}") from None
    return keep


# ---------------------------------------------------------------- running the networks

def chunks(total, batch_size):
    """Index ranges covering ``total`` in near-equal chunks of at most ``batch_size``."""
    if total == 0:
        return []
    count = -(-total // max(1, batch_size))
    bounds = np.linspace(0, total, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def generate(nets, z, batch_size):
    """Generator then refiner probabilities of codes ``z`` ``[M, 5, 3, 5, 16]``, in batches.

    Returns ``(probs, refined)``, each float32 ``[M, X, Y, Z, C]``.
    """
    z = np.asarray(z, np.float32)
    probs, refined = [], []
    for a, b in chunks(len(z), batch_size):
        p = nets["generator"](z[a:b], training=False)
        refined.append(np.asarray(nets["refiner"](p, training=False)))
        probs.append(np.asarray(p))
    return np.concatenate(probs), np.concatenate(refined)


def generate_labels(nets, z, batch_size, progress=None):
    """Argmax labels (uint8) of the generated and refined scenes of ``z``, in batches."""
    z = np.asarray(z, np.float32)
    out_gen, out_ref = None, None
    for a, b in chunks(len(z), batch_size):
        probs, refined = generate(nets, z[a:b], batch_size)
        if out_gen is None:
            out_gen = np.empty((len(z),) + probs.shape[1:-1], np.uint8)
            out_ref = np.empty_like(out_gen)
        out_gen[a:b] = probs.argmax(-1)
        out_ref[a:b] = refined.argmax(-1)
        if progress:
            progress.update(b)
    return out_gen, out_ref


def refined_labels_per_sample(nets, z, companions, progress=None):
    """The original's way: code ``z[i]`` runs in a batch with ``companions``; keep row 0.

    One generator and refiner run per code; returns uint8 refined labels ``[M, X, Y, Z]``.
    """
    z = np.asarray(z, np.float32)
    companions = np.asarray(companions, np.float32)
    out = None
    for i in range(len(z)):
        batch = np.concatenate([z[i:i + 1], companions])
        refined = np.asarray(nets["refiner"](nets["generator"](batch, training=False),
                                             training=False))[0]
        if out is None:
            out = np.empty((len(z),) + refined.shape[:-1], np.uint8)
        out[i] = refined.argmax(-1)
        if progress:
            progress.update(i + 1)
    return out


def _refined(nets, z, batch_size, companions, per_sample, progress=None):
    if per_sample:
        return refined_labels_per_sample(nets, z, companions, progress)
    return generate_labels(nets, z, batch_size, progress)[1]


# ---------------------------------------------------------------- evaluate_recons

def _onehot(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[labels]


def test_scene_pairs(cfg, voxel_root, num_scenes, rng):
    """``num_scenes`` test pairs drawn at random (all if fewer), like the original."""
    from data_provider import voxel_provider
    if not os.path.isdir(voxel_root):
        raise EvaluationError(
            f"--voxel_root {voxel_root}: not a directory of <sceneId>/<modelId>.npy")
    _, test = voxel_provider.train_test_pairs(voxel_root, tuple(cfg.TRAIN.DATASET_PORTION))
    if not test:
        raise EvaluationError(f"--voxel_root {voxel_root}: no test scenes (test = the scenes after "
                              f"the TRAIN.DATASET_PORTION {list(cfg.TRAIN.DATASET_PORTION)} slice)")
    order = rng.permutation(len(test))[:num_scenes]
    return [test[i] for i in order]


def recons_plan(cfg, voxel_root, batch_size, num_scenes=DEFAULT_NUM_SCENES, seed=None):
    """Everything ``evaluate_recons`` draws, checked before any network runs or file is written.

    Returns ``{"sample_z", "pairs"}``: the ``B`` codes ``z ~ N(0, 1)`` and the
    test scenes drawn at random (in the original's order of draws). Raises
    EvaluationError / VoxelFileError for a missing voxel root, no test scenes
    or a test scene whose header does not fit ``CONST.N_VOX``.
    """
    from data_provider import voxel_provider
    rng = np.random.default_rng(seed)
    shape = [batch_size] + list(cfg.NET.START_VOX) + [cfg.NET.DIM_Z]
    sample_z = rng.normal(size=shape).astype(np.float32)
    pairs = test_scene_pairs(cfg, voxel_root, num_scenes, rng)
    for scene_id, model_id in pairs:
        voxel_provider.read_header(voxel_provider.voxel_path(voxel_root, scene_id, model_id),
                                   tuple(cfg.CONST.N_VOX))
    return {"sample_z": sample_z, "pairs": pairs}


def check_eval_dir(eval_dir):
    """EvaluationError when ``--eval_dir`` exists and is not a directory."""
    if os.path.exists(eval_dir) and not os.path.isdir(eval_dir):
        raise EvaluationError(f"--eval_dir {eval_dir}: exists and is not a directory")


def evaluate_recons(nets, cfg, voxel_root, eval_dir, batch_size, num_scenes=DEFAULT_NUM_SCENES,
                    seed=None, workers=None, out=None, plan=None):
    """Sample, reconstruct and score; writes the original's files plus ``metrics.json``.

    ``plan``: the result of :func:`recons_plan` (made here when None). All the
    files appear together at the end (see the module docstring). Returns
    ``{"IoU": rows, "AP": rows, "Jaccard": rows}`` and the same keys with ``_refine``;
    ``Jaccard`` (the usual IoU, ``Jaccard.csv``) is not in the original.
    """
    from data_provider import voxel_provider
    check_eval_dir(eval_dir)
    plan = plan or recons_plan(cfg, voxel_root, batch_size, num_scenes, seed)
    start, dim_z, n_vox = list(cfg.NET.START_VOX), cfg.NET.DIM_Z, tuple(cfg.CONST.N_VOX)
    num_classes = int(cfg.NET.DIM[4])

    sample_z, pairs = plan["sample_z"], plan["pairs"]
    gen, gen_ref = generate_labels(nets, sample_z, batch_size)
    count = len(pairs)
    real = np.empty((count,) + n_vox, np.uint8)
    recons, recons_ref = np.empty_like(real), np.empty_like(real)
    decode_z = np.empty([count] + start + [dim_z], np.float32)
    scores = {"": metrics_lib.ReconstructionMetrics(num_classes, workers),
              "_refine": metrics_lib.ReconstructionMetrics(num_classes, workers)}
    progress = Progress("evaluate_recons", count, "scenes")
    for a, b in chunks(count, batch_size):
        true = voxel_provider.load_scenes(voxel_root, pairs[a:b], n_vox)
        z_mean, _ = nets["encoder"](_onehot(true, num_classes), training=False)
        probs, refined = generate(nets, z_mean, batch_size)
        real[a:b], decode_z[a:b] = true, np.asarray(z_mean)
        recons[a:b], recons_ref[a:b] = probs.argmax(-1), refined.argmax(-1)
        scores[""].update(true, recons[a:b], probs)
        scores["_refine"].update(true, recons_ref[a:b], refined)
        progress.update(b)

    results = {}
    for suffix, acc in scores.items():
        rows = acc.result()
        for metric in ("IoU", "AP", "Jaccard"):
            results[metric + suffix] = rows[metric]
    summary = {"num_scenes": count, "seed": seed,
               "rows": list(metrics_lib.ROW_NAMES[:num_classes + 1]),
               **{k: [None if np.isnan(v) else float(v) for v in rows]
                  for k, rows in results.items()}}
    with cli.OutputSet(eval_dir) as files:
        for name, array in (("sample_z.npy", sample_z), ("generate.npy", gen),
                            ("generate_refine.npy", gen_ref), ("real.npy", real),
                            ("recons.npy", recons), ("recons_refine.npy", recons_ref),
                            ("decode_z.npy", decode_z)):
            files.save_npy(name, array)
        for name, rows in results.items():
            metrics_lib.save_rows(files.path(f"{name}.csv"), rows)
        files.write_text("metrics.json", json.dumps(summary, indent=1))
    print(metrics_lib.format_table(results), file=out or sys.stdout, flush=True)
    return results


# ---------------------------------------------------------------- decode_z based modes

def load_decode_z(eval_dir, batch_size, mode, cfg=None):
    """The first ``batch_size`` codes of ``<eval_dir>/decode_z.npy``; explains how to make it.

    With ``cfg`` the codes' shape is checked against ``NET.START_VOX`` and
    ``NET.DIM_Z``. Raises EvaluationError naming the file.
    """
    path = os.path.join(eval_dir, "decode_z.npy")
    if not os.path.isfile(path):
        raise EvaluationError(
            f"{path} not found: {mode} starts from the codes of test scenes; make them first with "
            f"'python evaluation/run.py --mode evaluate_recons --conf_epoch N "
            f"--eval_dir {eval_dir}'")
    try:
        codes = cli.load_npy(path, "codes file")
    except cli.UsageError as e:
        raise EvaluationError(str(e)) from None
    if codes.ndim != 5 or len(codes) == 0 or codes.dtype.kind != "f":
        raise EvaluationError(f"{path}: expected float codes [N, X, Y, Z, dim_z], got "
                              f"{codes.dtype} of shape {codes.shape}")
    if cfg is not None:
        _check_code_shape(codes, cfg, path)
    return codes[:batch_size].astype(np.float32, copy=False)


def _check_code_shape(codes, cfg, path):
    expected = tuple(cfg.NET.START_VOX) + (cfg.NET.DIM_Z,)
    if codes.shape[1:] != expected:
        raise EvaluationError(f"{path}: codes of shape {codes.shape[1:]} do not fit this config "
                              f"(NET.START_VOX + NET.DIM_Z = {expected})")


def interpolation_codes(left, right, steps=INTERPOLATE_STEPS):
    """``steps`` codes from ``left`` to ``right``: start at left, add ``(right - left) /
    (steps - 1)``."""
    left = np.asarray(left, np.float32)[None]
    duration = (np.asarray(right, np.float32)[None] - left) / np.float32(steps - 1)
    codes = [left]
    for _ in range(steps - 1):
        codes.append(codes[-1] + duration)
    return np.concatenate(codes)


def ordered_pairs(count, limit=None):
    """``(left, right)`` for ``left != right`` in the original's order, at most ``limit`` of
    them."""
    pairs = [(left, right) for left in range(count) for right in range(count) if left != right]
    return pairs if limit is None else pairs[:limit]


def evaluate_interpolate(nets, cfg, eval_dir, batch_size, pairs=None, per_sample=False):
    """Interpolate between the codes of ``decode_z.npy``; returns the ``(l, r)`` pairs done.

    The files appear together when every pair is done (see the module docstring).
    """
    codes = load_decode_z(eval_dir, batch_size, "evaluate_interpolate", cfg)
    todo = ordered_pairs(len(codes), pairs)
    progress = Progress("evaluate_interpolate", len(todo), "pairs")
    with cli.OutputSet(eval_dir) as files:
        for i, (left, right) in enumerate(todo):
            z = interpolation_codes(codes[left], codes[right])
            labels = _refined(nets, z, batch_size, np.delete(codes, left, axis=0), per_sample)
            files.save_npy(f"interpolation_z{left}-{right}.npy", z)
            files.save_npy(f"interpolation{left}-{right}.npy", labels)
            progress.update(i + 1)
    return todo


def noise_codes(base, eps):
    """Codes ``[P * V, ...]``: per latent position (C order), the base then base + eps_k there."""
    base = np.asarray(base, np.float32)
    positions = list(np.ndindex(*base.shape[:-1]))
    codes = np.repeat(base[None], len(positions) * (len(eps) + 1), axis=0)
    codes = codes.reshape((len(positions), len(eps) + 1) + base.shape)
    for p, pos in enumerate(positions):
        codes[(p, slice(1, None)) + pos] += eps
    return codes.reshape((-1,) + base.shape), positions


def change_map(labels):
    """Fraction of changed voxels ``[P, X, Z]`` from labels ``[P, V, X, Y, Z]`` (variant 0 =
    base)."""
    changed = labels[:, 1:] != labels[:, :1]
    return changed.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def _heat(values):
    v = np.clip(values, 0.0, 1.0)
    rgb = np.stack([np.minimum(1, 3 * v), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], -1)
    return (rgb * 255).astype(np.uint8)


def save_change_map_png(path, cmap, gap=4):
    """Draw ``cmap`` ``[C0, C1, C2, X, Z]``: one panel per latent height ``C1``, each a
    ``C0 x C2`` grid of top-down ``X x Z`` tiles, brighter = more voxels changed."""
    c0, c1, c2, x, z = cmap.shape
    scale = float(cmap.max()) or 1.0
    height = c0 * (x + gap) + gap
    width = c1 * (c2 * (z + gap) + 3 * gap) + gap
    canvas = np.full((height, width, 3), 40, np.uint8)
    for j in range(c1):
        left = gap + j * (c2 * (z + gap) + 3 * gap)
        for i in range(c0):
            for k in range(c2):
                top, col = gap + i * (x + gap), left + k * (z + gap)
                canvas[top:top + x, col:col + z] = _heat(cmap[i, j, k] / scale)
    return images.save_png(canvas, path)


def evaluate_noise(nets, cfg, eval_dir, batch_size, seed=None, per_sample=False, bases=None,
                   out=None):
    """Latent noise per position for the codes of ``decode_z.npy``; returns the change maps.

    The files appear together when every base is done (see the module docstring).
    """
    codes = load_decode_z(eval_dir, batch_size, "evaluate_noise", cfg)
    rng = np.random.default_rng(seed)
    count = len(codes) if bases is None else min(bases, len(codes))
    grid = tuple(codes.shape[1:-1])
    maps = []
    with cli.OutputSet(eval_dir) as files:
        for b in range(count):
            maps.append(_noise_base(nets, codes, b, count, rng, batch_size, per_sample, grid,
                                    files, out))
    return maps


def _noise_base(nets, codes, b, count, rng, batch_size, per_sample, grid, files, out):
    """``evaluate_noise`` for base code ``b``: writes its files into ``files``; returns its map."""
    eps = rng.normal(size=(NOISE_VARIANTS - 1, codes.shape[-1])).astype(np.float32)
    z, positions = noise_codes(codes[b], eps)
    progress = Progress(f"evaluate_noise base {b + 1}/{count}", len(z), "codes")
    labels = _refined(nets, z, batch_size, np.delete(codes, b, axis=0), per_sample, progress)
    z = z.reshape((len(positions), NOISE_VARIANTS) + z.shape[1:])
    labels = labels.reshape((len(positions), NOISE_VARIANTS) + labels.shape[1:])
    for p, pos in enumerate(positions):
        tag = "".join(str(i) for i in pos)
        files.save_npy(f"noise_z{b}_{tag}.npy", z[p])
        files.save_npy(f"noise{b}_{tag}.npy", labels[p])
    cmap = change_map(labels).reshape(grid + labels.shape[2:3] + labels.shape[4:5])
    files.save_npy(f"change_map{b}.npy", cmap)
    save_change_map_png(files.path(f"change_map{b}.png"), cmap)
    frac = cmap.mean(axis=(-2, -1))
    top = np.unravel_index(np.argmax(frac), frac.shape)
    print(f"base {b}: {100 * frac.mean():.2f}% of voxels change on average; most at latent "
          f"position {''.join(map(str, top))} ({100 * frac.max():.2f}%)",
          file=out or sys.stdout, flush=True)
    return cmap

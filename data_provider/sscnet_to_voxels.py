"""Convert SSCNet / SUNCG ground-truth ``.bin`` volumes into FCR-alphaGAN voxel scenes.

Input format (SSCNet ground truth, voxel size 0.02 m):

- 3 float32: the volume's origin in world coordinates;
- 16 float32: the camera pose, a 4x4 matrix;
- the rest: uint32 pairs ``(value, run_length)``, a run-length encoding of a
  240 x 144 x 240 label volume in column-major (Fortran) order. The first
  axis varies fastest; the middle axis (144) is the height, pointing up
  (floors sit at low indices, ceilings at high ones).

Values are raw object ids 0..36 and 255 (outside the room / unobserved);
:data:`RAW_TO_CLASS` maps raw id ``i`` to the 12 scene classes (0 empty,
1 ceiling, 2 floor, 3 wall, 4 window, 5 chair, 6 bed, 7 sofa, 8 table, 9 tvs,
10 furniture, 11 objects) as SSCNet does; 255 becomes empty.

Output: ``<out>/<sceneId>/<modelId>.npy``, uint8 labels of shape [80, 48, 80]
with the same axis order as the volume (``[x, height, z]``: the project's grids
keep the middle axis as the height). ``sceneId``/``modelId`` come from the file
name split at its last underscore (``NYU0001_0000.bin`` -> ``NYU0001/0000.npy``).

Reduction by 3 along every axis (the original paper only says "downsized"):
each 3x3x3 block becomes **the most frequent non-empty class among its 27
voxels when at least** ``min_block`` **(default 3) of them are occupied**,
otherwise empty; ties go to the higher class id (objects before structure).
Why 3: a one-voxel-thick rod or plane crossing a block occupies at least 3 of
its voxels, so thin walls, floors, ceilings, table legs and small objects are
kept, while isolated one- or two-voxel speckles of depth-fusion noise are
dropped. A majority rule (14 of 27) instead deletes 2 cm thick floors and
walls, which often split 9 + 9 over two blocks (on NYU0001 it removes the whole
floor). Keeping thin structures thickens them to one 6 cm block, so their share
of the occupied voxels grows while bulky furniture's shrinks; the class
histogram otherwise stays close to the source's.

Filter kept from the original: scenes with ``min_occupied`` or fewer occupied
voxels after reduction are skipped (``--min_occupied 10000``, the original's
"more than 10000 occupied voxels"; 0 keeps everything).

CLI::

    python data_provider/sscnet_to_voxels.py INPUT.bin [...] --out DIR [--min_occupied 10000]

Existing outputs are never replaced unless ``--overwrite``; the outputs are
written under temporary names and appear together when every input is
converted (a bad input part-way leaves nothing behind).
"""
import logging
import os
import sys

import numpy as np

from data_provider import cli, folder_lock
from data_provider.progress import Progress
from data_provider.voxel_classes import NUM_CLASSES

SHAPE = (240, 144, 240)
FACTOR = 3
HEADER_FLOATS = 19
RAW_TO_CLASS = np.array([0, 1, 2, 3, 4, 11, 5, 6, 7, 8, 8, 10, 10, 10, 11, 11, 9, 8, 11, 11, 11,
                         11, 11, 11, 11, 11, 11, 10, 10, 11, 8, 10, 11, 9, 11, 11, 11], np.uint8)
UNOBSERVED = 255
MIN_BLOCK = 3

logger = logging.getLogger(__name__)


class SSCNetFileError(cli.UsageError):
    """A ``.bin`` file that is not a valid SSCNet volume; the message names the file (exit
    code 2)."""


def read_sscnet_bin(path, shape=SHAPE):
    """Read one ``.bin``: returns (origin [3] float32, pose [4, 4] float32, raw ids uint32
    ``shape``)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise SSCNetFileError(f"{path}: unreadable ({err.strerror})") from None
    header = HEADER_FLOATS * 4
    if len(data) < header or (len(data) - header) % 8:
        raise SSCNetFileError(f"{path}: {len(data)} bytes; expected a {header}-byte header "
                              "followed by uint32 (value, run_length) pairs")
    head = np.frombuffer(data[:header], np.float32)
    runs = np.frombuffer(data[header:], np.uint32).reshape(-1, 2)
    total = int(runs[:, 1].sum(dtype=np.uint64))
    if total != int(np.prod(shape)):
        raise SSCNetFileError(f"{path}: run lengths add up to {total} voxels, "
                              f"expected {int(np.prod(shape))} ({'x'.join(map(str, shape))})")
    raw = np.repeat(runs[:, 0], runs[:, 1]).reshape(shape, order="F")
    return head[:3].copy(), head[3:].reshape(4, 4).copy(), raw


def map_classes(raw, path="<array>"):
    """Raw SSCNet ids -> 12 classes (uint8); 255 -> 0. Raises SSCNetFileError on other ids."""
    table = np.full(256, 255, np.uint8)
    table[:len(RAW_TO_CLASS)] = RAW_TO_CLASS
    table[UNOBSERVED] = 0
    bad = (raw > 255) | (table[np.minimum(raw, 255)] == 255)
    if bad.any():
        found = np.unique(raw[bad])[:5].tolist()
        raise SSCNetFileError(
            f"{path}: raw labels {found} outside 0..{len(RAW_TO_CLASS) - 1} and 255")
    return table[raw]


def downsample(labels, factor=FACTOR, min_block=MIN_BLOCK):
    """Reduce class labels by ``factor`` per axis with the block rule of the module docstring.

    ``labels`` [X, Y, Z] ints in 0..11 with every axis divisible by ``factor``;
    returns uint8 [X/f, Y/f, Z/f]. Vectorised: one count per class over blocks.
    """
    sx, sy, sz = labels.shape
    if sx % factor or sy % factor or sz % factor:
        raise ValueError(f"shape {labels.shape} is not divisible by {factor}")
    blocks = labels.reshape(sx // factor, factor, sy // factor, factor, sz // factor, factor)
    blocks = blocks.transpose(0, 2, 4, 1, 3, 5).reshape(sx // factor, sy // factor,
                                                        sz // factor, -1)
    counts = np.stack([(blocks == c).sum(-1, dtype=np.int32)
                       for c in range(NUM_CLASSES - 1, 0, -1)],
                      axis=-1)  # classes 11..1, so argmax breaks ties toward the higher id
    best = (NUM_CLASSES - 1 - np.argmax(counts, axis=-1)).astype(np.uint8)
    return np.where(counts.sum(-1) >= min_block, best, 0).astype(np.uint8)


def convert_file(path, min_block=MIN_BLOCK):
    """One ``.bin`` -> uint8 labels [80, 48, 80]."""
    _, _, raw = read_sscnet_bin(path)
    return downsample(map_classes(raw, os.fspath(path)), FACTOR, min_block)


def output_ids(path):
    """(sceneId, modelId) from the file name: split at the last underscore."""
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    scene, sep, model = stem.rpartition("_")
    return (scene, model) if sep and scene else (stem, stem)


def convert(paths, out, min_occupied=0, min_block=MIN_BLOCK, overwrite=False, log=None):
    """Convert many files into ``<out>/<sceneId>/<modelId>.npy``.

    Returns (written paths, skipped input paths below the occupancy filter).
    Never overwrites an existing output unless ``overwrite``; raises
    FileExistsError naming it (or ``cli.UsageError`` for a missing input,
    ``--min_block`` outside 1..27 or two inputs with one output name) before
    converting anything. The outputs appear together when every input is
    converted. Progress lines go to ``log`` (default: stderr). While it checks
    and writes, it holds ``out`` (``data_provider/folder_lock.py``): a second
    writer is refused naming this one, and an unwritable ``out`` is a usage
    error before anything is converted.
    """
    if not 1 <= min_block <= 27:
        raise cli.UsageError(f"--min_block must be in 1..27, got {min_block}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise cli.UsageError(f"--out {out} exists and is not a directory")
    with folder_lock.hold(os.fspath(out), "--out", "sscnet_to_voxels.py", log=log):
        return _convert(paths, os.fspath(out), min_occupied, min_block, overwrite, log)


def _convert(paths, out, min_occupied, min_block, overwrite, log):
    targets = []
    for path in paths:
        if not os.path.isfile(path):
            raise SSCNetFileError(f"{path}: no such file")
        scene, model = output_ids(path)
        name = os.path.join(scene, model + ".npy")
        target = os.path.join(out, name)
        if os.path.exists(target) and not overwrite:
            raise FileExistsError(f"{target} exists; refusing to overwrite it (pass --overwrite)")
        targets.append(name)
    if len(set(targets)) != len(targets):
        raise cli.UsageError("two inputs map to the same output name; rename them")
    written, skipped = [], []
    progress = Progress("sscnet_to_voxels", len(paths), "files", log=log)
    with cli.OutputSet(out) as outputs:
        for i, (path, name) in enumerate(zip(paths, targets), 1):
            vox = convert_file(path, min_block)
            occupied = int(np.count_nonzero(vox))
            if occupied <= min_occupied:
                logger.info("skip %s: %d occupied voxels <= %d", path, occupied, min_occupied)
                skipped.append(path)
            else:
                written.append(outputs.save_npy(name, vox))
            progress.update(i)
    return written, skipped


def build_parser():
    parser = cli.ArgumentParser(prog="sscnet_to_voxels.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT.bin", help="SSCNet ground-truth files")
    parser.add_argument("--out", required=True, help="output voxel root")
    parser.add_argument("--min_occupied", type=int, default=0,
                        help="keep only scenes with more occupied voxels (original: 10000)")
    parser.add_argument("--min_block", type=int, default=MIN_BLOCK,
                        help="occupied voxels (of 27) that make a 3x3x3 block occupied")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def run(args):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    written, skipped = convert(args.inputs, args.out, args.min_occupied, args.min_block,
                               args.overwrite)
    print(f"wrote {len(written)} scenes under {args.out}, skipped {len(skipped)} "
          f"with <= {args.min_occupied} occupied voxels")
    return written, skipped


def main(argv=None):
    """Command line: returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    return cli.run_main("sscnet_to_voxels.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

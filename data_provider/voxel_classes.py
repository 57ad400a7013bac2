"""The 12 classes of the FCR-alphaGAN voxel scenes and the one label check.

Facts kept from 3D-FCR-alphaGAN (its SUNCG/SSCNet-derived data): labels
``0..11``, where 0 is empty, in this order: empty, ceiling, floor, wall,
window, chair, bed, sofa, table, tvs, furn, objs (SSCNet's short names).

No TensorFlow here: the data tools, the evaluation and the viewer all import
this module, and the viewer must stay TensorFlow-free.
"""
import numpy as np

NUM_CLASSES = 12
CLASS_NAMES = ("empty", "ceiling", "floor", "wall", "window", "chair", "bed", "sofa",
               "table", "tvs", "furn", "objs")
EMPTY = 0


def label_range(num_classes=NUM_CLASSES):
    """The valid labels as text: ``0..11``."""
    return f"0..{num_classes - 1}"


def check_labels(volume, name="labels", num_classes=NUM_CLASSES, error=ValueError):
    """Class labels of ``volume`` as an integer array; ``error`` naming ``name`` otherwise.

    Accepts integer or boolean arrays, and floating arrays whose values are
    whole numbers; every label must lie in ``0..num_classes - 1``. The message
    says ``<name>: labels outside 0..11 (found min A, max B)`` or why the
    values are not labels. Integer input is returned unchanged (no copy).
    """
    volume = np.asarray(volume)
    if volume.dtype.kind == "f":
        if not np.isfinite(volume).all():
            raise error(f"{name}: expected class labels {label_range(num_classes)}, "
                        "got nan or inf values")
        as_int = volume.astype(np.int64)
        if not np.array_equal(as_int, volume):
            raise error(f"{name}: expected integer class labels {label_range(num_classes)}, "
                        "got non-integer values")
        volume = as_int
    elif volume.dtype.kind not in "iub":
        raise error(f"{name}: expected integer class labels {label_range(num_classes)}, "
                    f"got dtype {volume.dtype}")
    if volume.size:
        lo, hi = int(volume.min()), int(volume.max())
        if lo < 0 or hi >= num_classes:
            raise error(f"{name}: labels outside {label_range(num_classes)} "
                        f"(found min {lo}, max {hi})")
    return volume

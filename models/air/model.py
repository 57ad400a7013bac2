"""AIR 3D inference network: image -> per slot presence, type, position, rotation.

``AIRInference3D`` = ``ConvEncoder`` + a head:

* ``glimpse`` (default), attend then infer as in AIR: the grid head finds the
  primitives (presence and image point per cell of the 16x16 grid), then
  the ``GlimpseReader`` reads type, rotation, the exact centre and the depth
  correction from a full-resolution window around each found point
  (``glances`` times, each window centred on the previous reading; one by
  default: a second glance pulls the window of a primitive that overlaps
  another towards the other's centre, and the two readings merge);
* ``grid``: the grid head alone (every cell a candidate);
* ``slots``: the reference's layout (``SlotHead``), ``max_primitives`` slots
  read from the flattened features.

With ``repeat`` (AIR's repeat), the network reads a second channel, the
canvas: the rendering of primitives already explained (empty at the first
pass), and is taught to find only the others (``models.air.explain``).

``call(images)`` returns the candidates (``[B, S, ...]``, ``S`` cells or
slots): ``presence_logit``, ``type_logits`` (sphere, cube, cylinder),
``position`` (targets in [-1, 1]), ``rotation`` (3x3 matrices) and, for the
grid, ``image_uv``; float32 whatever the compute dtype. ``read(images,
image_index, uv)`` runs the glimpse reader; ``slots(images)`` returns the
``max_primitives`` slots, most present first (with the glimpse readings);
grid cells that point at the same image point are merged
(``merge_candidates``).
"""
import keras
import tensorflow as tf

from models.air.encoder import ConvEncoder
from models.air.glimpse import GlimpseReader, crop_glimpses
from models.air.grid_head import GridHead, position_from_view
from models.air.slot_head import SlotHead

HEADS = ("glimpse", "grid", "slots")
SLOT_KEYS = ("presence_logit", "type_logits", "position", "rotation")


def top_slots(candidates, k):
    """The ``k`` candidates of highest presence logit, in that order (dict of ``[B, k, ...]``)."""
    _, index = tf.math.top_k(candidates["presence_logit"], k=k)
    return {name: tf.gather(value, index, axis=1, batch_dims=1)
            for name, value in candidates.items()}


def merge_candidates(candidates, radius, keep=16, floor=0.05):
    """Grid cells that point at the same image point are one primitive.

    Among the ``keep`` most present cells, each cell joins the most present
    cell whose image point lies within ``radius`` (image units) of its own;
    a cell that joins itself heads a group whose presence probability is the
    sum of its members' (those above ``floor``), at most 1. Returns the heads
    (others get presence logit -inf), ``[B, keep, ...]``.
    """
    top = top_slots(candidates, keep)
    p = tf.sigmoid(top["presence_logit"])
    uv = top["image_uv"]
    near = tf.norm(uv[:, :, None] - uv[:, None], axis=-1) < radius            # [B, M, M]
    head = tf.argmax(tf.where(near, p[:, None, :], -1.0), axis=-1, output_type=tf.int32)
    member = tf.one_hot(head, keep) * tf.cast(p > floor, tf.float32)[..., None]  # [B, M, M]
    mass = tf.minimum(tf.einsum("bm,bmh->bh", p, member), 1.0 - 1e-6)
    is_head = tf.equal(head, tf.range(keep)[None, :])
    logit = tf.math.log(mass) - tf.math.log1p(-mass)
    top["presence_logit"] = tf.where(is_head, logit, -1e9)
    return top


class AIRInference3D(keras.Model):
    """``call(images) -> candidates``; ``slots(images) -> max_primitives slots``."""

    def __init__(self, max_primitives=3, head="glimpse", channels=None, kernels=None,
                 strides=None, hidden=128, glimpse_size=24, merge_pixels=2.0,
                 glimpse_channels=(16, 32, 64, 64), glimpse_hidden=256, glances=1,
                 input_channels=1, **kwargs):
        kwargs.setdefault("name", "air_inference_3d")
        super().__init__(**kwargs)
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.max_primitives, self.head_name, self.glimpse_size = max_primitives, head, glimpse_size
        self.merge_pixels, self.glances = merge_pixels, glances
        self.input_channels = input_channels
        encoder_args = {k: tuple(v) for k, v in
                        (("channels", channels), ("kernels", kernels), ("strides", strides))
                        if v is not None}
        policy = self.dtype_policy
        self.encoder = ConvEncoder(dtype=policy, **encoder_args)
        self.head = (SlotHead(max_primitives, hidden, name="slot_head", dtype=policy)
                     if head == "slots" else GridHead(hidden, name="grid_head", dtype=policy))
        self.reader = (GlimpseReader(tuple(glimpse_channels), hidden=glimpse_hidden, dtype=policy)
                       if head == "glimpse" else None)

    def build(self, input_shape):
        self.built = True  # the layers build on their first call (the reader on read())

    def call(self, images):
        return self.head(self.encoder(images))

    def read(self, images, image_index, uv):
        """Glimpse readings at image points ``uv [N, 2]`` of images ``image_index [N]``:
        ``type_logits``, ``rotation``, ``position`` (dict of ``[N, ...]``)."""
        what = self.reader(crop_glimpses(images, image_index, uv, self.glimpse_size))
        centre = uv + what["offset_uv"]
        return {"type_logits": what["type_logits"], "rotation": what["rotation"],
                "position": position_from_view(centre, what["delta"]), "image_uv": centre}

    def read_candidates(self, images, candidates=None, glances=None, keep=None):
        """The ``keep`` (default ``max_primitives``) most present candidates, dict of
        ``[B, keep, ...]`` in that order.

        Slot head: its slots. Grid: the ``candidates`` most present cells; with
        the glimpse reader each is read ``glances`` times, every window centred
        on the previous reading's centre (attend, infer, repeat); then the
        candidates whose image points coincide are merged (``merge_candidates``).
        """
        keep = keep or self.max_primitives
        candidates = candidates or max(10, keep)
        glances = self.glances if glances is None else glances
        found = self(images)
        if self.head_name == "slots":
            return {name: found[name] for name in SLOT_KEYS}
        count = min(candidates, found["presence_logit"].shape[1])
        top = top_slots(found, count)
        if self.reader is not None:
            batch = tf.shape(images)[0]
            index = tf.repeat(tf.range(batch), count)
            read = {"image_uv": tf.reshape(top["image_uv"], [-1, 2])}
            for _ in range(glances):
                read = self.read(images, index, read["image_uv"])
            top.update({name: tf.reshape(value, tf.concat([[batch, count], tf.shape(value)[1:]],
                                                          0))
                        for name, value in read.items()})
        merged = merge_candidates(top, self.merge_pixels * 2.0 / images.shape[2], count)
        return top_slots(merged, min(keep, count))

    def slots(self, images):
        """The ``max_primitives`` slots (dict of ``[B, K, ...]``), most present first."""
        found = self.read_candidates(images)
        return {name: found[name] for name in SLOT_KEYS}


def input_channels(config):
    """1 (the image), or 2 with ``repeat`` and a grid head (the image and the canvas of
    what is explained)."""
    return 2 if config.get("repeat", 0) and config["head"] != "slots" else 1


def build_air_model_3d(config):
    """The inference network of ``config`` (``models.air.config``), built on a dummy batch."""
    policy = "mixed_bfloat16" if config["mixed_precision"] else "float32"
    model = AIRInference3D(config["max_primitives"], config["head"], config["channels"],
                           config["kernels"], config["strides"], config["hidden"],
                           config["glimpse_size"], config["merge_radius"],
                           config["glimpse_channels"], config["glimpse_hidden"],
                           config["glances"], input_channels(config), dtype=policy)
    images = tf.zeros([1, config["image_size"], config["image_size"], model.input_channels])
    model(images)
    if model.reader is not None:
        model.read(images, tf.zeros([1], tf.int32), tf.zeros([1, 2]))
    return model

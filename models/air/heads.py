"""The heads of the AIR 3D inference network, one class each behind one interface.

A head is what the network puts on top of its encoder, and everything that
follows from that choice: which layers it builds, how the set loss treats its
candidates, how candidates are proposed at inference, and which configs make
sense with it. The config names it (``head``); ``get(name)`` gives its object.

* ``Slots`` (``"slots"``): the reference's layout, ``max_primitives`` slots read
  from the flattened features (``SlotHead``); its slots are the answer (no count
  search), its matching may be the reference's x order (``"sorted"``).
* ``Grid`` (``"grid"``): every cell of the grid head (``GridHead``) is a
  candidate; cells next to a primitive also point at it, and the candidates
  whose image points coincide are merged at inference; the count is settled by
  the search (``models.air.search``), which may show the network a canvas.
* ``Glimpse`` (``"glimpse"``, the default): the grid, then AIR's attend-infer
  step: the ``GlimpseReader`` reads type, rotation, the exact centre and the
  depth correction from a window around each found point.

The interface (``Head``): ``layers`` (built in this order: the grid or slot
head, then the reader, so that a seed gives the same weights), ``reads_canvas``,
``searched``, ``matchings``, ``slot_limit``, ``term_names``, ``neighbours`` and
``extra_terms`` (the set loss's hooks, ``models.air.set_loss``) and ``propose``
(the candidates at inference). The module loads TensorFlow only when a head
is used, so that configs can name and check heads without it.
"""
import abc

SLOT_KEYS = ("presence_logit", "type_logits", "position", "rotation")


def top_slots(candidates, k):
    """The ``k`` candidates of highest presence logit, in that order (dict of ``[B, k, ...]``;
    the image's ``camera [B, 3]``, when read, as it is)."""
    import tensorflow as tf

    _, index = tf.math.top_k(candidates["presence_logit"], k=k)
    return {name: value if name == "camera" else tf.gather(value, index, axis=1, batch_dims=1)
            for name, value in candidates.items()}


def merge_candidates(candidates, radius, keep=16, floor=0.05):
    """Grid cells that point at the same image point are one primitive.

    Among the ``keep`` most present cells, each cell joins the most present
    cell whose image point lies within ``radius`` (image units) of its own;
    a cell that joins itself heads a group whose presence probability is the
    sum of its members' (those above ``floor``), at most 1. Returns the heads
    (others get presence logit -inf), ``[B, keep, ...]``.
    """
    import tensorflow as tf

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


class Head(abc.ABC):
    """What a head is to the rest of the system (see the module docstring); a head overrides
    ``layers`` and ``propose``, the other methods when it needs to."""

    name = None
    reads_canvas = False      # may take a canvas channel (the search's repeat)
    searched = False          # its candidates go through the count search
    matchings = ("hungarian",)

    @abc.abstractmethod
    def layers(self, max_primitives, hidden, glimpse_channels, glimpse_hidden, policy,
               camera="orthographic"):
        """(head layer, glimpse reader or None), made in this order; ``camera``: the scenes'
        (``models.air.scenes``)."""

    def slot_limit(self, trained):
        """The most slots a model trained for ``trained`` primitives can report (None: any)."""
        return None

    def term_names(self):
        """Names of the per-example terms of the set loss."""
        from models.air.losses import TERMS

        return list(TERMS)

    def neighbours(self, candidates, batch, config):
        """(matching prior ``[B, S, K]``, candidates near a primitive ``[B, S]``, distances
        ``[B, S, K]`` to present primitives) or None: see ``models.air.set_loss``."""
        return None

    def extra_terms(self, model, candidates, batch, assignment, neighbours, config, seed):
        """Further per-example terms of the set loss: a list of groups ``{name: ([B], name
        of its weight)}``, each group added to the loss as one sum."""
        return []

    @abc.abstractmethod
    def propose(self, model, images, pool, glances=1, merge_radius=0.5):
        """Candidates at inference, most present first (dict of ``[B, M, ...]``), and under a
        camera range the camera read (``camera [B, 3]``)."""


class Slots(Head):
    """The reference's layout: ``max_primitives`` slots from the flattened features."""

    name = "slots"
    matchings = ("hungarian", "sorted")

    def layers(self, max_primitives, hidden, glimpse_channels, glimpse_hidden, policy,
               camera="orthographic"):
        from models.air.slot_head import SlotHead

        return SlotHead(max_primitives, hidden, name="slot_head", dtype=policy), None

    def slot_limit(self, trained):
        return trained

    def propose(self, model, images, pool, glances=1, merge_radius=0.5):
        found = model(images)
        return {name: found[name] for name in SLOT_KEYS + ("camera",) if name in found}


class Grid(Head):
    """Every grid cell a candidate; duplicates merged; the count settled by the search."""

    name = "grid"
    reads_canvas = True
    searched = True

    def layers(self, max_primitives, hidden, glimpse_channels, glimpse_hidden, policy,
               camera="orthographic"):
        from models.air.grid_head import GridHead

        return GridHead(hidden, camera, name="grid_head", dtype=policy), None

    def term_names(self):
        return super().term_names() + ["neighbour_uv"]

    def neighbours(self, candidates, batch, config):
        import tensorflow as tf

        from models.air.set_loss import cell_distance

        distance = cell_distance(candidates, batch, config["camera"])  # [B, S, K]
        prior = config["w_prior"] * distance
        distance = tf.where((batch["types"] >= 0)[:, None, :], distance, 1e9)
        near = tf.reduce_min(distance, -1) < config["ignore_radius"]  # [B, S]
        return prior, near, distance

    def extra_terms(self, model, candidates, batch, assignment, neighbours, config, seed):
        from models.air.set_loss import neighbour_uv

        _, near, distance = neighbours
        return [{"neighbour_uv": (neighbour_uv(candidates, batch, assignment, near, distance,
                                               config["camera"]), "position")}]

    def top_cells(self, model, images, pool):
        found = model(images)
        count = min(max(10, pool), found["presence_logit"].shape[1])
        return top_slots(found, count), count

    def propose(self, model, images, pool, glances=1, merge_radius=0.5):
        top, count = self.top_cells(model, images, pool)
        merged = merge_candidates(top, merge_radius * 2.0 / images.shape[2], count)
        return top_slots(merged, min(pool, count))


class Glimpse(Grid):
    """The grid, then a glimpse reader at every found point (attend, infer, repeat)."""

    name = "glimpse"

    def layers(self, max_primitives, hidden, glimpse_channels, glimpse_hidden, policy,
               camera="orthographic"):
        from models.air.glimpse import GlimpseReader

        grid, _ = super().layers(max_primitives, hidden, glimpse_channels, glimpse_hidden, policy,
                                 camera)
        return grid, GlimpseReader(tuple(glimpse_channels), hidden=glimpse_hidden, dtype=policy)

    def term_names(self):
        return super().term_names() + ["glimpse_type", "glimpse_position", "glimpse_rotation"]

    def extra_terms(self, model, candidates, batch, assignment, neighbours, config, seed):
        from models.air.set_loss import glimpse_terms

        terms = super().extra_terms(model, candidates, batch, assignment, neighbours, config,
                                    seed)
        read = glimpse_terms(model, batch, config, seed)
        return terms + [{f"glimpse_{k}": (v, k) for k, v in read.items()}]

    def propose(self, model, images, pool, glances=1, merge_radius=0.5):
        """The most present cells, each read ``glances`` times (every window centred on the
        previous reading's centre), then merged."""
        import tensorflow as tf

        top, count = self.top_cells(model, images, pool)
        batch = tf.shape(images)[0]
        index = tf.repeat(tf.range(batch), count)
        read = {"image_uv": tf.reshape(top["image_uv"], [-1, 2])}
        for _ in range(glances):
            read = model.read(images, index, read["image_uv"])
        top.update({name: tf.reshape(value, tf.concat([[batch, count], tf.shape(value)[1:]], 0))
                    for name, value in read.items()})
        merged = merge_candidates(top, merge_radius * 2.0 / images.shape[2], count)
        return top_slots(merged, min(pool, count))


HEADS = {head.name: head for head in (Glimpse(), Grid(), Slots())}


def get(name):
    """The head called ``name``; ``ValueError`` naming the known ones."""
    if name not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {name!r}")
    return HEADS[name]


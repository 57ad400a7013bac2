"""The graph of a Graph Element Network: nodes on the ground plane of a hotel of mazes.

Facts kept from the original (``GEN/structure.py``):

- a maze is 2.0 wide; a hotel of ``d x d`` mazes spans ``2 d`` along x and y
  from ``grid_min = -1 + shift``;
- ``n = 4 (d - 1) + 5`` nodes per axis, spacing ``2 d / (n - 1) = 0.5``;
  node ``ix * n + iy`` sits at ``grid_min + 0.5 (ix, iy)`` (x-major, then y);
- directed edges, both ways, between every pair of nodes closer than
  ``1.01`` times the smallest distance between two nodes (the grid
  neighbours), in the order (i, j), (j, i) for i < j row by row:
  25 / 81 / 169 / 289 / 441 nodes and 80 / 288 / 624 / 1088 / 1680 edges
  for d = 1..5;
- the interpolation weights of a pose are the bilinear weights of the four
  corners of the grid cell holding its (x, y): corner weight = area of the
  rectangle between the pose and the opposite corner over the cell area.
  They are non-negative, sum to 1 and applied to the node positions give
  back (x, y).

Beyond the original: construction is vectorised (pairwise distances in one
tensor instead of an O(N^2) Python loop, 1.9 s per 5x5 hotel there), works
with a Python or a tensor ``num_scenes_per_dim`` (inside ``tf.function``),
and a pose outside the grid is an error naming it (the original wraps it
silently onto other nodes). A pose on the far edge belongs to the last cell.
"""
import numpy as np
import tensorflow as tf

SCENE_WIDTH = 2.0
NODE_SPACING = 0.5
EDGE_TOLERANCE = 0.01
_INSIDE_TOLERANCE = 1e-4  # in cells: float rounding at the grid border


class OutOfGridError(ValueError):
    """A pose lies outside the grid of the graph."""


class GraphStructure:
    """Nodes and edges of the graph over ``d x d`` mazes placed at ``shift``.

    Attributes (tensors): ``node_positions`` [N, 2] float32, ``edge_sources``
    and ``edge_sinks`` [E] int32, ``grid_min`` / ``grid_max`` [2];
    ``nodes_per_axis`` (n) and ``num_nodes`` (N) are ints, or int32 scalars
    when ``num_scenes_per_dim`` is a tensor.
    """

    def __init__(self, num_scenes_per_dim=1, shift=(0.0, 0.0)):
        d = num_scenes_per_dim
        if not tf.is_tensor(d) and (isinstance(d, bool) or int(d) != d or d < 1):
            raise ValueError(f"num_scenes_per_dim must be a positive integer, got {d!r}")
        self.num_scenes_per_dim = d
        self.shift = tf.cast(tf.reshape(shift, [2]), tf.float32)
        self.nodes_per_axis = 4 * (d - 1) + 5
        self.num_nodes = self.nodes_per_axis ** 2
        width = tf.cast(d, tf.float32) * SCENE_WIDTH
        self.grid_min = self.shift - 1.0
        self.grid_max = self.grid_min + width
        self.node_positions = self._positions()
        self.edge_sources, self.edge_sinks = self._edges()

    def _positions(self):
        steps = tf.cast(tf.range(self.nodes_per_axis), tf.float32) * NODE_SPACING
        ix, iy = tf.meshgrid(steps, steps, indexing="ij")  # ix major
        offsets = tf.stack([tf.reshape(ix, [-1]), tf.reshape(iy, [-1])], axis=1)
        return self.grid_min + offsets

    def _edges(self):
        pos = self.node_positions
        dist = tf.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        index = tf.range(self.num_nodes)
        upper = index[:, None] < index[None, :]  # pairs i < j
        smallest = tf.reduce_min(tf.boolean_mask(dist, upper))
        pairs = tf.cast(tf.where(upper & (dist < (1.0 + EDGE_TOLERANCE) * smallest)), tf.int32)
        both = tf.reshape(tf.stack([pairs, tf.reverse(pairs, axis=[1])], axis=1), [-1, 2])
        return both[:, 0], both[:, 1]

    @property
    def num_edges(self):
        return tf.shape(self.edge_sources)[0]

    def check_inside(self, poses):
        """Raise ``OutOfGridError`` (eagerly) or fail the graph (inside
        ``tf.function``) when the (x, y) of a pose lies outside the grid."""
        xy = tf.reshape(tf.cast(poses, tf.float32)[..., :2], [-1, 2])
        slack = _INSIDE_TOLERANCE * NODE_SPACING
        bad = tf.reduce_any((xy < self.grid_min - slack) | (xy > self.grid_max + slack), axis=1)
        if tf.executing_eagerly():
            if bool(tf.reduce_any(bad)):
                first = xy[int(tf.argmax(tf.cast(bad, tf.int32)))].numpy()
                lo, hi = self.grid_min.numpy(), self.grid_max.numpy()
                raise OutOfGridError(
                    f"pose (x, y) = ({first[0]:.4g}, {first[1]:.4g}) is outside the grid of "
                    f"the graph: x in [{lo[0]:.4g}, {hi[0]:.4g}], y in [{lo[1]:.4g}, {hi[1]:.4g}] "
                    f"({int(bad.numpy().sum())} of {len(bad)} poses outside)")
            return None
        first = tf.gather(xy, tf.argmax(tf.cast(bad, tf.int32)))
        message = tf.strings.format(
            "pose (x, y) = {} is outside the grid of the graph, from {} to {}",
            (first, self.grid_min, self.grid_max))
        return tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)), [message])

    def interpolation_corners(self, poses):
        """The 4 corners of the cell of each pose and their bilinear weights.

        ``poses`` [..., P >= 2] (x, y first) -> (indices [..., 4] int32,
        weights [..., 4] float32), corners in the order (ix, iy), (ix, iy + 1),
        (ix + 1, iy), (ix + 1, iy + 1).
        """
        checked = self.check_inside(poses)
        with tf.control_dependencies([] if checked is None else [checked]):
            xy = tf.cast(poses, tf.float32)[..., :2]
        n = self.nodes_per_axis
        last = tf.cast(n - 1, tf.float32)
        u = tf.clip_by_value((xy - self.grid_min) / NODE_SPACING, 0.0, last)
        cell = tf.minimum(tf.floor(u), last - 1.0)
        fx, fy = tf.unstack(u - cell, axis=-1)
        ix, iy = tf.unstack(tf.cast(cell, tf.int32), axis=-1)
        base = ix * n + iy
        indices = tf.stack([base, base + 1, base + n, base + n + 1], axis=-1)
        weights = tf.stack([(1 - fx) * (1 - fy), (1 - fx) * fy, fx * (1 - fy), fx * fy], axis=-1)
        return indices, weights

    def interpolation_weights(self, poses):
        """Dense weights [..., N]: the 4 corner weights of each pose, zero elsewhere."""
        indices, weights = self.interpolation_corners(poses)
        return tf.reduce_sum(tf.one_hot(indices, self.num_nodes) * weights[..., None], axis=-2)

    def numpy(self):
        """(node_positions, edge_sources, edge_sinks) as numpy arrays."""
        return (np.asarray(self.node_positions), np.asarray(self.edge_sources),
                np.asarray(self.edge_sinks))

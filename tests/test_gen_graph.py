"""GEN graph: node and edge facts for d = 1..5, interpolation weights, out-of-grid poses."""
import numpy as np
import pytest
import tensorflow as tf

from models.gen.graph import GraphStructure, OutOfGridError

COUNTS = {1: (25, 80), 2: (81, 288), 3: (169, 624), 4: (289, 1088), 5: (441, 1680)}


def reference_edges(positions):
    """The original's definition: pairs i < j closer than 1.01 x the smallest
    distance, each giving (i, j) then (j, i)."""
    diff = positions[:, None, :] - positions[None, :, :]
    dist = np.sqrt((diff ** 2).sum(-1))
    n = len(positions)
    smallest = min(dist[i, j] for i in range(n) for j in range(i + 1, n))
    edges = []
    for i in range(n):
        for j in range(i + 1, n):
            if dist[i, j] < 1.01 * smallest:
                edges += [(i, j), (j, i)]
    return np.array(edges)


def reference_weights(positions, n, xy):
    """Bilinear weights by the original's rule: a corner's weight is the area of
    the rectangle between the point and the opposite corner, over the cell area."""
    weights = np.zeros(len(positions))
    lo = positions[0]
    ix, iy = np.minimum(np.floor((xy - lo) / 0.5).astype(int), n - 2)
    for cx in (0, 1):
        for cy in (0, 1):
            opposite = positions[(ix + 1 - cx) * n + (iy + 1 - cy)]
            weights[(ix + cx) * n + iy + cy] = np.prod(np.abs(opposite - xy) / 0.5)
    return weights


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_nodes_and_edges(d):
    shift = (0.37, 1.25)
    graph = GraphStructure(num_scenes_per_dim=d, shift=shift)
    positions, sources, sinks = graph.numpy()
    n = 4 * (d - 1) + 5
    assert graph.nodes_per_axis == n
    assert (graph.num_nodes, int(graph.num_edges)) == COUNTS[d]
    ix, iy = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    expected = np.stack([ix.ravel(), iy.ravel()], 1) * 0.5 + (np.array(shift) - 1.0)
    np.testing.assert_allclose(positions, expected, atol=1e-5)
    np.testing.assert_allclose(graph.grid_max.numpy() - graph.grid_min.numpy(), [2 * d] * 2)
    edges = np.stack([sources, sinks], 1)
    if d <= 2:  # the original's O(N^2) loop, order included
        np.testing.assert_array_equal(edges, reference_edges(positions))
    # grid neighbours, both ways, no duplicates
    gap = np.abs(np.stack([sources // n - sinks // n, sources % n - sinks % n], 1)).sum(1)
    np.testing.assert_array_equal(gap, 1)
    assert len({tuple(e) for e in edges}) == len(edges)
    assert {tuple(e) for e in edges} == {(b, a) for a, b in edges}


def test_tensor_dimension_inside_tf_function_matches_python():
    @tf.function
    def build(d, shift, poses):
        graph = GraphStructure(d, shift)
        return (graph.node_positions, graph.edge_sources, graph.edge_sinks,
                graph.interpolation_weights(poses))

    poses = np.array([[0.7, 4.1], [5.9, 1.0]], np.float32)
    for d in (3, 4):
        graph = GraphStructure(d, (1.5, 0.5))
        got = build(tf.constant(d), tf.constant([1.5, 0.5]), poses)
        want = (*graph.numpy(), graph.interpolation_weights(poses).numpy())
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b, atol=1e-6)


@pytest.mark.parametrize("d", [1, 3, 5])
def test_interpolation_weights(d):
    rng = np.random.default_rng(d)
    shift = rng.uniform(0, 10 - 2 * d, size=2)
    graph = GraphStructure(d, shift)
    positions = graph.numpy()[0]
    lo, hi = graph.grid_min.numpy(), graph.grid_max.numpy()
    xy = rng.uniform(lo, hi, size=(3, 40, 2))
    xy[0, 0] = hi  # the far corner belongs to the last cell
    xy[0, 1] = lo
    xy[0, 2] = positions[7]  # exactly on a node
    poses = np.concatenate([xy, rng.normal(size=(3, 40, 5))], -1).astype(np.float32)
    weights = graph.interpolation_weights(poses).numpy()
    assert weights.shape == (3, 40, graph.num_nodes)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert ((weights > 0).sum(-1) <= 4).all()
    np.testing.assert_allclose(weights @ positions, xy, atol=1e-4)
    for point, w in zip(xy.reshape(-1, 2), weights.reshape(-1, graph.num_nodes)):
        np.testing.assert_allclose(w, reference_weights(positions, graph.nodes_per_axis, point),
                                   atol=1e-5)
    np.testing.assert_allclose(weights[0, 2, 7], 1.0, atol=1e-5)


def test_pose_outside_the_grid_is_an_error_naming_it():
    graph = GraphStructure(2, (3.0, 1.0))  # x in [2, 6], y in [0, 4]
    poses = np.array([[2.5, 1.0], [6.7, 2.0]], np.float32)
    with pytest.raises(OutOfGridError, match=r"\(6\.7, 2\).*x in \[2, 6\], y in \[0, 4\]"):
        graph.interpolation_weights(poses)
    with pytest.raises(OutOfGridError, match=r"\(3, -0\.5\)"):
        graph.interpolation_corners(np.array([3.0, -0.5], np.float32))

    @tf.function
    def weights(p):
        return GraphStructure(tf.constant(2), tf.constant([3.0, 1.0])).interpolation_weights(p)

    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"6\.7.*outside the grid of the graph"):
        weights(tf.constant(poses))


def test_bad_dimension():
    with pytest.raises(ValueError, match="num_scenes_per_dim"):
        GraphStructure(0)

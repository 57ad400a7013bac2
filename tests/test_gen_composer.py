"""GEN composers: parameter counts, fused message passing == naive, readout
independent of the order of the context views, baseline conditioning."""
import numpy as np
import pytest
import tensorflow as tf

from models.gen.composer import BaselineComposer, GraphComposer
from models.gen.embedder import PoolEmbedder
from models.gen.graph import GraphStructure

SMALL = dict(embedding_channels=14, embedder_channels=12)
SMALL_GRAPH = dict(SMALL, hidden_units=20, message_channels=9)


def count(layer):
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


def hotel_inputs(d=2, hotels=2, views_per_maze=3, queries=3, size=16, seed=0, shift=(1.0, 2.0)):
    rng = np.random.default_rng(seed)
    lo = np.array(shift) - 1.0
    views = views_per_maze * d * d

    def poses(n):
        xy = rng.uniform(lo, lo + 2 * d, size=(hotels, n, 2))
        return np.concatenate([xy, rng.normal(size=(hotels, n, 5))], -1).astype(np.float32)

    frames = rng.uniform(size=(hotels, views, size, size, 3)).astype(np.float32)
    return (tf.constant(frames), tf.constant(poses(views)), tf.constant(poses(queries)),
            GraphStructure(d, shift))


def test_parameter_counts():
    assert count(PoolEmbedder()) == 1_961_854
    assert count(GraphComposer()) == 2_748_796
    assert count(BaselineComposer()) == 1_961_854


def test_embedder_relu_after_the_last_conv():
    frames = tf.random.uniform([3, 64, 64, 3])
    out = PoolEmbedder()(frames, tf.random.normal([3, 7]))
    assert out.shape == (3, 254)
    assert float(tf.reduce_min(out)) >= 0.0


def test_fused_message_passing_equals_naive():
    frames, cameras, queries, graph = hotel_inputs()
    composer = GraphComposer(optimized=True, **SMALL_GRAPH)
    naive = GraphComposer(optimized=False, **SMALL_GRAPH)
    naive.set_weights(composer.get_weights())
    results = []
    for model in (composer, naive):
        with tf.GradientTape() as tape:
            r = model(frames, cameras, queries, graph=graph)
            loss = tf.reduce_sum(tf.sin(r))
        results.append((r, tape.gradient(loss, model.trainable_variables)))
    (r_fused, g_fused), (r_naive, g_naive) = results
    np.testing.assert_allclose(r_fused.numpy(), r_naive.numpy(), rtol=1e-4, atol=1e-4)
    for a, b, v in zip(g_fused, g_naive, composer.trainable_variables):
        scale = max(1.0, float(np.abs(b.numpy()).max()))
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4 * scale,
                                   err_msg=v.path)


@pytest.mark.parametrize("composer_class", [GraphComposer, BaselineComposer])
def test_readout_does_not_depend_on_the_order_of_context_views(composer_class):
    frames, cameras, queries, graph = hotel_inputs(d=2, seed=3)
    composer = composer_class(**(SMALL_GRAPH if composer_class is GraphComposer else SMALL))
    r = composer(frames, cameras, queries, graph=graph).numpy()
    perm = np.random.default_rng(1).permutation(frames.shape[1])
    shuffled = composer(tf.gather(frames, perm, axis=1), tf.gather(cameras, perm, axis=1),
                        queries, graph=graph).numpy()
    np.testing.assert_allclose(shuffled, r, rtol=1e-5, atol=1e-5)
    # and it does depend on which view is where: move one view elsewhere
    if composer_class is GraphComposer:
        moved = cameras.numpy().copy()
        moved[:, 0, :2] = graph.grid_max.numpy() - 0.1
        other = composer(frames, tf.constant(moved), queries, graph=graph).numpy()
        assert np.abs(other - r).max() > 1e-3


def test_graph_conditioning_layout():
    frames, cameras, queries, graph = hotel_inputs(d=1, hotels=3, queries=2, shift=(4.0, 0.5))
    r = GraphComposer()(frames, cameras, queries, graph=graph).numpy()
    assert r.shape == (3, 2, 312)
    np.testing.assert_allclose(r[..., :56], np.tile(queries.numpy(), 8), atol=1e-6)
    # the readout's first two entries interpolate the node positions: the query (x, y)
    np.testing.assert_allclose(r[..., 56:58], queries.numpy()[..., :2], atol=1e-5)


def test_baseline_conditioning_layout():
    frames, cameras, queries, _ = hotel_inputs(d=1, hotels=2, queries=2)
    composer = BaselineComposer()
    r = composer(frames, cameras, queries).numpy()
    assert r.shape == (2, 2, 480)
    q = queries.numpy()
    np.testing.assert_allclose(r[..., :2], q[..., :2])
    np.testing.assert_allclose(r[..., 2:226], np.tile(q, 32))
    total = composer.embedder(tf.reshape(frames, [-1, 16, 16, 3]),
                              tf.reshape(cameras, [-1, 7])).numpy().reshape(2, -1, 254).sum(1)
    np.testing.assert_allclose(r[..., 226:], np.repeat(total[:, None], 2, 1), rtol=1e-5,
                               atol=1e-5)

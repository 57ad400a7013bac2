"""Composers: from the context views of hotels to one conditioning vector r per query.

GEN composer (``GEN/composer.py``, ``GEN/modules.py`` of the original), for
each hotel and its graph (``graph.GraphStructure``):

- node input ``[node position (2), sum over context views of
  w_k(view pose) * embedding(view) (254)]`` with the bilinear weights w_k
  (not normalised);
- 9 rounds, weights shared across rounds: edge MLP on ``[source, sink]``
  512 -> 512 ReLU -> 256; messages summed at each sink; node MLP on
  ``[messages, state]`` 512 -> 512 ReLU -> 254, added to the last 254 entries
  of the state (the 2 position entries never change);
- readout at each query: the weighted sum of the 4 corner states;
  ``r = [query pose x 8, readout]`` (7 * 8 + 256 = 312 channels).
  2,748,796 parameters with the embedder.

Baseline composer (``GQN/composer.py``): ``r = [query x, y, query pose x 32,
sum of the embeddings of all context views of the hotel]`` (480 channels).

Message passing runs node-major ([N, hotels, C]) over all hotels of a batch
at once, as gathers and segment sums over the edge list. The fused path
(``optimized=True``) splits the edge MLP's first layer into a source and a
sink half applied per node (N rows instead of E), and sums the ReLU
activations at each sink before the second layer
(``sum_e (h_e W2 + b2) = (sum_e h_e) W2 + in_degree b2``); same variables,
same outputs up to rounding.

Layers start as PyTorch starts them (``embedder.torch_uniform``), as in the
original.
"""
import keras
import tensorflow as tf

from models.gen.embedder import PoolEmbedder, torch_uniform


def _mlp(hidden, out, in_channels, name, policy):
    first = keras.layers.Dense(hidden, activation="relu", name=f"{name}_hidden", dtype=policy,
                               **torch_uniform(in_channels))
    second = keras.layers.Dense(out, name=f"{name}_out", dtype=policy, **torch_uniform(hidden))
    first.build((None, in_channels))
    second.build((None, hidden))
    return first, second


def _flat(fn, x):
    """``fn`` of x [..., C] applied to x as one [-1, C] matrix (a broadcast batched
    product would form, in its gradient, one kernel-sized term per leading index)."""
    flat = fn(tf.reshape(x, [-1, x.shape[-1]]))
    return tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [flat.shape[-1]]], 0))


def _flat_matmul(x, kernel):
    """x [..., C] @ kernel [C, K] as one 2-D product."""
    return _flat(lambda m: tf.matmul(m, kernel), x)


def embed_views(embedder, frames, cameras):
    """frames [H, V, h, w, 3], cameras [H, V, 7] -> embeddings [H, V, C]."""
    hotels, views = tf.shape(frames)[0], tf.shape(frames)[1]
    flat = embedder(tf.reshape(frames, [-1, *frames.shape[2:]]),
                    tf.reshape(cameras, [-1, cameras.shape[-1]]))
    return tf.reshape(flat, [hotels, views, flat.shape[-1]])


class GraphComposer(keras.Model):
    """``composer(context_frames, context_cameras, query_cameras, graph=g) -> r [H, Q, 312]``."""

    def __init__(self, embedding_channels=254, message_channels=256, hidden_units=512,
                 message_steps=9, pose_copies=8, optimized=True, embedder_channels=256,
                 winograd=None, **kwargs):
        kwargs.setdefault("name", "gen_composer")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.state_channels = embedding_channels + 2
        self.message_steps, self.pose_copies, self.optimized = message_steps, pose_copies, optimized
        self.embedder = PoolEmbedder(channels=embedder_channels, out_channels=embedding_channels,
                                     winograd=optimized if winograd is None else winograd,
                                     dtype=policy)
        self.edge_hidden, self.edge_out = _mlp(hidden_units, message_channels,
                                               2 * self.state_channels, "edge", policy)
        self.node_hidden, self.node_out = _mlp(hidden_units, embedding_channels,
                                               message_channels + self.state_channels, "node",
                                               policy)
        self.built = True

    def node_inputs(self, embeddings, cameras, graph):
        """[N, H, 2 + C]: node positions and interpolation-weighted embeddings."""
        hotels = tf.shape(embeddings)[0]
        index, weight = graph.interpolation_corners(cameras)  # [H, V, 4]
        values = tf.cast(weight, embeddings.dtype)[..., None] * embeddings[:, :, None, :]
        segment = index * hotels + tf.range(hotels)[:, None, None]  # node-major
        summed = tf.math.unsorted_segment_sum(tf.reshape(values, [-1, values.shape[-1]]),
                                              tf.reshape(segment, [-1]), graph.num_nodes * hotels)
        summed = tf.reshape(summed, [graph.num_nodes, hotels, values.shape[-1]])
        positions = tf.cast(graph.node_positions, summed.dtype)[:, None, :]
        return tf.concat([tf.tile(positions, [1, hotels, 1]), summed], axis=-1)

    def incoming_messages(self, states, graph):
        """[N, H, 256]: the sum of the edge MLP over the edges into each node."""
        src, snk, n = graph.edge_sources, graph.edge_sinks, graph.num_nodes
        if not self.optimized:
            pairs = tf.concat([tf.gather(states, src), tf.gather(states, snk)], axis=-1)
            return tf.math.unsorted_segment_sum(self.edge_out(self.edge_hidden(pairs)), snk, n)
        c = self.state_channels
        kernel = tf.cast(self.edge_hidden.kernel, states.dtype)
        both = _flat_matmul(states, tf.concat([kernel[:c], kernel[c:]], axis=1))
        from_source, from_sink = tf.split(both, 2, axis=-1)
        from_sink += tf.cast(self.edge_hidden.bias, states.dtype)
        hidden = tf.nn.relu(tf.gather(from_source, src) + tf.gather(from_sink, snk))
        summed = tf.math.unsorted_segment_sum(hidden, snk, n)
        degree = tf.math.unsorted_segment_sum(tf.ones_like(snk, states.dtype), snk, n)
        return (_flat_matmul(summed, tf.cast(self.edge_out.kernel, states.dtype))
                + degree[:, None, None] * tf.cast(self.edge_out.bias, states.dtype))

    def message_round(self, states, graph):
        messages = self.incoming_messages(states, graph)
        x = tf.concat([messages, states], axis=-1)
        if self.optimized:  # [N H, C] products: no per-node kernel gradients to sum
            update = _flat(lambda m: self.node_out(self.node_hidden(m)), x)
        else:
            update = self.node_out(self.node_hidden(x))
        return tf.concat([states[..., :2], states[..., 2:] + update], axis=-1)

    def readout(self, states, cameras, graph):
        """[H, Q, 2 + C]: each query's weighted sum of its 4 corner states."""
        index, weight = graph.interpolation_corners(cameras)  # [H, Q, 4]
        corners = tf.gather(tf.transpose(states, [1, 0, 2]), index, batch_dims=1)
        return tf.reduce_sum(tf.cast(weight, states.dtype)[..., None] * corners, axis=-2)

    def call(self, context_frames, context_cameras, query_cameras, graph=None):
        embeddings = embed_views(self.embedder, context_frames, context_cameras)
        states = self.node_inputs(embeddings, context_cameras, graph)
        for _ in range(self.message_steps):
            states = self.message_round(states, graph)
        readout = self.readout(states, query_cameras, graph)
        query = tf.cast(query_cameras, readout.dtype)
        return tf.concat([query] * self.pose_copies + [readout], axis=-1)


class BaselineComposer(keras.Model):
    """``composer(context_frames, context_cameras, query_cameras, graph=None) -> r [H, Q, 480]``."""

    def __init__(self, embedding_channels=254, pose_copies=32, embedder_channels=256,
                 winograd=True, **kwargs):
        kwargs.setdefault("name", "baseline_composer")
        super().__init__(**kwargs)
        self.pose_copies = pose_copies
        self.embedder = PoolEmbedder(channels=embedder_channels, out_channels=embedding_channels,
                                     winograd=winograd, dtype=self.dtype_policy)
        self.built = True

    def call(self, context_frames, context_cameras, query_cameras, graph=None):
        embeddings = embed_views(self.embedder, context_frames, context_cameras)
        total = tf.reduce_sum(embeddings, axis=1, keepdims=True)  # [H, 1, C]
        query = tf.cast(query_cameras, total.dtype)
        total = tf.tile(total, [1, tf.shape(query)[1], 1])
        return tf.concat([query[..., :2]] + [query] * self.pose_copies + [total], axis=-1)

"""GENModel: a composer (graph or baseline) plus ConvDRAW in the GEN flavour.

Facts kept from the original (``Models/scene_render.py``, ``GQN/modules.py``):

- r per query from the composer: 312 channels (GEN) or 480 (baseline);
- ConvDRAW (``models/draw``, flavour "gen"): 128-channel ConvLSTM cores on a
  16x16 grid, kernel 5, one convolution over the concatenated inputs with
  bias, no forget bias; r (-> 256 channels) and the query pose (-> 7) reach
  each core through a 16x16 / 16 transposed convolution without bias; a
  128-channel canvas at 64x64, ``u += conv_transpose(h_g, 4x4 / 4)`` without
  bias; the inference core reads the target (3 -> 3) and the canvas
  (128 -> 128) through 4x4 / 4 convolutions without bias, inputs
  (x_q, v_q, r, h_g, u); eta_pi and eta_q 5x5 convolutions 128 -> 6 with
  ``sigma = exp(0.5 log sigma^2)`` (z has 3 channels); eta_g 1x1 128 -> 3 with
  bias, linear; one generator and one inference core for all L = 8 steps;
- ``generate`` and ``reconstruct`` clamp the image mean to [0, 1], the
  training pass does not.

Trainable parameters: 57,595,803 (composer 2,748,796, inference core
29,042,576, generator core 25,765,632, eta heads 38,799); 78,828,957 with
the baseline composer.

The query pose, like r, is the same at every DRAW step: ConvDRAW's fused path
(``optimized=True``) upsamples both once per pass (the original does it at
every step; the two upsamplers hold 71 % of the parameters). In float32 it
also runs the embedder's 3x3 and ConvDRAW's 5x5 convolutions as Winograd
F(4x4, k x k) (``models/winograd.py``), with the same weights.
"""
import keras
import tensorflow as tf

from models.draw import ConvDRAW
from models.gen.composer import BaselineComposer, GraphComposer
from models.gen.graph import GraphStructure

GEN_POSE_COPIES, BASELINE_POSE_COPIES = 8, 32


class GENModel(keras.Model):
    """``model(batch)``: posterior pass; ``model.generate(batch)``: prior pass.

    ``batch`` is a hotel dict (``data_provider/gen_hotels.py``): context_frames
    [H, V, 64, 64, 3], context_cameras [H, V, 7], query_cameras [H, Q, 7],
    target [H, Q, 64, 64, 3] (the posterior pass only), num_scenes_per_dim and
    shift. Queries are flattened hotel-major: ConvDRAW's outputs have
    ``B = H Q`` rows ("mu_target" [B, 64, 64, 3], ...). The widths default
    to the original's (smaller ones make quick tests). ``winograd`` (default:
    ``optimized``) selects Winograd convolutions on the fused path.
    """

    def __init__(self, num_steps=8, baseline=False, optimized=True, hidden_channels=128,
                 canvas_channels=128, upsample_channels=256, embedding_channels=254,
                 embedder_channels=256, mlp_units=512, message_channels=256, winograd=None,
                 name="gen", **kwargs):
        super().__init__(name=name, **kwargs)
        self.baseline = baseline
        winograd = optimized if winograd is None else winograd and optimized
        policy = self.dtype_policy
        if baseline:
            self.composer = BaselineComposer(
                embedding_channels=embedding_channels, embedder_channels=embedder_channels,
                pose_copies=BASELINE_POSE_COPIES, winograd=winograd, dtype=policy)
            channels = 2 + 7 * BASELINE_POSE_COPIES + embedding_channels
        else:
            self.composer = GraphComposer(
                embedding_channels=embedding_channels, embedder_channels=embedder_channels,
                message_channels=message_channels, hidden_units=mlp_units,
                pose_copies=GEN_POSE_COPIES, optimized=optimized, winograd=winograd,
                dtype=policy)
            channels = 7 * GEN_POSE_COPIES + 2 + embedding_channels
        self.draw = ConvDRAW(
            conditioning_channels=channels, pose_channels=7, image_size=64, grid_size=16,
            image_channels=3, hidden_channels=hidden_channels, canvas_channels=canvas_channels,
            z_channels=3, kernel_size=5, eta_kernel_size=5, eta_g_kernel_size=1,
            num_steps=num_steps, shared_cores=True, flavour="gen",
            upsample_channels=upsample_channels, optimized=optimized, winograd=winograd,
            name="conv_draw", dtype=policy)
        self.built = True

    @staticmethod
    def graph(batch):
        """The GraphStructure of the batch's hotels."""
        return GraphStructure(batch["num_scenes_per_dim"], batch["shift"])

    def representation(self, batch):
        """(r [H Q, C], query poses [H Q, 7]) in the compute dtype."""
        dtype = self.compute_dtype
        graph = None if self.baseline else self.graph(batch)
        r = self.composer(tf.cast(batch["context_frames"], dtype),
                          tf.cast(batch["context_cameras"], dtype),
                          batch["query_cameras"], graph=graph)
        pose = tf.cast(batch["query_cameras"], dtype)
        return tf.reshape(r, [-1, r.shape[-1]]), tf.reshape(pose, [-1, pose.shape[-1]])

    @staticmethod
    def flat_target(batch):
        target = batch["target"]
        return tf.reshape(target, tf.concat([[-1], tf.shape(target)[2:]], 0))

    def call(self, batch, training=False, noise=None):
        r, pose = self.representation(batch)
        return self.draw((r, pose, self.flat_target(batch)), training=training, noise=noise)

    def generate(self, batch, noise=None):
        """Prior pass; "mu_target" clamped to [0, 1]."""
        out = self.draw.generate(*self.representation(batch), noise=noise)
        return dict(out, mu_target=tf.clip_by_value(out["mu_target"], 0.0, 1.0))

    def reconstruct(self, batch, noise=None):
        """Posterior pass image mean clamped to [0, 1] ([H Q, 64, 64, 3])."""
        return tf.clip_by_value(self(batch, noise=noise)["mu_target"], 0.0, 1.0)

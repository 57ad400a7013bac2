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
  training pass does not;
- every ConvDRAW layer starts as PyTorch starts it (``torch_initialise``):
  kernel and bias uniform in +-1/sqrt(fan_in), with PyTorch's fan_in (a
  convolution's input channels x kernel area; a transposed convolution's
  output channels x kernel area; a ConvLSTM gate reads all its inputs
  concatenated), as the composer and embedder do.

Trainable parameters: 57,595,803 (composer 2,748,796, inference core
29,042,576, generator core 25,765,632, eta heads 38,799); 78,828,957 with
the baseline composer.

The query pose, like r, is the same at every DRAW step: ConvDRAW's fused path
(``optimized=True``) upsamples both once per pass (the original does it at
every step; the two upsamplers hold 71 % of the parameters). In float32 it
also runs the embedder's 3x3 and ConvDRAW's 5x5 convolutions as Winograd
F(4x4, k x k) (``models/winograd.py``), with the same weights.
"""
import math

import keras
import numpy as np
import tensorflow as tf

from models.draw import ConvDRAW
from models.draw.convlstm import ConvLSTMCore
from models.gen.composer import BaselineComposer, GraphComposer
from models.gen.graph import GraphStructure

GEN_POSE_COPIES, BASELINE_POSE_COPIES = 8, 32


def torch_fan_in(layer):
    """PyTorch's fan_in of a ConvDRAW layer: for a Conv2D kernel [k, k, in, out] and a
    Conv2DTranspose kernel [k, k, out, in] alike, the product of its first three sizes;
    for a ConvLSTM core, the kernel area times all its input channels."""
    if isinstance(layer, ConvLSTMCore):
        kernels = list(layer.kernels.values())
        return int(np.prod(kernels[0].shape[:2])) * sum(k.shape[2] for k in kernels)
    return int(np.prod(layer.kernel.shape[:3]))


def torch_initialise(draw):
    """Re-draw every variable of ``draw`` (a ConvDRAW) uniform in +-1/sqrt(fan_in) of its
    layer (``torch_fan_in``), biases included; returns [(variable, fan_in)]."""
    fans = []
    for layer in draw._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, ConvLSTMCore):
            variables = list(layer.kernels.values()) + list(layer.biases.values())
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            variables = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
        else:
            continue
        fan_in = torch_fan_in(layer)
        limit = 1.0 / math.sqrt(fan_in)
        for variable in variables:
            initial = keras.initializers.RandomUniform(-limit, limit)(variable.shape)
            variable.assign(tf.cast(initial, variable.dtype))
            fans.append((variable, fan_in))
    return fans


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
        torch_initialise(self.draw)
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

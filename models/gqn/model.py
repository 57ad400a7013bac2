"""GQNModel: the scene encoder plus ConvDRAW (port of tf-gqn).

Facts kept from tf-gqn (``gqn/gqn_graph.py``, ``gqn/gqn_draw.py``):

- the representation r is the sum over context views of the encoder output:
  a vector [B, 256] for the pool encoder (broadcast to the grid by the
  cores), a map [B, 16, 16, 256] for the tower;
- the renderer is ConvDRAW in the tf-gqn flavour (``models/draw``): LSTM
  cores of LSTM_OUTPUT_CHANNELS on the [ENC_HEIGHT, ENC_WIDTH] grid, kernel
  LSTM_KERNEL_SIZE, one convolution per gate input, forget bias 1, a canvas
  of LSTM_CANVAS_CHANNELS at image size, eta_pi / eta_q with kernel
  ETA_INTERNAL_KERNEL_SIZE, eta_g with ETA_EXTERNAL_KERNEL_SIZE, SEQ_LENGTH
  steps; one generator and one inference core used at every step (39,682,563
  trainable parameters at the default config).

``cfg.ORIGINAL_PRIOR_TIMING`` reproduces tf-gqn's off-by-one prior;
``optimized=False`` is ConvDRAW's naive path over the same variables;
``share_cores=False`` gives every DRAW step its own cores (the PyTorch
ports' layout); ``winograd`` (on the fused path only) runs the gate
convolutions as Winograd F(4x4, k x k) in float32 (``models/winograd.py``);
``dtype`` (e.g. "mixed_bfloat16") is passed to every layer.
Outputs are float32 in every case.
"""
import keras
import tensorflow as tf

from models.draw import ConvDRAW
from models.gqn.config import GQN_DEFAULT_CONFIG
from models.gqn.encoder import make_encoder, scene_representation


def unpack_query(query):
    """(context frames [B,K,H,W,C], context cameras [B,K,P], query camera [B,P])
    from a Query(context=Context(frames, cameras), query_camera) or plain tuples."""
    context = getattr(query, "context", None)
    query_camera = getattr(query, "query_camera", None)
    if context is None or query_camera is None:
        context, query_camera = query
    frames = getattr(context, "frames", None)
    cameras = getattr(context, "cameras", None)
    if frames is None or cameras is None:
        frames, cameras = context
    return frames, cameras, query_camera


class GQNModel(keras.Model):
    """``model((query, target))``: posterior pass; ``model.generate(query)``: prior pass.

    Both return ConvDRAW's dict: "mu_target" [B,H,W,3] and "canvases"
    [L,B,H,W,3], plus for the posterior pass "posterior_mu",
    "posterior_sigma", "prior_mu", "prior_sigma" [L,B,ENC_H,ENC_W,Z].
    ``noise`` ([L,B,ENC_H,ENC_W,Z] standard normals) fixes the sampling.
    """

    def __init__(self, cfg=GQN_DEFAULT_CONFIG, optimized=True, share_cores=True, winograd=True,
                 name="gqn", **kwargs):
        super().__init__(name=name, **kwargs)
        self.cfg = cfg
        self.encoder = make_encoder(cfg, dtype=self.dtype_policy)
        self.draw = ConvDRAW(
            conditioning_channels=cfg.ENC_CHANNELS, pose_channels=cfg.POSE_CHANNELS,
            image_size=(cfg.IMG_HEIGHT, cfg.IMG_WIDTH), grid_size=(cfg.ENC_HEIGHT, cfg.ENC_WIDTH),
            image_channels=cfg.IMG_CHANNELS, hidden_channels=cfg.LSTM_OUTPUT_CHANNELS,
            canvas_channels=cfg.LSTM_CANVAS_CHANNELS, z_channels=cfg.Z_CHANNELS,
            kernel_size=cfg.LSTM_KERNEL_SIZE, eta_kernel_size=cfg.ETA_INTERNAL_KERNEL_SIZE,
            eta_g_kernel_size=cfg.ETA_EXTERNAL_KERNEL_SIZE, num_steps=cfg.SEQ_LENGTH,
            shared_cores=share_cores, flavour="tf_gqn", optimized=optimized, winograd=winograd,
            original_prior_timing=cfg.ORIGINAL_PRIOR_TIMING, name="conv_draw",
            dtype=self.dtype_policy)
        self.built = True

    def representation(self, query):
        """(r, query pose): r a vector [B, C] (pool) or a map [B, h, w, C] (tower)."""
        frames, cameras, query_camera = unpack_query(query)
        dtype = self.compute_dtype
        r = scene_representation(self.encoder, tf.cast(frames, dtype), tf.cast(cameras, dtype))
        if self.cfg.ENC_TYPE == "pool":
            r = r[:, 0, 0, :]
        return r, tf.cast(query_camera, dtype)

    def call(self, inputs, training=False, noise=None):
        """Training pass: ``inputs = (query, target)`` with target [B,H,W,3]."""
        query, target = inputs
        r, pose = self.representation(query)
        return self.draw((r, pose, target), training=training, noise=noise)

    def generate(self, query, noise=None):
        """Generation pass from the prior: dict with "mu_target" and "canvases"."""
        return self.draw.generate(*self.representation(query), noise=noise)

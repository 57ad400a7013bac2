"""Scene encoders psi of the GQN: tower and pool.

Facts kept from tf-gqn (``gqn/gqn_encoder.py``, ``gqn/gqn_graph.py``):

- tower, per context view [H, W, 3] with pose [7]:
  conv 2x2/2 256 relu (VALID); skip = conv 1x1 128 linear, plus conv 3x3 128
  relu (SAME); conv 2x2/2 256 relu (VALID); concatenate the pose broadcast to
  every pixel; skip = conv 1x1 128 linear, plus conv 3x3 128 relu; conv 3x3
  256 relu; conv 1x1 256 relu -> [H/4, W/4, 256].
- pool: the tower followed by the spatial mean -> [1, 1, 256].
- the scene representation is the sum over the context views; the pool
  representation is broadcast to [ENC_HEIGHT, ENC_WIDTH] before the DRAW cores.

All convolutions have a bias (1,160,448 parameters for 3-channel images,
7-channel poses and 256 encoding channels).
"""
import keras
import tensorflow as tf


def broadcast_to_grid(vector, height, width):
    """Broadcast ``vector`` [B, C] to every pixel: [B, height, width, C]."""
    vector = vector[:, None, None, :]
    return tf.tile(vector, [1, height, width, 1])


class TowerEncoder(keras.Model):
    """Tower encoder: (frames [N,H,W,3], poses [N,P]) -> [N, H/4, W/4, 256]."""

    def __init__(self, enc_channels=256, name="tower_encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        half = enc_channels // 2
        def conv(*args, **kw):
            return keras.layers.Conv2D(*args, dtype=self.dtype_policy, **kw)
        self.conv1 = conv(enc_channels, 2, strides=2, padding="valid", activation="relu")
        self.skip1 = conv(half, 1, padding="same")
        self.conv2 = conv(half, 3, padding="same", activation="relu")
        self.conv3 = conv(enc_channels, 2, strides=2, padding="valid", activation="relu")
        self.skip2 = conv(half, 1, padding="same")
        self.conv4 = conv(half, 3, padding="same", activation="relu")
        self.conv5 = conv(enc_channels, 3, padding="same", activation="relu")
        self.conv6 = conv(enc_channels, 1, padding="same", activation="relu")

    def build_for(self, img_height, img_width, img_channels, pose_channels):
        """Create the variables for the given input sizes (no data needed)."""
        c = self.conv1.filters
        self.conv1.build((None, img_height, img_width, img_channels))
        h, w = img_height // 2, img_width // 2
        self.skip1.build((None, h, w, c))
        self.conv2.build((None, h, w, c))
        self.conv3.build((None, h, w, c // 2))
        h, w = h // 2, w // 2
        self.skip2.build((None, h, w, c + pose_channels))
        self.conv4.build((None, h, w, c + pose_channels))
        self.conv5.build((None, h, w, c // 2))
        self.conv6.build((None, h, w, c))
        self.built = True

    def call(self, frames, poses):
        net = self.conv1(frames)
        net = self.conv2(net) + self.skip1(net)
        net = self.conv3(net)
        height, width = net.shape[1], net.shape[2]
        net = tf.concat(
            [net, broadcast_to_grid(tf.cast(poses, net.dtype), height, width)], axis=-1)
        net = self.conv4(net) + self.skip2(net)
        net = self.conv5(net)
        return self.conv6(net)


class PoolEncoder(TowerEncoder):
    """Pool encoder: the tower then the spatial mean -> [N, 1, 1, 256]."""

    def __init__(self, enc_channels=256, name="pool_encoder", **kwargs):
        super().__init__(enc_channels=enc_channels, name=name, **kwargs)

    def call(self, frames, poses):
        net = super().call(frames, poses)
        return tf.reduce_mean(net, axis=[1, 2], keepdims=True)


def make_encoder(cfg, dtype=None):
    """The encoder named by ``cfg.ENC_TYPE``, with its variables created."""
    cls = {"pool": PoolEncoder, "tower": TowerEncoder}[cfg.ENC_TYPE]
    encoder = cls(enc_channels=cfg.ENC_CHANNELS, dtype=dtype)
    encoder.build_for(cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS, cfg.POSE_CHANNELS)
    return encoder


def scene_representation(encoder, frames, cameras):
    """Sum of the encodings of the context views.

    frames [B, K, H, W, C], cameras [B, K, P] -> [B, h, w, ENC_CHANNELS]
    (h = w = 1 for the pool encoder).
    """
    batch, views = tf.shape(frames)[0], frames.shape[1] or tf.shape(frames)[1]
    packed_frames = tf.reshape(frames, [-1, *frames.shape[2:]])
    packed_cameras = tf.reshape(cameras, [-1, cameras.shape[-1]])
    packed = encoder(packed_frames, packed_cameras)
    unpacked = tf.reshape(packed, [batch, views, *packed.shape[1:]])
    return tf.reduce_sum(unpacked, axis=1)

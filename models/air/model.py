"""AIR 3D inference network: image -> candidates with presence, type, position, rotation.

``AIRInference3D`` = ``ConvEncoder`` + a head (``models.air.heads``: ``glimpse``
by default, ``grid``, or the reference's ``slots``). With a canvas channel
(``input_channels`` 2, a grid head trained for the search's repeat) the
network reads the image and the rendering of primitives already explained
(empty at the first look), and is taught to find only the others.

``call(images)`` returns the candidates (``[B, S, ...]``, ``S`` cells or
slots): ``presence_logit``, ``type_logits`` (sphere, cube, cylinder),
``position`` (targets in [-1, 1]), ``rotation`` (3x3 matrices) and, for the
grid, ``image_uv``; float32 whatever the compute dtype. ``read(images,
image_index, uv)`` runs the glimpse reader. ``camera`` (``models.air.scenes``:
``"orthographic"`` or ``"perspective"``) is the camera of the scenes it reads:
it turns an image point and a depth into a position (``position_from_view``).
With ``camera_range`` (cameras that vary) the network also reads the camera
(``CameraHead``: ``call`` adds ``camera [B, 3]``, ``cos az, sin az, el``), and its
positions and rotations are in that camera's frame (``models.air.scenes``:
``to_camera_frame``; the answer goes to the world frame with the camera read,
``models.air.search``). What is done with the candidates at inference
(merging, the count search, the pose fitting) is not the network's:
``models.air.search``.
"""
import keras
import tensorflow as tf

from models.air import heads
from models.air.encoder import ConvEncoder
from models.air.glimpse import crop_glimpses
from models.air.grid_head import position_from_view
from models.precision import use_bfloat16


class AIRInference3D(keras.Model):
    """``call(images) -> candidates``; ``read(images, image_index, uv) -> readings``."""

    def __init__(self, max_primitives=3, head="glimpse", channels=None, kernels=None,
                 strides=None, hidden=128, glimpse_size=24,
                 glimpse_channels=(16, 32, 64, 64), glimpse_hidden=256, input_channels=1,
                 camera="orthographic", camera_range=None, camera_hidden=128, **kwargs):
        kwargs.setdefault("name", "air_inference_3d")
        super().__init__(**kwargs)
        self.head_type = heads.get(head)
        self.max_primitives, self.glimpse_size = max_primitives, glimpse_size
        self.input_channels, self.camera = input_channels, camera
        self.camera_range = None if camera_range is None else tuple(camera_range)
        encoder_args = {k: tuple(v) for k, v in
                        (("channels", channels), ("kernels", kernels), ("strides", strides))
                        if v is not None}
        policy = self.dtype_policy
        self.encoder = ConvEncoder(dtype=policy, **encoder_args)
        self.head, self.reader = self.head_type.layers(max_primitives, hidden, glimpse_channels,
                                                       glimpse_hidden, policy, camera)
        self.camera_head = None
        if camera_range is not None:
            from models.air.camera_head import CameraHead
            self.camera_head = CameraHead(camera_hidden, name="camera_head", dtype=policy)

    def term_names(self):
        """The per-example terms of its set loss: the head's, and ``camera`` under a camera
        range."""
        return self.head_type.term_names() + (["camera"] if self.camera_head else [])

    def build(self, input_shape):
        self.built = True  # the layers build on their first call (the reader on read())

    def call(self, images):
        maps = self.encoder(images)
        found = self.head(maps)
        if self.camera_head is not None:
            found["camera"] = self.camera_head(maps)
        return found

    def read(self, images, image_index, uv):
        """Glimpse readings at image points ``uv [N, 2]`` of images ``image_index [N]``:
        ``type_logits``, ``rotation``, ``position``, ``image_uv`` (dict of ``[N, ...]``)."""
        what = self.reader(crop_glimpses(images, image_index, uv, self.glimpse_size))
        centre = uv + what["offset_uv"]
        return {"type_logits": what["type_logits"], "rotation": what["rotation"],
                "position": position_from_view(centre, what["delta"], self.camera),
                "image_uv": centre}


def build_air_model_3d(config):
    """The inference network of ``config`` (``models.air.config``), built on a dummy batch."""
    from models.air.config import input_channels

    policy = "mixed_bfloat16" if use_bfloat16(config["mixed_precision"]) else "float32"
    model = AIRInference3D(config["max_primitives"], config["head"], config["channels"],
                           config["kernels"], config["strides"], config["hidden"],
                           config["glimpse_size"], config["glimpse_channels"],
                           config["glimpse_hidden"], input_channels(config), config["camera"],
                           config["camera_range"], config["camera_hidden"], dtype=policy)
    images = tf.zeros([1, config["image_size"], config["image_size"], model.input_channels])
    model(images)
    if model.reader is not None:
        model.read(images, tf.zeros([1], tf.int32), tf.zeros([1, 2]))
    return model

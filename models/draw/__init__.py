"""ConvDRAW, the convolutional DRAW renderer shared by GQN and GEN.

``ConvDRAW`` (``conv_draw.py``) is the whole renderer; its parts are layers
with explicit arguments: ``ConvLSTMCore`` (``convlstm.py``), the generator
and inference cores (``cores.py``), the Gaussian heads eta_pi / eta_q
(``eta.py``) and the canvas of the fused path (``canvas.py``). The loss
terms of the ELBO are pure functions in ``objective.py``.
"""
from models.draw.conv_draw import FLAVOURS, ConvDRAW
from models.draw.convlstm import ConvLSTMCore, broadcast_conv, lstm_update
from models.draw.cores import GeneratorCore, InferenceCore
from models.draw.eta import GaussianHead, sample_z

__all__ = ["ConvDRAW", "FLAVOURS", "ConvLSTMCore", "broadcast_conv", "lstm_update",
           "GeneratorCore", "InferenceCore", "GaussianHead", "sample_z"]

"""Graph Element Networks for scene rendering (GEN): graph, embedder, composers,
the GEN model (composer + ConvDRAW), its objective, and how to build it from a config
(``build.py``)."""
from models.gen.build import build_model, build_networks, config_from_saved
from models.gen.composer import BaselineComposer, GraphComposer
from models.gen.embedder import PoolEmbedder
from models.gen.graph import GraphStructure, OutOfGridError
from models.gen.model import GENModel

__all__ = ["BaselineComposer", "GraphComposer", "PoolEmbedder", "GraphStructure",
           "OutOfGridError", "GENModel", "build_model", "build_networks", "config_from_saved"]

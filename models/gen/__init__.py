"""Graph Element Networks for scene rendering (GEN): graph, embedder, composers,
the GEN model (composer + ConvDRAW) and its objective."""
from models.gen.composer import BaselineComposer, GraphComposer
from models.gen.embedder import PoolEmbedder
from models.gen.graph import GraphStructure, OutOfGridError
from models.gen.model import GENModel

__all__ = ["BaselineComposer", "GraphComposer", "PoolEmbedder", "GraphStructure",
           "OutOfGridError", "GENModel"]

"""Graph Element Networks for scene rendering (GEN): graph, embedder, composers,
the GEN model (composer + ConvDRAW), its objective, and how to build it from a config
(``build.py``).

The config (``config``) is plain data; the network's names load TensorFlow on first use,
so that a command can check its flags and config before TensorFlow's start-up.
"""
__all__ = ["BaselineComposer", "GraphComposer", "PoolEmbedder", "GraphStructure",
           "OutOfGridError", "GENModel", "build_model", "build_networks", "config_from_saved"]

_LAZY = {"build_model": "build", "build_networks": "build", "config_from_saved": "build",
         "BaselineComposer": "composer", "GraphComposer": "composer",
         "PoolEmbedder": "embedder", "GraphStructure": "graph", "OutOfGridError": "graph",
         "GENModel": "model"}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f"models.gen.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'models.gen' has no attribute {name!r}")

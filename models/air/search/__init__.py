"""Inference-time machinery of AIR 3D that is not the network: how its candidates
become the answer (``pipeline``), the count search and pose fitting by the renderer
(``explain``), joining candidates of several looks (``candidates``), under a camera
range the camera read fitted by the renderer (``camera_fit``), and the search's own
config (``config``: changing it needs no retraining).

Importing the package loads nothing heavy; ``predict_slots`` and ``Search`` load the
pipeline on first use.
"""
from models.air.search.config import SEARCH_DEFAULTS, check_search, search_config

__all__ = ["SEARCH_DEFAULTS", "check_search", "search_config", "predict_slots", "Search"]


def __getattr__(name):
    if name in ("predict_slots", "Search"):
        from models.air.search import pipeline
        return getattr(pipeline, name)
    raise AttributeError(f"module 'models.air.search' has no attribute {name!r}")

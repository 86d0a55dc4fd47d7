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
        from modbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'modbench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])

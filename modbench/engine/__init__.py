"""The training engine: data on the device, batched augmentation, the training loop, evaluation.

The engine prints nothing: it reports progress through an ``Observer`` (``events.py``) and
writes its results through the cache (``modbench.cache``).
"""

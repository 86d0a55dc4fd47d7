"""modbench: a benchmark for loss functions in image classification."""

__version__ = "0.1.0"

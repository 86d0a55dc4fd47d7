"""``modbench tune``: the same Optuna search budget for every loss, on the validation split.

Layers: ``spaces`` (what is searched, torch-free), ``trials`` (a trial as an ordinary cached run
evaluated on validation), ``study`` (Optuna storage, budget, pruning), ``tuned_suite`` (the YAML
it writes), ``plots`` (the figures). docs/tuning.md describes the protocol.
"""

"""The application layer: what a command does, for the command line and the Python API alike.

plan (``modbench.suite.selection.select_runs``: a suite's runs after the overrides) -> run
(``run.py``: the cached answer without torch, else the engine's Runner through an executor,
``executors.py``: inline in this process, also under torchrun, or one job per missing run in a
process pool or on SLURM, ``launching.py``) -> evaluate (``run.evaluated``) -> results as data
(``compare.py``; ``until_decided.py`` for ``compare --until-decided``, ``replay.py`` for
``report --until-decided``; ``report.py``: ``report``'s rows and verdicts). ``tune.py`` runs its
trials through the same executors.

Nothing here prints: progress and warnings go to an ``Events`` (``events.py``) that the caller
passes; ``modbench.render.progress`` draws them on a console. ``modbench.cli`` turns options into
these calls and renders what they return; ``modbench.api`` returns it.
"""

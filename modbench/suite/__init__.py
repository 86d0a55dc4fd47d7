"""Suite files, in one-way layers: the strict schema (``schema.py``), the error lines
(``errors.py``), registry look-ups (``references.py``), expanding a suite into one resolved run
configuration per loss setting and seed (``runs.py``), and finding, reading and validating a
file once (``loader.py``, whose ``load_suite`` is the entry point)."""

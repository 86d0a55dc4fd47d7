"""Suite files: the strict schema (``schema.py``), reading YAML safely (``loader.py``), and
expanding a suite into one resolved run configuration per loss setting and seed (``runs.py``)."""

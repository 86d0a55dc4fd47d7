"""Data shipped with the package: the paper's Tables 1 and 2 (``paper_tables.json``), read by
``modbench.results.paper``."""

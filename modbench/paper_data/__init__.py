"""The paper's own numbers, shipped with the package: its Tables 1 and 2 (``paper_tables.json``),
read by ``modbench.results.paper``. (Not the datasets, which are in ``modbench.datasets``.)"""

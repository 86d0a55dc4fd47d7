"""Results, computed from the cache and never printed here: rows of runs (``rows``), their
aggregation over seeds (``aggregate``, with the pure statistics of ``stats``), the comparison with
a baseline (``baseline``), training curves (``curves``), a suite's protocol (``protocol``), the
paper's published tables (``paper``) and everything a renderer needs per suite (``summary``)."""

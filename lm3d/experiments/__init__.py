"""lm3d.experiments: the tables of the project, each trained and evaluated over seeds with the same budget.

* ``seed_runs``: train-then-evaluate runs (cached, resumable) and their aggregation over seeds.
* one file per table: ``baseline``, ``ladder`` (the spatial transformer), ``head_3d``, ``deformer``.
* ``interruption``: the kill -9 resume check.  ``cli``: ``python -m lm3d.reproduce``.

Imports: every layer below; nothing imports it (it is the top, with the command entry points).
"""
from .seed_runs import aggregate, aggregate_rows, cell, flatten, run_name, run_seed

__all__ = ["aggregate", "aggregate_rows", "cell", "flatten", "run_name", "run_seed"]

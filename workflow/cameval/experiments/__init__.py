"""The experiments of the study and beyond, one package (or, small and torch-free, one module) each,
and the one registry of them.

Each package (``cameval/experiments/{name}/``, its torch work in ``compute.py``) or module owns its
per-image rows, its table with intervals, its figure, the notes that say what was computed and its
claims, and declares an
:class:`~cameval.experiments.record.Experiment` (``EXPERIMENT``). The registry,
:data:`cameval.experiments.registry.EXPERIMENTS`, lists them in the order of the study's tables;
``rule all`` (:func:`targets`), the report's categories (:func:`categories`), the tables the
claims read (:func:`built_tables`) and the claims
(:data:`CLAIMS`) are derived from it, nowhere written again.

Adding an experiment: its module here (the registry finds it), its rule file
``workflow/rules/{name}.smk``, its config section and its schema entry.
"""

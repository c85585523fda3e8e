"""One package per chapter: its per-scale configurations, the paper's values, its rules and declared
claims, its protocols and the evidence that decides each claim; each package's ``__init__`` lists its
modules and re-exports them.  Chapters import :mod:`fasttrain.core` and :mod:`fasttrain.methods`, and
the shared protocol modules of this package (``multiprocess_study``, ``plan``), never another chapter."""

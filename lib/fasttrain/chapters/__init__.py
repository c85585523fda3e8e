"""One module per chapter: its per-scale configurations, the paper's values, its protocols and its
declared claims with their rules.  Chapters import :mod:`fasttrain.core` and :mod:`fasttrain.methods`."""

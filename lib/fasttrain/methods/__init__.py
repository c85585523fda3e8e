"""The papers' algorithms and their baselines, one module each: no scales, no paper numbers, no data
loading, no verdicts.  A method imports :mod:`fasttrain.core` only, never another method or a chapter."""

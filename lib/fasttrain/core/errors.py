"""Errors shared by the methods."""


class DivergenceError(FloatingPointError):
    """A training run produced a non-finite loss."""

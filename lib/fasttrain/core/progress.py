"""One progress bar for every long loop of the book (tqdm; a no-op when switched off).

``progress_bar(iterable, enabled=show, desc="...")`` wraps an iterable; ``progress_bar(total=n, ...)`` gives
a bar to ``update`` by hand.  Bars are transient (``leave=False``) so stored notebooks stay clean.
"""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(
    iterable=None,
    *,
    enabled: bool = True,
    desc: str | None = None,
    total: int | None = None,
    unit: str = "it",
    **kwargs,
):
    """A tqdm bar over ``iterable`` (or one to ``update`` by hand), disabled unless ``enabled``."""
    return tqdm(
        iterable, total=total, desc=desc, unit=unit, leave=False, disable=not enabled, **kwargs
    )

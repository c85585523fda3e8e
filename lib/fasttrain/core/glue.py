"""The prose's numbers, glued: every chapter's last cell hands its ``{name: markdown}`` texts to
:func:`glue_texts`, which glues each with myst_nb (``glue(name, Markdown(text), display=False)``),
so that the text the book shows is the one this run computed and cannot go stale.

myst_nb and IPython are imported inside the function: ``fasttrain.core`` imports without them.
"""

from __future__ import annotations

from collections.abc import Mapping


def glue_texts(texts: Mapping[str, object], prefix: str = "") -> list[str]:
    """Glue every ``name -> markdown`` of ``texts`` under ``prefix + name`` (not displayed where it
    is glued: the pages show it through ``{glue:md}`` roles); return the names glued, in order.

    Raises ``ValueError`` for an empty name before gluing anything (a key the pages could never
    reference), ``TypeError`` for a text that is not a string."""
    names = {}
    for name, text in texts.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"glue names are non-empty strings, got {name!r}")
        if not isinstance(text, str):
            raise TypeError(
                f"{prefix}{name}: glued text must be a string, got {type(text).__name__}"
            )
        names[prefix + name] = text
    from IPython.display import Markdown
    from myst_nb import glue

    for name, text in names.items():
        glue(name, Markdown(text), display=False)
    return list(names)

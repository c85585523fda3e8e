"""One matplotlib style for every figure of the book.

Call :func:`use_style` once at the top of a chapter.  Colours follow the
Okabe-Ito palette (readable with colour-vision deficiencies) and every
method keeps its colour across chapters via :data:`METHOD_COLORS`.
"""

from __future__ import annotations

import matplotlib as mpl

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

METHOD_COLORS = {
    "GD": "#0072B2",
    "SGD": "#0072B2",
    "Adam": "#56B4E9",
    "ODE": "#D55E00",
    "linear model": "#E69F00",
    "exact GN": "#009E73",
    "fast GN": "#D55E00",
    "fast GN, Kronecker sketch": "#CC79A7",
    "RBD": "#D55E00",
    "FPD": "#009E73",
    "NES": "#CC79A7",
    "serial": "#0072B2",
    "MGRIT": "#D55E00",
    "LSGD": "#D55E00",
}

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "font.family": "DejaVu Sans",
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent)."""
    mpl.rcParams.update(STYLE)
    # PNG output in notebooks keeps the published pages light
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except Exception:  # outside IPython there is nothing to set
        pass


def color(method: str) -> str:
    """The book-wide colour of ``method`` (falls back to black)."""
    return METHOD_COLORS.get(method, "#000000")

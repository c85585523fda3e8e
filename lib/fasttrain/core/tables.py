"""Tables for reading: one helper every chapter uses to show a DataFrame.

``readable(df, columns={"lr": "learning rate", "gd_s": "GD time (s)"}, digits={"GD time (s)": 2})``
keeps and renames the columns given (in that order; everything else is internal and dropped), shows
integers as integers, rounds floats to the significant digits the measurement supports (3 unless
told), and returns a pandas ``Styler`` without the index, narrow enough for the page: long text wraps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: significant digits of a float column unless a chapter says otherwise
DEFAULT_DIGITS = 3


def _format(digits: int):
    def fmt(v) -> str:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}".replace(",", " ")
        if isinstance(v, (float, np.floating)):
            if float(v).is_integer() and abs(v) < 1e15:
                return f"{int(v):,}".replace(",", " ")
            return f"{float(v):.{digits}g}"
        return str(v)

    return fmt


def readable(
    df, columns: Mapping[str, str], digits: Mapping[str, int] | None = None, caption: str = ""
):
    """``df`` with only ``columns`` (old name -> header in words with unit), formatted for reading.

    ``digits``: significant digits per new header (default :data:`DEFAULT_DIGITS`).  Raises
    ``KeyError`` naming the missing columns, so a renamed protocol field fails loudly.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns {missing} not in the table; it has {list(df.columns)}")
    out = df[list(columns)].rename(columns=dict(columns))
    digits = dict(digits or {})
    fmt = {c: _format(digits.get(c, DEFAULT_DIGITS)) for c in out.columns}
    styler = out.style.format(fmt).hide(axis="index")
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": [("text-align", "left"), ("white-space", "normal")]},
            {"selector": "td", "props": [("white-space", "normal"), ("overflow-wrap", "anywhere")]},
        ]
    )
    if caption:
        styler = styler.set_caption(caption)
    return styler

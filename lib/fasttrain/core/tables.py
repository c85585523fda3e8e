"""Tables for reading: one helper every chapter uses to show a DataFrame.

``readable(df, columns={"lr": "learning rate", "gd_s": "GD time (s)"}, digits={"GD time (s)": 2})``
keeps and renames the columns given (in that order; everything else is internal and dropped), shows
integers as integers, rounds floats to the significant digits the measurement supports (3 unless
told), and returns a pandas ``Styler`` without the index, narrow enough for the page: long text wraps.

``settings_rows(cfg, **context)`` builds a chapter's settings table, ``(setting, value)`` rows, from
the metadata of its configuration's fields (:func:`setting`): the table cannot drift from the
configuration, and a new setting is shown by labelling its field.
"""

from __future__ import annotations

import dataclasses
import math
import string
from collections.abc import Callable, Mapping
from typing import Any

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


# ---------------------------------------------------------------------------------------------
# the settings table from the configuration's field metadata


def setting(
    label: str, fmt: str | Callable[[Any], Any] | None = None, *, order: float | None = None
) -> dict[str, Any]:
    """The metadata of a configuration field shown in the chapter's settings table::

        n: int = field(metadata=setting("points n, width m", "{n}, {m}", order=1))

    ``label``: the row's setting in words; ``fmt``: how its value shows -- ``None``: the field's
    value as it is; a callable: ``fmt(value)``; a template with braces: formatted with the
    configuration's fields and properties (and the context :func:`settings_rows` is given) by
    name, ``{}`` being the field itself; any other string: a format spec of the value (``"g"``).
    In a template or a spec a tuple or list shows its items joined by ``", "``, each formatted with
    the spec (``{eps_sweep:g}``), and ``!n`` gives a sequence's length (``{seeds!n}``).  The label
    may be a template too.  ``order``: the row's place (every labelled field of a configuration
    gives one, or none does and the rows follow the fields).  One row may show several fields
    (label one of them); fields without a label are left out of the table."""
    md: dict[str, Any] = {"label": label}
    if fmt is not None:
        md["fmt"] = fmt
    if order is not None:
        md["order"] = order
    return md


class _Names(Mapping):
    """A template's names: the context first, then the configuration's attributes."""

    def __init__(self, cfg, context: Mapping[str, Any]):
        self._cfg, self._context = cfg, context

    def __getitem__(self, key):
        if key in self._context:
            return self._context[key]
        try:
            return getattr(self._cfg, key)
        except AttributeError:
            raise KeyError(
                f"{key!r}: not a field or property of {type(self._cfg).__name__}, nor context"
            ) from None

    def __iter__(self):
        return iter(self._context)

    def __len__(self):
        return len(self._context)


class _SettingFormatter(string.Formatter):
    def convert_field(self, value, conversion):
        if conversion == "n":
            return len(value)
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        if isinstance(value, (tuple, list)):
            return ", ".join(format(v, format_spec) for v in value)
        return format(value, format_spec)


_FORMAT = _SettingFormatter()


def settings_rows(cfg, **context) -> list[tuple[str, Any]]:
    """The settings table of ``cfg`` (a dataclass instance): one ``(setting, value)`` row per field
    labelled with :func:`setting`, in their ``order`` (else the fields' order).  ``context``: names
    the templates read beside the configuration's (and before them: ``seeds=`` the seeds offset by
    the chapter's seed parameter, ``ls=`` another configuration one row shows)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"settings_rows needs a dataclass instance, got {type(cfg).__name__}")
    fields = [f for f in dataclasses.fields(cfg) if "label" in f.metadata]
    ordered = [f.name for f in fields if "order" in f.metadata]
    if ordered and len(ordered) != len(fields):
        lacking = [f.name for f in fields if "order" not in f.metadata]
        raise ValueError(f"{type(cfg).__name__}: labelled fields without an order: {lacking}")
    if ordered:
        fields.sort(key=lambda f: f.metadata["order"])
    names = _Names(cfg, context)
    rows = []
    for f in fields:
        label, fmt = f.metadata["label"], f.metadata.get("fmt")
        value = names[f.name]
        if "{" in label:
            label = _FORMAT.vformat(label, (value,), names)
        if callable(fmt):
            value = fmt(value)
        elif isinstance(fmt, str) and "{" in fmt:
            value = _FORMAT.vformat(fmt, (value,), names)
        elif isinstance(fmt, str):
            value = _FORMAT.format_field(value, fmt)
        rows.append((label, value))
    return rows

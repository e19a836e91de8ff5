"""How the report writes a value: numbers, names and the cells of its HTML tables.

Text
    :func:`fmt_acc` (three decimals, the precision every accuracy is shown and compared at:
    :func:`r3`), :func:`fmt_secs`, :func:`fmt_int`, :func:`fmt_thr`, :func:`signed` (a signed
    difference, never ``-0.000``), :func:`bound`, :func:`topic` (a number with its Korean topic
    particle), :func:`plabel` (a profile with its Korean label), :data:`SHORT` (run names without
    ``flowers_``), :func:`short_error`.

HTML
    :func:`esc` escapes every cell's text; :func:`table` builds a ``<table class="reglab">``
    from cells that are HTML already; :func:`status_cell` (a failed or missing run),
    :func:`nowrap` and :func:`header` keep numbers and header lines on one line.
"""

from __future__ import annotations

import html
import re

from ..pipeline.experiments import CHAPTER8_RUNS
from .records import FAILED, RunEntry

__all__ = ["PROFILE_LABELS", "FAMILY_LABELS", "SHORT", "esc", "fmt_acc", "fmt_secs",
           "signed_secs", "fmt_thr", "fmt_int", "fmt_value", "r3", "signed", "bound", "topic",
           "plabel", "short_error", "table", "status_cell", "nowrap", "header"]

PROFILE_LABELS = {"book": "book (교재 코드 그대로)", "exact": "exact (교과서 수식)"}
FAMILY_LABELS = {"mlp": "MLP", "cnn": "CNN"}
#: Run names without the ``flowers_`` prefix (figure ticks and legends).
SHORT = {s.name: s.name.replace("flowers_", "") for s in CHAPTER8_RUNS}


# ----------------------------------------------------------------------------- text
def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt_acc(x) -> str:
    return "—" if x is None else f"{float(x):.3f}"


def fmt_secs(s) -> str:
    """Seconds with one decimal (two below 10 s, so short runs do not all read 0.0초)."""
    if s is None:
        return "—"
    if isinstance(s, int):
        return f"{s:,d}초"
    s = float(s)
    return f"{s:,.2f}초" if abs(s) < 10 else f"{s:,.1f}초"


def signed_secs(d: float) -> str:
    """A signed time difference, with the decimals of :func:`fmt_secs`."""
    return f"{d:+,.2f}초" if abs(d) < 10 else f"{d:+,.1f}초"


def fmt_thr(t: float) -> str:
    """A threshold like the book's ``1e-5`` (not ``1e-05``)."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{float(t):g}").replace("e+", "e")


def fmt_int(n) -> str:
    return f"{int(n):,}"


def fmt_value(v) -> str:
    """A profile field's value: ``1/255`` for the input scale, strings quoted."""
    if isinstance(v, float) and v > 0 and abs(v * 255 - 1) < 1e-12:
        return "1/255"
    return repr(v) if isinstance(v, str) else str(v)


def r3(x: float) -> float:
    """The value as shown (three decimals), for comparisons that must agree with the table."""
    return round(float(x) + 0.0, 3)


def signed(d: float) -> str:
    """A signed difference with three decimals (never "-0.000")."""
    out = f"{float(d):+.3f}"
    return "+0.000" if out == "-0.000" else out


def bound(x: float) -> str:
    """An interval bound: three decimals, or four when three would read ±0.000."""
    return f"{x:+.4f}" if x != 0 and abs(x) < 0.0005 else signed(x)


def topic(number: str) -> str:
    """The number with the Korean topic particle read after its last digit (은/는)."""
    return number + ("는" if number[-1:] in "2459" else "은")


def plabel(profile: str) -> str:
    """A profile's name with its Korean label (``book (교재 코드 그대로)``)."""
    return PROFILE_LABELS.get(profile, profile)


def short_error(err: str | None, limit: int = 400) -> str:
    """The message of an error (its last non-empty line), shortened."""
    lines = [ln.strip() for ln in str(err or "").splitlines() if ln.strip()]
    msg = lines[-1] if lines else "알 수 없는 오류"
    return msg if len(msg) <= limit else msg[:limit - 1] + "…"


# ----------------------------------------------------------------------------- HTML
def table(headers: list[str], rows: list[list[str]], caption: str | None = None,
          cls: str = "reglab", widths: list[int] | None = None) -> str:
    """An HTML table; headers and cells are HTML (escape beforehand); ``widths`` in percent.

    A cell that starts with ``<td`` is used as it is (for ``colspan``, ``rowspan``, a class).
    """
    out = [f'<table class="{cls}">']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if widths:
        out.append("<colgroup>" + "".join(f'<col style="width: {w}%">' for w in widths)
                   + "</colgroup>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in r)
                   + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def status_cell(entry: RunEntry, colspan: int = 1) -> str:
    """The cell of a run without a result: "실패: <message>" or "결과 없음"."""
    span = f' colspan="{colspan}"' if colspan > 1 else ""
    if entry.status == FAILED:
        return f'<td class="failed"{span}>실패: {esc(short_error(entry.error))}</td>'
    return f'<td class="missing"{span}>결과 없음</td>'


def nowrap(cell: str) -> str:
    """A table cell that does not wrap (numbers like "0.421 ± 0.006")."""
    return f'<td style="white-space: nowrap">{cell}</td>'


def header(*lines: str) -> str:
    """A table header of lines that do not wrap inside themselves."""
    return "<br>".join(f'<span style="white-space: nowrap">{x}</span>' for x in lines)

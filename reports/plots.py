"""Small static figures for the run pages: PNG bytes made with matplotlib's Agg canvas.

Figures are built with `matplotlib.figure.Figure` and an explicit `FigureCanvasAgg`, never through
pyplot: nothing is registered in pyplot's global figure manager, no GUI backend is ever selected,
and each figure is cleared and dropped as soon as its PNG is written. The pages embed the bytes as
`data:image/png;base64,...` URIs built by `data_uri` from bytes made here, never from input text.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

__all__ = ["DPI", "FIGSIZE", "MAX_POINTS", "data_uri", "error_histogram", "error_map"]

FIGSIZE = (5.0, 3.5)  # inches
DPI = 80
MAX_POINTS = 20000  # scatter points per map; the worst are always kept

_BIG = 1e300
_FINE = "#2b8a3e"
_BAD = "#c92a2a"


def data_uri(png: bytes) -> str:
    """A data URI for PNG bytes this module produced."""
    if not isinstance(png, (bytes, bytearray)) or not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
        raise ValueError("data_uri takes PNG bytes produced by reports.plots")
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


def _label(text, limit: int = 40) -> str:
    """Input text as a plain (never mathtext) label of bounded length."""
    t = " ".join(str(text).split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        fig.clear()
    return buf.getvalue()


def _new_fig(colorbar: bool = False):
    """A figure with fixed margins (no layout engine: it costs more than drawing the figure),
    its main axes, and the colour bar's axes when asked for."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    if colorbar:
        ax = fig.add_axes((0.14, 0.14, 0.64, 0.76))
        cax = fig.add_axes((0.80, 0.14, 0.03, 0.76))
        return fig, ax, cax
    return fig, fig.add_axes((0.13, 0.14, 0.83, 0.76)), None


def error_histogram(errors, title: str = "") -> bytes | None:
    """Histogram of normalized errors (floats >= 0, inf allowed) on a log x-axis.

    Exact results (0) and non-finite ones (inf, nan) cannot sit on a log axis: they are counted in
    the legend. Returns None when there is nothing at all to draw.
    """
    e = np.asarray([x for x in errors if isinstance(x, float)], dtype=float)
    if e.size == 0:
        return None
    n_nan = int(np.isnan(e).sum())
    n_inf = int(np.isinf(e).sum())
    fin = e[np.isfinite(e)]
    n_neg = int((fin < 0).sum())
    n_zero = int((fin == 0).sum())
    pos = np.clip(fin[fin > 0], 1e-150, 1e150)

    fig, ax, _ = _new_fig()
    if pos.size:
        lo = max(float(pos.min()), 1e-300)
        hi = max(float(pos.max()), lo * 10)
        lo_e = math.floor(math.log10(lo))
        hi_e = math.ceil(math.log10(hi))
        if hi_e <= lo_e:
            hi_e = lo_e + 1
        nbins = int(min(60, max(10, 4 * (hi_e - lo_e))))
        bins = np.logspace(lo_e, hi_e, nbins + 1)
        within = pos[pos <= 1]
        beyond = pos[pos > 1]
        ax.hist([within, beyond], bins=bins, stacked=True, color=[_FINE, _BAD],
                label=["within allowance", "beyond allowance"])
        ax.set_xscale("log")
        ax.axvline(1.0, color="#333333", linestyle="--", linewidth=1)
        ax.set_xlabel("normalized error |got - exact| / allowance")
    else:
        ax.text(0.5, 0.5, "no finite positive errors", ha="center", va="center",
                transform=ax.transAxes, color="#555555")
        ax.set_xticks([])
    ax.set_ylabel("points")
    extra = []
    if n_zero:
        extra.append(f"exact (0): {n_zero}")
    if n_inf:
        extra.append(f"inf: {n_inf}")
    if n_nan:
        extra.append(f"nan: {n_nan}")
    if n_neg:
        extra.append(f"negative (invalid): {n_neg}")
    if extra:
        ax.text(0.99, 0.97, "\n".join(extra), ha="right", va="top", transform=ax.transAxes,
                fontsize=8, color=_BAD if (n_inf or n_nan or n_neg) else "#333333",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#cccccc"})
    if pos.size:
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    if title:
        ax.set_title(_label(title, 80), fontsize=9, parse_math=False)
    return _png(fig)


def _symlog_label(v, _pos=None) -> str:
    if v == 0:
        return "0"
    e = round(math.log10(abs(v)))
    return f"${'-' if v < 0 else ''}10^{{{e}}}$"


def _axis_scale(ax, which: str, v: np.ndarray) -> None:
    """symlog (at most ~9 labelled ticks) when the finite values span several decades, else linear."""
    v = v[np.isfinite(v)]
    nz = np.abs(v[v != 0])
    if nz.size == 0:
        return
    lo, hi = float(np.quantile(nz, 0.02)), float(nz.max())
    lo = max(lo, hi * 1e-12, 1e-300)
    if not (hi / lo > 100 or ((v < 0).any() and hi / lo > 10)):
        return
    lo_e = math.floor(math.log10(lo))
    hi_e = math.ceil(math.log10(hi))
    linthresh = 10.0 ** lo_e
    sides = int((v < 0).any()) + int((v > 0).any())
    step = max(1, math.ceil(sides * (hi_e - lo_e + 1) / 8))
    decades = [10.0 ** e for e in range(hi_e, lo_e - 1, -step)]
    ticks = ([-d for d in decades] if (v < 0).any() else []) + [0.0] \
        + (sorted(decades) if (v > 0).any() else [])
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("symlog", linthresh=linthresh)
    axis.set_major_locator(FixedLocator(sorted(ticks)))
    axis.set_major_formatter(FuncFormatter(_symlog_label))
    axis.set_minor_locator(NullLocator())


def error_map(points, axes=("x", "y"), title: str = "") -> bytes | None:
    """Scatter of (axis0, axis1) coloured by normalized error on a log colour scale.

    `points`: iterable of (x, y, err) floats; err may be inf/nan. Exact points (err 0) are grey,
    non-finite errors are red crosses. Returns None when no point has finite coordinates.
    """
    pts = [(x, y, e) for x, y, e in points
           if isinstance(x, float) and isinstance(y, float) and isinstance(e, float)
           and math.isfinite(x) and math.isfinite(y)]
    if not pts:
        return None
    arr = np.asarray(pts, dtype=float)
    if len(arr) > MAX_POINTS:
        # keep the worst half of the budget, and an even sample of the rest
        key = np.where(np.isfinite(arr[:, 2]), arr[:, 2], np.inf)
        key = np.where(np.isnan(arr[:, 2]), np.inf, key)
        order = np.argsort(-key, kind="stable")
        worst = order[: MAX_POINTS // 2]
        rest = order[MAX_POINTS // 2:]
        step = max(1, len(rest) // (MAX_POINTS - len(worst)))
        arr = arr[np.concatenate([worst, rest[::step]])]
    # keep far from the float64 limits, where the log/symlog transforms overflow or underflow
    x = np.clip(arr[:, 0], -_BIG, _BIG)
    y = np.clip(arr[:, 1], -_BIG, _BIG)
    e = arr[:, 2].copy()
    e[np.isfinite(e) & (e > 0)] = np.clip(e[np.isfinite(e) & (e > 0)], 1e-150, 1e150)
    bad = ~np.isfinite(e) | (e < 0)
    zero = np.isfinite(e) & (e == 0)
    pos = np.isfinite(e) & (e > 0)

    fig, ax, cax = _new_fig(colorbar=True)
    if zero.any():
        ax.scatter(x[zero], y[zero], s=6, c="#bbbbbb", marker="o", linewidths=0,
                   label=f"exact ({int(zero.sum())})")
    if pos.any():
        ep = e[pos]
        vmin = float(ep.min())
        vmax = float(ep.max())
        if vmax <= vmin:
            vmin, vmax = vmin / 10, vmax * 10
        order = np.argsort(ep, kind="stable")  # worst drawn last, on top
        sc = ax.scatter(x[pos][order], y[pos][order], s=8, c=ep[order],
                        norm=LogNorm(vmin=vmin, vmax=vmax), cmap="viridis", linewidths=0)
        cb = fig.colorbar(sc, cax=cax)
        cb.set_label("normalized error", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    else:
        cax.set_visible(False)
    if bad.any():
        ax.scatter(x[bad], y[bad], s=24, c=_BAD, marker="x", linewidths=1.2,
                   label=f"inf/nan ({int(bad.sum())})")
    _axis_scale(ax, "x", x)
    _axis_scale(ax, "y", y)
    ax.set_xlabel(_label(axes[0] if len(axes) > 0 else "axis 0"), fontsize=8, parse_math=False)
    ax.set_ylabel(_label(axes[1] if len(axes) > 1 else "axis 1"), fontsize=8, parse_math=False)
    ax.tick_params(labelsize=7)
    if zero.any() or bad.any():
        ax.legend(loc="best", fontsize=7, frameon=True, framealpha=0.8)
    if title:
        ax.set_title(_label(title, 80), fontsize=9, parse_math=False)
    return _png(fig)

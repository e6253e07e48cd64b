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
from matplotlib.colors import LinearSegmentedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

__all__ = ["DPI", "FIGSIZE", "MAX_POINTS", "data_uri", "error_histogram", "error_map"]

FIGSIZE = (6.0, 4.2)  # inches: 600 x 420 pixels, shown at that size, text legible at 100 % zoom
DPI = 100
MAX_POINTS = 20000  # scatter points per map; the worst are always kept
FONT = 10  # points: axis labels; tick labels and legends one smaller

_BIG = 1e300
_FINE = "#2b8a3e"
_BAD = "#c92a2a"
_ADMITTED = "#3b5bdb"  # accepted by an admission rule (SPECIAL-OVERFLOW, exact special values)
# colours of the error map: blues up to the allowance (1), then orange to dark red beyond it
_WITHIN = ("#d0e2f7", "#74a9e0", "#1c5fb8", "#0b2e6b")
_BEYOND = ("#f59f00", "#e8590c", "#c92a2a", "#5c0a0a")


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
    its main axes, and the colour bar's axes when asked for. The bottom margin holds the x label
    and, below it, the legend, so neither covers the data."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    if colorbar:
        ax = fig.add_axes((0.12, 0.27, 0.66, 0.64))
        cax = fig.add_axes((0.81, 0.27, 0.025, 0.64))
        return fig, ax, cax
    return fig, fig.add_axes((0.11, 0.27, 0.86, 0.64)), None


def _legend_below(fig, ax, ncol: int) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if len(handles) > ncol:  # two rows rather than a row wider than the figure
            ncol = (len(handles) + 1) // 2
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=max(1, ncol),
                   fontsize=FONT - 1, frameon=False, handletextpad=0.4, columnspacing=1.2)


def error_histogram(errors, title: str = "", admitted=()) -> bytes | None:
    """Histogram of normalized errors (floats >= 0, inf allowed) on a log x-axis.

    `errors` are the points judged by the allowance: green within it (<= 1), red beyond.
    `admitted` are points accepted by an admission rule instead (SPECIAL-OVERFLOW's
    straightforward IEEE result, exact special values): drawn in blue, never as errors.
    Exact results (0) and non-finite ones (inf, nan) cannot sit on a log axis: they are counted in
    a box. Returns None when there is nothing at all to draw.
    """
    e = np.asarray([x for x in errors if isinstance(x, float)], dtype=float)
    adm = np.asarray([x for x in admitted if isinstance(x, float)], dtype=float)
    if e.size == 0 and adm.size == 0:
        return None
    n_nan = int(np.isnan(e).sum())
    n_inf = int(np.isinf(e).sum())
    fin = e[np.isfinite(e)]
    n_neg = int((fin < 0).sum())
    n_zero = int((fin == 0).sum())
    pos = np.clip(fin[fin > 0], 1e-150, 1e150)
    adm_fin = adm[np.isfinite(adm)]
    adm_pos = np.clip(adm_fin[adm_fin > 0], 1e-150, 1e150)
    n_adm_other = int(adm.size - adm_pos.size)

    fig, ax, _ = _new_fig()
    every = np.concatenate([pos, adm_pos])
    if every.size:
        lo = max(float(every.min()), 1e-300)
        hi = max(float(every.max()), lo * 10, 2.0)
        lo_e = math.floor(math.log10(lo))
        hi_e = math.ceil(math.log10(hi))
        if hi_e <= lo_e:
            hi_e = lo_e + 1
        nbins = int(min(60, max(12, 4 * (hi_e - lo_e))))
        bins = np.logspace(lo_e, hi_e, nbins + 1)
        parts = [(pos[pos <= 1], _FINE, f"within allowance ({int((pos <= 1).sum())})"),
                 (pos[pos > 1], _BAD, f"beyond allowance ({int((pos > 1).sum())})")]
        if adm.size:
            parts.append((adm_pos, _ADMITTED, f"admitted by a rule ({int(adm.size)})"))
        ax.hist([p[0] for p in parts], bins=bins, stacked=True, color=[p[1] for p in parts],
                label=[p[2] for p in parts])
        ax.set_xscale("log")
        ax.axvline(1.0, color="#333333", linestyle="--", linewidth=1, label="allowance (1)")
        ax.set_xlabel("normalized error |got - exact| / allowance", fontsize=FONT)
    else:
        ax.text(0.5, 0.5, "no finite positive errors", ha="center", va="center",
                transform=ax.transAxes, color="#555555", fontsize=FONT)
        ax.set_xticks([])
    ax.set_ylabel("points", fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    extra = []
    if n_zero:
        extra.append(f"exact (0): {n_zero}")
    if n_inf:
        extra.append(f"inf: {n_inf}")
    if n_nan:
        extra.append(f"nan: {n_nan}")
    if n_neg:
        extra.append(f"negative (invalid): {n_neg}")
    if n_adm_other:
        extra.append(f"admitted, 0/inf/nan: {n_adm_other}")
    if extra:
        ax.text(0.99, 0.97, "\n".join(extra), ha="right", va="top", transform=ax.transAxes,
                fontsize=FONT - 1, color=_BAD if (n_inf or n_nan or n_neg) else "#333333",
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc"})
    _legend_below(fig, ax, 3)
    if title:
        ax.set_title(_label(title, 80), fontsize=FONT, parse_math=False)
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


def _error_cmap(vmin: float, vmax: float) -> LinearSegmentedColormap:
    """Blues up to normalized error 1 (the allowance), orange to dark red beyond it, on a log scale
    from vmin to vmax: where errors approach or pass the allowance stands out at a glance."""
    span = math.log10(vmax) - math.log10(vmin)
    at1 = 0.0 if span <= 0 else min(1.0, max(0.0, -math.log10(vmin) / span))
    stops = []
    if at1 > 0:
        stops += [(at1 * k / (len(_WITHIN) - 1), c) for k, c in enumerate(_WITHIN)]
    if at1 < 1:
        first = at1 + 1e-9 if at1 > 0 else 0.0
        stops += [(first + (1 - first) * k / (len(_BEYOND) - 1), c) for k, c in enumerate(_BEYOND)]
    return LinearSegmentedColormap.from_list("lossconform_error", stops)


def error_map(points, axes=("x", "y"), title: str = "", admitted=()) -> bytes | None:
    """Scatter of (axis0, axis1) coloured by normalized error on a log colour scale.

    `points`: iterable of (x, y, err) floats judged by the allowance; err may be inf/nan. Exact
    points (err 0) are grey, non-finite errors are red crosses; the colour scale turns from blue to
    red at 1, the allowance. `admitted`: (x, y, err) points accepted by an admission rule instead,
    drawn as hollow blue diamonds. Axes spanning several decades are symlog. Returns None when no
    point has finite coordinates.
    """
    def finite(pts):
        return [(x, y, e) for x, y, e in pts
                if isinstance(x, float) and isinstance(y, float) and isinstance(e, float)
                and math.isfinite(x) and math.isfinite(y)]

    pts = finite(points)
    adm = finite(admitted)
    if not pts and not adm:
        return None
    arr = np.asarray(pts, dtype=float).reshape(-1, 3)
    if len(arr) > MAX_POINTS:
        # keep the worst half of the budget, and an even sample of the rest
        key = np.where(np.isfinite(arr[:, 2]), arr[:, 2], np.inf)
        key = np.where(np.isnan(arr[:, 2]), np.inf, key)
        order = np.argsort(-key, kind="stable")
        worst = order[: MAX_POINTS // 2]
        rest = order[MAX_POINTS // 2:]
        step = max(1, len(rest) // (MAX_POINTS - len(worst)))
        arr = arr[np.concatenate([worst, rest[::step]])]
    adm_arr = np.asarray(adm[:MAX_POINTS], dtype=float).reshape(-1, 3)
    # keep far from the float64 limits, where the log/symlog transforms overflow or underflow
    x = np.clip(arr[:, 0], -_BIG, _BIG)
    y = np.clip(arr[:, 1], -_BIG, _BIG)
    ax_x = np.clip(adm_arr[:, 0], -_BIG, _BIG)
    ax_y = np.clip(adm_arr[:, 1], -_BIG, _BIG)
    e = arr[:, 2].copy()
    e[np.isfinite(e) & (e > 0)] = np.clip(e[np.isfinite(e) & (e > 0)], 1e-150, 1e150)
    bad = ~np.isfinite(e) | (e < 0)
    zero = np.isfinite(e) & (e == 0)
    pos = np.isfinite(e) & (e > 0)

    fig, ax, cax = _new_fig(colorbar=True)
    if zero.any():
        ax.scatter(x[zero], y[zero], s=10, c="#adb5bd", marker="o", linewidths=0,
                   label=f"exact ({int(zero.sum())})")
    if pos.any():
        ep = e[pos]
        vmin = min(float(ep.min()), 0.1)
        vmax = max(float(ep.max()), 1.0)
        if vmax <= vmin:
            vmin, vmax = vmin / 10, vmax * 10
        order = np.argsort(ep, kind="stable")  # worst drawn last, on top
        sc = ax.scatter(x[pos][order], y[pos][order], s=16, c=ep[order],
                        norm=LogNorm(vmin=vmin, vmax=vmax), cmap=_error_cmap(vmin, vmax),
                        linewidths=0.3, edgecolors="#00000033")
        cb = fig.colorbar(sc, cax=cax)
        cb.set_label("normalized error", fontsize=FONT - 1)
        cb.ax.tick_params(labelsize=FONT - 2)
        if vmin < 1 < vmax:
            cb.ax.axhline(1.0, color="#000000", linewidth=1.5)  # the allowance
    else:
        cax.set_visible(False)
    if bad.any():
        ax.scatter(x[bad], y[bad], s=40, c=_BAD, marker="x", linewidths=1.5,
                   label=f"inf/nan ({int(bad.sum())})")
    if len(adm_arr):
        ax.scatter(ax_x, ax_y, s=34, marker="D", facecolors="none", edgecolors=_ADMITTED,
                   linewidths=1.2, label=f"admitted by a rule ({len(adm_arr)})")
    _axis_scale(ax, "x", np.concatenate([x, ax_x]))
    _axis_scale(ax, "y", np.concatenate([y, ax_y]))
    ax.set_xlabel(_label(axes[0] if len(axes) > 0 else "axis 0"), fontsize=FONT, parse_math=False)
    ax.set_ylabel(_label(axes[1] if len(axes) > 1 else "axis 1"), fontsize=FONT, parse_math=False)
    ax.tick_params(labelsize=FONT - 1)
    _legend_below(fig, ax, 3)
    if title:
        ax.set_title(_label(title, 80), fontsize=FONT, parse_math=False)
    return _png(fig)

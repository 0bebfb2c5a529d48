"""How each backend looks in every figure, so that NumPy and PyTorch read the same everywhere.

Experiments never ask which backend they are drawing: they hand its name to :func:`line`,
:func:`label`, :func:`shared_label`, :func:`path` or :func:`histogram`, and the look comes from
:data:`BACKEND_STYLE`. A legend lists each configuration once, in its colour, and then the
backends once each, by their line (:func:`legend`). Every figure leaves through :func:`save`,
which refuses a figure a class could not read (:func:`check_figure`): text too small for the
page it is shown on, an empty panel, an unlabelled axis, a lone point without a marker.
"""

import sys
from pathlib import Path

import matplotlib
import numpy as np

from experiments.i18n import N_, _, current

# Files only, no window; set before pyplot is imported anywhere — except in a notebook's kernel,
# whose inline backend a student's own plots need (the experiments' figures are closed once
# written, so they are shown as the files, never twice).
if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")

#: Figures are written at this resolution (the PNG records it).
DPI = 150
#: The report's pages are at most this wide (74rem of 15 px): a wider figure is shrunk to it.
PAGE_WIDTH_PX = 1110
#: The smallest text a figure may show, in pixels on that page: legible on a projector.
MIN_TEXT_PX = 12.0

#: Text sizes for a figure shown on the page (see MIN_TEXT_PX); every figure uses them.
matplotlib.rcParams.update({
    "font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 11,
    "ytick.labelsize": 11, "legend.fontsize": 11, "figure.titlesize": 13,
    "legend.title_fontsize": 11, "figure.dpi": DPI,
})

#: NumPy is drawn wide and pale underneath, PyTorch thin and dashed on top: where the two agree
#: (always, when parity passes) the dashed line runs down the middle of the wide one. A histogram
#: is filled bars for NumPy and a dashed outline for PyTorch, for the same reason.
#: ``labels_shared``: the backend that names the curves both draw alike, so a legend lists them
#: once; ``short``: the name in a crowded legend.
BACKEND_STYLE = {
    "numpy": {"label": N_("NumPy (npref)"), "short": "NumPy", "color": "#6baed6", "marker": "o",
              "linestyle": "-", "linewidth": 3.0, "markersize": 5, "alpha": 0.45,
              "histogram": "bars", "bar_alpha": 0.6, "labels_shared": True},
    "torch": {"label": N_("PyTorch (torchref)"), "short": "PyTorch", "color": "#b2182b",
              "marker": "x", "linestyle": "--", "linewidth": 1.0, "markersize": 4, "alpha": 1.0,
              "histogram": "steps", "labels_shared": False},
}

#: One colour per optimizer or variant, the same in every figure.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


def line(backend: str, *, marker: bool = False, **overrides) -> dict:
    """Matplotlib keywords for a curve whose colour says *what* it is (a variant, a kind) and
    whose line says *which backend* drew it: the backend's line style, width and opacity, and
    with ``marker`` its marker and marker size. ``overrides`` (``color=``, ``label=``, …) win."""
    style = BACKEND_STYLE[backend]
    keys = ("linestyle", "linewidth", "alpha") + (("marker", "markersize") if marker else ())
    return {**{k: style[k] for k in keys}, **overrides}


def path(backend: str) -> dict:
    """Matplotlib keywords for a figure where the backend is all that varies (one path per
    backend): the backend's own colour, marker and line, fully opaque, labelled."""
    style = BACKEND_STYLE[backend]
    out = {k: style[k] for k in ("color", "marker", "linestyle", "linewidth", "markersize")}
    return {"label": _(style["label"]), **out}


def label(backend: str, name: str | None = None, *, short: bool = False) -> str:
    """A legend entry: the backend's name, or ``name (backend)``; ``short`` for crowded
    legends."""
    own = _(BACKEND_STYLE[backend]["short" if short else "label"])
    return own if name is None else _("{name} ({backend})", name=name, backend=own)


def shared_label(backend: str, name: str) -> str | None:
    """``name`` from the one backend that labels the curves both draw alike, ``None`` from the
    other: the legend then lists each curve once, not once per backend."""
    return name if BACKEND_STYLE[backend]["labels_shared"] else None


def backend_key(backends) -> list:
    """Legend handles naming each backend once, by the line it is drawn with (grey: the colour
    belongs to the configuration)."""
    from matplotlib.lines import Line2D

    handles = []
    for b in backends:
        style = BACKEND_STYLE[b]
        handles.append(Line2D([], [], color="0.35", linestyle=style["linestyle"],
                              linewidth=style["linewidth"], alpha=max(style["alpha"], 0.6),
                              label=_(style["label"])))
    return handles


def legend(ax, configurations, backends, *, marker: bool = False, **kw):
    """One legend entry per configuration — ``[(name, colour)]`` or ``[(name, {line keywords})]``
    — then one per backend, by its line style: each series once, not once per backend."""
    from matplotlib.lines import Line2D

    handles = []
    for name, look in configurations:
        look = {"color": look} if isinstance(look, str) else dict(look)
        look.setdefault("linewidth", 2.0)
        if marker:
            look.setdefault("marker", "o")
        handles.append(Line2D([], [], label=name, **look))
    handles += backend_key(backends)
    return ax.legend(handles=handles, **kw)


def mark_point(ax, x, y, text: str, *, color="black", **kw) -> None:
    """A single value drawn as a marker with its value written beside it (a line of one point
    is invisible)."""
    ax.plot([x], [y], marker="o", markersize=7, color=color, linestyle="none", **kw)
    ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=11,
                color=color)


def _bars(ax, edges, counts, style):
    # one filled outline, not a patch per bin: a figure of 60 histograms draws in a third of
    # the time, and adjacent bins show no antialiasing seam between them
    ax.stairs(counts, edges, fill=True, color=style["color"], alpha=style["bar_alpha"],
              linewidth=0, label=_(style["label"]))


def _steps(ax, edges, counts, style):
    # the outline over every bin, the last one's top included; no sides down to zero
    ax.stairs(counts, edges, baseline=None, color=style["color"], linestyle=style["linestyle"],
              linewidth=style["linewidth"], label=_(style["label"]))


_HISTOGRAMS = {"bars": _bars, "steps": _steps}


def histogram(ax, backend: str, edges, counts) -> None:
    """Draw one backend's histogram (``counts`` per bin between ``edges``) in its style: bars
    underneath for one, an outline on top for the other, so both stay visible where equal."""
    style = BACKEND_STYLE[backend]
    _HISTOGRAMS[style["histogram"]](ax, edges, counts, style)


def fonts():
    """``matplotlib.rc_context`` with the fonts the current language's figures need (none for
    English: its figures are drawn exactly as before); wrap a whole ``plot`` in it."""
    from experiments.i18n import figure_fonts

    return matplotlib.rc_context(figure_fonts())


def save(fig, out_dir, filename: str, *, source: str | None = None) -> str:
    """Write ``fig`` to ``out_dir/filename`` (atomically, :func:`experiments.atomic.save_figure`, at
    :data:`DPI`) and close it — pyplot keeps every open figure alive, and a report draws dozens.
    ``source`` (``"book figure 6-8"``, ``"the breast-cancer lecture"``) is added to the title:
    where in the course the figure comes from. Drawn in another language than English
    (:func:`experiments.i18n.language`), the file is ``NAME.<lang>.png`` beside the English one.
    Returns the file name, the name an experiment lists among its figures."""
    import matplotlib.pyplot as plt

    from experiments.atomic import save_figure

    if current() != "en":                      # each language's figure beside the English one
        stem, dot, ext = filename.rpartition(".")
        filename = f"{stem}.{current()}.{ext}" if dot else f"{filename}.{current()}"
    try:
        if source:
            title = getattr(fig, "_suptitle", None)
            text = title.get_text() if title is not None else ""
            fig.suptitle(_("{title} ({source})", title=text, source=source) if text else source)
        check_figure(fig, filename)
        # Constrained layout keeps titles and labels apart; a figure that made its own colour
        # bar without it has already laid itself out.
        if fig.get_layout_engine() is None and not any(
                getattr(ax, "_colorbar", None) is not None for ax in fig.axes):
            fig.set_layout_engine("constrained")
        save_figure(fig, Path(out_dir) / filename, dpi=DPI)
    finally:
        plt.close(fig)
    return filename


class FigureError(ValueError):
    """A figure that would mislead: an empty panel, or an axis without a label."""


def check_figure(fig, filename: str = "figure") -> None:
    """Every visible panel of ``fig`` draws something and labels both axes (its own label, or
    the figure's ``supxlabel``/``supylabel``); a colour bar is labelled along its length; every
    text is legible (:func:`check_text`). Raises :class:`FigureError` naming the panel
    otherwise."""
    check_text(fig, filename)
    sup_x = getattr(fig, "_supxlabel", None) is not None
    sup_y = getattr(fig, "_supylabel", None) is not None
    for i, ax in enumerate(fig.axes):
        if not (ax.get_visible() and ax.axison):
            continue
        where = f"{filename}: panel {i + 1} ({ax.get_title() or 'untitled'})"
        if getattr(ax, "_colorbar", None) is not None:
            if not (ax.get_ylabel() or ax.get_xlabel()):
                raise FigureError(f"{where}: the colour bar has no label")
            continue
        if not _has_data(ax):
            raise FigureError(f"{where} draws nothing")
        if not (sup_x or _labelled(ax, "x")) or not (sup_y or _labelled(ax, "y")):
            raise FigureError(f"{where}: an axis without a label")
        _check_drawn(ax, where)


def text_px(fig, size_pt: float) -> float:
    """How tall ``size_pt`` text of ``fig`` stands on the report's page, in pixels: the figure
    is written at :data:`DPI` and shrunk to :data:`PAGE_WIDTH_PX` when wider."""
    width_px = fig.get_figwidth() * DPI
    return size_pt * DPI / 72 * min(1.0, PAGE_WIDTH_PX / width_px)


def check_text(fig, filename: str = "figure") -> None:
    """Every visible text of ``fig`` — titles, labels, tick labels, legends, notes — stands at
    least :data:`MIN_TEXT_PX` tall on the page. Raises :class:`FigureError` naming the
    smallest."""
    import matplotlib.text

    smallest = None
    for text in fig.findobj(matplotlib.text.Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if smallest is None or text.get_fontsize() < smallest.get_fontsize():
            smallest = text
    if smallest is not None and text_px(fig, smallest.get_fontsize()) < MIN_TEXT_PX - 1e-9:
        raise FigureError(
            f"{filename}: text {smallest.get_text()[:40]!r} is {smallest.get_fontsize():g} pt in a "
            f"{fig.get_figwidth():g}-inch figure: {text_px(fig, smallest.get_fontsize()):.1f} px "
            f"on the page, under {MIN_TEXT_PX:g} px (make the figure narrower or the text larger)")


def _labelled(ax, which: str) -> bool:
    """The axis has a label, its own or (shared axes label only the outer panels) a label of a
    panel it shares that axis with."""
    group = getattr(ax, f"get_shared_{which}_axes")().get_siblings(ax)
    return any(getattr(other, f"get_{which}label")() for other in group)


def _has_data(ax) -> bool:
    lines = any(len(line.get_xdata()) for line in ax.get_lines())
    return bool(lines or ax.collections or ax.patches or ax.images)


def _check_drawn(ax, where: str) -> None:
    """A line of a single point is invisible unless it has a marker."""
    for artist in ax.get_lines():
        if len(artist.get_xdata()) == 1 and artist.get_marker() in (None, "", "None", " "):
            raise FigureError(f"{where}: a single point drawn as a line, without a marker")


def smooth_curve(values, window: int = 11):
    """The book's smoothing of a loss curve: a Kaiser window (β = 2) of 11 points, the ends
    mirrored so that the curve keeps its length."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < window:
        return x
    half = window // 2
    padded = np.r_[x[half:0:-1], x, x[-2:-half - 2:-1]]
    w = np.kaiser(window, 2)
    return np.convolve(padded, w / w.sum(), mode="valid")


#: The accuracy axis of a training figure, by the series it shows.
ACCURACY_LABELS = {"test_acc": N_("test accuracy"), "train_acc": N_("train accuracy"),
                   "val_acc": N_("val accuracy")}
#: Axis words experiments hand to plot_training.
N_("epoch"), N_("iteration")


def plot_training(results, names, out_dir, filename, *, title, smooth=False, x_label="epoch",
                  accuracy="test_acc", loss_ylim=None, source=None, log_loss=False):
    """Loss per iteration (left) and an accuracy per evaluation (right) for each name, every
    backend drawn in its style (NumPy wide and pale, PyTorch thin and dashed on top); one legend
    entry per name, one per backend. ``log_loss``: the loss on a log axis, where curves that end
    an order of magnitude apart would pile up near zero on a linear one."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 5))
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        for backend, result in results.items():
            loss = result.series[f"{name}.loss"]
            y = smooth_curve(loss) if smooth else loss
            ax_loss.plot(np.arange(1, len(y) + 1), y, **line(backend, color=color))
            key = f"{name}.{accuracy}"
            if key in result.series:
                ax_acc.plot(result.series[f"{name}.epoch_iterations"], result.series[key],
                            **line(backend, marker=True, color=color, markersize=4))
    ax_loss.set_xlabel(_(x_label))
    ax_loss.set_ylabel(_("loss (smoothed)") if smooth else _("loss"))
    where = {}
    if log_loss:
        # Headroom above the curves for the legend: on a log axis the low curves fill the
        # bottom, where a legend would hide them.
        ax_loss.set_yscale("log")
        low, high = ax_loss.get_ylim()
        ax_loss.set_ylim(low, high * (high / low) ** 0.6)
        where = {"loc": "upper right"}
    if loss_ylim:
        ax_loss.set_ylim(*loss_ylim)
    ax_acc.set_xlabel(_("iteration") if x_label == "iteration" else _("epoch"))
    ax_acc.set_ylabel(_(ACCURACY_LABELS[accuracy]))
    legend(ax_loss, [(name, COLORS[i % len(COLORS)]) for i, name in enumerate(names)], results,
           ncol=2, **where)
    fig.suptitle(title)
    return [save(fig, out_dir, f"{filename}.png", source=source)]

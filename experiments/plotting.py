"""How each backend looks in every figure, so that NumPy and PyTorch read the same everywhere."""

import matplotlib
import numpy as np

matplotlib.use("Agg")   # files only, no window; set before pyplot is imported anywhere

#: NumPy is drawn wide and pale underneath, PyTorch thin and dashed on top: where the two agree
#: (always, when parity passes) the dashed line runs down the middle of the wide one.
BACKEND_STYLE = {
    "numpy": {"label": "NumPy (npref)", "color": "#6baed6", "marker": "o", "linestyle": "-",
              "linewidth": 3.0, "markersize": 5},
    "torch": {"label": "PyTorch (torchref)", "color": "#b2182b", "marker": "x",
              "linestyle": "--", "linewidth": 1.0, "markersize": 4},
}

#: One colour per optimizer or variant, the same in every figure.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


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


def plot_training(results, names, out_dir, filename, *, title, smooth=False, x_label="epoch",
                  accuracy="test_acc", loss_ylim=None):
    """Loss per iteration (left) and an accuracy per evaluation (right) for each name, every
    backend drawn in its style (NumPy wide and pale, PyTorch thin and dashed on top)."""
    import matplotlib.pyplot as plt

    from experiments.io import save_figure

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.8))
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        for backend, result in results.items():
            style = {k: v for k, v in BACKEND_STYLE[backend].items()
                     if k in ("linestyle", "linewidth")}
            alpha = 0.45 if backend == "numpy" else 1.0
            loss = result["series"][f"{name}.loss"]
            y = smooth_curve(loss) if smooth else loss
            label = f"{name} ({'NumPy' if backend == 'numpy' else 'PyTorch'})"
            ax_loss.plot(np.arange(1, len(y) + 1), y, color=color, alpha=alpha, label=label,
                         **style)
            key = f"{name}.{accuracy}"
            if key in result["series"]:
                ax_acc.plot(result["series"][f"{name}.epoch_iterations"], result["series"][key],
                            color=color, alpha=alpha, marker="o" if backend == "numpy" else "x",
                            markersize=4, **style)
    ax_loss.set_xlabel(x_label)
    ax_loss.set_ylabel("loss" + (" (smoothed)" if smooth else ""))
    if loss_ylim:
        ax_loss.set_ylim(*loss_ylim)
    ax_acc.set_xlabel("iteration" if x_label == "iteration" else "epoch")
    ax_acc.set_ylabel(accuracy.replace("_acc", " accuracy"))
    ax_loss.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    name = f"{filename}.png"
    save_figure(fig, out_dir / name)
    plt.close(fig)
    return [name]

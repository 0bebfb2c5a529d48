"""How each backend looks in every figure, so that NumPy and PyTorch read the same everywhere."""

import matplotlib

matplotlib.use("Agg")   # files only, no window; set before pyplot is imported anywhere

#: NumPy is drawn wide and pale underneath, PyTorch thin and dashed on top: where the two agree
#: (always, when parity passes) the dashed line runs down the middle of the wide one.
BACKEND_STYLE = {
    "numpy": {"label": "NumPy (npref)", "color": "#6baed6", "marker": "o", "linestyle": "-",
              "linewidth": 3.0, "markersize": 5},
    "torch": {"label": "PyTorch (torchref)", "color": "#b2182b", "marker": "x",
              "linestyle": "--", "linewidth": 1.0, "markersize": 4},
}

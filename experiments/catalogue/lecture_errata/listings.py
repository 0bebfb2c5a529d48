"""The breast-cancer lecture's listings (seed 001) as written — kept apart from npref and torchref.

The lecture prints test accuracies that its listings reproduce exactly when run as written, but
several listings do not compute what their titles say (docs/lecture.md). This module reproduces
their *behaviour* — the same arithmetic, the same seeded random numbers — so that the report can
set each printed figure beside its reproduction and beside the correct rule. It is not a
reference implementation: never import it for anything but that comparison.

``run(variant, *, epochs, **hyper) -> {"score", "losses", "val_losses", "stopped_epoch"}``

Variants (keywords, defaults as in the lecture; every variant also takes ``units=10``):
``fixed``, ``random``, ``xavier``, ``regularized`` (``l1=0``, ``l2=0``), ``learning-rate``
(``learning_rate=0.1``), ``validation``, ``early-stop`` (``earlystop=10``), ``minibatch``
(``batch_size=32``), ``dropout`` (``dropout=0.5``), ``momentum`` (``learning_rate=0.01``,
``momentum=0.9``), ``rmsprop`` (``learning_rate=0.1``, ``decay_rate=0.99``), ``adam``
(``learning_rate=0.01``, ``beta1=0.9``, ``beta2=0.999``). Where the lecture draws unseeded random
numbers (``xavier``, ``minibatch``, ``dropout``) a ``seed`` keyword (default 0) makes the run
repeatable; those three cannot reproduce the lecture's printed figure bit for bit.
"""

from __future__ import annotations

import numpy as np

from experiments.data.breast_cancer import _split
from experiments.i18n import N_

VARIANTS = ("fixed", "random", "xavier", "regularized", "learning-rate", "validation",
            "early-stop", "minibatch", "dropout", "momentum", "rmsprop", "adam")

#: What the lecture prints: variant -> ((keywords), test accuracy); early stopping at epoch 585.
PRINTED = {
    "fixed": ({"epochs": 1000}, 0.956140350877193),
    "L1 0.01": ({"variant": "regularized", "epochs": 1000, "l1": 0.01}, 0.9473684210526315),
    "L2 0.01": ({"variant": "regularized", "epochs": 1000, "l2": 0.01}, 0.9649122807017544),
    "elastic": ({"variant": "regularized", "epochs": 1000, "l1": 0.01, "l2": 0.01},
                0.9473684210526315),
    "learning-rate 0.1": ({"variant": "learning-rate", "epochs": 1000, "learning_rate": 0.1},
                          0.8771929824561403),
    "learning-rate 0.01": ({"variant": "learning-rate", "epochs": 1000, "learning_rate": 0.01},
                           0.8859649122807017),
    "validation 1000": ({"variant": "validation", "epochs": 1000}, 0.956140350877193),
    "validation 500": ({"variant": "validation", "epochs": 500}, 0.9298245614035088),
    "validation 600": ({"variant": "validation", "epochs": 600}, 0.9473684210526315),
    "validation 700": ({"variant": "validation", "epochs": 700}, 0.9298245614035088),
    "early-stop": ({"variant": "early-stop", "epochs": 1000}, 0.9473684210526315),
    "minibatch": ({"variant": "minibatch", "epochs": 1000}, 0.956140350877193),
    "dropout": ({"variant": "dropout", "epochs": 1000}, 0.9473684210526315),
    "momentum": ({"variant": "momentum", "epochs": 10000}, 0.9649122807017544),
    "adam": ({"variant": "adam", "epochs": 10000}, 0.9649122807017544),
}
PRINTED_STOP_EPOCH = 585

#: One sentence per deviation (docs/lecture.md), by variant.
DEVIATIONS = {
    "fixed": N_("Updates with an implicit learning rate of 1, and every weight starts at 1: the "
                "ten hidden units stay identical (the symmetry problem)."),
    "random": N_("Correct: N(0, 1) weights from a seeded generator."),
    "xavier": N_("Uses std 2/√(fan_in + fan_out); Glorot's is √(2/(fan_in + fan_out)) — and the "
                 "output layer reuses the first layer's fans."),
    "regularized": N_("Adds the L1/L2 terms to the step directly, not scaled by a learning "
                      "rate, and leaves them out of the reported loss."),
    "learning-rate": N_("Scales only the weight steps by the learning rate; the biases still "
                        "step with rate 1."),
    "validation": N_("Correct: trains on the validation split's training part."),
    "early-stop": N_("Stops when the minimum of the last k validation losses is above the "
                     "previous minimum, and keeps the last weights rather than the best."),
    "minibatch": N_("Draws the batch order from an unseeded permutation: not repeatable."),
    "dropout": N_("Drops units of the output's pre-activation in the forward pass only; the "
                  "backward pass ignores the mask."),
    "momentum": N_("Steps by −lr·g + μ·v_new, which is Nesterov's update, not classical "
                   "momentum; the biases use plain gradient descent with rate 1."),
    "rmsprop": N_("Puts eps inside the square root, √(h + eps); the biases step with rate 1; its "
                  "comparison listing trains an undefined 'Adagrad'."),
    "adam": N_("Adds the raw gradient to m and the raw squared gradient to v ((1−β)·g/(1−β)), "
               "with no bias correction, eps 1e-6; the biases step with rate 1."),
}


def _sigmoid(z):
    z = np.clip(z, -100, None)
    return 1 / (1 + np.exp(-z))


class _Net:
    """The lecture's DualLayer: x → sigmoid(x·w1 + b1) → (·w2 + b2), binary cross-entropy."""

    def __init__(self, units, n_features, init, rng):
        self.units = units
        if init == "fixed":
            self.w1 = np.ones((n_features, units))
            self.w2 = np.ones((units, 1))
        elif init == "random":
            # The listing seeds NumPy's global state (np.random.seed(0)) and draws with the
            # legacy sampler; a private RandomState(0) gives the same numbers — which the
            # printed accuracy depends on — without touching the global state.
            legacy = np.random.RandomState(0)
            self.w1 = legacy.normal(0, 1, (n_features, units))
            self.w2 = legacy.normal(0, 1, (units, 1))
        elif init == "xavier":
            std = 2 / np.sqrt(n_features + units)
            self.w1 = rng.normal(0, std, (n_features, units))
            self.w2 = rng.normal(0, std, (units, 1))
        self.b1 = np.zeros(units)
        self.b2 = 0

    def forpass(self, x):
        self.a1 = _sigmoid(x @ self.w1 + self.b1)
        return self.a1 @ self.w2 + self.b2

    def backprop(self, x, err):
        m = len(x)
        w2_grad = self.a1.T @ err / m
        b2_grad = np.sum(err) / m
        err_to_hidden = err @ self.w2.T * self.a1 * (1 - self.a1)
        w1_grad = x.T @ err_to_hidden / m
        b1_grad = np.sum(err_to_hidden, axis=0) / m
        return w1_grad, b1_grad, w2_grad, b2_grad

    def score(self, x, y):
        return float(np.mean((self.forpass(x) > 0) == y.reshape(-1, 1)))


def _loss(y, a):
    a = np.clip(a, 1e-10, 1 - 1e-10)
    return np.sum(-(y * np.log(a) + (1 - y) * np.log(1 - a))) / len(y)


def initial_weights(variant: str = "fixed", units: int = 10, seed: int = 0) -> dict:
    """The starting weights a variant uses, in npref's keys (for the corrected runs)."""
    init = variant if variant in ("fixed", "random", "xavier") else "fixed"
    net = _Net(units, 30, init, np.random.default_rng(seed))
    return {"W1": net.w1.copy(), "b1": net.b1.copy(), "W2": net.w2.copy(),
            "b2": np.array([float(net.b2)])}


def run(variant: str, *, epochs: int, **hyper) -> dict:
    """One listing, run as written; see the module docstring."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    units = hyper.pop("units", 10)
    rng = np.random.default_rng(hyper.pop("seed", 0))
    defaults = {"regularized": {"l1": 0.0, "l2": 0.0}, "learning-rate": {"learning_rate": 0.1},
                "early-stop": {"earlystop": 10}, "minibatch": {"batch_size": 32},
                "dropout": {"dropout": 0.5},
                "momentum": {"learning_rate": 0.01, "momentum": 0.9},
                "rmsprop": {"learning_rate": 0.1, "decay_rate": 0.99},
                "adam": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999}}.get(variant, {})
    unknown = set(hyper) - set(defaults)
    if unknown:
        raise ValueError(f"{variant} takes {sorted(defaults) or 'no keywords'} (and units, "
                         f"seed), got {sorted(unknown)}")
    h = {**defaults, **hyper}
    s = _split()
    validating = variant in ("validation", "early-stop")
    x, y = (s["x_tr"], s["t_tr"]) if validating else (s["x_train"], s["t_train"])
    y = y.reshape(-1, 1)
    y_val = s["t_val"].reshape(-1, 1)
    init = variant if variant in ("fixed", "random", "xavier") else "fixed"
    net = _Net(units, x.shape[1], init, rng)
    step = _STEPS.get(variant, _plain_step)
    state = {}
    losses, val_losses, stopped = [], [], None
    minloss = None
    for i in range(epochs):
        if variant == "minibatch":
            total = 0.0
            order = rng.permutation(len(x))
            for start in range(0, len(x), h["batch_size"]):
                xb, yb = x[order[start:start + h["batch_size"]]], y[order[start:start +
                                                                           h["batch_size"]]]
                a = _plain_step(net, xb, yb, h, state, rng)
                total += _loss(yb, a) * len(yb)
            losses.append(total / len(x))
            continue
        a = step(net, x, y, h, state, rng)
        losses.append(_loss(y, a))
        if validating:
            val_losses.append(_loss(y_val, _sigmoid(net.forpass(s["x_val"]))))
        if variant == "early-stop":
            k = h["earlystop"]
            if i == k - 1:
                minloss = min(val_losses)
            if i >= k:
                if minloss < min(val_losses[-k:]):
                    stopped = i
                    break
                minloss = min(val_losses)
    return {"score": net.score(s["x_test"], s["t_test"]), "losses": losses,
            "val_losses": val_losses, "stopped_epoch": stopped}


# -- the training steps, one per listing ----------------------------------------------------------

def _forward(net, x, y):
    a = _sigmoid(net.forpass(x))
    return a, net.backprop(x, -(y - a))


def _plain_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    net.w1 -= g1
    net.b1 -= gb1
    net.w2 -= g2
    net.b2 -= gb2
    return a


def _regularized_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    net.w1 -= g1 + h["l1"] * np.sign(net.w1) + h["l2"] * net.w1
    net.b1 -= gb1
    net.w2 -= g2 + h["l1"] * np.sign(net.w2) + h["l2"] * net.w2
    net.b2 -= gb2
    return a


def _learning_rate_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    net.w1 -= h["learning_rate"] * g1
    net.b1 -= gb1
    net.w2 -= h["learning_rate"] * g2
    net.b2 -= gb2
    return a


def _dropout_step(net, x, y, h, state, rng):
    z = net.forpass(x)
    p = h["dropout"]
    z = np.zeros_like(z) if p == 1 else (rng.uniform(0, 1, z.shape) > p) * z / (1.0 - p)
    a = _sigmoid(z)
    g1, gb1, g2, gb2 = net.backprop(x, -(y - a))            # the mask never reaches backprop
    net.w1 -= g1
    net.b1 -= gb1
    net.w2 -= g2
    net.b2 -= gb2
    return a


def _momentum_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    lr, mu = h["learning_rate"], h["momentum"]
    v1 = state.get("v1", np.zeros_like(net.w1))
    v2 = state.get("v2", np.zeros_like(net.w2))
    state["v1"] = v1 = -lr * g1 + mu * v1
    state["v2"] = v2 = -lr * g2 + mu * v2
    net.w1 -= lr * g1 - mu * v1
    net.b1 -= gb1
    net.w2 -= lr * g2 - mu * v2
    net.b2 -= gb2
    return a


def _rmsprop_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    rho, eps = h["decay_rate"], 1e-6
    h1 = state.setdefault("h1", np.zeros_like(net.w1))
    h2 = state.setdefault("h2", np.zeros_like(net.w2))
    h1 *= rho
    h2 *= rho
    h1 += g1 * g1 * (1 - rho)
    h2 += g2 * g2 * (1 - rho)
    net.w1 -= h["learning_rate"] * g1 / np.sqrt(h1 + eps)
    net.b1 -= gb1
    net.w2 -= h["learning_rate"] * g2 / np.sqrt(h2 + eps)
    net.b2 -= gb2
    return a


def _adam_step(net, x, y, h, state, rng):
    a, (g1, gb1, g2, gb2) = _forward(net, x, y)
    b1, b2, eps = h["beta1"], h["beta2"], 1e-6
    for w, g, m_key, v_key in ((net.w1, g1, "m1", "v1"), (net.w2, g2, "m2", "v2")):
        m = state.setdefault(m_key, np.zeros_like(w))
        v = state.setdefault(v_key, np.zeros_like(w))
        m *= b1
        v *= b2
        m += ((1 - b1) * g) / (1 - b1)
        v += ((1 - b2) * g * g) / (1 - b2)
    net.w1 -= h["learning_rate"] * state["m1"] / (np.sqrt(state["v1"]) + eps)
    net.b1 -= gb1
    net.w2 -= h["learning_rate"] * state["m2"] / (np.sqrt(state["v2"]) + eps)
    net.b2 -= gb2
    return a


_STEPS = {"regularized": _regularized_step, "learning-rate": _learning_rate_step,
          "dropout": _dropout_step, "momentum": _momentum_step, "rmsprop": _rmsprop_step,
          "adam": _adam_step}


# -- the exercise notebook (seed 004): three deviations, on MNIST ---------------------------------

NOTEBOOK_DEVIATIONS = {
    "L2 in the loss only": N_("The L2 penalty of the first three layers enters the reported "
                              "loss but never the gradients, so the weights are not decayed at "
                              "all."),
    "γ, β never trained": N_("BatchNorm's γ and β are never handed to the optimizer: they stay "
                             "at 1 and 0."),
    "accuracy in training mode": N_("Accuracy is measured with BatchNorm and Dropout still in "
                                    "training mode: batch statistics of the evaluated set, and "
                                    "units dropped at random."),
}


def notebook(deviation: str, data, *, iterations: int, batch_size: int = 100, lr: float = 0.001,
             weight_decay: float = 0.001, dropout: float = 0.15, seed: int = 0) -> dict:
    """The notebook's 7-layer BatchNorm net (784-[100×6]-10, Adam, std 0.01) with one of its
    deviations, as written; returns ``{"test_acc", "train_acc", "loss"}``.

    Built from npref's pieces, with the deviation spliced in by hand — the way the notebook
    wrote it — for comparison with the correct run only.
    """
    import npref.optim
    from npref import training
    from npref.nets import MultiLayerNet

    if deviation not in NOTEBOOK_DEVIATIONS:
        raise ValueError(f"deviation must be one of {list(NOTEBOOK_DEVIATIONS)}")
    net = MultiLayerNet(784, [100] * 6, 10, weight_init=0.01, use_batchnorm=True,
                        dropout=dropout if deviation == "accuracy in training mode" else 0.0,
                        convention="book", rng=np.random.default_rng(seed))
    opt = npref.optim.Adam(lr=lr, convention="book")
    rng = np.random.default_rng(seed + 1)
    trained = [k for k in net.params if not (deviation == "γ, β never trained"
                                             and k.startswith(("gamma", "beta")))]
    loss = None
    for _ in range(iterations):
        idx = training.sample_batch(len(data.t_train), batch_size, rng)
        masks = training.dropout_masks(rng, batch_size, net.hidden_sizes, net.dropout)
        loss, grads = net.loss_and_gradient(data.x_train[idx], data.t_train[idx], masks=masks)
        if deviation == "L2 in the loss only":        # reported, never differentiated
            loss += sum(0.5 * weight_decay * np.sum(net.params[f"W{i}"] ** 2) for i in (1, 2, 3))
        opt.update({k: net.params[k] for k in trained}, {k: grads[k] for k in trained})

    def accuracy(x, t):
        if deviation != "accuracy in training mode":
            return net.accuracy(x, t)
        return float(np.mean(net.predict(x, train=True).argmax(axis=1) == t))

    return {"test_acc": accuracy(data.x_test, data.t_test),
            "train_acc": accuracy(data.x_train, data.t_train), "loss": float(loss)}

r"""The layers of chapters 5–6, each a small class with ``forward`` beside ``backward``.

As in the book, ``forward`` keeps exactly what ``backward`` needs, and ``backward(dout)`` returns
the gradient with respect to the input and leaves parameter gradients as attributes
(``Affine.dW, .db``; ``BatchNorm.dgamma, .dbeta``). Unlike the book: no global random state
(``Dropout`` takes a ``numpy.random.Generator``, or an explicit ``mask=``), inputs are checked,
``backward`` refuses a ``dout`` whose shape is not ``forward``'s output shape, nothing is modified
in place that the caller handed in, and the dtype is kept (float32 in, float32 out).

Layers that behave differently in training take ``forward(x, train=True)``. SoftmaxWithLoss,
BatchNorm and Dropout exist in two conventions (docs/conventions.md): ``"torch"`` (PyTorch's) and
``"book"``.
"""

from __future__ import annotations

import numpy as np

from . import _validate

__all__ = ["Affine", "ReLU", "Sigmoid", "Tanh", "SoftmaxWithLoss", "SigmoidWithLoss",
           "BatchNorm", "Dropout", "sigmoid", "BATCHNORM_DEFAULTS", "BOOK_LOG_DELTA"]


class _Layer:
    """Shape bookkeeping shared by every layer: ``backward`` must get ``forward``'s shape."""

    _out_shape = None

    def _forwarded(self, out: np.ndarray) -> np.ndarray:
        self._out_shape = out.shape
        return out

    def _check_dout(self, dout) -> np.ndarray:
        if self._out_shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dout = np.asarray(dout)
        if dout.shape != self._out_shape:
            raise ValueError(f"{type(self).__name__}.backward: dout has shape {dout.shape}, "
                             f"but forward returned shape {self._out_shape}")
        return dout


def _float_array(name: str, x, dtype=None) -> np.ndarray:
    x = np.asarray(x)
    if dtype is not None:
        return _real(name, x).astype(dtype, copy=False)
    if x.dtype.kind != "f":                       # np.floating (a cheaper test, every call)
        raise ValueError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    if x.dtype == np.float16:
        raise ValueError(f"{name} is float16, which npref does not support: use float32 or "
                         "float64")
    return x


def _real(name: str, x: np.ndarray) -> np.ndarray:
    """``x`` when it holds real numbers (floats, or integers and booleans to cast): complex
    numbers would lose their imaginary part and strings be parsed, silently."""
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
    return x


class Affine(_Layer):
    r"""``out = x·W + b`` with ``W`` of shape (fan_in, fan_out), the book's layout.

    Backward::

        dx = dout·Wᵀ      dW = xᵀ·dout      db = Σₙ dout

    ``x`` may have any shape (N, ...): it is flattened to (N, fan_in), as the book does for images.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        W = _float_array("W", W)
        b = np.asarray(b)
        if W.ndim != 2 or b.shape != (W.shape[1],) or b.dtype != W.dtype:
            raise ValueError(f"Affine needs W of shape (fan_in, fan_out) and b of shape "
                             f"(fan_out,) with W's dtype; got W {W.shape} {W.dtype}, "
                             f"b {b.shape} {b.dtype}")
        self.W, self.b = W, b
        self.x = None
        self.dW = self.db = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.original_x_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1) if x.ndim else x
        if x.dtype != self.W.dtype:
            x = _real("x", x).astype(self.W.dtype)
        if x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            raise ValueError(f"Affine.forward: x of shape {self.original_x_shape} does not fit "
                             f"W of shape {self.W.shape} (needs N × {self.W.shape[0]})")
        self.x = x
        out = x @ self.W
        out += self.b                 # in place: no second (N, fan_out) array
        return self._forwarded(out)

    def backward(self, dout: np.ndarray, need_dx: bool = True,
                 out: tuple | None = None) -> np.ndarray | None:
        """``need_dx=False`` skips dx (the network's first layer: nobody needs ∂L/∂input).
        ``out=(dW, db)``: arrays to write the parameter gradients into (either may be None),
        e.g. views of a network's gradient buffer; then ``self.dW is dW``."""
        dout = self._check_dout(dout)
        dW, db = (None, None) if out is None else out
        self.dW = np.matmul(self.x.T, dout, out=dW)          # xᵀ·dout
        self.db = np.add.reduce(dout, axis=0, out=db)        # Σₙ dout (what np.sum calls)
        if not need_dx:
            return None
        dx = dout @ self.W.T
        return dx if dx.shape == self.original_x_shape else dx.reshape(self.original_x_shape)


class ReLU(_Layer):
    r"""``out = max(x, 0)``; backward passes ``dout`` where ``x > 0`` and exactly 0 elsewhere.

    ``mask`` is the book's: True where ``x <= 0``. (The book zeroes ``out[mask]``; boolean
    indexing is ten times slower than ``np.maximum``.) Backward *selects* rather than multiplies
    by the mask, so an inf or NaN in ``dout`` where ``x <= 0`` still gives 0 — as the book's
    ``dout[mask] = 0`` and PyTorch's ``nn.ReLU`` do (``inf·0`` would be NaN).

    Both directions select by bits (:func:`_select`): the forward pass gives exactly
    ``np.maximum(x, 0)`` (+0 for −0, NaN kept), the backward exactly ``np.where(mask, 0, dout)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_array("x", x)
        self.mask = x <= 0
        self._keep = (self.mask, _keep_bits(self.mask, x.dtype))
        return self._forwarded(_select(self.mask, x, self._keep[1]))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        mask, keep = self._keep
        return _select(self.mask, dout, keep if mask is self.mask else None)


#: The integer type of each float type's width, to select floats by their bits.
_BITS = {np.dtype(np.float32): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.int64)}


def _keep_bits(mask: np.ndarray, dtype) -> np.ndarray | None:
    """All bits set where ``mask`` is False, none where True, in the integer type as wide as
    ``dtype`` (None for a dtype without one)."""
    bits = _BITS.get(np.dtype(dtype))
    if bits is None:
        return None
    keep = mask.astype(bits)        # a plain cast: faster than np.add(mask, -1, dtype=bits)
    return np.subtract(keep, 1, out=keep)                           # True → 0, False → −1


def _select(mask: np.ndarray, values: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """``np.where(mask, 0, values)``, bit for bit: +0 where ``mask``, ``values`` (inf, NaN and
    −0 included) elsewhere — as ``values``' bits AND ``keep`` (:func:`_keep_bits` of ``mask``,
    computed here unless given), because ``np.where`` branches per element and a ReLU's mask is
    random: ten times slower."""
    bits = _BITS.get(values.dtype)
    if bits is None or mask.shape != values.shape or mask.dtype != bool:
        return np.where(mask, values.dtype.type(0), values)
    if keep is None or keep.dtype != bits or keep.shape != mask.shape:
        keep = _keep_bits(mask, values.dtype)
    out = np.bitwise_and(keep, np.ascontiguousarray(values).view(bits))
    return out.view(values.dtype)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^(−x)); for x < −709, e^(−x) is inf and σ is its correct limit, 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


class Sigmoid(_Layer):
    r"""``out = σ(x) = 1 / (1 + e^(−x))``; backward ``dout·(1 − out)·out``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(_float_array("x", x))
        return self._forwarded(self.out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._check_dout(dout) * (1 - self.out) * self.out


class Tanh(_Layer):
    r"""``out = tanh(x)``; backward ``dout·(1 − out²)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(_float_array("x", x))
        return self._forwarded(self.out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._check_dout(dout) * (1 - self.out * self.out)


#: The book's guard against log(0) in its cross-entropy, ``log(y + 1e-7)``.
BOOK_LOG_DELTA = 1e-7


class SoftmaxWithLoss(_Layer):
    r"""Softmax and mean cross-entropy in one layer, for N × C scores.

    ``forward(x, t)`` takes integer labels ``t`` of shape (N,) or one-hot (or probability) rows of
    shape (N, C), and returns the mean cross-entropy of ``y = softmax(x)``:

    ``convention="torch"`` (``nn.CrossEntropyLoss``): the exact ``L = −(1/N)·Σ t·log softmax(x)``,
    the log-softmax computed as ``(x − max) − log Σ exp(x − max)``, so any finite scores give a
    finite loss.

    ``convention="book"`` (the book's ``cross_entropy_error``): ``L = −(1/N)·Σ t·log(y + 1e-7)``
    with ``y = exp(x − max)/Σ exp(x − max)``. The 1e-7 shows where ``y`` is near 0 or 1: a
    confident right answer (``y → 1``) gives ``−log(1 + 1e-7) ≈ −1e-7``, below zero; a confident
    wrong one (``y → 0``) stops at ``−log(1e-7) ≈ 16.1`` per sample. (Probability rows ``t`` enter
    the formula as written; the book's own code takes their argmax.)

    Backward in both: ``(y − t)·dout/N`` — in the book's convention the derivative of the exact
    loss, not of the 1e-7 one, as in the book.
    """

    def __init__(self, convention: str = "torch"):
        self.convention = _validate.convention(convention)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        x = _float_array("x", x)
        if x.ndim == 2 and x.shape[0] == 0:
            raise ValueError("empty batch: the loss of no samples is undefined")
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"SoftmaxWithLoss needs scores of shape (N, C), got {x.shape}")
        n, c = x.shape
        self.t = _targets(t, x, labels_ok=True)
        shifted = x - x.max(axis=1, keepdims=True)
        if self.convention == "book":
            e = np.exp(shifted)
            self.y = e / e.sum(axis=1, keepdims=True)
            log_y = np.log(self.y + x.dtype.type(BOOK_LOG_DELTA))
        else:
            log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            self.y = np.exp(log_y)
        if self.t.ndim == 1:
            loss = -log_y[np.arange(n), self.t].sum() / n
        else:
            loss = -(self.t * log_y).sum() / n
        self._out_shape = ()
        self._x_shape = x.shape
        return float(loss)

    def backward(self, dout=1.0) -> np.ndarray:
        dout = self._check_dout(dout).astype(self.y.dtype)
        n = self._x_shape[0]
        dx = self.y.copy()
        if self.t.ndim == 1:
            dx[np.arange(n), self.t] -= 1
        else:
            dx -= self.t
        dx *= dout / n                # in place: dx is our own copy
        return dx


class SigmoidWithLoss(_Layer):
    r"""Sigmoid and mean binary cross-entropy in one layer, for one output column.

    ``forward(x, t)`` with scores of shape (N, 1) or (N,) and targets in [0, 1] of the same
    length returns ``L = (1/N)·Σ [max(x, 0) − x·t + log(1 + e^(−|x|))]``, the cross-entropy of
    σ(x) written so that no exponential overflows (as ``BCEWithLogitsLoss``). Backward:
    ``(σ(x) − t)·dout/N``.
    """

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        x = _float_array("x", x)
        if x.shape[:1] == (0,):
            raise ValueError("empty batch: the loss of no samples is undefined")
        if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] != 1) or x.shape[0] < 1:
            raise ValueError(f"SigmoidWithLoss needs scores of shape (N, 1) or (N,), "
                             f"got {x.shape}")
        t = _real("t", np.asarray(t)).astype(x.dtype).reshape(-1)
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"SigmoidWithLoss: {t.shape[0]} targets for {x.shape[0]} scores")
        if not np.all((t >= 0) & (t <= 1)):                  # NaN fails this too
            raise ValueError("SigmoidWithLoss: targets must lie in [0, 1] (no NaN)")
        self.t = t.reshape(x.shape)
        self.y = sigmoid(x)
        loss = np.maximum(x, 0) - x * self.t + np.log1p(np.exp(-np.abs(x)))
        self._out_shape = ()
        return float(loss.sum() / x.shape[0])

    def backward(self, dout=1.0) -> np.ndarray:
        dout = self._check_dout(dout).astype(self.y.dtype)
        return (self.y - self.t) * (dout / self.t.shape[0])


#: BatchNorm's momentum and eps when ``None`` is passed, by convention.
BATCHNORM_DEFAULTS = {"torch": {"momentum": 0.1, "eps": 1e-5},
                      "book": {"momentum": 0.9, "eps": 1e-6}}


class BatchNorm(_Layer):
    r"""Batch normalization over the N samples of an (N, D) input (Ioffe & Szegedy, 2015).

    Training::

        μ = mean(x),  σ² = mean((x − μ)²)            (biased, over the batch)
        x̂ = (x − μ) / √(σ² + eps),  out = γ·x̂ + β

    and the running statistics used in evaluation (``out = γ·(x − mean_r)/√(var_r + eps) + β``):

    ``convention="torch"`` (``nn.BatchNorm1d``): momentum 0.1 is the weight of the *new* batch
    statistic, eps 1e-5, ``running_var`` starts at 1 and takes the **unbiased** σ²·N/(N−1)::

        mean_r ← (1 − m)·mean_r + m·μ,    var_r ← (1 − m)·var_r + m·σ²·N/(N − 1)

    ``convention="book"``: momentum 0.9 is the weight of the *old* running value, eps 1e-6 (the
    book's ``10e-7``), ``running_var`` starts at 0 and takes the biased σ²::

        mean_r ← m·mean_r + (1 − m)·μ,    var_r ← m·var_r + (1 − m)·σ²

    Backward (training), the book's chain rule through x̂, σ and μ; ``dgamma = Σ dout·x̂``,
    ``dbeta = Σ dout``. A training batch needs N ≥ 2 (one sample has no variance; PyTorch
    refuses it as well).
    """

    def __init__(self, num_features: int, momentum: float | None = None,
                 eps: float | None = None, convention: str = "torch", dtype=np.float64):
        self.num_features = _validate.positive_int("num_features", num_features)
        self.convention = _validate.convention(convention)
        defaults = BATCHNORM_DEFAULTS[self.convention]
        self.momentum = _validate.unit_interval(
            "momentum", defaults["momentum"] if momentum is None else momentum)
        self.eps = _validate.positive("eps", defaults["eps"] if eps is None else eps)
        dtype = _validate.float_dtype("dtype", dtype)
        d = self.num_features
        self.gamma = np.ones(d, dtype=dtype)
        self.beta = np.zeros(d, dtype=dtype)
        self.running_mean = np.zeros(d, dtype=dtype)
        self.running_var = (np.ones if self.convention == "torch" else np.zeros)(d, dtype=dtype)
        self.dgamma = self.dbeta = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        x = _float_array("x", x, self.gamma.dtype)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}) needs input of shape "
                             f"(N, {self.num_features}), got {x.shape}")
        self.train = train
        if train:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm in training needs a batch of at least 2 samples, "
                                 f"got {n}: one sample has no variance (PyTorch refuses it too)")
            mu = x.mean(axis=0)
            self.xc = x - mu
            var = (self.xc ** 2).mean(axis=0)
            self.std = np.sqrt(var + self.eps)
            self.xn = self.xc / self.std
            self._update_running(mu, var, n)
        else:
            self.std = np.sqrt(self.running_var + self.eps)
            self.xn = (x - self.running_mean) / self.std
        return self._forwarded(self.gamma * self.xn + self.beta)

    def _update_running(self, mu, var, n):
        m = self.momentum
        if self.convention == "torch":
            self.running_mean = (1 - m) * self.running_mean + m * mu
            self.running_var = (1 - m) * self.running_var + m * (var * (n / (n - 1)))
        else:
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (self.xn * dout).sum(axis=0)
        dxn = self.gamma * dout
        if not self.train:
            return dxn / self.std
        n = dout.shape[0]
        dxc = dxn / self.std
        dstd = -((dxn * self.xc) / (self.std * self.std)).sum(axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / n) * self.xc * dvar
        dmu = dxc.sum(axis=0)
        return dxc - dmu / n


class Dropout(_Layer):
    r"""Dropout with drop probability ``p``: in training, each unit is kept with probability 1 − p.

    ``convention="torch"`` (inverted dropout, ``nn.Dropout``): training ``x·mask/(1 − p)``,
    evaluation ``x``. ``convention="book"``: training ``x·mask``, evaluation ``x·(1 − p)``.
    Backward multiplies ``dout`` by the same factor as the forward pass.

    The keep-mask comes from ``forward(x, mask=...)`` (a boolean array of x's shape) when given —
    so that NumPy and PyTorch can be driven with the same mask — or else is drawn from ``rng``:
    ``keep = rng.random(x.shape) >= p``. Without an ``rng``, a fresh unseeded Generator is used.
    """

    def __init__(self, p: float = 0.5, convention: str = "torch", rng=None):
        self.p = _validate.fraction("p", p)
        self.convention = _validate.convention(convention)
        self.rng = _validate.generator(rng, optional=True)
        self.mask = None

    def draw_mask(self, shape) -> np.ndarray:
        """A boolean keep-mask, True with probability 1 − p."""
        return self.rng.random(shape) >= self.p

    def forward(self, x: np.ndarray, train: bool = True, mask: np.ndarray | None = None):
        x = _float_array("x", x)
        self.train = train
        if train:
            if mask is None:
                mask = self.draw_mask(x.shape)
            mask = np.asarray(mask)
            if mask.shape != x.shape or mask.dtype != bool:
                raise ValueError(f"Dropout mask must be a boolean array of x's shape {x.shape}, "
                                 f"got {mask.dtype} {mask.shape}")
            self.mask = mask
        self.scale = self._scale(x.dtype)
        return self._forwarded(x * self.mask * self.scale if train else x * self.scale)

    def _scale(self, dtype):
        one, keep = dtype.type(1), dtype.type(1 - self.p)
        if self.convention == "torch":
            # PyTorch multiplies by 1/(1−p), rounded once in the tensor's dtype.
            return one / keep if self.train else one
        return one if self.train else keep

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        return dout * self.mask * self.scale if self.train else dout * self.scale


def _targets(t, x, labels_ok: bool) -> np.ndarray:
    """Targets checked against scores ``x`` (N, C): integer labels in [0, C) or rows of
    non-negative, finite weights (one-hot or probabilities)."""
    t = np.asarray(t)
    n, c = x.shape
    if n == 0:
        raise ValueError("empty batch: the loss of no samples is undefined")
    if t.ndim == 1 and labels_ok:
        if t.dtype.kind not in "iu":                   # np.integer
            raise ValueError(f"integer class labels expected, got dtype {t.dtype}")
        if t.shape[0] != n:
            raise ValueError(f"{t.shape[0]} labels for {n} samples")
        if n and (t.min() < 0 or t.max() >= c):
            raise ValueError(f"labels must lie in [0, {c}), got {t.min()}…{t.max()}")
        return t
    if t.shape != x.shape:
        raise ValueError(f"targets must be labels of shape ({n},) or rows of shape {x.shape}, "
                         f"got {t.shape}")
    if not np.issubdtype(t.dtype, np.number) or np.iscomplexobj(t):
        raise ValueError(f"targets must be real numbers, got dtype {t.dtype}")
    if np.isnan(t).any():
        raise ValueError("targets hold NaN")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("target rows must be non-negative and finite (one-hot rows or "
                         "probabilities)")
    return t.astype(x.dtype, copy=False)

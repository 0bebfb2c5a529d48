r"""``MultiLayerNet``: the book's fully connected network, with BatchNorm, dropout and a penalty.

Layers, for each hidden size h_i::

    Affine_i → [BatchNorm_i] → activation → [Dropout_i]

then a last ``Affine`` and the loss: softmax cross-entropy, or sigmoid binary cross-entropy when
``output_size == 1``. ``params`` holds ``W1, b1, …`` (``W`` in the book's (fan_in, fan_out)
layout) and, with BatchNorm, ``gamma1, beta1, …``; the layers hold references to these same
arrays, so an optimizer's in-place ``update(net.params, grads)`` trains the network. A
``regularizer`` (:mod:`npref.regularizers`) adds its penalty on the weights ``W`` only.

Dropout masks: ``loss``/``gradient``/``predict`` draw them from ``rng`` unless ``masks=`` (one
boolean array per dropout layer, see :meth:`MultiLayerNet.draw_masks`) is given — the way to
drive npref and torchref with the very same masks.
"""

from __future__ import annotations

import math

import numpy as np

from . import _flat, _validate
from . import init as init_mod
from .layers import (
    Affine,
    BatchNorm,
    Dropout,
    ReLU,
    Sigmoid,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    Tanh,
    _targets,
)

__all__ = ["MultiLayerNet", "ACTIVATIONS"]

ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MultiLayerNet:
    """A fully connected network; see the module docstring."""

    def __init__(self, input_size: int, hidden_sizes, output_size: int, activation: str = "relu",
                 weight_init="he", use_batchnorm: bool = False, dropout: float = 0.0,
                 regularizer=None, convention: str = "torch", rng=None, dtype=np.float64):
        self.input_size = _validate.positive_int("input_size", input_size)
        self.hidden_sizes = _validate.layer_sizes("hidden_sizes", hidden_sizes)
        self.output_size = _validate.positive_int("output_size", output_size)
        self.activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
        initializer = init_mod.get(weight_init)
        self.weight_init = weight_init
        self.use_batchnorm = _validate.flag("use_batchnorm", use_batchnorm)
        self.dropout = _validate.fraction("dropout", dropout)
        if regularizer is not None and not (hasattr(regularizer, "penalty")
                                            and hasattr(regularizer, "grad")):
            raise ValueError("regularizer must be None or have penalty(weights) and grad(W), "
                             "like npref.regularizers.L2(0.1)")
        self.regularizer = regularizer
        self.convention = _validate.convention(convention)
        self.rng = _validate.generator(rng, optional=True)
        self.dtype = _validate.float_dtype("dtype", dtype)

        sizes = [self.input_size, *self.hidden_sizes, self.output_size]
        self._shapes = {}
        for i in range(1, len(sizes)):
            self._shapes[f"W{i}"], self._shapes[f"b{i}"] = (sizes[i - 1], sizes[i]), (sizes[i],)
        if self.use_batchnorm:
            for i, h in enumerate(self.hidden_sizes, 1):
                self._shapes[f"gamma{i}"], self._shapes[f"beta{i}"] = (h,), (h,)
        # Every parameter is a view of one buffer (and every gradient of another, see
        # loss_and_gradient): an optimizer then updates them all in one pass (npref._flat).
        self._buffer = np.zeros(sum(math.prod(s) for s in self._shapes.values()), self.dtype)
        self.params: dict[str, np.ndarray] = _flat.views(self._buffer, self._shapes)
        for i in range(1, len(sizes)):
            self.params[f"W{i}"][...] = initializer((sizes[i - 1], sizes[i]), self.rng,
                                                    dtype=self.dtype)
        self._build_layers()

    def _build_layers(self):
        self.layers = []            # (kind, layer) in forward order, the loss layer excluded
        self.affines, self.batchnorms, self.dropouts = [], [], []
        n_hidden = len(self.hidden_sizes)
        for i in range(1, n_hidden + 2):
            affine = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            self.affines.append(affine)
            self.layers.append(affine)
            if i > n_hidden:
                break
            if self.use_batchnorm:
                bn = BatchNorm(self.hidden_sizes[i - 1], convention=self.convention,
                               dtype=self.dtype)
                self.params[f"gamma{i}"][...], self.params[f"beta{i}"][...] = bn.gamma, bn.beta
                bn.gamma, bn.beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
                self.batchnorms.append(bn)
                self.layers.append(bn)
            self.layers.append(ACTIVATIONS[self.activation]())
            if self.dropout > 0:
                drop = Dropout(self.dropout, convention=self.convention, rng=self.rng)
                self.dropouts.append(drop)
                self.layers.append(drop)
        self.last_layer = (SigmoidWithLoss() if self.output_size == 1
                           else SoftmaxWithLoss(convention=self.convention))

    # -- forward and backward -------------------------------------------------------------------

    def draw_masks(self, batch_size: int) -> list[np.ndarray]:
        """One boolean keep-mask per dropout layer for a batch, drawn from the network's rng."""
        return [drop.draw_mask((batch_size, h)) for drop, h in zip(self.dropouts,
                                                                    self.hidden_sizes)]

    def predict(self, x: np.ndarray, train: bool = False, masks=None) -> np.ndarray:
        """The scores (before softmax/sigmoid) for a batch ``x`` of shape (N, input_size)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"x must be a non-empty batch of shape (N, {self.input_size}), got "
                             f"shape {x.shape}" + (" (an empty batch)" if x.size == 0 else ""))
        masks = self._masks(masks, train)
        drops = iter(range(len(self.dropouts)))
        for layer in self.layers:
            if isinstance(layer, BatchNorm):
                x = layer.forward(x, train)
            elif isinstance(layer, Dropout):
                i = next(drops)
                x = layer.forward(x, train, mask=None if masks is None else masks[i])
            else:
                x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train: bool | None = None, masks=None) -> float:
        """Mean cross-entropy of the batch plus the regularizer's penalty on the weights.

        ``train=None`` is the convention's default mode: training under ``"torch"`` (as an
        ``nn.Module`` starts), evaluation under ``"book"`` (the book's ``train_flg=False``: no
        dropout masks drawn, BatchNorm's running statistics used and left alone).
        """
        if train is None:
            train = self.convention == "torch"
        data_loss = self.last_layer.forward(self.predict(x, train, masks), t)
        if self.regularizer is None:
            return data_loss
        return data_loss + self.regularizer.penalty(self.weights())

    def gradient(self, x: np.ndarray, t: np.ndarray, masks=None) -> dict[str, np.ndarray]:
        """Backpropagation in training mode: the gradient of :meth:`loss` for every parameter."""
        return self.loss_and_gradient(x, t, masks)[1]

    def loss_and_gradient(self, x: np.ndarray, t: np.ndarray, masks=None):
        """``(loss, gradient)`` from one forward and one backward pass (training mode)."""
        loss = self.loss(x, t, train=True, masks=masks)
        # A new buffer per call, laid out as the parameters' (so the returned arrays are never
        # overwritten by a later call); each Affine writes dW and db straight into its views.
        grads = _flat.views(np.empty_like(self._buffer), self._shapes)
        into = {affine: (None if self.regularizer is not None else grads[f"W{i}"], grads[f"b{i}"])
                for i, affine in enumerate(self.affines, 1)}
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers[1:]):
            if isinstance(layer, Affine):
                dout = layer.backward(dout, out=into[layer])
            else:
                dout = layer.backward(dout)
        self.layers[0].backward(dout, need_dx=False,      # ∂L/∂x is nobody's business
                                out=into[self.layers[0]])
        if self.regularizer is not None:
            for i, affine in enumerate(self.affines, 1):
                np.add(affine.dW, self.regularizer.grad(affine.W), out=grads[f"W{i}"])
        for i, bn in enumerate(self.batchnorms, 1):
            grads[f"gamma{i}"][...], grads[f"beta{i}"][...] = bn.dgamma, bn.dbeta
        return loss, grads

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The fraction of correct predictions in evaluation mode."""
        _validate.finite_array("x", x)
        scores = self.predict(x, train=False)
        if self.output_size == 1:
            t = np.asarray(t, dtype=scores.dtype).reshape(-1)
            if t.shape[0] != scores.shape[0] or not np.all((t >= 0) & (t <= 1)):
                raise ValueError(f"binary targets must be {scores.shape[0]} values in [0, 1], "
                                 f"got shape {t.shape}")
            return float(np.mean((scores.reshape(-1) > 0) == (t > 0.5)))
        t = _targets(t, scores, labels_ok=True)
        labels = t if t.ndim == 1 else t.argmax(axis=1)
        return float(np.mean(scores.argmax(axis=1) == labels))

    # -- state besides params -------------------------------------------------------------------

    def inert_params(self) -> list[str]:
        """Keys of parameters that cannot change the network's output: the bias of each hidden
        Affine when BatchNorm follows it (normalizing removes any shift). Their gradient is zero
        in exact arithmetic and rounding noise in practice — noise that an adaptive optimizer
        scales by lr/eps into a random walk, different in any two implementations, so parity
        comparisons of trained parameters leave them out."""
        return [f"b{i}" for i in range(1, len(self.batchnorms) + 1)]

    def weights(self) -> list[np.ndarray]:
        """The weight matrices W1, W2, … (what a regularizer penalizes)."""
        return [self.params[f"W{i}"] for i in range(1, len(self.affines) + 1)]

    def running_stats(self) -> dict[str, np.ndarray]:
        """BatchNorm's running statistics, ``running_mean1, running_var1, …`` (copies)."""
        stats = {}
        for i, bn in enumerate(self.batchnorms, 1):
            stats[f"running_mean{i}"] = bn.running_mean.copy()
            stats[f"running_var{i}"] = bn.running_var.copy()
        return stats

    def load_running_stats(self, stats: dict) -> None:
        expected = set(self.running_stats())
        if set(stats) != expected:
            raise ValueError(f"running stats must have the keys {sorted(expected)}, "
                             f"got {sorted(stats)}")
        for i, bn in enumerate(self.batchnorms, 1):
            bn.running_mean = np.array(stats[f"running_mean{i}"], dtype=self.dtype)
            bn.running_var = np.array(stats[f"running_var{i}"], dtype=self.dtype)

    def load_params(self, params: dict) -> None:
        """Copy values into ``params`` (same keys and shapes), keeping the arrays in place."""
        if set(params) != set(self.params):
            raise ValueError(f"params must have the keys {sorted(self.params)}, "
                             f"got {sorted(params)}")
        for key, value in params.items():
            value = np.asarray(value)
            if value.shape != self.params[key].shape:
                raise ValueError(f"params[{key!r}] must have shape {self.params[key].shape}, "
                                 f"got {value.shape}")
        for key, value in params.items():
            self.params[key][...] = value

    def _masks(self, masks, train):
        if masks is None or not train:
            return None
        masks = list(masks)
        if len(masks) != len(self.dropouts):
            raise ValueError(f"masks: {len(self.dropouts)} dropout layers, got {len(masks)} "
                             "masks")
        return masks

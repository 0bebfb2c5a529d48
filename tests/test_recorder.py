"""npref.testing.record on a book-style NumPy net (an ordered dict of layer objects, a ReLU whose
backward writes into its argument, dropout drawn from np.random's global state) against its
PyTorch port, and the recorder's refusals."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from npref.testing import draws, lockstep, record


class Affine:                                  # the book's layers, written here as a user has them
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0                    # the book's: writes into its argument
        return dout


class Dropout:
    def __init__(self, ratio):
        self.ratio = ratio

    def forward(self, x, train_flg=True):
        self.mask = np.random.rand(*x.shape) > self.ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class BookNet:
    def __init__(self, rng):
        self.layers = OrderedDict(
            Affine1=Affine(rng.standard_normal((4, 5)), np.zeros(5)), Relu1=Relu(),
            Dropout1=Dropout(0.5), Affine2=Affine(rng.standard_normal((5, 3)), np.zeros(3)))

    def gradient(self, x, dout):
        for layer in self.layers.values():
            x = layer.forward(x)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)


class MaskedDropout(nn.Module):
    def forward(self, x):
        return x * self.mask


def test_a_book_net_and_its_port_meet_by_name_and_layout():
    rng = np.random.default_rng(0)
    book = BookNet(rng)
    port = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), MaskedDropout(), nn.Linear(5, 3)).double()
    with torch.no_grad():
        for fc, key in ((port[0], "Affine1"), (port[3], "Affine2")):
            fc.weight.copy_(torch.tensor(book.layers[key].W.T))
            fc.bias.copy_(torch.tensor(book.layers[key].b))
    rec_book, rec_port = record(book), record(port, names={"2": "dropout1"})
    x, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    np.random.seed(3)

    def book_step(t):
        with draws() as drawn:
            book.gradient(x, dout.copy())
        port[2].mask = torch.tensor(drawn[0] > 0.5)     # the same masks, from np.random's draws
        return {**rec_book.take(), **rec_book.params()}

    def port_step(t):
        xt = torch.tensor(x)
        port(xt).backward(torch.tensor(dout))
        seen = rec_port.take()
        port.zero_grad()
        return {**seen, **rec_port.params()}

    names = list(book_step(0))
    assert names == ["affine1.out", "relu1.out", "dropout1.out", "affine2.out", "affine2.W.grad",
                     "affine2.b.grad", "affine2.dx", "dropout1.dx", "relu1.dx", "affine1.W.grad",
                     "affine1.b.grad", "affine1.W", "affine1.b", "affine2.W", "affine2.b"]
    assert lockstep(book_step, port_step, steps=3, names=("book", "port")) is None
    assert rec_book.masks()[0].shape == (6, 5)
    rec_book.detach()
    assert "forward" not in vars(book.layers["Affine1"])


def test_draws_hands_the_code_the_numbers_it_would_have_drawn():
    np.random.seed(7)
    expected = np.random.rand(3, 2)
    np.random.seed(7)
    with draws() as drawn:
        got = np.random.rand(3, 2)
    assert np.array_equal(got, expected) and np.array_equal(drawn[0], expected)
    assert np.random.rand.__name__ == "rand"                    # restored


@pytest.mark.parametrize("call,words", [
    (lambda: record(object()), "has no `layers`"),
    (lambda: record(object(), layers=[object()]), r"layers\[0\] has no forward/backward"),
    (lambda: record(nn.Sequential(nn.Linear(2, 2)), names={"9": "x"}), "names: no layer '9'"),
    (lambda: record(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), names={"1": "affine1"}),
     "two layers would be called 'affine1'"),
    (lambda: record(nn.Sequential(nn.Linear(2, 2))).state("sgd"),
     "optimizer must be a torch.optim.Optimizer"),
])
def test_bad_arguments_are_refused_by_name(call, words):
    with pytest.raises(ValueError, match=words):
        call()


class BatchNormalization:
    """The book's BatchNormalization as a user has it: γ, β, momentum 0.9 on the running
    averages, eps 10e-7 under the root, the biased variance."""

    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean = self.running_var = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        mu = x.mean(axis=0)
        self.xc = x - mu
        var = np.mean(self.xc ** 2, axis=0)
        self.std = np.sqrt(var + 10e-7)
        self.xn = self.xc / self.std
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        n = dout.shape[0]
        self.dbeta, self.dgamma = dout.sum(axis=0), np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dxc += (2.0 / n) * self.xc * (0.5 * dstd / self.std)
        return dxc - np.sum(dxc, axis=0) / n


def test_the_books_batchnorm_meets_a_torch_port_by_name():
    """issue 42: the book's BatchNormalization is a batchnorm — ``batchnorm1``, not
    ``batchnormalization1`` — so record pairs the book's net with a port without ``names=``;
    and, known as one, the affine output before it is recorded without its bias on both sides
    (its bias is inert)."""
    rng = np.random.default_rng(2)
    W1, W2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    book = BookNet(rng)
    book.layers = OrderedDict(Affine1=Affine(W1, rng.standard_normal(5)),
                              BatchNorm1=BatchNormalization(np.ones(5), np.zeros(5)),
                              Relu1=Relu(), Affine2=Affine(W2, np.zeros(3)))
    port = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5, eps=1e-6), nn.ReLU(),
                         nn.Linear(5, 3)).double()
    with torch.no_grad():
        for fc, key in ((port[0], "Affine1"), (port[3], "Affine2")):
            fc.weight.copy_(torch.tensor(book.layers[key].W.T))
            fc.bias.copy_(torch.tensor(book.layers[key].b))
    rec_book, rec_port = record(book), record(port)
    assert list(rec_book.layers) == list(rec_port.layers) == ["affine1", "batchnorm1", "relu1",
                                                              "affine2"]
    assert "affine1.b" in rec_book.inert and "affine1.b" in rec_port.inert
    x, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))

    def compared(rec):            # the book keeps the biased variance: a convention, not a bug
        return {k: v for k, v in rec.take().items() if not k.endswith("running_var")}

    def book_step(t):
        book.gradient(x, dout.copy())
        return compared(rec_book)

    def port_step(t):
        port(torch.tensor(x)).backward(torch.tensor(dout))
        seen = compared(rec_port)
        port.zero_grad()
        return seen

    assert set(book_step(0)) == set(port_step(0))
    assert lockstep(book_step, port_step, steps=2, names=("book", "port"),
                    inert=rec_book.inert) is None


def test_a_layer_that_ran_twice_between_takes_is_said():
    """issue 42: take() after a second forward (an evaluation pass after the step) keeps the
    later values — it says so, naming the layers, on either side."""
    port = nn.Sequential(nn.Linear(3, 2), nn.ReLU()).double()
    rec = record(port)
    x = torch.ones(4, 3, dtype=torch.float64)
    port(x)
    assert set(rec.take()) >= {"affine1.out", "relu1.out"}      # once: nothing said
    port(x), port(2 * x)
    with pytest.warns(UserWarning, match="affine1 ran forward 2 times, relu1 ran forward 2"):
        seen = rec.take()
    assert np.array_equal(seen["affine1.out"], port[0](2 * x).detach().numpy())
    book = BookNet(np.random.default_rng(0))
    rec_book = record(book)
    for layer in book.layers.values():
        layer.forward(np.ones((2, 5)) if layer is not book.layers["Affine1"] else np.ones((2, 4)))
    book.layers["Affine1"].forward(np.ones((2, 4)))
    with pytest.warns(UserWarning, match="affine1 ran forward 2 times"):
        rec_book.take()

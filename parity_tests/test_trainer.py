"""The book's Trainer: npref's and torchref's against a transcription of the book's loop.

:func:`book_trainer` below is written here from the book's formulas (``common/trainer.py``,
``common/layers.py``, ``common/functions.py``, ``common/optimizer.py``), in plain NumPy and
independent of the code under test: the network Affine → ReLU → [Dropout] … → Affine → softmax
with the loss −Σ log(y + 1e-7)/N, the book's six optimizers with their own constants (Nesterov as
docs/conventions.md writes it: see :func:`book_optimizer`), and the
Trainer's bookkeeping — the batch ``rng.choice(n, b)``, the loss of that batch *after* the update
in evaluation mode, an evaluation whenever ``current_iter % (n/b) == 0`` before the counter moves,
int(epochs·max(n/b, 1)) iterations. Random pieces come from one Generator in the book's order: the
batch, then each dropout layer's keep-mask ``rng.random((b, h)) >= p``.

Both backends' ``Trainer`` must fill the same three lists: the losses within the whole-network
tolerance (float64 1e-10 relative to the largest loss), the accuracies exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.training as T
import torchref.training as TT
from npref.nets import MultiLayerNet
from parity_tests import strategies as S
from parity_tests.harness import check_parity
from torchref.nets import MultiLayerNet as TorchNet

LOSS_TOLERANCE = 1e-10


# -- the book, transcribed ------------------------------------------------------------------------

def book_optimizer(name, lr, momentum=0.9, decay_rate=0.99, beta1=0.9, beta2=0.999):
    """The book's update rules as ``update(params, grads)``, state kept per key."""
    state, count = {}, [0]

    def update(params, grads):
        count[0] += 1
        t = count[0]
        for k, g in grads.items():
            a, b = state.setdefault(k, (np.zeros_like(g), np.zeros_like(g)))
            if name == "sgd":
                params[k] -= lr * g
            elif name == "momentum":                      # v ← μv − lr·g; p ← p + v
                a[...] = momentum * a - lr * g
                params[k] += a
            elif name == "nesterov":                      # p ← p + μ²v − (1+μ)lr·g; v ← μv − lr·g
                # docs/conventions.md's row, with the velocity *before* this step. The book's repository
                # updates v first and then moves p by μ²·v_new − (1+μ)·lr·g, which is not
                # PyTorch's Nesterov; npref's "book" Nesterov follows docs/conventions.md, and so does this.
                params[k] += momentum * momentum * a
                params[k] -= (1 + momentum) * lr * g
                a *= momentum
                a -= lr * g
            elif name == "adagrad":                       # h ← h + g²; p ← p − lr·g/(√h + 1e-7)
                a += g * g
                params[k] -= lr * g / (np.sqrt(a) + 1e-7)
            elif name == "rmsprop":                       # h ← ρh + (1−ρ)g²
                a *= decay_rate
                a += (1 - decay_rate) * g * g
                params[k] -= lr * g / (np.sqrt(a) + 1e-7)
            else:                                         # Adam: lr·√(1−β2ᵗ)/(1−β1ᵗ), eps on √v
                lr_t = lr * np.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
                a += (1 - beta1) * (g - a)
                b += (1 - beta2) * (g ** 2 - b)
                params[k] -= lr_t * a / (np.sqrt(b) + 1e-7)
    return update


def book_network(params, p):
    """``(loss, gradient, accuracy)`` of the book's ReLU network with dropout ratio ``p``."""
    depth = len(params) // 2

    def forward(x, masks):                 # masks None: evaluation mode
        hs, keeps = [x], []
        for i in range(1, depth):
            a = hs[-1] @ params[f"W{i}"] + params[f"b{i}"]
            keep = (a > 0).astype(a.dtype)                # ReLU, then dropout:
            if p > 0:                                     # x·mask in training, x·(1−p) after
                keep = keep * (masks[i - 1] if masks is not None else 1 - p)
            keeps.append(keep)
            hs.append(a * keep)
        return hs, keeps, hs[-1] @ params[f"W{depth}"] + params[f"b{depth}"]

    def softmax(s):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(x, t, masks=None):
        y = softmax(forward(x, masks)[2])
        return -np.sum(np.log(y[np.arange(len(t)), t] + 1e-7)) / len(t)

    def gradient(x, t, masks):
        hs, keeps, s = forward(x, masks)
        d = softmax(s)
        d[np.arange(len(t)), t] -= 1
        d /= len(t)
        grads = {}
        for i in range(depth, 0, -1):
            grads[f"W{i}"], grads[f"b{i}"] = hs[i - 1].T @ d, d.sum(axis=0)
            if i > 1:
                d = (d @ params[f"W{i}"].T) * keeps[i - 2]
        return grads

    def accuracy(x, t):
        return np.sum(forward(x, None)[2].argmax(axis=1) == t) / float(len(x))
    return loss, gradient, accuracy


def book_trainer(params, x, t, x_test, t_test, *, epochs, batch, optimizer, lr, p, hidden,
                 sample, seed):
    """The book's Trainer loop; returns its three lists."""
    params = {k: v.copy() for k, v in params.items()}
    loss, gradient, accuracy = book_network(params, p)
    update = book_optimizer(optimizer.lower(), lr)
    rng = np.random.default_rng(seed)
    n = len(x)
    per_epoch = max(n / batch, 1)
    losses, train_acc, test_acc = [], [], []
    for it in range(int(epochs * per_epoch)):
        idx = rng.choice(n, batch)
        masks = [rng.random((batch, h)) >= p for h in hidden] if p > 0 else None
        update(params, gradient(x[idx], t[idx], masks))
        losses.append(loss(x[idx], t[idx]))
        if it % per_epoch == 0:
            k = n if sample is None else sample
            train_acc.append(accuracy(x[:k], t[:k]))
            test_acc.append(accuracy(x_test[:k], t_test[:k]))
    return {"train_loss_list": losses, "train_acc_list": train_acc, "test_acc_list": test_acc}


# -- the comparison -------------------------------------------------------------------------------

NAMES = ["SGD", "sgd", "Momentum", "nesterov", "AdaGrad", "RMSprop", "rmsprop", "Adam", "ADAM"]


@st.composite
def trainer_cases(draw):
    n, batch = draw(st.integers(1, 40)), draw(st.integers(1, 16))
    return {
        "n": n, "batch": batch, "epochs": draw(st.integers(1, 4)),
        "optimizer": draw(st.sampled_from(NAMES)), "lr": draw(S.log_uniform(1e-3, 0.3)),
        "p": draw(st.sampled_from([0.0, 0.0, 0.25, 0.5])),
        "input": draw(st.integers(1, 6)), "classes": draw(st.integers(2, 4)),
        "hidden": draw(st.lists(st.integers(1, 8), min_size=1, max_size=2)),
        "sample": draw(st.one_of(st.none(), st.integers(1, n))),
        "seed": draw(S.seeds),
    }


def run_trainers(case, device, use_batchnorm=False):
    """npref's and torchref's Trainer on the same data from the same start; (npref, torchref,
    the initial parameters, the data)."""
    rng = np.random.default_rng(case["seed"])
    n, n_test = case["n"], max(case["n"] // 2, 1)
    x = rng.standard_normal((n + n_test, case["input"]))
    t = rng.integers(0, case["classes"], n + n_test)
    data = (x[:n], t[:n], x[n:], t[n:])
    arch = {"input_size": case["input"], "hidden_sizes": case["hidden"],
            "output_size": case["classes"], "dropout": case["p"], "convention": "book",
            "use_batchnorm": use_batchnorm}
    ours = MultiLayerNet(**arch, rng=np.random.default_rng(case["seed"] + 1))
    theirs = TorchNet(**arch, dtype=torch.float64, device=device)
    theirs.load_params(ours.params)
    start = {k: v.copy() for k, v in ours.params.items()}
    kw = {"epochs": case["epochs"], "mini_batch_size": case["batch"],
          "optimizer": case["optimizer"], "optimizer_param": {"lr": case["lr"]},
          "evaluate_sample_num_per_epoch": case["sample"], "verbose": False}
    trainers = []
    for net, cls in ((ours, T.Trainer), (theirs, TT.Trainer)):
        trainer = cls(net, *data, rng=np.random.default_rng(case["seed"] + 2), **kw)
        trainer.train()
        trainers.append(trainer)
    return *trainers, start, data


def lists(trainer) -> dict:
    return {k: list(getattr(trainer, k))
            for k in ("train_loss_list", "train_acc_list", "test_acc_list")}


def check_lists(expected, actual, what, names):
    assert len(actual["train_loss_list"]) == len(expected["train_loss_list"])
    assert actual["train_acc_list"] == expected["train_acc_list"], what
    assert actual["test_acc_list"] == expected["test_acc_list"], what
    scale = max(np.abs(expected["train_loss_list"]).max(), 1e-300)
    check_parity({k: np.asarray(v, np.float64) for k, v in expected.items()},
                 {k: np.asarray(v, np.float64) for k, v in actual.items()}, dtype=np.float64,
                 tol=LOSS_TOLERANCE, floor={"train_loss_list": scale, "train_acc_list": 1.0,
                                            "test_acc_list": 1.0},
                 what=what, names=names)


def check_against_the_book(case, device):
    ours, theirs, start, data = run_trainers(case, device)
    book = book_trainer(start, *data, epochs=case["epochs"], batch=case["batch"],
                        optimizer=case["optimizer"], lr=case["lr"], p=case["p"],
                        hidden=case["hidden"], sample=case["sample"], seed=case["seed"] + 2)
    per_epoch = max(case["n"] / case["batch"], 1)
    assert ours.max_iter == theirs.max_iter == int(case["epochs"] * per_epoch)
    assert len(book["train_acc_list"]) == sum(i % per_epoch == 0 for i in range(ours.max_iter))
    check_lists(book, lists(ours), "Trainer lists: npref vs the book's loop", ("book", "npref"))
    check_lists(book, lists(theirs), "Trainer lists: torchref vs the book's loop",
                ("book", "torchref"))


@given(case=trainer_cases())
def test_trainer_lists_match_the_books_loop(device, case):
    check_against_the_book(case, device)


@pytest.mark.parametrize("n,batch,epochs,evaluations", [
    (23, 5, 3, 1),       # k = 4.6: 13 iterations, evaluated after the first only (4.6·5 = 23)
    (30, 4, 3, 2),       # k = 7.5: 22 iterations, evaluated after updates 1, 16 — and not 8.5
    (20, 4, 3, 3),       # k = 5: 15 iterations, evaluated after updates 1, 6, 11
    (3, 8, 4, 4),        # batch > n: k = 1, one evaluation per iteration
])
def test_trainer_bookkeeping_when_n_is_not_a_multiple_of_the_batch(device, n, batch, epochs,
                                                                   evaluations):
    case = {"n": n, "batch": batch, "epochs": epochs, "optimizer": "Adam", "lr": 0.01,
            "p": 0.25, "input": 4, "classes": 3, "hidden": [5, 4], "sample": None, "seed": 7}
    ours, _, _, _ = run_trainers(case, device)
    assert ours.max_iter == int(epochs * max(n / batch, 1))
    assert len(ours.train_loss_list) == ours.max_iter
    assert len(ours.train_acc_list) == len(ours.test_acc_list) == evaluations
    check_against_the_book(case, device)


@given(case=trainer_cases())
def test_trainer_with_batchnorm_npref_vs_torchref(device, case):
    """With the book's BatchNorm (no transcription here: its parity is test_layers'), both
    backends fill the same lists; the loss after the update uses the running statistics.

    The optimizers without a per-element scale only: a bias feeding BatchNorm has a gradient of
    rounding noise (:meth:`npref.nets.MultiLayerNet.inert_params`) that AdaGrad, RMSprop and Adam
    scale by lr/eps into steps of 1e-11 that differ between any two implementations — harmless
    in training mode, but the evaluation-mode loss sees them through the running statistics."""
    name = {"adagrad": "SGD", "rmsprop": "Momentum", "adam": "nesterov"}.get(
        case["optimizer"].lower(), case["optimizer"])
    # Batches of at least 4 from at least 8 samples: a batch of copies of one sample has no
    # variance, and BatchNorm divides its rounding noise by √eps.
    case = {**case, "n": max(case["n"], 8), "batch": max(case["batch"], 4), "optimizer": name,
            "sample": case["sample"] and min(case["sample"], max(case["n"], 8))}
    ours, theirs, _, _ = run_trainers(case, device, use_batchnorm=True)
    check_lists(lists(ours), lists(theirs), "Trainer lists with BatchNorm: torchref vs npref",
                ("npref", "torchref"))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("p", [0.0, 0.25])
def test_history_records_the_books_loss_with_loss_after_update(backend, p):
    """``Schedule(sampling="replacement", loss_after_update=True)`` over the Trainer's number of
    iterations draws the same batches and masks and records the Trainer's train_loss_list."""
    case = {"n": 23, "batch": 5, "epochs": 3, "optimizer": "momentum", "lr": 0.05, "p": p,
            "input": 4, "classes": 3, "hidden": [5, 4], "sample": None, "seed": 3}
    ours, theirs, start, (x, t, x_test, t_test) = run_trainers(case, "cpu")
    trainer = ours if backend == "numpy" else theirs
    arch = {"input_size": 4, "hidden_sizes": [5, 4], "output_size": 3, "dropout": p,
            "convention": "book"}
    schedule = T.Schedule(batch_size=5, iterations=trainer.max_iter, sampling="replacement",
                          loss_after_update=True)
    data = T.Data(x, t, x_test, t_test)
    if backend == "numpy":
        import npref.optim
        net = MultiLayerNet(**arch, rng=np.random.default_rng(0))
        net.load_params(start)
        history = T.train(net, npref.optim.make("momentum", lr=0.05, convention="book"), data,
                          schedule, rng=np.random.default_rng(case["seed"] + 2), progress=False)
    else:
        import torchref.optim
        net = TorchNet(**arch, dtype=torch.float64)
        net.load_params(start)
        history = TT.train(net, torchref.optim.make("momentum", net.parameters(), lr=0.05,
                                                    convention="book"), data, schedule,
                           rng=np.random.default_rng(case["seed"] + 2), progress=False)
    check_parity(np.asarray(trainer.train_loss_list), np.asarray(history.loss),
                 dtype=np.float64, tol=LOSS_TOLERANCE, floor="norm",
                 what="History(loss_after_update) vs Trainer.train_loss_list",
                 names=("Trainer", "History"))


def test_verbose_prints_as_the_book_does(capsys):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    net = MultiLayerNet(3, [4], 2, convention="book", rng=np.random.default_rng(1))
    trainer = T.Trainer(net, x, t, x, t, epochs=2, mini_batch_size=4,
                        rng=np.random.default_rng(2))
    acc = trainer.train()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"train loss:{trainer.train_loss_list[0]}"
    assert out[1].startswith("=== epoch:1, train acc:")
    assert out[-2:] == ["=============== Final Test Accuracy ===============", f"test acc:{acc}"]
    assert len([line for line in out if line.startswith("train loss:")]) == trainer.max_iter == 3


def test_optimizers_are_the_books():
    net = MultiLayerNet(3, [4], 2, rng=np.random.default_rng(1))
    x, t = np.ones((4, 3)), np.array([0, 1, 0, 1])
    make = lambda name, **param: T.Trainer(net, x, t, x, t, optimizer=name,   # noqa: E731
                                           optimizer_param=param or {"lr": 0.01}, verbose=False)
    assert make("ADAM").optimizer.convention == "book"
    assert make("RMSprop", lr=0.01, decay_rate=0.9).optimizer.alpha == 0.9
    assert make("adam", lr=0.01, beta1=0.8, beta2=0.99).optimizer.betas == (0.8, 0.99)
    assert type(make("sgd").optimizer).__name__ == "SGD"
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd'"):
        make("adamw")
    with pytest.raises(ValueError, match="convention='book'"):
        make("adam", lr=0.01, convention="torch")
    with pytest.raises(ValueError, match="mini_batch_size must be an int >= 1"):
        T.Trainer(net, x, t, x, t, mini_batch_size=0)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        TT.Trainer(TorchNet(3, [4], 2), x, t, x, t, epochs=0)

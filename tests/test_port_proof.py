"""Proving a port layer by layer (npref.testing.record + lockstep): a hand-written PyTorch port of
npref's own MultiLayerNet — two hidden layers with BatchNorm, dropout, L2 weight decay, Adam,
float64 — against the original, 50 steps, every layer's output, every gradient passed back,
every parameter gradient, Adam's state and the parameters compared.

The correct port passes at the default tolerance (1e-12). Each of five bugs a porting engineer
makes is named at the step it first acts, at the layer and pass where it starts, with the hint
its numbers fit: a square weight loaded untransposed (step 0, the loaded state), BatchNorm's eps
(the first BatchNorm's output), Adam's eps on the other side of the bias correction (the first
parameter's update), weight decay on BatchNorm's γ (Adam's first moment of γ), inverted dropout
where the original's is not (the first dropout's output).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import npref.optim
import torchref.optim
from npref.nets import MultiLayerNet
from npref.regularizers import L2
from npref.testing import Divergence, lockstep, record, trace

SIZES, P, LAM, LR, BATCH, STEPS = (6, 8, 8, 3), 0.2, 0.01, 1e-3, 16, 50


# -- the port, as a porting engineer writes it (bugs behind flags) -------------------------------

class Dropout(nn.Module):
    """Dropout applying the keep-mask it is handed (drawn once, by the NumPy side)."""

    def __init__(self, p, inverted=True):
        super().__init__()
        self.p, self.inverted, self.mask = p, inverted, None

    def forward(self, x):
        if not self.training:
            return x
        kept = x * self.mask
        return kept / (1 - self.p) if self.inverted else kept


class Port(nn.Module):
    def __init__(self, bn_eps=1e-5, inverted=True):
        super().__init__()
        i, h1, h2, o = SIZES
        self.fc1, self.bn1 = nn.Linear(i, h1), nn.BatchNorm1d(h1, eps=bn_eps)
        self.relu1, self.drop1 = nn.ReLU(), Dropout(P, inverted)
        self.fc2, self.bn2 = nn.Linear(h1, h2), nn.BatchNorm1d(h2, eps=bn_eps)
        self.relu2, self.drop2 = nn.ReLU(), Dropout(P, inverted)
        self.fc3 = nn.Linear(h2, o)
        self.double()

    def forward(self, x, masks):
        self.drop1.mask, self.drop2.mask = masks
        x = self.drop1(self.relu1(self.bn1(self.fc1(x))))
        x = self.drop2(self.relu2(self.bn2(self.fc2(x))))
        return self.fc3(x)

    @torch.no_grad()
    def load(self, params, untransposed=()):
        for k, fc in (("1", self.fc1), ("2", self.fc2), ("3", self.fc3)):
            W = torch.tensor(params[f"W{k}"])
            fc.weight.copy_(W if k in untransposed else W.T)
            fc.bias.copy_(torch.tensor(params[f"b{k}"]))
        for k, bn in (("1", self.bn1), ("2", self.bn2)):
            bn.weight.copy_(torch.tensor(params[f"gamma{k}"]))
            bn.bias.copy_(torch.tensor(params[f"beta{k}"]))

    def optimizer(self, decay_everything=False, book_adam=False):
        """Adam with L2 weight decay on the weights only (the book's penalty), as param groups."""
        weights = [self.fc1.weight, self.fc2.weight, self.fc3.weight]
        rest = [p for p in self.parameters() if all(p is not w for w in weights)]
        groups = ([{"params": list(self.parameters()), "weight_decay": LAM}] if decay_everything
                  else [{"params": weights, "weight_decay": LAM},
                        {"params": rest, "weight_decay": 0.0}])
        if book_adam:
            return torchref.optim.BookAdam(groups, lr=LR, eps=1e-8)
        return torch.optim.Adam(groups, lr=LR)


def original(seed=1):
    return MultiLayerNet(SIZES[0], list(SIZES[1:-1]), SIZES[-1], use_batchnorm=True,
                         dropout=P, regularizer=L2(LAM), rng=np.random.default_rng(seed))


def runs(bug=None, steps=STEPS):
    """The original's and the port's step functions (every array, in dataflow order), the
    loaded state of each (step 0), and the inert arrays."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((200, SIZES[0])), rng.integers(0, SIZES[-1], 200)
    net = original()
    port = Port(bn_eps=1e-6 if bug == "bn eps" else 1e-5, inverted=bug != "vanilla dropout")
    port.load(net.params, untransposed=("2",) if bug == "transpose" else ())
    opt = port.optimizer(decay_everything=bug == "decay", book_adam=bug == "adam eps")
    ours = npref.optim.make("adam", lr=LR)
    batches = [(rng.integers(0, 200, BATCH), net.draw_masks(BATCH)) for _ in range(steps)]
    # -- the glue: a recorder on each side, two step functions ---------------------------------
    rec_np, rec_port = record(net), record(port)

    def numpy_step(k):
        ix, masks = batches[k - 1]
        _, grads = net.loss_and_gradient(x[ix], t[ix], masks=masks)
        seen = rec_np.take()
        ours.update(net.params, grads)
        return {**seen, **rec_np.state(ours, net.params), **rec_np.params()}

    def port_step(k):
        ix, masks = batches[k - 1]
        opt.zero_grad()
        out = port(torch.tensor(x[ix]), [torch.tensor(m) for m in masks])
        F.cross_entropy(out, torch.tensor(t[ix])).backward()
        seen = rec_port.take()
        opt.step()
        return {**seen, **rec_port.state(opt, names={"m": "exp_avg", "v": "exp_avg_sq"}),
                **rec_port.params()}

    return port_step, numpy_step, (rec_port.params, rec_np.params), rec_np.inert


def prove(bug=None, steps=STEPS) -> Divergence | None:
    port_step, numpy_step, start, inert = runs(bug, steps)
    return lockstep(port_step, numpy_step, steps=steps, start=start, inert=inert,
                    names=("port", "npref"))


# -- the proof --------------------------------------------------------------------------------

def test_the_correct_port_passes_at_the_default_tolerance():
    assert prove() is None


def test_the_correct_port_is_far_inside_the_tolerance_and_only_inert_arrays_move():
    port_step, numpy_step, start, inert = runs()
    found = trace(port_step, numpy_step, steps=STEPS, start=start, inert=inert)
    worst = {n: max(found.scores[s].get(n, 0.0) for s in found.steps) for n in found.names}
    judged = {n: v for n, v in worst.items() if n not in found.inert}
    assert found.first is None and max(judged.values()) < 0.01, max(judged.items(),
                                                                   key=lambda kv: kv[1])
    # the biases BatchNorm follows do walk apart (their gradient is rounding noise): shown
    assert set(found.inert) >= {"affine1.b", "affine1.b.exp_avg", "batchnorm1.running_mean"}
    assert worst["affine1.b"] > 1


BUGS = [
    # bug, step, the array where it originates, words of the hint
    ("transpose", 0, "affine2.W", "transpose of the other's"),
    ("bn eps", 1, "batchnorm1.out", "port's eps is 0.1× npref's"),
    ("adam eps", 1, "affine1.W", "Adam's eps placed differently"),
    ("decay", 1, "batchnorm1.gamma.exp_avg", "weight decay applied to BatchNorm's γ"),
    ("vanilla dropout", 1, "dropout1.out", "1.25 = 1/(1 − 0.2)"),
]


@pytest.mark.parametrize("bug,step,name,hint", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_is_named_where_it_starts_with_its_hint(bug, step, name, hint):
    found = prove(bug)
    assert isinstance(found, Divergence), bug
    assert (found.step, found.name) == (step, name), str(found)
    assert any(hint in h for h in found.hints), found.hints
    assert found.parted[0][0] == name and "hint:" in str(found)


def test_the_trace_draws_the_first_parting(tmp_path):
    port_step, numpy_step, start, inert = runs("bn eps", steps=6)
    found = trace(port_step, numpy_step, steps=6, start=start, inert=inert)
    assert found.first.name == "batchnorm1.out" and found.steps == list(range(7))
    m = found.matrix()
    assert m.shape == (7, len(found.names)) and found.names[0] == "affine1.out"
    assert np.all(m[0][~np.isnan(m[0])] == 0)                    # step 0: loaded alike
    path = found.heatmap(tmp_path / "trace.png")
    assert (tmp_path / "trace.png").stat().st_size > 10_000 and path.endswith("trace.png")


def test_recording_changes_nothing_the_models_compute():
    """50 steps of each model, recorded and not: the same bits."""
    def train(recorded):
        rng = np.random.default_rng(0)
        x, t = rng.standard_normal((200, SIZES[0])), rng.integers(0, SIZES[-1], 200)
        net, opt = original(), npref.optim.make("adam", lr=LR)
        port = Port()
        port.load(net.params)
        popt = port.optimizer()
        if recorded:
            rec_np, rec_port = record(net), record(port)
        for _ in range(STEPS):
            ix, masks = rng.integers(0, 200, BATCH), net.draw_masks(BATCH)
            _, grads = net.loss_and_gradient(x[ix], t[ix], masks=masks)
            opt.update(net.params, grads)
            popt.zero_grad()
            F.cross_entropy(port(torch.tensor(x[ix]), [torch.tensor(m) for m in masks]),
                            torch.tensor(t[ix])).backward()
            popt.step()
            if recorded:
                rec_np.take(), rec_port.take()
        return ({k: v.copy() for k, v in net.params.items()},
                {k: v.detach().clone() for k, v in port.state_dict().items()})

    (np_a, t_a), (np_b, t_b) = train(True), train(False)
    assert all(np.array_equal(np_a[k], np_b[k]) for k in np_a)
    assert all(torch.equal(t_a[k], t_b[k]) for k in t_a)


def test_floor_choices_judge_zero_gradients_differently():
    """A structurally zero gradient: 0.0 on one side, 2e-18 on the other. Judged against its
    layer's gradients (floor="array", the recorder's names) it agrees; element by element it
    cannot."""
    a = {"affine1.W.grad": np.array([[0.5, -0.25]]), "affine1.b.grad": np.array([2e-18, 0.0])}
    b = {"affine1.W.grad": np.array([[0.5, -0.25]]), "affine1.b.grad": np.array([0.0, 0.0])}
    assert lockstep(lambda t: a, lambda t: b, steps=1) is None
    found = lockstep(lambda t: a, lambda t: b, steps=1, floor="element")
    assert found.name == "affine1.b.grad" and found.floor_kind == "element"
    assert lockstep(lambda t: a, lambda t: b, steps=1, floor=1e-3) is None     # absolute
    with pytest.raises(ValueError, match="floor must be 'array', 'element' or a finite number"):
        lockstep(lambda t: a, lambda t: b, steps=1, floor="rows")


def test_the_other_signatures_have_their_hints():
    """The hints no planted bug above exercises: unbiased against biased variance, a momentum of
    0.1 given as 0.9 (running mean, running variance), a plain constant scale."""
    from npref.testing.hints import explain

    rng = np.random.default_rng(0)
    v = rng.random(8) + 0.5

    def hint(name, a, b):
        return " ".join(explain(name, a, b, current={}, previous={}))

    assert "N = 32" in hint("batchnorm1.running_var", 0.9 + 0.1 * v * 32 / 31, 0.9 + 0.1 * v)
    assert "N = 16" in hint("scale", np.sqrt(16 / 15) * v, v)
    mean = rng.standard_normal(8)
    assert "momentum of 0.1 given as 0.9" in hint("batchnorm1.running_mean", 0.9 * mean,
                                                  0.1 * mean)
    var = rng.random(8) + 2.0
    assert "momentum of 0.1 given as 0.9" in hint("batchnorm1.running_var",
                                                  1 + 0.9 * (var - 1), 1 + 0.1 * (var - 1))
    assert "constant 3 times" in hint("x", 3 * v, v)
    assert hint("x", v + 1e-3 * rng.random(8), v) == ""          # no pattern: no hint


def test_the_adam_eps_hint_holds_where_some_weights_hardly_move():
    """issue 42: torch.optim.Adam(eps=1e-7) against the book's Adam on a net where a few of the
    weights' √v lie near eps (5 of 1,500 in a 30-50-50-10 net): the difference is
    K/(√v + ε), not K/√v, and those few must not hide the hint."""
    from npref.testing.hints import explain

    rng = np.random.default_rng(1)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-7
    root = 10.0 ** rng.uniform(-4, -2, 1500)
    root[:5] = [5e-8, 1e-7, 2e-7, 4e-7, 1e-6]                   # weights that hardly move
    v, m = root ** 2, rng.standard_normal(1500) * root
    c = 1 - beta2 ** 3                                        # the third step
    torch_step = lr / (1 - beta1 ** 3) * m / (root / np.sqrt(c) + eps)
    book_step = lr * np.sqrt(c) / (1 - beta1 ** 3) * m / (root + eps)
    p = rng.standard_normal(1500)
    said = " ".join(explain("affine1.W", p - torch_step, p - book_step,
                            current={"affine1.W.v": (v, v)},
                            previous={"affine1.W": (p, p)}))
    assert "Adam's eps placed differently" in said, said
    unrelated = p - book_step * (1 + 1e-3 * rng.standard_normal(1500))
    assert "Adam's eps" not in " ".join(explain(
        "affine1.W", unrelated, p - book_step, current={"affine1.W.v": (v, v)},
        previous={"affine1.W": (p, p)}))

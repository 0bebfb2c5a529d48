"""No global random state: every draw in npref and torchref comes from a generator handed in.

NumPy's global ``np.random`` state and PyTorch's default generator are shared by everything in a
process; a reference implementation that draws from them makes a user's results depend on what
else ran before. Here each entry point that draws is called with a seeded
``numpy.random.Generator`` (twice: the same numbers) and without one (a fresh generator), and
both global states must be exactly as they were.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import npref.init as I
import npref.layers as L
import npref.nets as N
import npref.training as T
import torchref.init as TI
import torchref.layers as TL
import torchref.nets as TN

ROOT = Path(__file__).resolve().parents[1]

DRAWS = {
    "npref.init.he_normal": lambda rng: I.he_normal((20, 10), rng),
    "npref.init.glorot_uniform": lambda rng: I.glorot_uniform((20, 10), rng),
    "npref.layers.Dropout": lambda rng: L.Dropout(0.5, rng=rng).forward(np.ones((8, 6))),
    "npref.nets.MultiLayerNet": lambda rng: N.MultiLayerNet(
        6, [5], 3, dropout=0.3, rng=rng).loss(np.ones((4, 6)), np.array([0, 1, 2, 0])),
    "npref.training.minibatches": lambda rng: np.concatenate(T.minibatches(50, 7, rng)),
    "npref.training.sample_batch": lambda rng: T.sample_batch(50, 7, rng),
    "torchref.init.he_normal": lambda rng: TI.he_normal((20, 10), rng),
    "torchref.init.get(0.01)": lambda rng: TI.get(0.01)((20, 10), rng),
    "torchref.init.glorot_uniform": lambda rng: TI.glorot_uniform((20, 10), rng),
    "torchref.layers.Dropout/torch": lambda rng: TL.Dropout(0.5, "torch", rng=rng)(
        torch.ones(8, 6, dtype=torch.float64)),
    "torchref.layers.Dropout/book": lambda rng: TL.Dropout(0.5, "book", rng=rng)(
        torch.ones(8, 6, dtype=torch.float64)),
    "torchref.layers.Affine": lambda rng: TL.Affine(torch.ones(3, 2, dtype=torch.float64),
                                                    torch.zeros(2, dtype=torch.float64)).weight,
    "torchref.nets.MultiLayerNet": lambda rng: TN.MultiLayerNet(
        6, [5], 3, dropout=0.3, rng=rng).loss(torch.ones(4, 6, dtype=torch.float64),
                                              torch.tensor([0, 1, 2, 0])).detach(),
}


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _numpy_state_equal(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("name", DRAWS)
def test_draws_leave_the_global_random_states_alone(name):
    np_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    first = _numpy(DRAWS[name](np.random.default_rng(7)))
    again = _numpy(DRAWS[name](np.random.default_rng(7)))
    if ".layers." in name or ".nets." in name:
        DRAWS[name](None)                        # rng=None: a fresh generator, still not global
    assert np.array_equal(first, again), f"{name}: the same seed gave different numbers"
    assert _numpy_state_equal(np_state, np.random.get_state()), \
        f"{name} moved NumPy's global random state"
    assert torch.equal(torch_state, torch.random.get_rng_state()), \
        f"{name} moved PyTorch's default generator"


def test_a_seed_decides_and_nothing_else_does():
    # Moving the global states between two seeded calls changes nothing.
    a = TI.he_normal((20, 10), np.random.default_rng(3))
    np.random.seed(12345)
    torch.manual_seed(12345)
    b = TI.he_normal((20, 10), np.random.default_rng(3))
    assert torch.equal(a, b)
    c = TI.he_normal((20, 10), np.random.default_rng(4))
    assert not torch.equal(a, c)


@pytest.mark.parametrize("call", [
    lambda bad: I.he_normal((3, 2), bad),
    lambda bad: L.Dropout(0.5, rng=bad),
    lambda bad: N.MultiLayerNet(3, [2], 2, rng=bad),
    lambda bad: T.minibatches(10, 3, bad),
    lambda bad: TI.he_normal((3, 2), bad),
    lambda bad: TL.Dropout(0.5, rng=bad),
    lambda bad: TN.MultiLayerNet(3, [2], 2, rng=bad),
])
@pytest.mark.parametrize("bad", [np.random, np.random.RandomState(0), "seed"],
                         ids=["np.random", "RandomState", "str"])
def test_global_or_legacy_state_is_refused_naming_rng(call, bad):
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        call(bad)


def test_no_source_line_draws_from_a_global_state():
    """npref and torchref call neither ``np.random.<draw>()`` nor torch's default generator."""
    legacy = re.compile(r"np\.random\.(?!default_rng|Generator)\w+\(")
    torch_global = re.compile(r"torch\.(rand|randn|randint|randperm|bernoulli|normal|"
                              r"manual_seed|seed)\(|F\.dropout\(")
    offenders = []
    for package in ("npref", "torchref"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if code.strip().startswith(("\"", "'", "``")) or "``" in code:
                    continue                            # docstrings quote the book's calls
                if legacy.search(code) or (torch_global.search(code) and "generator=" not in code):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []

"""torchref mirrors npref's public names (``__all__``), module by module — except where listed.

The README promises "the same names". Each intended difference is a row below with its reason;
the test fails on a name missing from a twin that is not listed, and on a row that no longer
describes a difference (so the list cannot go stale). The README's "Same names in torchref"
paragraph summarises the same table.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import npref
import torchref

#: npref modules with no torchref twin, and why.
NPREF_ONLY_MODULES = {
    "gradcheck": "central differences are backend-neutral; torchref's gradients are autograd's",
    "testing": "the comparison is written once, for both: it reads tensors wherever it reads "
               "arrays",
    "guard": "the NaN/Inf stop, written once and called by both backends",
    "textbook": "the book-notation forms the report shows beside PyTorch's own code, which is "
             "torchref's side of the comparison",
    "schedulers": "PyTorch's own torch.optim.lr_scheduler is torchref's side: torchref.training "
                  "builds its classes from the same Schedule",
}

#: torchref modules with no npref twin, and why.
TORCHREF_ONLY_MODULES = {
    "device": "devices exist only in PyTorch (npref always runs on the CPU)",
}

#: (module, name) in npref's __all__ but not in torchref's, and why.
NPREF_ONLY = {
    ("optim", "Optimizer"): "npref's base class; torchref's optimizers are torch.optim.Optimizer",
    ("optim", "DEFAULT_EPS"): "the conventions' eps table, defined once: torchref.optim reads "
                              "npref's",
    ("optim", "CHAPTER_6"): "the book's seven names, defined once",
    ("optim", "RULES"): "the rules' descriptions, defined once: torchref's factories read them",
    ("optim", "REFUSED"): "what is not covered and why, defined once: torchref.optim reads it",
    ("optim", "has_conventions"): "a question about a rule's description, defined once",
    ("optim", "with_convention"): "a question about a rule's description, defined once",
    ("layers", "sigmoid"): "a NumPy function; PyTorch has torch.sigmoid",
    ("layers", "BATCHNORM_DEFAULTS"): "the conventions' BatchNorm constants, defined once: "
                                      "torchref.layers reads npref's",
    ("layers", "BOOK_LOG_DELTA"): "the book's 1e-7 in log(y + 1e-7), defined once: "
                                  "torchref.layers reads npref's",
    ("init", "fans"): "shape arithmetic, defined once: torchref.init imports npref's (an "
                      "attribute there, not re-exported)",
    ("init", "std_of"): "shape arithmetic, defined once: torchref.init imports npref's (an "
                        "attribute there, not re-exported)",
}

#: (module, name) in torchref's __all__ but not in npref's, and why.
TORCHREF_ONLY = {
    ("optim", "BookAdam"): "the book's Adam has no torch.optim twin, so it is a class of its own; "
                           "in npref it is Adam(convention='book')",
    ("optim", "counterpart"): "the class computing a rule in PyTorch (torch.optim's, or "
                              "torchref's own where PyTorch has none): a question for torch",
    ("layers", "BookSoftmaxWithLoss"): "the book's log(y + 1e-7) loss as an nn.Module; in npref "
                                       "it is SoftmaxWithLoss(convention='book')",
    ("layers", "BookBatchNorm1d"): "the book's BatchNorm has no nn.BatchNorm1d setting; in npref "
                                   "it is BatchNorm(convention='book')",
    ("init", "init_linear_"): "fills an nn.Linear in place (npref's weights are plain arrays)",
    ("nets", "as_torch_dtype"): "NumPy dtypes and names to torch dtypes",
    ("regularizers", "from_npref"): "an npref regularizer's torchref twin (crossing backends)",
    ("training", "IndexBatchSampler"): "feeds npref's batches to a torch DataLoader",
}


def _modules(package) -> set[str]:
    return {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}


def _all(package, module: str) -> set[str]:
    return set(importlib.import_module(f"{package.__name__}.{module}").__all__)


TWINS = sorted(_modules(npref) & _modules(torchref))


def test_every_module_has_a_twin_or_a_reason():
    assert _modules(npref) - _modules(torchref) == set(NPREF_ONLY_MODULES)
    assert _modules(torchref) - _modules(npref) == set(TORCHREF_ONLY_MODULES)


@pytest.mark.parametrize("module", TWINS)
def test_twins_export_the_same_names_except_the_listed_ones(module):
    ours, theirs = _all(npref, module), _all(torchref, module)
    expected_npref_only = {name for mod, name in NPREF_ONLY if mod == module}
    expected_torchref_only = {name for mod, name in TORCHREF_ONLY if mod == module}
    assert ours - theirs == expected_npref_only, (
        f"npref.{module} exports names torchref.{module} lacks: mirror them in torchref, or list "
        f"them in NPREF_ONLY with the reason")
    assert theirs - ours == expected_torchref_only, (
        f"torchref.{module} exports names npref.{module} lacks: list them in TORCHREF_ONLY with "
        f"the reason")


@pytest.mark.parametrize("module", TWINS)
def test_every_exported_name_exists(module):
    for package in (npref, torchref):
        mod = importlib.import_module(f"{package.__name__}.{module}")
        assert [n for n in mod.__all__ if not hasattr(mod, n)] == []


def test_the_training_loop_is_one_loop():
    """torchref.training re-exports npref's backend-neutral objects, not copies of them."""
    import npref.training as np_training
    import torchref.training as torch_training

    for name in ("Schedule", "Data", "History", "fit", "dropout_masks", "Progress",
                 "watch_name", "SAMPLINGS", "BOOK_OPTIMIZERS"):
        assert getattr(torch_training, name) is getattr(np_training, name), name

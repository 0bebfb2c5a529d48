"""The rules a page shows side by side: the formula, the rule in NumPy as the book writes it, and
the lines of PyTorch (or torchref) that ran.

A :class:`Rule` is data an experiment declares (``Experiment.rules(config)``); its two panels are
made when a page is rendered, for the configuration that ran:

* NumPy: the book-notation form of :mod:`npref.textbook` (optimizers, initializers; proven
  bit-identical to npref's fast code by ``tests/test_textbook.py``), or npref's own code where that
  is already the rule as the book writes it (layers, penalties, early stopping) — its statements
  that ran in a tiny training run of the same configuration
  (:mod:`experiments.panels.code_that_ran`);
* PyTorch: the statements of PyTorch's own implementation that ran in the same tiny run, read
  from the installed torch — ``torch.optim``'s update function, ``torch.nn.init``'s
  initializer — or torchref's, where torchref has its own (BookAdam, BookBatchNorm1d, the
  dropout that takes npref's masks, the penalties).

The formulas and notes are made when a page is rendered, in its language (:mod:`experiments.i18n`):
the notation stays as written, the words around it are translated. The notes made of code (the
values an update was called with, the optimizer that computes a rule) are markup (``_h``: their
values escaped), so that a translation can set the code apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from experiments.i18n import N_, _, _h
from experiments.panels import code_that_ran as code

__all__ = ["Rule", "Panel", "optimizer", "initializer", "layer", "penalty", "early_stopping",
           "loss", "minibatches", "OPTIMIZER_FORMULAS"]


@dataclass(frozen=True)
class Panel:
    """One side of a rule: code blocks (title and text), and a note where the code cannot say
    everything (a C++ kernel)."""
    blocks: tuple
    note: str | None = None

    @property
    def lines(self) -> int:
        return sum(b.lines for b in self.blocks)


@dataclass(frozen=True)
class Rule:
    """``formula``: the rule in the book's notation; ``book``: where the book's convention
    differs (or None); ``numpy`` / ``torch``: ``() -> Panel``, made at render time."""
    formula: str
    numpy: object = field(repr=False)
    torch: object = field(repr=False)
    book: str | None = None


def formula(name: str, convention: str) -> str:
    """The rule in one line, in the current language, from its description
    (``npref.optim.RULES[name].formula``: words as a Phrase, translated by the catalogue)."""
    import npref.optim

    return _(npref.optim.RULES[name].formula_for(convention))


def __getattr__(attribute):
    if attribute == "OPTIMIZER_FORMULAS":      # each rule's formula per convention, in English
        import npref.optim

        return {(name, convention): rule.formula_for(convention)
                for name, rule in npref.optim.RULES.items()
                for convention in (rule.buffers if rule.has_conventions else ("torch",))}
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


# -- the tiny runs the panels are traced from -------------------------------------------------

_TINY = {"input_size": 6, "hidden_sizes": [5], "output_size": 3}


def _data(output_size: int):
    from npref.training import Data

    rng = np.random.default_rng(0)
    classes = 2 if output_size == 1 else output_size
    x, x_val = rng.standard_normal((8, 6)), rng.standard_normal((4, 6))
    t, t_val = rng.integers(0, classes, 8), rng.integers(0, classes, 4)
    # Validation labels unrelated to the training ones: its loss soon turns up.
    return Data(x, t, x_test=x[:4], t_test=t[:4], x_val=x_val, t_val=t_val)


def _tiny_run(backend: str, arch: dict, optimizer_name: str, hyper: dict, schedule=None,
              device: str = "cpu"):
    """``run()`` for a training run of four steps of the configuration, on tiny data, through
    the backend the experiments use: the same Python paths as the real run. Everything is
    imported and built before ``run`` is handed back (an import inside a trace can switch the
    tracer off)."""
    from experiments import backends
    from experiments.backends.variants import initial_params
    from npref.training import Schedule

    arch = {**arch, **{k: v for k, v in _TINY.items() if k != "output_size"}}
    if arch.get("output_size", 3) != 1:
        arch["output_size"] = 3
    schedule = schedule or Schedule(batch_size=4, iterations=4)
    side = backends.get(backend, device)
    init = initial_params(arch, 0, "float64")
    data = _data(arch["output_size"])
    return lambda: side.train(arch, init, optimizer_name, hyper, data, schedule,
                              dtype="float64", seed=1, label="rule")


#: Traces of the tiny runs, by their configuration (a report renders each page twice).
_TRACES: dict = {}


def _trace(backend, arch, optimizer_name="sgd", hyper=None, schedule=None, descent=None):
    """The trace of a tiny run of this configuration on ``backend`` (made once per process):
    four steps of a tiny net, or with ``descent`` (an objective and its start) three steps of
    the backend's ``descend`` on that function, as the optimizer-paths experiment runs."""
    hyper = hyper or {"lr": 0.1}
    key = repr((backend, sorted(arch.items()), optimizer_name, sorted(hyper.items()), schedule,
                descent))
    if key not in _TRACES:
        if descent is None:
            run = _tiny_run(backend, arch, optimizer_name, hyper, schedule)
        else:
            from experiments import backends

            side, (objective, start) = backends.get(backend, "cpu"), descent
            run = lambda: side.descend(objective, start, optimizer_name, hyper,  # noqa: E731
                                       3, "float64")
        run()                               # once untraced: every lazy import made
        _TRACES[key] = code.trace(run)
    return _TRACES[key]


def _trace_call(run):
    """The trace of ``run()``, run once untraced first (imports)."""
    run()
    return code.trace(run)


def _panel(fns, record, note=None, cls=None) -> Panel:
    blocks = []
    for fn in fns:
        blocks.extend(b for b in code.statements(fn, record, cls=cls)
                      if not any(b.fn is seen.fn for seen in blocks))
    return Panel(_without_no_ops(blocks), note)


def _without_no_ops(blocks) -> tuple:
    """The blocks without the helpers that did nothing (a warning check whose body ran only
    ``pass``), and without the bare calls to them."""
    idle = {b.title.rsplit(", ", 1)[-1].rsplit(".", 1)[-1] for b in blocks
            if b.code.strip() == "pass"}
    if not idle:
        return tuple(blocks)
    call = re.compile(rf"^\s*(?:self\.)?(?:{'|'.join(map(re.escape, idle))})\(.*\)\s*$")
    return tuple(code.Block(b.title, "\n".join(line for line in b.code.splitlines()
                                               if not call.match(line)), b.fn)
                 for b in blocks if b.code.strip() != "pass")


def _source_panel(fns, note=None) -> Panel:
    return Panel(tuple(code.Block(code.title_of(fn), code.source(fn), fn) for fn in fns), note)


# -- optimizers --------------------------------------------------------------------------------

def pytorch_has(name: str) -> bool:
    """Whether ``torch.optim`` has a class for rule ``name`` (else torchref has its own, Lion):
    asked of :func:`torchref.optim.counterpart`, the one place that knows."""
    import torchref.optim

    return torchref.optim.counterpart(name).__module__.startswith("torch.optim")


def _torch_update_functions(record) -> list:
    """The update functions of ``torch.optim`` that ran (``_single_tensor_adam`` on the CPU,
    ``_multi_tensor_adam`` where foreach was taken), and torchref's own ``step`` methods."""
    import sys

    import torchref.optim

    found = []
    for name, module in list(sys.modules.items()):
        if not (name.startswith("torch.optim.") or name == "torchref.optim"):
            continue
        for attr, fn in list(vars(module).items()):
            if (callable(fn) and getattr(fn, "__module__", None) == name
                    and re.match(r"_(single|multi)_tensor_|_fused_", attr) and record.ran(fn)):
                found.append(fn)
    for cls in torchref.optim.OWN.values():      # BookAdam, and the rules PyTorch lacks
        if record.ran(cls.step):
            found.append(cls.step)
    return found


def optimizer(name: str, hyper: dict, *, label: str | None = None, descent=None) -> Rule:
    """The rule of optimizer ``name`` (npref.optim's name) with keywords ``hyper`` (its
    convention among them, where it has one), as it ran in a tiny net's training — or, with
    ``descent=(objective, start)``, descending that function from that point (each coordinate
    a parameter of its own, as optimizer-paths runs it: a branch for matrices never runs)."""
    import npref.optim

    convention = hyper.get("convention", "torch")
    opt = npref.optim.make(name, **hyper)
    options = opt.options()              # PyTorch's options set: not the book's form any more
    textbook = None if options else type(opt).textbook.get(
        convention if opt.has_conventions else "torch")
    arch = {**_TINY, "activation": "relu", "weight_init": "he"}

    def numpy_panel():
        resolved = opt.hyperparameters()
        shown = {k: v for k, v in resolved.items()          # options only where set
                 if k != "convention" and (type(opt).hyper[k].option is None or k in options)}
        values = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        made = f"npref.optim.{type(opt).__name__}({values})"
        if textbook is None:        # a rule beyond chapter 6: its update, as it ran
            record = _trace("numpy", arch, name, hyper, descent=descent)
            if pytorch_has(name):
                note = _("{made}'s update of one parameter, in the order of operations of "
                         "PyTorch's single-tensor path (parity_tests/test_optim_more.py)",
                         made=made)
            else:
                note = _("{made}'s update of one parameter; PyTorch has no such optimizer, and "
                         "torchref.optim.{cls} computes the same (parity_tests/test_optim_more.py)",
                         made=made, cls=type(opt).torch_class)
            return _panel([type(opt)._step], record, cls=type(opt), note=note)
        return _source_panel([textbook[0]], note=_h("{made} computes this, bit for bit "
                                                    "(tests/test_textbook.py)", made=made))

    def torch_panel():
        record = _trace("torch", arch, name, hyper, descent=descent)
        fns = _torch_update_functions(record)
        return _panel(fns, record, note=_called_with(record, fns))

    title = formula(name, convention)
    if label:
        title = f"{label} — {title.split(': ', 1)[-1]}" if ": " in title else title
    note = type(opt).note if opt.has_conventions else None
    return Rule(title, numpy_panel, torch_panel, _(note) if note else note)


#: The arguments of PyTorch's update functions worth showing, when each took one value.
_SHOWN = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "beta1", "beta2", "eps",
          "alpha", "lr_decay", "maximize", "centered", "amsgrad", "rho", "lambd", "t0",
          "momentum_decay", "decoupled_weight_decay", "beta2_decay", "d", "eps1", "eps2",
          "etaminus", "etaplus", "step_size_min", "step_size_max")


def _called_with(record, fns) -> str | None:
    """The hyperparameters PyTorch's update function was called with, as numbers."""
    if not fns:
        return None
    flags = record.flags.get(getattr(fns[0], "__code__", None), {})
    shown = {k: next(iter(v)) for k, v in flags.items()
             if len(v) == 1 and k in _SHOWN}
    if not shown:
        return None
    return _h("called with {values}",
              values=", ".join(f"{k}={v!r}" for k, v in sorted(shown.items())))


# -- initializers -----------------------------------------------------------------------------

#: The book's spellings and npref's names of an initialization → npref.textbook' function name,
#: torchref.init's function, torch.nn.init's function.
_INITS = {"xavier": "lecun_normal", "sigmoid": "lecun_normal", "he": "he_normal",
          "relu": "he_normal"}


def initializer(spec, *, label: str, formula_text: str, book: str | None = None) -> Rule:
    """The rule of initialization ``spec`` (npref.init.get's spec: a std, or a name)."""
    from npref import textbook

    name = "normal" if isinstance(spec, (int, float)) else _INITS.get(spec, spec)

    def numpy_panel():
        if name in ("ones", "zeros"):
            return _source_panel([textbook.constant],
                                 note=_("npref.init.get({spec}) fills with {value:g}",
                                        spec=repr(spec), value=1.0 if name == "ones" else 0.0))
        return _source_panel([getattr(textbook, name)],
                             note=_("npref.init.{name} draws the same numbers, bit for bit "
                                    "(tests/test_textbook.py)", name=name))

    def torch_panel():
        import torch

        import torchref.init
        record = _trace_call(lambda: torchref.init.get(spec)((4, 3), np.random.default_rng(0)))
        fns = [fn for fn in vars(torch.nn.init).values()
               if callable(fn) and getattr(fn, "__module__", "") == "torch.nn.init"
               and fn.__name__.endswith("_") and not fn.__name__.startswith("_")
               and record.ran(fn)]
        return _panel(fns, record, note=_("torchref.init draws on a (fan_out, fan_in) tensor, "
                                          "nn.Linear's layout, and returns it transposed"))

    return Rule(f"{label}: {formula_text}", numpy_panel, torch_panel, book)


# -- layers, penalties, early stopping, the loss ----------------------------------------------

def layer(kind: str, arch: dict, *, formula_text: str, book: str | None = None,
          optimizer_name: str = "sgd", hyper=None) -> Rule:
    """The rule of a layer (``"batchnorm"`` or ``"dropout"``) of a network built from ``arch``:
    npref's and torchref's forward pass, the statements that ran in a tiny training run."""
    import npref.layers
    import torchref.layers

    numpy_fn = {"batchnorm": npref.layers.BatchNorm.forward,
                "dropout": npref.layers.Dropout.forward}[kind]
    convention = arch.get("convention", "torch")

    def numpy_panel():
        return _panel([numpy_fn], _trace("numpy", arch, optimizer_name, hyper))

    def torch_panel():
        import torch.nn.modules.batchnorm as bn
        record = _trace("torch", arch, optimizer_name, hyper)
        if kind == "dropout":
            return _panel([torchref.layers.Dropout.forward], record,
                          note=_("torchref's Dropout takes npref's keep-mask, so both backends "
                                 "drop the same units"))
        if convention == "book":
            return _panel([torchref.layers.BookBatchNorm1d.forward], record)
        return _panel([bn._BatchNorm.forward], record,
                      note=_("F.batch_norm is ATen's C++ kernel: x̂ = (x − μ_B)/√(σ²_B + eps), "
                             "y = γ·x̂ + β, running statistics with the unbiased σ²"))

    return Rule(formula_text, numpy_panel, torch_panel, book)


def penalty(name: str, *, formula_text: str, book: str | None = None) -> Rule:
    """The rule of an L1, L2 or elastic-net penalty: the loss term and its gradient."""
    import npref.regularizers
    import torchref.regularizers

    cls = npref.regularizers.REGULARIZERS[name]
    twin = torchref.regularizers.REGULARIZERS[name]
    return Rule(formula_text,
                lambda: _source_panel([cls.penalty, cls.grad],
                                      note=_("MultiLayerNet adds penalty(W1, W2, …) to the loss "
                                             "and grad(W) to each weight's gradient")),
                lambda: _source_panel([twin.penalty],
                                      note=_("autograd differentiates the penalty: its gradient "
                                             "is the grad(W) of the NumPy side")), book)


def _torch_step(record):
    """torchref.training.train's step on one batch, as it ran."""
    return record.code_named("torchref/training.py", "step")


def early_stopping(patience: int) -> Rule:
    """The rule of early stopping: npref's EarlyStopping.step as it ran in a run that stopped,
    and torchref's tensor copies."""
    import npref.training
    import torchref.training

    arch = {**_TINY, "output_size": 1, "activation": "sigmoid", "weight_init": "glorot_normal"}

    def schedule():
        from npref.training import Schedule
        # Tiny data with random labels: the validation loss soon turns up and the run stops.
        return Schedule(batch_size=4, epochs=300, early_stopping={"patience": patience})

    def numpy_panel():
        record = _trace("numpy", arch, "sgd", {"lr": 1.0}, schedule())
        return _panel([npref.training.EarlyStopping.step, npref.training.EarlyStopping.restore],
                      record)

    def torch_panel():
        record = _trace("torch", arch, "sgd", {"lr": 1.0}, schedule())
        return _panel([torchref.training.EarlyStopping._copy,
                       torchref.training.EarlyStopping.restore], record,
                      note=_("torchref.training.EarlyStopping is npref's, keeping tensors: the "
                             "step on the left decides for both backends"))

    return Rule(_("early stopping: stop once the validation loss has not improved for {patience} "
                  "epochs; restore the best epoch's parameters", patience=patience),
                numpy_panel, torch_panel)


def loss(convention: str) -> Rule:
    """The rule of softmax cross-entropy in ``convention``."""
    import npref.layers
    import torchref.layers

    arch = {**_TINY, "activation": "relu", "weight_init": "he", "convention": convention}

    def numpy_panel():
        return _panel([npref.layers.SoftmaxWithLoss.forward], _trace("numpy", arch))

    def torch_panel():
        import torch.nn
        record = _trace("torch", arch)
        if convention == "book":
            return _panel([torchref.layers._BookCrossEntropy.forward], record)
        return _panel([torch.nn.CrossEntropyLoss.forward], record,
                      note=_("F.cross_entropy is ATen's C++ kernel: nll_loss(log_softmax(x)), "
                             "the exact −(1/N)·Σ log softmax(x)_t"))

    text = (_("softmax cross-entropy: L = −(1/N)·Σ log(softmax(a)_t + 1e-7)")
            if convention == "book" else _("softmax cross-entropy: L = −(1/N)·Σ log softmax(a)_t"))
    return Rule(text, numpy_panel, torch_panel,
                _("the book adds 1e-7 inside the log; PyTorch computes the exact log-softmax "
                  "(see the conventions page)"))


def minibatches(batch_size: int) -> Rule:
    """The rule of minibatch gradient descent: one epoch's index batches, drawn once in NumPy,
    and the PyTorch step each batch gets."""
    import npref.training
    from npref.training import Schedule

    arch = {**_TINY, "output_size": 1, "activation": "sigmoid", "weight_init": "glorot_normal"}

    def numpy_panel():
        record = _trace_call(lambda: npref.training.minibatches(10, 4, np.random.default_rng(0)))
        return _panel([npref.training.minibatches], record,
                      note=_("both backends train on these index arrays (one loop, "
                             "npref.training.fit)"))

    def torch_panel():
        record = _trace("torch", arch, "sgd", {"lr": 0.1},
                        Schedule(batch_size=4, epochs=2, sampling="shuffle"))
        return _panel([_torch_step(record)], record,
                      note=_("torchref.training.train's step, run on each batch"))

    return Rule(_("minibatch gradient descent: each epoch a fresh permutation of the samples in "
                  "batches of {batch_size}, one step p ← p − lr·∇L_batch per batch",
                  batch_size=batch_size),
                numpy_panel, torch_panel)


# -- learning-rate schedules ---------------------------------------------------------------------

#: Each schedule's rule in one line (the chainable form both backends compute, epoch e).
_SCHEDULE_FORMULAS = {
    "StepLR": N_("StepLR: lr ← lr·γ every {step_size} epochs"),
    "MultiStepLR": N_("MultiStepLR: lr ← lr·γ at each milestone"),
    "ExponentialLR": N_("ExponentialLR: lr ← lr·γ every epoch"),
    "CosineAnnealingLR": "CosineAnnealingLR: lrₑ = η_min + (lr₀ − η_min)·(1 + cos(π·e/T))/2, "
                         "T = {T_max}",
    "ReduceLROnPlateau": N_("ReduceLROnPlateau: lr ← lr·{factor} once the validation loss has "
                            "not improved for {patience} epoch(s)"),
}
#: The methods that compute each schedule's rate, where ``get_lr`` is not it.
_SCHEDULE_METHODS = {"ReduceLROnPlateau": ("step",)}


def lr_schedule(spec, *, label: str) -> Rule:
    """The rule of a learning-rate schedule ``(name, keywords)``: npref.schedulers' class and
    ``torch.optim.lr_scheduler``'s, each as it ran in a tiny scheduled run."""
    import torch.optim.lr_scheduler as torch_schedulers

    import npref.schedulers
    from npref.training import Schedule

    name, keywords = spec
    arch = {**_TINY, "activation": "relu", "weight_init": "he"}
    schedule = Schedule(batch_size=4, epochs=6, lr_schedule=spec)
    methods = _SCHEDULE_METHODS.get(name, ("get_lr",))

    def numpy_panel():
        record = _trace("numpy", arch, "sgd", {"lr": 0.1}, schedule)
        return _panel([getattr(getattr(npref.schedulers, name), m) for m in methods], record,
                      note=_("npref.schedulers.{name}: the rates of PyTorch's class, bit for "
                             "bit (parity_tests/test_schedulers.py)", name=name))

    def torch_panel():
        record = _trace("torch", arch, "sgd", {"lr": 0.1}, schedule)
        return _panel([getattr(getattr(torch_schedulers, name), m) for m in methods], record,
                      note=_("torch.optim.lr_scheduler.{name}, PyTorch's own class, stepped by "
                             "torchref.training.train", name=name))

    template = _SCHEDULE_FORMULAS.get(name)
    text = (_("{name}: PyTorch's schedule", name=name) if template is None
            else _(template).format(**keywords))
    return Rule(f"{label} — {text.split(': ', 1)[1]}", numpy_panel, torch_panel)

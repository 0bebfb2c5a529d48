"""torchref: the concepts of :mod:`npref`, in PyTorch, on CPU or CUDA.

Same names and keywords as npref; PyTorch's own optimizers, initializers and layers wherever
PyTorch has the technique, and a small ``torch.optim.Optimizer`` / ``nn.Module`` of our own only
where the textbook's convention has no PyTorch equivalent.

Modules: :mod:`torchref.optim`, :mod:`torchref.layers`, :mod:`torchref.nets`,
:mod:`torchref.init`, :mod:`torchref.regularizers`, :mod:`torchref.training`,
:mod:`torchref.device`.
"""

__version__ = "0.1.0"

"""npref: the training techniques of "Deep Learning from Scratch", chapter 6, in NumPy alone.

Readable like the textbook and exact like a reference: every rule here is proven equal to its
PyTorch counterpart in :mod:`torchref` (and to ``torch.optim`` / ``torch.nn``) by the parity
suite. NumPy is the only dependency; nothing here imports torch.

Modules: :mod:`npref.optim` (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW),
:mod:`npref.layers` (Affine, ReLU, Sigmoid, Tanh, SoftmaxWithLoss, SigmoidWithLoss, BatchNorm,
Dropout), :mod:`npref.nets` (MultiLayerNet), :mod:`npref.init` (std, Xavier, He…),
:mod:`npref.regularizers` (L1, L2, ElasticNet), :mod:`npref.training` (EarlyStopping,
minibatches), :mod:`npref.gradcheck` (numerical gradients), :mod:`npref.testing` (the
comparison every parity figure uses), :mod:`npref.guard` (NaN/Inf stops).
"""

__version__ = "0.1.0"

r"""Training utilities for torch tensors, driven by npref's NumPy index arrays.

The minibatch order is drawn once, by :func:`npref.training.minibatches` /
:func:`npref.training.sample_batch` from a ``numpy.random.Generator``; here the same arrays become
index tensors on a device, or a ``torch.utils.data`` batch sampler for a ``DataLoader`` — so a
PyTorch run sees exactly the batches a NumPy run sees.
"""

from __future__ import annotations


import torch
from torch import nn
from torch.utils.data import Sampler

from npref import training as _np_training
from torchref.device import resolve

__all__ = ["EarlyStopping", "minibatches", "sample_batch", "IndexBatchSampler"]


class EarlyStopping(_np_training.EarlyStopping):
    """:class:`npref.training.EarlyStopping` keeping and restoring tensors.

    ``params`` may be a dict of tensors or an ``nn.Module`` (whose ``state_dict`` is kept).
    """

    def _copy(self, params):
        if isinstance(params, nn.Module):
            params = params.state_dict()
        return {key: value.detach().clone() for key, value in params.items()}

    @torch.no_grad()
    def restore(self, params) -> None:
        """Copy ``best_params`` back into a dict of tensors or an ``nn.Module``, in place."""
        if self.best_params is None:
            raise ValueError("no best parameters kept: pass params to step() with "
                             "restore_best=True")
        if isinstance(params, nn.Module):
            params.load_state_dict(self.best_params)
            return
        for key, value in self.best_params.items():
            params[key].copy_(value)


def minibatches(n, batch_size, rng, shuffle=True, drop_last=False, device="cpu"):
    """npref's index arrays for one epoch, as index tensors on ``device``."""
    device = resolve(device)
    return [torch.as_tensor(ix, device=device)
            for ix in _np_training.minibatches(n, batch_size, rng, shuffle, drop_last)]


def sample_batch(n, batch_size, rng, device="cpu"):
    """npref's sample with replacement (the book's ``np.random.choice``), as a tensor."""
    return torch.as_tensor(_np_training.sample_batch(n, batch_size, rng), device=resolve(device))


class IndexBatchSampler(Sampler):
    """A batch sampler for ``DataLoader(dataset, batch_sampler=...)`` yielding given batches.

    ``IndexBatchSampler(npref.training.minibatches(n, 32, rng))`` makes a DataLoader follow the
    NumPy run's order exactly.
    """

    def __init__(self, batches):
        self.batches = [list(map(int, b)) for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)

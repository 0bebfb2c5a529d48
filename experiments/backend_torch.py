"""The PyTorch side of :mod:`experiments.backends`, built on torchref (CPU or CUDA)."""

from __future__ import annotations

import numpy as np
import torch

import torchref.optim
from npref.guard import check_finite
from torchref.device import resolve


class TorchBackend:
    name = "torch"

    def __init__(self, device="auto"):
        self._device = resolve(device)
        self.device = str(self._device)

    def descend(self, objective, start, optimizer, hyper, steps, dtype):
        dtype = getattr(torch, dtype)
        params = {k: torch.tensor(v, dtype=dtype, device=self._device, requires_grad=True)
                  for k, v in start.items()}
        opt = torchref.optim.make(optimizer, params, **hyper)
        path = {k: [v.item()] for k, v in params.items()}
        for step in range(1, steps + 1):
            opt.zero_grad()
            objective.value(**params).backward()
            check_finite(f"{optimizer}: gradient", step, [p.grad.item() for p in params.values()])
            opt.step()
            values = {k: v.item() for k, v in params.items()}
            check_finite(f"{optimizer}: parameters", step, list(values.values()))
            for k, v in values.items():
                path[k].append(v)
        return {k: np.array(v) for k, v in path.items()}

"""The PyTorch side of :mod:`experiments.backends.protocol`, built on torchref (CPU or CUDA).

Every method runs under :func:`torchref.device.full_float32`: float32 matrix products in true
float32 (no TF32 on CUDA, no bf16 in oneDNN), whatever the process set, and the process's settings
restored after — the comparison with NumPy is of float32 against float32. On CUDA the backend's
``device`` (metrics.json's ``backends.torch.device``, shown on the report page) says so.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

import torchref.optim
import torchref.regularizers
import torchref.training
from experiments.backends.protocol import build_arch, hooks, nudge
from npref.guard import check_finite
from torchref.device import describe, full_float32, resolve
from torchref.nets import MultiLayerNet

#: Below this many weights a network trains faster on one PyTorch thread than on several.
SMALL_NET = 10_000


class TorchBackend:
    name = "torch"

    def __init__(self, device="auto", *, perturbation: int | None = None, only_parts=None,
                 shadow=None):
        self.perturbation, self.only_parts, self.shadow = hooks(perturbation, only_parts, shadow)
        self._device = resolve(device)
        self.device = describe(self._device)
        self._threads = torch.get_num_threads()
        # The first torch.optim optimizer a process builds imports torch._dynamo (1.4 s here):
        # imported with the backend, once per process, so that the first experiment timed does
        # not carry it (optimizer-paths took 1.6 s in a report, 0.16 s once PyTorch is loaded).
        importlib.import_module("torch._dynamo")

    def _threads_for(self, arch: dict) -> None:
        """PyTorch's intra-op threads on the CPU, chosen by the network's size: a breast-cancer
        net (321 parameters) runs an epoch in 1.2 ms on one thread and 3.4 ms on two, while an
        MNIST net (784-[100×4]-10, float64) trains 300 iterations of six optimizers in 16 s on
        one thread and 8 s on two."""
        if self._device.type != "cpu":
            return
        sizes = [arch["input_size"], *arch["hidden_sizes"], arch["output_size"]]
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        torch.set_num_threads(1 if weights < SMALL_NET else self._threads)

    @full_float32()
    def descend(self, objective, start, optimizer, hyper, steps, dtype):
        dtype = getattr(torch, dtype)
        params = {k: torch.tensor(v, dtype=dtype, device=self._device, requires_grad=True)
                  for k, v in start.items()}
        opt = torchref.optim.make(optimizer, params, **hyper)
        # Each step's point is kept as a tensor, read out once at the end (an .item() per
        # coordinate per step cost more than the step), and checked there: the first step
        # whose point is NaN or Inf is named.
        points = [torch.cat([p.detach().reshape(-1) for p in params.values()])]
        for _ in range(steps):
            opt.zero_grad()
            objective.value(**params).backward()
            opt.step()
            points.append(torch.cat([p.detach().reshape(-1) for p in params.values()]))
        path = torch.stack(points).cpu().numpy().astype(np.float64)
        finite = np.isfinite(path).all(axis=1)
        if not finite.all():
            step = int(np.argmin(finite))
            check_finite(f"{optimizer}: parameters", step, path[step])
        return {k: path[:, i].copy() for i, k in enumerate(params)}

    def _built(self, arch, init, optimizer, hyper, dtype):
        """The network from ``init`` (nudged where the run asks) and its optimizer, on the
        threads its size calls for."""
        self._threads_for(arch)
        net = MultiLayerNet(**build_arch(arch, torchref.regularizers),
                            dtype=getattr(torch, dtype), device=self._device)
        net.load_params(nudge(init, self.perturbation))
        return net, torchref.optim.make(optimizer, net.parameters(), **hyper)

    @full_float32()
    def train(self, arch, init, optimizer, hyper, data, schedule, *, dtype, seed, label=""):
        net, opt = self._built(arch, init, optimizer, hyper, dtype)
        follow = None if self.shadow is None else self.shadow.follow(label, net, opt)
        history = torchref.training.train(
            # The inputs are cast in NumPy first, as the NumPy side casts them.
            net, opt, data.cast(dtype), schedule, rng=np.random.default_rng(seed),
            label=f"{label} torch", after_step=follow)
        if follow is not None:
            self.shadow.follow_end(label)
        return history, net.numpy_params()

    @full_float32()
    @torch.no_grad()
    def activations(self, x, weights, activation, dtype):
        dtype = getattr(torch, dtype)
        act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
        a, out = torch.as_tensor(x, device=self._device).to(dtype), []
        for W in weights:
            a = act(a @ torch.as_tensor(W, device=self._device).to(dtype))
            out.append(a.cpu().numpy())
        return out

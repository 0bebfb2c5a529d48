"""One contiguous buffer holding many arrays, and how an optimizer recognises it.

The network keeps all its parameters in one 1-D buffer, each parameter a view of its slice (and
gives its gradients the same layout in a buffer of their own). An element-wise update rule then
runs once over the whole buffer — a dozen NumPy operations per step instead of a dozen per array —
and each element is computed by the same operations in the same order as in the per-array loop,
so it rounds the same way. Nothing here is needed to read the algorithms: it is plumbing.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["views", "Views", "Layout"]


class Views(dict):
    """The dict :func:`views` returns: ``{key: view}``, and what it was made of — the ``buffer``,
    the ``keys`` and ``shapes`` in order, and the views themselves (``arrays``) — so that a
    :class:`Layout` recognises it by identity, a few pointer comparisons, instead of measuring
    every view again at every step. Otherwise a plain dict."""

    buffer: np.ndarray
    keys_: tuple
    shapes: tuple
    arrays: tuple


def views(buffer: np.ndarray, shapes: dict) -> Views:
    """``{key: view}``: consecutive slices of the 1-D ``buffer`` reshaped to ``shapes[key]``, in
    the dict's order (the buffer must have exactly the total size)."""
    out, start = Views(), 0
    for key, shape in shapes.items():
        size = math.prod(shape)
        out[key] = buffer[start:start + size].reshape(shape)
        start += size
    if start != buffer.size:
        raise ValueError(f"buffer of {buffer.size} elements for {start} elements of views")
    out.buffer, out.keys_ = buffer, tuple(out)
    out.shapes, out.arrays = tuple(a.shape for a in out.values()), tuple(out.values())
    return out


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _tiling(arrays, base) -> tuple[int, ...] | None:
    """The element offsets of ``arrays`` in ``base`` if they are C-contiguous views that cover
    the 1-D, contiguous ``base`` exactly, one after another in the given order; else None."""
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start, offsets, origin = 0, [], _address(base)
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous or a.dtype != base.dtype:
            return None
        if (_address(a) - origin) != start * base.itemsize:
            return None
        offsets.append(start)
        start += a.size
    return tuple(offsets) if start == base.size else None


class Layout:
    """An optimizer's memory of one flat parameter buffer: recognises ``(params, grads)`` whose
    arrays tile one buffer each, at the same offsets, and keeps the optimizer's state buffers as
    views of flat buffers of their own (so ``state[key][name]`` stays a per-parameter array)."""

    def __init__(self, params, base: np.ndarray, offsets):
        self.keys = tuple(params)
        self.arrays = tuple(params.values())       # held: identity stays meaningful
        self.shapes = tuple(a.shape for a in self.arrays)
        self.base, self.offsets = base, offsets
        self.state_views: dict[str, dict[str, np.ndarray]] = {}   # name -> key -> view
        self.state_flat: dict[str, np.ndarray] = {}
        self.work = None

    @classmethod
    def of(cls, params) -> Layout | None:
        """The layout of ``params`` if they tile one writeable buffer, else None."""
        arrays = tuple(params.values())
        if not arrays or arrays[0].base is None or not arrays[0].base.flags.writeable:
            return None
        offsets = _tiling(arrays, arrays[0].base)
        return None if offsets is None else cls(params, arrays[0].base, offsets)

    def holds(self, params) -> bool:
        """Whether ``params`` are this layout's very arrays, in its order."""
        if len(params) != len(self.arrays) or tuple(params) != self.keys:
            return False
        return all(a is b for a, b in zip(params.values(), self.arrays))

    def ready(self, params, grads, state, names) -> int | None:
        """The parameters' common step count when this is a step like the last: ``params`` this
        layout's very arrays, ``grads`` a :class:`Views` with its keys and shapes, its views
        untouched, every array still of its shape and dtype, every parameter writeable, and the
        optimizer's state still these buffers — all told by identity and a few attributes, no view
        measured. None as soon as anything differs (the caller then checks everything)."""
        if (not isinstance(grads, Views) or grads.keys_ != self.keys or grads.shapes != self.shapes
                or len(grads) != len(self.keys) or grads.buffer.dtype != self.base.dtype
                or not self.base.flags.writeable or not self.holds(params)):
            return None
        dtype, buffer = self.base.dtype, grads.buffer
        for key, p, g, shape in zip(self.keys, self.arrays, grads.arrays, self.shapes):
            if (grads[key] is not g or g.base is not buffer or p.shape != shape
                    or g.shape != shape or p.dtype != dtype or g.dtype != dtype
                    or not p.flags.writeable):
                return None
        return self._own_step(state, names)

    def _own_step(self, state, names) -> int | None:
        """The common step count when every parameter's state is still this layout's views."""
        entries = [state.get(key) for key in self.keys]
        if any(entry is None for entry in entries):
            return None
        for name in names:
            own = self.state_views.get(name)
            if own is None or any(entry.get(name) is not own[key]
                                  for key, entry in zip(self.keys, entries)):
                return None
        steps = {entry["step"] for entry in entries}
        return steps.pop() if len(steps) == 1 else None

    def grads_base(self, grads) -> np.ndarray | None:
        """The 1-D buffer ``grads`` tile at the parameters' offsets, or None."""
        arrays = tuple(grads[key] for key in self.keys)
        base = arrays[0].base
        if base is None or base.shape != self.base.shape or base.dtype != self.base.dtype:
            return None
        return base if _tiling(arrays, base) == self.offsets else None

    def adopt_state(self, state: dict, names) -> int | None:
        """The common step count of the parameters' states, their buffers made views of flat
        buffers (values copied where they were separate arrays); None when the parameters cannot
        share one step (different counts, or state for some of them only)."""
        step = self._own_step(state, names)
        if step is not None:
            return step
        entries = [state.get(key) for key in self.keys]
        if all(entry is None for entry in entries):
            step = 0
        elif any(entry is None for entry in entries):
            return None
        else:
            steps = {entry["step"] for entry in entries}
            if len(steps) != 1:
                return None
            step = steps.pop()
        shapes = {key: a.shape for key, a in zip(self.keys, self.arrays)}
        for name in names:
            flat = np.zeros_like(self.base)
            views_ = views(flat, shapes)
            for key, entry in zip(self.keys, entries):
                if entry is not None:
                    views_[key][...] = entry[name]          # a copy: the same values
            self.state_flat[name], self.state_views[name] = flat, views_
        for key, entry in zip(self.keys, entries):
            if entry is None:
                entry = state[key] = {"step": step}
            for name in names:
                entry[name] = self.state_views[name][key]
        return step

    def scratch(self) -> tuple[np.ndarray, np.ndarray]:
        if self.work is None:
            self.work = (np.empty_like(self.base), np.empty_like(self.base))
        return self.work

"""Proving two implementations equal: the comparison the whole project uses, made public.

Everything the parity suite uses to prove npref and torchref equal, for proving your own port
(NumPy to PyTorch, or back) exact. NumPy alone: importable without torch, and torch tensors on
any device are accepted wherever arrays are.

* :func:`compare` / :func:`assert_close` — two (nested) results element by element, relative to a
  floor; ``tol=None`` is the dtype's tolerance (:func:`tolerance_for`: 1e-12 float64, 1e-5
  float32). The result says where they differ most, and by how much.
* :func:`lockstep` — two runs side by side, one step at a time: ``None``, or the first
  :class:`Divergence` in dataflow order (step, array, element, both values, the values one
  step earlier, every other parted array, and hints of the known convention differences the
  numbers fit). With a one-ulp :func:`nudge`\\ d third run it tells a bug from a chaotic
  problem; :func:`trace` keeps every step, and draws them as a heatmap.
* :func:`record` — what every layer of a torch ``nn.Module`` or a NumPy model (the book's
  ``layers``) computes, forward and backward, in dataflow order and under names and layouts
  both sides of a port share; :func:`draws` captures what code draws from ``np.random``.
* :mod:`npref.testing.strategies` — hypothesis strategies for arrays with edge magnitudes, dtypes
  and hyperparameters over their valid ranges (needs ``pip install hypothesis``; imported on its
  own: ``from npref.testing import strategies``).
* :func:`layer_floors` — a network parameter's floor: the largest magnitude in its layer.

Example — a NumPy port of a step against PyTorch's, tensors compared as they are::

    from npref.testing import lockstep
    divergence = lockstep(numpy_step, torch_step, steps=100, names=("numpy", "torch"))
    assert divergence is None, divergence
"""

from npref.testing.comparison import (TOLERANCE, Comparison, assert_close, compare,
                                      default_tolerance, layer_floors, tolerance_for)
from npref.testing.lockstep import (SENSITIVITY_FACTOR, Divergence, Trace, group, lockstep,
                                    nudge, trace)
from npref.testing.recorder import Recorder, draws, record

__all__ = ["TOLERANCE", "Comparison", "compare", "assert_close", "default_tolerance",
           "tolerance_for", "layer_floors", "lockstep", "trace", "Trace", "Divergence", "nudge",
           "group", "SENSITIVITY_FACTOR", "record", "Recorder", "draws"]

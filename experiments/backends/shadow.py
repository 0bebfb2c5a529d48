"""Shadowed parity: PyTorch stepped from NumPy's state, one iteration at a time.

A whole training run compares two trajectories that each round differently at every step. Where
the problem amplifies rounding (an L1 subgradient flipping sign, BatchNorm at tiny weight scales,
Adam scaling a gradient that is rounding noise by lr/eps), the two trajectories part however
correct both implementations are — and how far they part by the end depends on which BLAS kernel
and how many threads did the rounding. A whole-run difference cannot tell such chaos from a bug.

The shadow can. NumPy trains the part again (the *leader*, in a worker thread); PyTorch trains it
beside it (the *follower*) and, after every iteration, is compared with NumPy and then given
NumPy's state — parameters, BatchNorm's running statistics, the optimizer's buffers and step
count. So every PyTorch iteration starts from exactly the state NumPy's iteration started from,
on the same batch and dropout masks, and the comparison measures one iteration's rounding — the
difference between the two *implementations*, not between two chaotic trajectories:

- a correct port agrees to the one-computation tolerance (float64 1e-12, float32 1e-5) at every
  iteration, whatever BLAS kernel, CPU or thread count rounds it: one step cannot amplify a
  rounding difference the way thousands can;
- a bug (a wrong eps, the other convention, a wrong layer) changes the very first iteration it
  touches, and is named there: the iteration and the array.

Judged at each iteration: the batch loss (against the largest loss so far), every parameter but
the *inert* ones (against its layer's largest magnitude, :func:`npref.testing.layer_floors`; the bias of an Affine that BatchNorm
follows has a gradient that is zero in exact arithmetic — see
:meth:`npref.nets.MultiLayerNet.inert_params` — and is loaded from NumPy each step, not judged),
and BatchNorm's running statistics (each against its own largest magnitude).
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from npref.guard import NonFiniteError
from npref.testing import layer_floors

#: How long one side waits for the other before it looks again whether the other has gone.
_POLL = 0.1


class Cancelled(Exception):
    """The follower has gone (finished, or failed): the leader stops where it is."""


class Shadow:
    """The channel between one leader (NumPy) and one follower (PyTorch) run of the same parts,
    and what the follower measured: :attr:`records`, ``{label: record}`` per training run.

    A record: ``steps`` (iterations compared), ``max_rel_diff`` (the largest relative
    difference over all of them), ``step`` and ``where`` (where it was), ``first_over`` (the
    first iteration beyond ``tol``: ``{"step", "where", "rel_diff"}``, or None), ``tol`` and
    ``problem`` (why the runs could not be compared to the end, or None).
    """

    def __init__(self, tol: float):
        self.tol = tol
        self.records: dict[str, dict] = {}
        self._items: queue.Queue = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._leader_done = threading.Event()
        self.leader_error: BaseException | None = None

    # -- the leader (NumPy, in the worker thread) -------------------------------------------------

    def run_leader(self, compute) -> None:
        """Run ``compute()`` (the NumPy side of the parts) and close the channel after it."""
        try:
            compute()
        except Cancelled:
            pass
        except BaseException as error:      # handed to the follower's side as a problem
            self.leader_error = error
        finally:
            self._leader_done.set()

    def lead(self, label: str, net, optimizer):
        """The leader's ``after_step``: NumPy's state after each iteration, handed over."""
        buffers = {b.name: b for b in optimizer.state_buffers}

        def after_step(done, loss):
            state = {}
            for key, entries in optimizer.state.items():
                state[key] = {}
                for name, value in entries.items():
                    b = buffers.get(name)
                    factor = b.scale(optimizer) if b is not None and b.scale else 1.0
                    torch_name = b.torch_name if b is not None else name
                    state[key][torch_name] = (value if name == "step" else
                                              np.array(value, copy=True) * factor
                                              if factor != 1.0 else np.array(value, copy=True))
            self._put(("step", label, done, float(loss),
                       {k: v.copy() for k, v in net.params.items()}, net.running_stats(), state,
                       tuple(net.inert_params())))
        return after_step

    def lead_end(self, label: str, history) -> None:
        self._put(("end", label, len(history.loss)))

    def _put(self, item) -> None:
        while not self._closed.is_set():
            try:
                self._items.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise Cancelled

    # -- the follower (PyTorch, in the caller's thread) -------------------------------------------

    def _get(self):
        while True:
            try:
                return self._items.get(timeout=_POLL)
            except queue.Empty:
                if self._leader_done.is_set() and self._items.empty():
                    why = (f"NumPy's run stopped: {self.leader_error}" if self.leader_error
                           else "NumPy's run ended")
                    return ("gone", why)

    def follow(self, label: str, net, optimizer):
        """The follower's ``after_step``: compare PyTorch's state after the iteration with
        NumPy's, then load NumPy's state into the network and the optimizer."""
        import torch

        record = self.records[label] = {"steps": 0, "max_rel_diff": 0.0, "step": None,
                                        "where": None, "first_over": None, "tol": self.tol,
                                        "problem": None}
        peak_loss = [0.0]

        def after_step(done, loss):
            if record["problem"] is not None:
                return
            item = self._get()
            if item[0] != "step" or item[1] != label or item[2] != done:
                record["problem"] = _mismatch(item, label, done)
                return
            _, _, _, np_loss, params, running, state, inert = item
            peak_loss[0] = max(peak_loss[0], abs(np_loss))
            diffs = [("loss", abs(float(loss) - np_loss) / max(peak_loss[0], 1e-300))]
            mine = net.numpy_params()
            floors = layer_floors({k: v for k, v in params.items() if k not in inert})
            for key, floor in floors.items():
                diffs.append((key, _rel(mine[key], params[key], floor)))
            for key, value in net.running_stats().items():
                ref = running[key]
                diffs.append((key, _rel(value.cpu().numpy(), ref,
                                        float(np.max(np.abs(ref), initial=0.0)))))
            worst_key, worst = max(diffs, key=lambda kv: kv[1])
            record["steps"] = done
            if not worst <= record["max_rel_diff"]:        # NaN counts as the worst
                record.update(max_rel_diff=worst, step=done, where=worst_key)
            if record["first_over"] is None and not worst <= self.tol:
                record["first_over"] = {"step": done, "where": worst_key, "rel_diff": worst}
            with torch.no_grad():
                net.load_params(params)
                if running:
                    net.load_running_stats(running)
                _load_optimizer_state(optimizer, net, state)
        return after_step

    def follow_end(self, label: str) -> None:
        record = self.records[label]
        if record["problem"] is not None:
            return
        item = self._get()
        if item[0] != "end" or item[1] != label:
            record["problem"] = _mismatch(item, label, None)

    def close(self) -> None:
        self._closed.set()


def _mismatch(item, label, done) -> str:
    if item[0] == "gone":
        return item[1]
    if item[0] == "end":
        return (f"NumPy's run {item[1]!r} ended after {item[2]} iterations, PyTorch's "
                f"{label!r} went on" + ("" if done is None else f" to iteration {done}"))
    if done is None:
        return f"PyTorch's run {label!r} ended, NumPy's {item[1]!r} went on to {item[2]}"
    return (f"the runs parted: PyTorch at {label!r} iteration {done}, NumPy at {item[1]!r} "
            f"iteration {item[2]}")


def _rel(a, b, floor: float) -> float:
    """The largest |a − b| over ``floor`` (an array exactly zero on both sides: 0)."""
    diff = float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b), initial=0.0))
    if diff == 0.0:
        return 0.0
    return diff / floor if floor > 0 else float("inf")


def _load_optimizer_state(optimizer, net, state: dict) -> None:
    """NumPy's optimizer state (already in PyTorch's names and scale) into ``optimizer``, in
    place: each buffer copied into PyTorch's tensor, the step count likewise. PyTorch keys its
    state by the ``nn.Parameter``, whose weight is the transpose of npref's ``W``."""
    import torch

    named = net._named()
    for key, entries in state.items():
        p = named[key]
        target = optimizer.state[p]
        for name, value in entries.items():
            if key.startswith("W") and np.ndim(value) == 2:
                value = np.ascontiguousarray(np.asarray(value).T)
            old = target.get(name)
            if isinstance(old, torch.Tensor):
                if old.dim() == 0:
                    old.fill_(float(value))
                else:
                    old.copy_(torch.as_tensor(value))
            elif old is None and name == "step":
                continue                        # a rule PyTorch keeps no state for (SGD)
            elif name == "step" or np.ndim(value) == 0:
                target[name] = type(old)(value) if old is not None else value
            else:
                target[name] = torch.as_tensor(value).to(device=p.device, dtype=p.dtype).clone()


def run_shadowed(compute, parts, tol: float, device: str = "auto") -> dict:
    """Train ``parts`` (None: all) on NumPy and, in step with it, on PyTorch from NumPy's state
    after every iteration; returns :attr:`Shadow.records`, ``{training run label: record}``.

    ``compute(backend)`` is the experiment's computation for one backend (the runner's). NumPy
    runs in a worker thread, PyTorch in this one; one iteration's state at a time is in flight.
    """
    from experiments import backends

    shadow = Shadow(tol)
    leader = backends.get("numpy", only_parts=parts, shadow=shadow)
    follower = backends.get("torch", device, only_parts=parts, shadow=shadow)
    thread = threading.Thread(target=shadow.run_leader, args=(lambda: compute(leader),),
                              name="shadow-numpy", daemon=True)
    thread.start()
    try:
        compute(follower)
    except NonFiniteError as error:
        # PyTorch met a NaN or Inf from a state NumPy went on from: that part failed there.
        open_records = [r for r in shadow.records.values() if r["problem"] is None]
        if not open_records:
            raise
        open_records[-1]["problem"] = f"PyTorch's run stopped: {error}"
    finally:
        shadow.close()
        thread.join()
    return shadow.records

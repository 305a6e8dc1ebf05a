"""How much memory the tensors of a call take: ``peak_tensor_memory``.

A ``TorchDispatchMode`` sees every tensor that a torch op creates while it is
active. It adds up the bytes of their storages and drops each storage once its
last tensor is freed, so the running total peaks where the call held the most
tensor memory. Chapter 05 uses it to show that hand-written attention stores an
(n, n) score matrix and PyTorch's fused kernel does not.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["peak_tensor_memory"]


class _TensorMemoryMeter(TorchDispatchMode):
    """Counts the bytes of the storages that torch ops create while it is active."""

    def __init__(self):
        super().__init__()
        self.live = {}  # storage data_ptr -> [bytes, tensors referring to it]
        self.current = 0
        self.peak = 0

    def _release(self, ptr):
        entry = self.live.get(ptr)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.current -= entry[0]
                del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, tuple | list) else (out,)
        for t in outs:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr == 0:
                continue
            if ptr in self.live:
                self.live[ptr][1] += 1
            else:
                self.live[ptr] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, ptr)
        return out


def peak_tensor_memory(fn: Callable[[], object]) -> tuple[object, int]:
    """Run ``fn()``; return (its result, the peak bytes of tensors created during the call).

    Inputs that exist before the call are not counted, but a view of one made during the
    call is, at its whole storage's size (the meter cannot tell that the storage is old).
    Buffers a fused kernel uses internally are not tensors and are not counted either
    (they are small blocks).
    The count comes from the tensors themselves, so it works the same on any device.
    It does not ask the CUDA caching allocator: ``torch.cuda.max_memory_allocated``
    (after ``torch.cuda.reset_peak_memory_stats``) gives the allocator's view, which also
    counts workspaces and rounds allocations up to its block sizes.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    meter = _TensorMemoryMeter()
    with meter:
        result = fn()
    return result, meter.peak

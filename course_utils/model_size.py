"""Counting parameters: of a built model, or of a config built on the ``meta`` device.

A config object counts when it has a ``build()`` method returning an
``nn.Module``. Building under ``torch.device("meta")`` allocates no memory, so
even a 175B-parameter configuration counts in a second.
"""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model_or_config, trainable_only: bool = False) -> int:
    """Total number of parameters, each shared (tied) tensor counted once."""
    if isinstance(model_or_config, nn.Module):
        model = model_or_config
    elif hasattr(model_or_config, "build") and callable(model_or_config.build):
        with torch.device("meta"):
            model = model_or_config.build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"{type(model_or_config).__name__}.build() returned "
                            f"{type(model).__name__}, expected an nn.Module")
    else:
        raise TypeError(f"count_parameters expects an nn.Module or a config with a build() method, "
                        f"got {type(model_or_config).__name__}")
    seen: set[int] = set()
    total = 0
    for p in model.parameters():  # parameters() already yields a tied tensor once
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total

"""``--trainer.sync_batchnorm true`` on CPU processes.

Lightning's flag converts every batch norm to ``torch.nn.SyncBatchNorm``, whose kernels run on GPUs only: a DDP
run of CPU processes fails at its first step ("SyncBatchNorm expected input tensor to be on GPU"). No
maintained library synchronises batch norm across CPU processes, so this module does it by hand, for the CPU
case only (a GPU run keeps torch's): the batch statistics are summed over all processes, and so are their
gradients (``SummedOverProcesses``), so that, with DDP averaging the weights' gradients, the processes compute
exactly what one process with their summed batch would (tests/test_ddp_exact.py checks it in float64).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.plugins.layer_sync import LayerSync, TorchSyncBatchNorm
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class SummedOverProcesses(torch.autograd.Function):
    """The sum of a tensor over all processes; its gradient is the sum of the processes' gradients (each
    process's loss depends on every process's share of the statistics). torch's own differentiable
    ``torch.distributed.nn.functional.all_reduce`` is deprecated in favour of functional collectives that
    do not differentiate."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        summed = tensor.clone()
        torch.distributed.all_reduce(summed)
        return summed

    @staticmethod
    def backward(ctx: Any, gradient: Tensor) -> Tensor:
        summed = gradient.clone()
        torch.distributed.all_reduce(summed)
        return summed


def all_reduce(tensor: Tensor) -> Tensor:
    return SummedOverProcesses.apply(tensor)  # type: ignore[no-any-return]


class AcrossProcesses(_BatchNorm):
    """Batch norm over the batches of all processes together while training in a distributed run; plain batch
    norm otherwise (evaluation, one process). Its parameters and buffers are those of the layer it replaces."""

    def forward(self, input: Tensor) -> Tensor:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if not self.training or not distributed or torch.distributed.get_world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        # statistics in float32 at least (under bf16 autocast too), as torch's batch norm kernels keep them
        x = input.to(torch.promote_types(input.dtype, torch.float32))
        count = torch.full((1,), x.numel() // x.shape[1], dtype=x.dtype, device=x.device)
        sums = all_reduce(torch.cat([x.sum(dims), count]))  # summed over processes, gradient included
        n = sums[-1]
        if n < 2:
            raise ValueError(f"batch norm needs more than 1 value per channel over all processes, got {int(n)}")
        mean = sums[:-1] / n
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / n  # the biased variance normalises, as in batch norm
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                assert self.num_batches_tracked is not None
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
                unbiased = var.detach() * n / (n - 1)  # the unbiased variance is tracked
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        output = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output.to(input.dtype)


class AcrossProcesses1d(AcrossProcesses, nn.BatchNorm1d):
    pass


class AcrossProcesses2d(AcrossProcesses, nn.BatchNorm2d):
    pass


class AcrossProcesses3d(AcrossProcesses, nn.BatchNorm3d):
    pass


SYNCHRONISED: dict[type[nn.Module], type[nn.Module]] = {
    nn.BatchNorm1d: AcrossProcesses1d,
    nn.BatchNorm2d: AcrossProcesses2d,
    nn.BatchNorm3d: AcrossProcesses3d,
}


class CPUSyncBatchNorm(LayerSync):
    """Lightning's layer-sync plugin for CPU processes: each batch norm layer changes class in place, so the
    optimisers, the EMA copy and the checkpoint keys see the very same parameters and buffers."""

    def apply(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            synchronised = SYNCHRONISED.get(type(module))
            if synchronised is not None:
                module.__class__ = synchronised
        return model

    def revert(self, model: nn.Module) -> nn.Module:
        plain = {synchronised: original for original, synchronised in SYNCHRONISED.items()}
        for module in model.modules():
            original = plain.get(type(module))
            if original is not None:
                module.__class__ = original
        return model


def sync_batchnorm_on_cpu(strategy: object) -> bool:
    """Replace Lightning's ``TorchSyncBatchNorm`` by ``CPUSyncBatchNorm`` for a run on CPUs; before the strategy's
    setup, which applies it. True if it was replaced."""
    layer_sync = getattr(strategy, "_layer_sync", None)
    root_device = getattr(strategy, "root_device", None)
    if isinstance(layer_sync, TorchSyncBatchNorm) and root_device is not None and root_device.type == "cpu":
        strategy._layer_sync = CPUSyncBatchNorm()  # type: ignore[attr-defined]
        return True
    return False

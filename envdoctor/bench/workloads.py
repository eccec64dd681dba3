"""The reference workloads, built on the device with synthetic data. Imported only inside a cell's process."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Workload:
    model: nn.Module
    inputs: torch.Tensor
    targets: torch.Tensor
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    samples_per_step: int
    tokens_per_step: int  # 0 where tokens mean nothing


class Block(nn.Module):
    """A pre-norm decoder block: causal self-attention through scaled_dot_product_attention, then a 4x MLP."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(width, dim=2)
        q, k, v = (t.view(batch, seq, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        attention = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attention.transpose(1, 2).reshape(batch, seq, width))
        return x + self.mlp(self.ln2(x))


class Decoder(nn.Module):
    def __init__(self, vocab: int, seq: int, d_model: int, heads: int, layers: int) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(seq, d_model)
        self.blocks = nn.Sequential(*(Block(d_model, heads) for _ in range(layers)))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.head(self.ln(self.blocks(self.token(tokens) + self.position(positions))))


def _token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def build(name: str, sizes: dict[str, int], device: torch.device, generator: torch.Generator) -> Workload:
    batch = sizes["batch"]

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device)

    def labels(high: int, *shape: int) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=generator).to(device)

    if name == "mlp":  # the MNIST-shaped classifier of the PyTorch tutorials
        model: nn.Module = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                         nn.Linear(256, 10))
        return Workload(model.to(device), randn(batch, 1, 28, 28), labels(10, batch), F.cross_entropy, batch, 0)
    if name == "cnn":
        import torchvision

        model = torchvision.models.resnet18(num_classes=10).to(device)
        inputs = randn(batch, 3, sizes["image"], sizes["image"])
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return Workload(model, inputs, labels(10, batch), F.cross_entropy, batch, 0)
    if name == "transformer":
        seq = sizes["seq"]
        model = Decoder(sizes["vocab"], seq, sizes["d_model"], sizes["heads"], sizes["layers"]).to(device)
        tokens = labels(sizes["vocab"], batch, seq + 1)
        return Workload(model, tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous(), _token_loss, batch,
                        batch * seq)
    raise ValueError(f"unknown workload {name}")


def optimizer(model: nn.Module, device: torch.device) -> Any:
    """AdamW, fused on CUDA."""
    return torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")


def grad_scaler(device: torch.device, wanted: bool) -> Any:
    """The GradScaler float16 needs (the plan decides); None where no loss scaling is used. It starts at 2**10,
    not torch's 2**16: a scale that overflows skips the step, and the first steps are the ones the correctness
    guard compares."""
    return torch.amp.GradScaler(device.type, init_scale=2.0**10) if wanted else None


def _autocast(device: torch.device, amp_dtype: Optional[torch.dtype]) -> Any:
    return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()


def training_step(model: Any, work: Workload, opt: Any, device: torch.device,
                  amp_dtype: Optional[torch.dtype] = None, scaler: Any = None,
                  on_grads: Optional[Callable[[], None]] = None) -> Callable[[], torch.Tensor]:
    """One optimizer step, as every bench measures it: forward (under autocast with `amp_dtype`), loss, backward
    (scaled by a GradScaler when given), update. It returns the loss detached and never synchronises. `on_grads`
    is called between backward and the update, with the gradients unscaled (the correctness guard reads them)."""

    def step() -> torch.Tensor:
        with _autocast(device, amp_dtype):
            loss = work.loss(model(work.inputs), work.targets)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if on_grads is not None:
                scaler.unscale_(opt)
                on_grads()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            if on_grads is not None:
                on_grads()
            opt.step()
        return loss.detach()

    return step


def count_flops(work: Workload, device: torch.device, amp_dtype: Optional[torch.dtype] = None) -> int:
    """FLOPs of one eager forward and backward (FlopCounterMode: matmuls, convolutions, attention; 2 per
    multiply-add). Gradients it leaves behind are for the caller to clear."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        with _autocast(device, amp_dtype):
            loss = work.loss(work.model(work.inputs), work.targets)
        loss.backward()
    return int(counter.get_total_flops())


@dataclass
class Trajectory:
    """The first steps of a training run: each step's loss, the first step's gradients and how long it took."""

    losses: list[float]
    grads: list[torch.Tensor]  # float32, on the CPU, one per parameter, unscaled
    first_step_s: float  # for a compiled model, compilation included


def trajectory(model: Any, work: Workload, opt: Any, device: torch.device, steps: int,
               amp_dtype: Optional[torch.dtype] = None, scaler: Any = None) -> Trajectory:
    """Train `steps` steps on the workload's fixed data, reading every loss (a sync per step: this is not timed)."""
    grads: list[torch.Tensor] = []

    def keep() -> None:
        grads.extend(torch.zeros(p.shape) if p.grad is None else p.grad.detach().float().cpu()
                     for p in work.model.parameters())

    first = training_step(model, work, opt, device, amp_dtype, scaler, on_grads=keep)
    start = time.perf_counter()
    losses = [float(first().item())]
    first_step_s = time.perf_counter() - start
    step = training_step(model, work, opt, device, amp_dtype, scaler)
    losses += [float(step().item()) for _ in range(steps - 1)]
    return Trajectory(losses, grads, first_step_s)


def gradient_error(grads: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """||g - g_ref|| / ||g_ref|| over every parameter together; inf where `grads` are not finite."""
    difference = sum(float((g - r).pow(2).sum()) for g, r in zip(grads, reference))
    scale = sum(float(r.pow(2).sum()) for r in reference)
    return math.sqrt(difference / scale) if scale > 0 and math.isfinite(difference) else math.inf

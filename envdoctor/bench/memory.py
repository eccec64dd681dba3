"""How much memory one bench cell needs, from the workload's sizes alone: arithmetic, no torch.

GPU decisions (which preset, which batch) are pure functions of the facts so that `bench --dry-run` can plan them
anywhere. A cell trains with `workloads.training_step`: forward (under autocast when an AMP dtype is given),
cross-entropy, zero_grad(set_to_none=True), backward, AdamW step (fp32 weights, fused on CUDA). In the steady state
(after warm-up, as the bench times it) the step peaks at one of a few moments, which each workload lists:

- the loss, at the end of the forward: every activation autograd saved, the logits and their log-softmax, and the
  previous step's gradients, which zero_grad frees only after the forward;
- the loss's backward: the saved activations and three logits-sized fp32 tensors (the log-softmax, its gradient and
  the gradient of its input), but no parameter gradient yet;
- for the MLP, whose layers are narrow beside its batch: its second ReLU, and its first ReLU's backward.

Elsewhere in resnet18's and the decoder's backward each layer frees more than it allocates, and the fused AdamW step
holds only weights, gradients and its two moments. What an op saves follows torch's derivatives.yaml: Linear its
input and weight, ReLU and SDPA their outputs (SDPA also q, k, v and a per-row log-sum-exp), GELU, LayerNorm and
BatchNorm their inputs (and per-row or per-channel statistics), max-pool its int64 indices, log-softmax its output.
Left out: AdamW's 4-byte step counters, autocast's bias copies (under 1 MB), kernel workspaces (cuBLAS, cuDNN), the
allocator's rounding and fragmentation, and the CUDA context: leave headroom for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Optional

FP32 = 4
INT64 = 8
AMP_BYTES = {"bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes live at the peak of one cell's training step, by kind, and the peak of its eager fp32 reference."""

    weights_bytes: int  # parameters (fp32) and buffers
    grads_bytes: int  # parameter gradients live at the peak: none when it is at the loss's backward
    optimizer_bytes: int  # AdamW's exp_avg and exp_avg_sq
    activations_bytes: int  # the rest: inputs, saved activations, autocast's weight copies, gradients of activations
    step_peak_bytes: int  # the sum of the above: one training step of this mode
    reference_peak_bytes: Optional[int] = None  # the eager fp32 reference run first by compile and AMP cells

    @property
    def peak_bytes(self) -> int:
        """The process's peak: the reference's tensors are freed before the measured model is built."""
        return max(self.step_peak_bytes, self.reference_peak_bytes or 0)


@dataclass(frozen=True)
class _Moment:
    """A candidate for the step's peak: parameter gradients and everything else live then, beyond weights and AdamW."""

    grads: int
    activations: int


@dataclass(frozen=True)
class _Layout:
    params: int  # parameter elements, each fp32 as are its gradient and AdamW's two moments
    buffers_bytes: int
    moments: list[_Moment]


def _loss_moments(saved: int, logits: int, act: int, amp: bool, grads: int) -> list[_Moment]:
    """At the loss: the logits (in the AMP dtype), under AMP their fp32 copy (log-softmax runs in fp32; fp16 logits on
    CUDA skip it, so fp16 is overestimated slightly), the fp32 log-softmax, and last step's gradients. At its backward:
    the log-softmax, its gradient and its input's gradient, all fp32, and no parameter gradient yet."""
    return [_Moment(grads, saved + logits * (act + (FP32 if amp else 0) + FP32)),
            _Moment(0, saved + 3 * logits * FP32)]


def _mlp(batch: int, act: int, amp: bool) -> _Layout:
    """Flatten, Linear(784, 512), ReLU, Linear(512, 256), ReLU, Linear(256, 10)."""
    weights = 784 * 512 + 512 * 256 + 256 * 10
    inputs = batch * (784 * FP32 + INT64)  # the images and labels
    input_cast = batch * 784 * act if amp else 0  # the images cast by autocast for the first Linear, which saves them
    saved = (inputs + input_cast + batch * (512 + 256) * act  # each ReLU's output, also the next Linear's input
             + (weights * act if amp else 0))  # autocast's weight copies: cached during the forward, most also saved
    params = weights + 512 + 256 + 10
    grads = params * FP32
    return _Layout(params, 0, [
        *_loss_moments(saved, batch * 10, act, amp, grads),
        # The second ReLU: the second Linear's output, freed once the ReLU has run, beside all that is saved but the
        # last weight's copy; 256 outputs a sample outweigh the loss's 10 logits.
        _Moment(grads, saved + batch * 256 * act - (256 * 10 * act if amp else 0)),
        # The first ReLU's backward: its output and the gradients of its output and input, beside the later layers'
        # gradients; the other activations are freed, and the first weight's copy was never saved (the images need
        # no gradient). It wins at a large batch.
        _Moment((512 * 256 + 256 + 256 * 10 + 10) * FP32, inputs + input_cast + 3 * batch * 512 * act),
    ])


def _half(side: int, kernel: int, pad: int) -> int:
    """The output side of a stride-2 convolution or pooling."""
    return (side + 2 * pad - kernel) // 2 + 1


def _resnet18(batch: int, image: int, act: int, amp: bool) -> _Layout:
    """torchvision's resnet18(num_classes=10): a 7x7/2 stem, a 3x3/2 max-pool, four stages of two BasicBlocks (each
    conv followed by a BatchNorm), a global average pool and a Linear(512, 10)."""
    stem, pooled = _half(image, 7, 3), _half(_half(image, 7, 3), 3, 1)
    # Every conv as (in channels, out channels, kernel, output side, whether its BatchNorm's output is saved). A
    # BatchNorm saves its input (the conv's output); its output, after an in-place ReLU (and residual add), is saved
    # by that ReLU and the next conv. A downsample's BatchNorm output only feeds the residual add: nothing saves it.
    convs = [(3, 64, 7, stem, True)]
    side, channels = pooled, 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        side = _half(side, 3, 1) if stride == 2 else side
        convs += [(channels, width, 3, side, True), (width, width, 3, side, True)]
        if stride == 2:
            convs.append((channels, width, 1, side, False))
        convs += [(width, width, 3, side, True), (width, width, 3, side, True)]
        channels = width
    conv_weights = sum(cin * cout * k * k for cin, cout, k, _, _ in convs)
    bn_channels = sum(cout for _, cout, _, _, _ in convs)
    saved = (batch * (3 * image * image * FP32 + INT64)  # the images and labels
             + sum(batch * cout * s * s * act * (2 if bn_out else 1) for _, cout, _, s, bn_out in convs)
             + bn_channels * 2 * FP32  # each BatchNorm's saved mean and inverse std
             + batch * 64 * pooled * pooled * (act + INT64)  # the max-pool's output and its int64 indices
             + batch * 512 * act)  # the average pool's output, the Linear's input
    if amp:  # the images cast for the first conv, and autocast's weight copies (cached in the forward, most saved)
        saved += batch * 3 * image * image * act + (conv_weights + 512 * 10) * act
    params = conv_weights + 2 * bn_channels + 512 * 10 + 10
    buffers = bn_channels * 2 * FP32 + len(convs) * INT64  # running mean and variance, num_batches_tracked
    return _Layout(params, buffers, _loss_moments(saved, batch * 10, act, amp, params * FP32))


def _decoder(sizes: Mapping[str, int], act: int, amp: bool) -> _Layout:
    """workloads.Decoder: token and position embeddings, pre-norm blocks (LayerNorm, qkv Linear, causal SDPA,
    projection, residual add, LayerNorm, Linear 4x, GELU, Linear, residual add), a LayerNorm and a vocab head."""
    seq, width, heads, layers, vocab = (sizes[k] for k in ("seq", "d_model", "heads", "layers", "vocab"))
    tokens = sizes["batch"] * seq
    linear_weights = 12 * width * width  # qkv 3, projection 1, MLP 4 + 4 (d_model squared)
    per_token = (2 * width * FP32  # the residual stream entering each LayerNorm (fp32: embeddings and adds are)
                 + 2 * 2 * FP32  # each LayerNorm's mean and rstd
                 + width * act * (1 + 1)  # each LayerNorm's output as the next Linear saves it (cast under AMP)
                 + 3 * width * act  # q, k, v: views of the qkv output, saved by SDPA
                 + width * act + heads * FP32  # SDPA's output (the projection's input) and log-sum-exp
                 + 4 * width * act * 2)  # the first MLP Linear's output (GELU's input) and GELU's output
    saved = (tokens * 2 * INT64 + seq * INT64  # token ids, targets, positions
             + layers * tokens * per_token
             + tokens * (width * FP32 + 2 * FP32 + width * act))  # the final LayerNorm's input and stats, head's input
    if amp:  # autocast's copies of every Linear weight (the embeddings are not cast)
        saved += (layers * linear_weights + vocab * width) * act
    params = 2 * vocab * width + seq * width + layers * (linear_weights + 13 * width) + 2 * width
    return _Layout(params, 0, _loss_moments(saved, tokens * vocab, act, amp, params * FP32))


def _step(workload: str, sizes: Mapping[str, int], amp_dtype: Optional[str]) -> MemoryEstimate:
    act = AMP_BYTES[amp_dtype] if amp_dtype else FP32  # bytes of a matmul's or conv's input and output
    amp = amp_dtype is not None
    if workload == "mlp":
        layout = _mlp(sizes["batch"], act, amp)
    elif workload == "cnn":
        layout = _resnet18(sizes["batch"], sizes["image"], act, amp)
    elif workload == "transformer":
        layout = _decoder(sizes, act, amp)
    else:
        raise ValueError(f"unknown workload {workload}")
    weights, optimizer = layout.params * FP32 + layout.buffers_bytes, 2 * layout.params * FP32
    peak = max(layout.moments, key=lambda moment: moment.grads + moment.activations)
    return MemoryEstimate(weights, peak.grads, optimizer, peak.activations,
                          weights + peak.grads + optimizer + peak.activations)


def estimate_cell_memory(workload: str, sizes: Mapping[str, int], amp_dtype: Optional[str],
                         reference: bool) -> MemoryEstimate:
    """The memory of one cell: `workload` at `sizes`, under autocast to `amp_dtype` (None: fp32), after an eager
    fp32 reference run when `reference` (compile and AMP cells)."""
    step = _step(workload, sizes, amp_dtype)
    return replace(step, reference_peak_bytes=_step(workload, sizes, None).step_peak_bytes if reference else None)


def fit_batch(workload: str, sizes: Mapping[str, int], amp_dtypes: Sequence[Optional[str]], reference: bool,
              budget_bytes: int) -> tuple[int, MemoryEstimate]:
    """The largest of sizes["batch"], half of it, ... down to 1 whose worst estimate over `amp_dtypes` fits in
    `budget_bytes`, with that estimate; batch 1 and its estimate when nothing fits, for the caller to report."""
    batch = sizes["batch"]
    while True:
        worst = max((estimate_cell_memory(workload, {**sizes, "batch": batch}, dtype, reference)
                     for dtype in amp_dtypes), key=lambda estimate: estimate.peak_bytes)
        if worst.peak_bytes <= budget_bytes or batch == 1:
            return batch, worst
        batch //= 2

"""Bench results: one record per cell, their statistics, and the versioned document written after every cell."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from envdoctor.plain import to_plain

BENCH_SCHEMA = "envdoctor.bench"
# 2: a DDP cell's round is one launch (its ranks' steps pooled), where 1 counted a round per rank; cells record
# other processes' CPU use per round (cpu_shares). Version 1 documents are still read (results/load.py).
BENCH_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
STATUSES = ("ok", "oom", "compile_error", "error", "timeout", "crashed", "skipped")  # a cell's, and a round's


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class StepStats:
    steps: int
    median_s: float
    iqr_s: float
    p10_s: float
    p90_s: float

    @classmethod
    def of(cls, times: Sequence[float]) -> StepStats:
        ordered = sorted(times)
        return cls(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.75) - quantile(ordered, 0.25),
                   quantile(ordered, 0.1), quantile(ordered, 0.9))


@dataclass
class CellResult:
    """One workload x mode x device, over every round it ran in."""

    workload: str
    mode: str
    device: str
    preset: str
    batch_size: int
    batch_why: Optional[str] = None  # how the plan (or --auto-batch) chose the batch
    estimated_peak_bytes: Optional[int] = None  # the plan's estimate, to read against the measured peak
    status: str = "ok"  # one of STATUSES
    reason: Optional[str] = None
    step_times_s: list[float] = field(default_factory=list)  # every timed step of every round, raw
    round_step_counts: list[int] = field(default_factory=list)  # how many of step_times_s each round measured
    round_medians_s: list[float] = field(default_factory=list)
    window_s: list[float] = field(default_factory=list)  # each round's timed window, wall clock
    stats: Optional[StepStats] = None
    samples_per_s: Optional[float] = None  # batch / median step
    window_samples_per_s: Optional[float] = None  # samples / window wall time: gaps between steps included
    tokens_per_s: Optional[float] = None
    peak_allocated_bytes: Optional[int] = None
    peak_reserved_bytes: Optional[int] = None
    peak_rss_bytes: Optional[int] = None
    compile_s: Optional[float] = None  # first compiled step minus a steady step, from the first round
    flops_per_step: Optional[int] = None
    achieved_tflops: Optional[float] = None
    peak_tflops: Optional[float] = None
    peak_source: Optional[str] = None
    mfu: Optional[float] = None
    mfu_unknown_reason: Optional[str] = None
    speedup_vs_eager: Optional[float] = None  # samples/s over eager's
    eager_batch_size: Optional[int] = None  # where eager ran another batch (--auto-batch): the speedup is on samples/s
    memory_ratio_vs_eager: Optional[float] = None  # this cell's peak memory / eager's, at the same batch only
    loss_check: Optional[dict[str, Any]] = None
    settings: dict[str, Any] = field(default_factory=dict)
    gpu_windows: list[dict[str, Any]] = field(default_factory=list)  # per round: SM clocks, throttling, other processes
    cpu_shares: list[dict[str, Any]] = field(default_factory=list)  # per round: other processes' CPU use (contention)
    device_name: Optional[str] = None
    # DDP cells: one process per rank, each with its own batch (weak scaling)
    world_size: Optional[int] = None
    per_rank_medians_s: list[float] = field(default_factory=list)
    per_rank_peak_allocated_bytes: list[Optional[int]] = field(default_factory=list)
    global_samples_per_s: Optional[float] = None
    scaling_speedup: Optional[float] = None  # global throughput / the single-process cell's (T_N / T_1)
    scaling_efficiency: Optional[float] = None  # T_N / (N * T_1)

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.mode}/{self.device}"

    def rounds(self) -> list[list[float]]:
        """The raw step times split by round: one launch (a DDP round pools its ranks' steps)."""
        rounds, start = [], 0
        for count in self.round_step_counts or [len(self.step_times_s)]:
            rounds.append(self.step_times_s[start:start + count])
            start += count
        return [r for r in rounds if r]

    @property
    def total_samples_per_s(self) -> Optional[float]:
        """The cell's whole throughput: every rank's together for a DDP cell."""
        return self.global_samples_per_s if self.global_samples_per_s is not None else self.samples_per_s

    @property
    def contended(self) -> Optional[str]:
        """Why the machine was busy during a round, from the first round that was; None when none was (or no
        round was watched)."""
        for share in self.cpu_shares:
            if share.get("contended"):
                return f"other processes used {share['other_cores']:.2g} of {share['cpus']} cores"
        for window in self.gpu_windows:
            if window.get("other_processes"):
                return f"other processes ran on the GPU: {', '.join(map(str, window['other_processes']))}"
        return None

    @property
    def peak_memory_bytes(self) -> Optional[int]:
        return self.peak_allocated_bytes if self.peak_allocated_bytes is not None else self.peak_rss_bytes


@dataclass
class SweepResult:
    """An all-reduce sweep across the DDP processes of one device kind."""

    device: str  # "cpu-ddp2", "cuda-ddp8"
    status: str
    reason: Optional[str]
    backend: Optional[str] = None
    world_size: Optional[int] = None
    rows: list[dict[str, float]] = field(default_factory=list)  # bytes, time_s, algbw_gbps, busbw_gbps
    topology: list[dict[str, Any]] = field(default_factory=list)  # per GPU: NVLink links, PCIe link


def bench_document(cells: Sequence[CellResult], config: dict[str, Any], fingerprint: dict[str, Any],
                   created: str, complete: bool, interrupted: bool,
                   sweeps: Sequence[SweepResult] = ()) -> dict[str, Any]:
    from envdoctor import __version__

    return {
        "schema": BENCH_SCHEMA,
        "schema_version": BENCH_SCHEMA_VERSION,
        "envdoctor_version": __version__,
        "created": created,
        "complete": complete,
        "interrupted": interrupted,
        "config": config,
        "fingerprint": fingerprint,
        "cells": [{**to_plain(c), "key": c.key} for c in cells],
        "allreduce": [to_plain(s) for s in sweeps],
    }

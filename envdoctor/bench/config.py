"""What a bench run measures: a keyword-only configuration validated on creation, and the named size presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from envdoctor.children import MAX_TIMEOUT_S

WORKLOADS = ("mlp", "cnn", "transformer")
PRESETS = ("tiny", "small", "reference")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
AMP_DTYPES = ("bfloat16", "float16")

# Sizes per workload and preset: `tiny` keeps a 2-core CPU to seconds per cell, `reference` is sized for one GPU.
PRESET_SIZES: dict[str, dict[str, dict[str, int]]] = {
    "mlp": {
        "tiny": {"batch": 64},
        "small": {"batch": 512},
        "reference": {"batch": 4096},
    },
    "cnn": {  # torchvision resnet18(num_classes=10): CIFAR-shaped, ImageNet-shaped at reference size
        "tiny": {"batch": 8, "image": 32},
        "small": {"batch": 64, "image": 32},
        "reference": {"batch": 128, "image": 224},
    },
    "transformer": {  # GPT-style pre-norm decoder blocks
        "tiny": {"batch": 4, "seq": 64, "d_model": 64, "heads": 2, "layers": 2, "vocab": 512},
        "small": {"batch": 8, "seq": 256, "d_model": 256, "heads": 4, "layers": 4, "vocab": 8192},
        "reference": {"batch": 8, "seq": 2048, "d_model": 2048, "heads": 16, "layers": 8, "vocab": 32768},
    },
}


class ConfigError(ValueError):
    """An impossible configuration; the message is one line for the user."""


MAX_MIN_TIME_S = 3600.0


@dataclass(frozen=True)
class Mode:
    """One way of running a workload: plain eager, torch.compile, autocast, or both."""

    compile: bool
    amp: bool

    @property
    def name(self) -> str:
        return {(False, False): "eager", (True, False): "compile", (False, True): "amp", (True, True): "compile+amp"}[
            (self.compile, self.amp)]


@dataclass(frozen=True)
class BenchConfig:
    workloads: tuple[str, ...] = WORKLOADS
    devices: Optional[tuple[str, ...]] = None  # None: every available device
    preset: Optional[str] = None  # None: "reference" on a GPU, "tiny" elsewhere
    compile: bool = False
    amp: bool = False
    compile_mode: str = "default"
    amp_dtype: Optional[str] = None  # None: bfloat16 where the device supports it, else float16 with a GradScaler
    repeat: int = 1  # rounds; each round runs every cell once, in the same order
    min_time_s: float = 1.0  # least time measured per cell and round
    warmup_steps: int = 3
    min_steps: int = 5
    timeout_s: float = 900.0  # per cell and round, compile included
    auto_batch: bool = False  # on OOM, halve the batch and retry
    ddp: bool = False  # add DistributedDataParallel cells and an all-reduce sweep, launched through torchrun
    nproc: int = 2  # DDP processes on the CPU (a GPU machine runs one per GPU)
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: Optional[str] = None  # HOST:PORT of the rendezvous, for several nodes
    extra: dict[str, str] = field(default_factory=dict)  # free-form labels written into the results

    def __post_init__(self) -> None:
        unknown = [w for w in self.workloads if w not in WORKLOADS]
        if unknown or not self.workloads:
            raise ConfigError(f"unknown workload {', '.join(unknown) or '(none)'}: choose from {', '.join(WORKLOADS)}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}: choose from {', '.join(PRESETS)}")
        if self.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"unknown compile mode {self.compile_mode!r}: choose from {', '.join(COMPILE_MODES)}")
        if self.amp_dtype is not None and self.amp_dtype not in AMP_DTYPES:
            raise ConfigError(f"unknown AMP dtype {self.amp_dtype!r}: choose from {', '.join(AMP_DTYPES)}")
        if self.amp_dtype is not None and not self.amp:
            raise ConfigError("--amp-dtype needs --amp")
        if self.compile_mode != "default" and not self.compile:
            raise ConfigError("--compile-mode needs --compile")
        if self.repeat < 1 or self.warmup_steps < 1 or self.min_steps < 2:
            raise ConfigError("--repeat must be at least 1, warm-up at least 1 step and at least 2 timed steps")
        if not 0 <= self.min_time_s <= MAX_MIN_TIME_S:  # written so that NaN fails too
            raise ConfigError(f"--min-time must be a number of seconds from 0 to {MAX_MIN_TIME_S:g}, "
                              f"not {self.min_time_s:g}")
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise ConfigError(f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g} (a day), "
                              f"not {self.timeout_s:g}")
        if not self.ddp and (self.nproc != 2 or self.nnodes != 1 or self.rdzv_endpoint or self.node_rank):
            raise ConfigError("--nproc, --nnodes, --node-rank and --rdzv-endpoint need --ddp")
        if self.nproc < 1 or self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise ConfigError("--nproc and --nnodes must be at least 1, and --node-rank below --nnodes")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ConfigError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT")

    def modes(self) -> tuple[Mode, ...]:
        modes = [Mode(False, False)]
        if self.compile:
            modes.append(Mode(True, False))
        if self.amp:
            modes.append(Mode(False, True))
        if self.compile and self.amp:
            modes.append(Mode(True, True))
        return tuple(modes)

    def preset_for(self, device: str) -> str:
        return self.preset or ("reference" if device.startswith("cuda") else "tiny")

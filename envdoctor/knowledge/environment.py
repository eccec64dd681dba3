"""The environment variables that change which GPUs, libraries, transports or threads torch uses, and why each does.

One table: the probe records the variables it names, the report and `diff` show them (`diff` ranks a difference in
each by its row's `rank`), and the findings in envdoctor/diagnose/variables.py judge some of them.
Sources, read 2026-12-04:
- CUDA: NVIDIA's CUDA Programming Guide, "CUDA Environment Variables"
  (https://docs.nvidia.com/cuda/cuda-programming-guide/05-appendices/environment-variables.html).
- NCCL: NVIDIA's NCCL User Guide, "Environment Variables" (https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html).
- PyTorch: "Torch Environment Variables" and its pages on threading, CUDA and NCCL variables
  (https://docs.pytorch.org/docs/stable/torch_environment_variables.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Watched:
    """A variable (or, with `prefix`, every variable whose name starts so), why it matters to torch, and how likely a
    difference in it between two machines is to break training (`diff`'s rank: "high", "medium" or "low")."""

    name: str
    why: str
    prefix: bool = False
    rank: str = "low"

    def covers(self, variable: str) -> bool:
        return variable.startswith(self.name) if self.prefix else variable == self.name


WATCHED: tuple[Watched, ...] = (
    # CUDA Programming Guide: unset, every GPU is visible; "set to an empty string, no GPU devices are visible"; a
    # list of indices or (abbreviated) UUIDs, and only those before the first invalid entry are visible.
    Watched("CUDA_VISIBLE_DEVICES", "which GPUs CUDA, and so torch, sees, and in which order", rank="high"),
    # CUDA Programming Guide: FASTEST_FIRST (the default) or PCI_BUS_ID, nvidia-smi's order.
    Watched("CUDA_DEVICE_ORDER", "how CUDA numbers the GPUs: cuda:0 need not be nvidia-smi's GPU 0", rank="medium"),
    # CUDA Programming Guide: 1 "disables asynchronous kernel launches"; "provided for debugging purposes only".
    Watched("CUDA_LAUNCH_BLOCKING", "1 makes every kernel launch wait for the kernel to finish: for debugging only",
            rank="high"),
    # CUDA Programming Guide: DEFAULT (= LAZY), LAZY, EAGER. torch sets LAZY where it is unset when it initialises
    # CUDA (pytorch/pytorch#85692, torch 1.13), so collect_env's "CUDA_MODULE_LOADING set to" may be torch's own.
    Watched("CUDA_MODULE_LOADING", "when CUDA loads kernels: EAGER costs start-up time and GPU memory"),
    # NVIDIA Container Toolkit: the GPUs mounted into a container; ROCm's counterparts of CUDA_VISIBLE_DEVICES.
    Watched("NVIDIA_VISIBLE_DEVICES", "which GPUs the NVIDIA container runtime puts in the container", rank="medium"),
    Watched("HIP_VISIBLE_DEVICES", "which AMD GPUs HIP, and so a ROCm torch, sees", rank="medium"),
    Watched("ROCR_VISIBLE_DEVICES", "which AMD GPUs the ROCm runtime exposes", rank="medium"),
    # PyTorch, CUDA variables: NVIDIA_TF32_OVERRIDE=0 turns TF32 off in NVIDIA's libraries, whatever torch asks;
    # CUBLAS_WORKSPACE_CONFIG=:4096:8 or :16:8 is what torch's deterministic algorithms require.
    Watched("NVIDIA_TF32_OVERRIDE", "0 turns TF32 off in cuBLAS and cuDNN, whatever torch's own settings say",
            rank="medium"),
    Watched("CUBLAS_WORKSPACE_CONFIG", "cuBLAS's workspace; :4096:8 or :16:8 for deterministic results"),
    # torch.utils.cpp_extension looks for the toolkit in CUDA_HOME, then CUDA_PATH.
    Watched("CUDA_HOME", "the CUDA toolkit C++/CUDA extension builds use"),
    Watched("CUDA_PATH", "the CUDA toolkit extension builds use where CUDA_HOME is unset (Windows' installer sets it)"),
    Watched("LD_LIBRARY_PATH", "searched for libraries first: can shadow the CUDA libraries torch's wheels bring",
            rank="high"),
    Watched("LD_PRELOAD", "libraries loaded into every process ahead of all others", rank="high"),
    Watched("PYTHONPATH", "put ahead of site-packages: can shadow the installed torch", rank="medium"),
    Watched("VIRTUAL_ENV", "the activated virtual environment"),
    Watched("CONDA_PREFIX", "the activated conda environment"),
    # PyTorch, threading variables: the threads of intra-op parallelism on the CPU, through OpenMP and MKL.
    Watched("OMP_NUM_THREADS", "the threads each torch process uses for CPU operations (OpenMP)", rank="medium"),
    Watched("MKL_NUM_THREADS", "the threads MKL uses for CPU operations", rank="medium"),
    # NCCL User Guide: every NCCL_* variable tunes NCCL; those of its "Debugging" section (NCCL_P2P_DISABLE,
    # NCCL_IB_DISABLE, ...) "should not be used in production nor retained in scripts".
    # NCCL User Guide: NCCL_P2P_DISABLE=1 "disables the peer to peer (P2P) transport, which uses CUDA direct access
    # between GPUs, using NVLink or PCI"; NCCL_IB_DISABLE=1 disables IB/RoCE and NCCL "will fall back to using IP
    # sockets". Listed before the NCCL_ row, which covers them too, for their rank.
    Watched("NCCL_P2P_DISABLE", "1 turns off direct GPU-to-GPU transfers over NVLink and PCI", rank="high"),
    Watched("NCCL_IB_DISABLE", "1 turns off InfiniBand and RoCE: NCCL falls back to TCP sockets", rank="high"),
    Watched("NCCL_", "tunes NCCL, the library behind torch's multi-GPU and multi-node collectives", prefix=True,
            rank="medium"),
    # PyTorch, CUDA variables: PYTORCH_CUDA_ALLOC_CONF (now PYTORCH_ALLOC_CONF) configures the caching allocator,
    # PYTORCH_NO_CUDA_MEMORY_CACHING turns it off, PYTORCH_NVML_BASED_CUDA_CHECK changes how CUDA is detected.
    Watched("PYTORCH_", "configures torch: the CUDA caching allocator (PYTORCH_CUDA_ALLOC_CONF), the CUDA check",
            prefix=True, rank="medium"),
    # PyTorch: TORCH_NCCL_* (process groups), TORCH_CUDNN_*, TORCH_ALLOW_TF32_CUBLAS_OVERRIDE, TORCH_LOGS, and
    # TORCH_CUDA_ARCH_LIST for extension builds.
    Watched("TORCH_", "configures torch: distributed (TORCH_NCCL_*), cuDNN, TF32, logging, extension builds",
            prefix=True),
)

# A word of a variable's name (split at "_") that says its value may be a credential: the value is never recorded.
SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "APIKEY", "CREDENTIAL",
                          "CREDENTIALS", "AUTH"})
MASKED = "<masked>"  # the value recorded in place of a secret's


def watched(variable: str) -> Optional[Watched]:
    """The row that makes `variable` matter, or None."""
    return next((row for row in WATCHED if row.covers(variable)), None)


def secret(variable: str) -> bool:
    """Whether the name says the value may be a credential (TORCH_HUB_TOKEN, NCCL_..._PASSWORD)."""
    return any(word in SECRET_WORDS for word in variable.upper().split("_"))

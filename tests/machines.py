"""Real machines as `envdoctor check --json` documents, for tests that plan for a machine rather than probe one.

Each machine's NVIDIA part comes from real captures of that one machine (tests/fixtures/nvidia_smi/, sources in
tests/fixtures/README.md), passed through the real probe (`probe_nvidia`) with a fake host answering from them.
A command the captures do not hold fails with "not captured on this machine"; no NVML reading was captured for
any of them, so each document is what `check` gives through its nvidia-smi fallback.

torch's view of a machine (the `torch` section) is captured nowhere, so it is derived from the same captures:
- names and memory as the capture shows them (nvidia-smi's memory.total; CUDA's own total is somewhat lower);
- the compute capability from the capture (`--query-gpu ... compute_cap`, GPU feature discovery's labels), else from
  the row of envdoctor/knowledge/gpus.json named beside it;
- the UUID without NVML's "GPU-"/"MIG-" prefix (as `str(props.uuid)` spells it) and the bus id from the capture;
- device order as CUDA's default CUDA_DEVICE_ORDER=FASTEST_FIRST gives it, judged by compute capability (faster
  first, ties in NVML's order);
- a torch release whose CUDA the driver runs (the driver's CUDA, or a newer minor of the same major).
Everything else is the suite's fixed sample host (tests/helpers.sample_facts), with no local toolkit, no shadowing
libraries and a 16 GiB /dev/shm, so that a plan is judged on the GPUs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

from envdoctor.diagnose.report import run_diagnosis
from envdoctor.facts import Distribution, Facts, GpuInfo, NvidiaInfo, Origin, TorchDevice, TorchRuntime
from envdoctor.knowledge import knowledge
from envdoctor.probe.nvidia import probe_nvidia
from envdoctor.render.json_doc import check_document as render_check_document
from tests.helpers import NOT_CAPTURED, Answer, fixture_text, make_host, sample_facts

MIB = 1024 * 1024
SMI = "/usr/bin/nvidia-smi"
SITE = "/opt/venv/lib/python3.11/site-packages"
NOT_IN_CAPTURE = "derived from nvidia-smi captures; torch's own report of this machine was not captured"


def _no_nvml() -> ModuleType:
    raise ImportError("NVML readings were not captured on this machine")


def _probe(root: Path, answers: Mapping[tuple[str, ...], Answer]) -> NvidiaInfo:
    host = make_host(root, answers=answers, env={"PATH": "/usr/bin"}, executables=[SMI], unanswered=NOT_CAPTURED)
    return probe_nvidia(host, _no_nvml)


def _table(name: str) -> dict[tuple[str, ...], Answer]:
    return {("nvidia-smi",): fixture_text(f"nvidia_smi/{name}")}


def _xml(name: str) -> dict[tuple[str, ...], Answer]:
    return {("nvidia-smi", "-q", "-x"): fixture_text(f"nvidia_smi/{name}")}


def _nge(table: str, query_gpu_csv: str, nvlink: str) -> dict[tuple[str, ...], Answer]:
    # nvidia_gpu_exporter's --query-gpu CSV asks for every field, index and compute_cap among them; the parser
    # finds its columns by the header, so it answers the probe's narrower query as it stands.
    caps = ("nvidia-smi", "--query-gpu=index,compute_cap", "--format=csv")
    return {**_table(table), caps: fixture_text(f"nvidia_smi/{query_gpu_csv}"),
            ("nvidia-smi", "nvlink", "-s"): fixture_text(f"nvidia_smi/{nvlink}")}


def _uuids_in_list(name: str) -> list[str]:
    """The UUIDs of an `nvidia-smi -L` capture, GPUs and MIG devices in its order, without their prefix."""
    text = fixture_text(f"nvidia_smi/{name}")
    return [line.split("(UUID: ", 1)[1].rstrip(")").split("-", 1)[1]
            for line in text.splitlines() if "(UUID: " in line]


@dataclass(frozen=True)
class _Device:
    """What torch shows for one GPU beyond the probed facts: only what the probe could not give."""

    capability: Optional[tuple[int, int]] = None  # where the capture has none: the gpus.json row named beside it
    name: Optional[str] = None  # where the table cut the name, or a MIG slice's own
    uuid: Optional[str] = None
    memory_bytes: Optional[int] = None  # a MIG slice's own memory


def _devices(gpus: tuple[GpuInfo, ...], extra: Mapping[int, _Device]) -> tuple[TorchDevice, ...]:
    """torch's devices for NVML's `gpus`, in FASTEST_FIRST order (by compute capability, ties in NVML's order)."""
    seen = []
    for gpu in gpus:
        more = extra.get(gpu.index, _Device())
        capability = gpu.compute_capability or more.capability
        name = more.name or gpu.name
        memory = more.memory_bytes or gpu.memory_total_bytes
        missing = [what for what, value in (("capability", capability), ("name", name), ("memory", memory))
                   if value is None]
        if capability is None or name is None or memory is None:
            raise ValueError(f"GPU {gpu.index}: the captures give no {' or '.join(missing)}")
        uuid = more.uuid or (gpu.uuid.split("-", 1)[1] if gpu.uuid else None)
        seen.append((capability, gpu.index, name, memory, uuid, gpu.pci_bus_id))
    ordered = sorted(seen, key=lambda d: (-d[0][0], -d[0][1], d[1]))
    return tuple(TorchDevice(i, name, capability, memory, uuid=uuid, pci_bus_id=bus)
                 for i, (capability, _, name, memory, uuid, bus) in enumerate(ordered))


def _torch(version: str, cuda: str, devices: tuple[TorchDevice, ...]) -> TorchRuntime:
    return TorchRuntime(
        status="ok", version=version, cuda=cuda, cuda_available=True, device_count=len(devices), devices=devices,
        mps_available=False, origin=f"{SITE}/torch/__init__.py",
        unknown={"cudnn": NOT_IN_CAPTURE, "nccl": NOT_IN_CAPTURE, "arch_list": NOT_IN_CAPTURE},
    )


# torch releases chosen for each driver (torch_releases.json): 2.14.1 has cu126/cu130/cu132, 2.7.1 cu118.
_TORCHVISION = {"2.14.1": "0.29.1", "2.7.1": "0.22.1"}


def _facts(name: str, nvidia: NvidiaInfo, torch: TorchRuntime) -> Facts:
    base = sample_facts()
    version = torch.version or ""
    patch, _, variant = version.partition("+")
    dists = (Distribution("torch", version, variant, SITE),
             Distribution("torchvision", f"{_TORCHVISION[patch]}+{variant}", variant, SITE))
    return replace(
        base, origin=Origin(kind="probe", hostname=name), nvidia=nvidia, torch=torch,
        system=replace(base.system, memory=replace(base.system.memory, shm_total_bytes=16 * 1024**3,
                                                   shm_free_bytes=16 * 1024**3)),
        packages=replace(base.packages, distributions=dists),
        toolkit=replace(base.toolkit, nvcc_path=None, nvcc_version=None, cuda_home=None, cuda_home_source=None,
                        library_dirs=()),
    )


def _h200(root: Path) -> Facts:
    # nvidia_gpu_exporter's H200 capture (590.48.01): default table, --query-gpu CSV, nvlink -s, -L.
    nvidia = _probe(root, _nge("text_h200_590.48.01.txt", "csv_query_gpu_all_fields_h200_590.48.01.csv",
                               "nvlink_s_h200_590.48.01.txt"))
    (uuid,) = _uuids_in_list("list_gpus_L_h200_590.48.01.txt")  # masked to zeros by the collector
    return _facts("h200", nvidia, _torch("2.14.1+cu130", "13.0", _devices(nvidia.gpus, {0: _Device(uuid=uuid)})))


def _h100_sxm(root: Path) -> Facts:
    # nvidia_gpu_exporter's H100 80GB HBM3 (SXM5) capture (590.48.01): table, CSV, nvlink -s (18 links), -L.
    nvidia = _probe(root, _nge("text_h100-80gb-hbm3_590.48.01.txt",
                               "csv_query_gpu_all_fields_h100-80gb-hbm3_590.48.01.csv", "nvlink_s_h100_590.48.01.txt"))
    (uuid,) = _uuids_in_list("list_gpus_L_h100-80gb-hbm3_590.48.01.txt")
    return _facts("h100-sxm", nvidia, _torch("2.14.1+cu130", "13.0", _devices(nvidia.gpus, {0: _Device(uuid=uuid)})))


def _8xh100(root: Path) -> Facts:
    # modal-labs/gpu-glossary's 8x H100 table (550.90.07, CUDA 12.4): no UUIDs and no compute capability.
    nvidia = _probe(root, _table("text_8xh100_550.90.07.txt"))
    h100 = _Device(capability=(9, 0))  # gpus.json "NVIDIA H100 80GB HBM3" 9.0
    devices = _devices(nvidia.gpus, dict.fromkeys(range(8), h100))
    return _facts("8xh100", nvidia, _torch("2.14.1+cu126", "12.6", devices))  # CUDA 12.6 on a 12.4 driver


def _t4(root: Path) -> Facts:
    # telegraf's Tesla T4 `-q -x` (515.105.01, CUDA 11.7, AWS).
    nvidia = _probe(root, _xml("xml_tesla-t4_515.105.01.xml"))
    devices = _devices(nvidia.gpus, {0: _Device(capability=(7, 5))})  # gpus.json "Tesla T4" 7.5
    return _facts("t4", nvidia, _torch("2.7.1+cu118", "11.8", devices))  # CUDA 11.8 on an 11.7 driver


def _rtx_4090(root: Path) -> Facts:
    # The RTX 4090 `-q -x` (535.86.05, CUDA 12.2) from netdata#15755, as netdata's go.d.plugin keeps it.
    nvidia = _probe(root, _xml("xml_rtx4090_535.86.05.xml"))
    devices = _devices(nvidia.gpus, {0: _Device(capability=(8, 9))})  # gpus.json "GeForce RTX 4090" 8.9
    return _facts("rtx-4090", nvidia, _torch("2.14.1+cu126", "12.6", devices))  # CUDA 12.6 on a 12.2 driver


def _a100_mig_1g_10gb(root: Path) -> Facts:
    # A pod given one MIG 1g.10gb slice of an Azure NC24ads_A100_v4's A100 80GB PCIe (515.86.01, CUDA 11.7), from
    # one tutorial's "single" MIG strategy: the node's nvidia-smi table (whose name column cut the name), the pod's
    # `nvidia-smi -L` (the parent GPU and the slice's profile and UUID) and GPU feature discovery's labels (NVML
    # readings: the slice's memory in MiB and the compute capability).
    nvidia = _probe(root, _table("text_a100-80gb-pcie_515.86.01_mig_enabled_no_devices_indented.txt"))
    labels: dict[str, Any] = json.loads(fixture_text("nvidia_smi/gfd_labels_a100-80gb-pcie_mig_single_1g.10gb.json"))
    pod_list = fixture_text("nvidia_smi/list_gpus_L_a100-80gb-pcie_mig_pod_1g.10gb.txt")
    parent = pod_list.split("GPU 0: ", 1)[1].split(" (UUID:", 1)[0]  # "NVIDIA A100 80GB PCIe"
    profile = pod_list.split("MIG ", 1)[1].split()[0]  # "1g.10gb"
    _, mig_uuid = _uuids_in_list("list_gpus_L_a100-80gb-pcie_mig_pod_1g.10gb.txt")
    slice_ = _Device(name=f"{parent} MIG {profile}", uuid=mig_uuid,
                     capability=(int(labels["nvidia.com/gpu.compute.major"]),
                                 int(labels["nvidia.com/gpu.compute.minor"])),
                     memory_bytes=int(labels["nvidia.com/gpu.memory"]) * MIB)
    devices = _devices(nvidia.gpus, {0: slice_})  # the slice, with its parent's bus id
    return _facts("a100-mig-1g.10gb", nvidia, _torch("2.7.1+cu118", "11.8", devices))


def _mixed_2gpu(root: Path) -> Facts:
    # One rig with an RTX 5090 and an RTX 3090 Ti (595.71.05, CUDA 13.2), from club-3090#769's nvidia-smi table.
    nvidia = _probe(root, _table("text_rtx5090_rtx3090ti_595.71.05_partial.txt"))
    # By compute capability the RTX 5090 (12.0) is the faster, and it is also NVML's GPU 0 (bus 01:00.0):
    # here FASTEST_FIRST leaves NVML's order as it is.
    devices = _devices(nvidia.gpus, {0: _Device(capability=(12, 0)),  # gpus.json "NVIDIA GeForce RTX 5090" 12.0
                                     1: _Device(capability=(8, 6))})  # gpus.json "GeForce RTX 3090" ("rtx 3090") 8.6
    return _facts("mixed-2gpu", nvidia, _torch("2.14.1+cu130", "13.0", devices))


_BUILDERS: dict[str, Callable[[Path], Facts]] = {
    "h200": _h200,
    "h100-sxm": _h100_sxm,
    "a100-mig-1g.10gb": _a100_mig_1g_10gb,
    "rtx-4090": _rtx_4090,
    "t4": _t4,
    "8xh100": _8xh100,
    "mixed-2gpu": _mixed_2gpu,
}
MACHINES: tuple[str, ...] = tuple(_BUILDERS)


def machine_facts(name: str, root: Path) -> Facts:
    """The facts of machine `name`; `root` is an empty directory standing in for its `/`."""
    return _BUILDERS[name](root)


def check_document(name: str, root: Optional[Path] = None) -> dict[str, Any]:
    """`envdoctor check --json`'s document for machine `name` (one of MACHINES), diagnosis included."""
    if root is None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return check_document(name, Path(tmp))
    facts = machine_facts(name, root)
    return render_check_document(facts, run_diagnosis(facts, knowledge()))

"""The NVIDIA probe: NVML through a fake pynvml module, then each fallback step as the one before it fails."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Callable

import pytest

from envdoctor.probe.host import CommandResult
from envdoctor.probe.nvidia import cuda_version_from_int, probe_nvidia
from tests.helpers import NOT_CAPTURED, fixture_text, make_host

MIB = 1024 * 1024

# One A100-SXM4-80GB as NVML would describe it: the values are those the real `nvidia-smi -q -x` capture in
# tests/fixtures/nvidia_smi/xml_a100-sxm4-80gb-mig_535.54.03.xml reports for the same GPU.
A100 = {
    "name": "NVIDIA A100-SXM4-80GB",
    "uuid": "GPU-513536b6-7d19-9063-b049-1e69664bb298",
    "capability": (8, 0),
    "memory": (81920 * MIB, 50 * MIB),
    "mig": (1, 1),
    "clock": 1275,
    "max_clock": 1410,
    "power_mw": 500000,
    "reasons": 0x4,  # sw_power_cap
    "pcie": (4, 4, 16, 16),
    "nvlinks": 12,
    "bus_id": "00000000:01:00.0",
}


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_InvalidArgument(NVMLError):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


def fake_pynvml(gpus: list[dict[str, Any]], driver: str = "535.54.03", cuda: int = 12020,
                init_error: str | None = None, unsupported: tuple[str, ...] = (),
                lost: tuple[int, ...] = ()) -> types.ModuleType:
    """A stand-in for the pynvml module: the same function names, answering from `gpus`.

    GPUs whose index is in `lost` fail `nvmlDeviceGetHandleByIndex` as a GPU that fell off the bus does.
    """
    nvml = types.ModuleType("pynvml")

    def call(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any) -> Any:
            if name in unsupported:
                raise NVMLError_NotSupported("Not Supported")
            return fn(*args)
        return wrapped

    def init() -> None:
        if init_error:
            raise NVMLError(init_error)

    def handle_by_index(index: int) -> int:
        if index in lost:
            raise NVMLError_GpuIsLost("GPU is lost")  # pynvml's text for NVML_ERROR_GPU_IS_LOST
        return index

    def link_state(handle: int, link: int) -> int:
        if link >= 18:
            raise NVMLError_InvalidArgument("Invalid Argument")
        return 1 if link < gpus[handle]["nvlinks"] else 0

    functions: dict[str, Callable[..., Any]] = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: driver,
        "nvmlSystemGetCudaDriverVersion": lambda: cuda,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": handle_by_index,
        "nvmlDeviceGetName": lambda h: gpus[h]["name"].encode(),  # old pynvml returned bytes
        "nvmlDeviceGetUUID": lambda h: gpus[h]["uuid"],
        "nvmlDeviceGetCudaComputeCapability": lambda h: gpus[h]["capability"],
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(total=gpus[h]["memory"][0],
                                                                   used=gpus[h]["memory"][1]),
        "nvmlDeviceGetMigMode": lambda h: gpus[h]["mig"],
        "nvmlDeviceGetClockInfo": lambda h, c: gpus[h]["clock"],
        "nvmlDeviceGetMaxClockInfo": lambda h, c: gpus[h]["max_clock"],
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: gpus[h]["power_mw"],
        "nvmlDeviceGetCurrentClocksEventReasons": lambda h: gpus[h]["reasons"],
        "nvmlDeviceGetCurrPcieLinkGeneration": lambda h: gpus[h]["pcie"][0],
        "nvmlDeviceGetMaxPcieLinkGeneration": lambda h: gpus[h]["pcie"][1],
        "nvmlDeviceGetCurrPcieLinkWidth": lambda h: gpus[h]["pcie"][2],
        "nvmlDeviceGetMaxPcieLinkWidth": lambda h: gpus[h]["pcie"][3],
        "nvmlDeviceGetNvLinkState": link_state,
        # pynvml returns ctypes' struct, whose char array busId reads as bytes.
        "nvmlDeviceGetPciInfo": lambda h: types.SimpleNamespace(busId=gpus[h]["bus_id"].encode()),
    }
    for name, fn in functions.items():
        setattr(nvml, name, call(name, fn))
    nvml.NVMLError = NVMLError  # type: ignore[attr-defined]
    nvml.NVMLError_NotSupported = NVMLError_NotSupported  # type: ignore[attr-defined]
    nvml.NVMLError_InvalidArgument = NVMLError_InvalidArgument  # type: ignore[attr-defined]
    nvml.NVMLError_GpuIsLost = NVMLError_GpuIsLost  # type: ignore[attr-defined]
    nvml.NVML_CLOCK_SM = 1  # type: ignore[attr-defined]
    nvml.NVML_DEVICE_MIG_ENABLE = 1  # type: ignore[attr-defined]
    nvml.NVML_NVLINK_MAX_LINKS = 18  # type: ignore[attr-defined]
    return nvml


def no_pynvml() -> types.ModuleType:
    raise ImportError("No module named 'pynvml'")


def test_cuda_version_from_int() -> None:
    assert [cuda_version_from_int(v) for v in (12040, 11080, 13000, 10010)] == ["12.4", "11.8", "13.0", "10.1"]


def test_nvml_answers_everything(fake_root: Path) -> None:
    host = make_host(fake_root, files={
        "/proc/driver/nvidia/version": fixture_text("proc_driver_version/open_x86_64_565.57.01_ubuntu2404.txt")})
    info = probe_nvidia(host, lambda: fake_pynvml([A100, A100]))
    assert (info.driver_version, info.driver_source, info.driver_max_cuda) == ("535.54.03", "nvml", "12.2")
    assert info.kernel_module == "open"
    assert info.gpus_source == "nvml" and len(info.gpus) == 2
    gpu = info.gpus[1]
    assert gpu.index == 1 and gpu.name == "NVIDIA A100-SXM4-80GB"
    assert gpu.compute_capability == (8, 0)
    assert (gpu.memory_total_bytes, gpu.memory_used_bytes) == (81920 * MIB, 50 * MIB)
    assert gpu.mig_enabled is True
    assert (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz, gpu.power_limit_w) == (1275, 1410, 500.0)
    assert gpu.throttle_reasons == ("sw_power_cap",)
    assert (gpu.pcie_gen, gpu.pcie_gen_max, gpu.pcie_width, gpu.pcie_width_max) == (4, 4, 16, 16)
    assert gpu.nvlink_active_links == 12 and info.nvlink_present is True
    assert gpu.pci_bus_id == "00000000:01:00.0"
    assert gpu.unknown == {}
    assert not host.run.calls  # type: ignore[attr-defined]  # NVML answered: no subprocess at all


def test_nvml_unsupported_queries_become_reasons(fake_root: Path) -> None:
    geforce = {**A100, "name": "NVIDIA GeForce RTX 4090", "capability": (8, 9), "nvlinks": 0}
    nvml = fake_pynvml([geforce], unsupported=("nvmlDeviceGetMigMode", "nvmlDeviceGetNvLinkState"))
    (gpu,) = probe_nvidia(make_host(fake_root), lambda: nvml).gpus
    assert gpu.mig_enabled is None and "Not Supported" in gpu.unknown["mig_enabled"]
    assert gpu.nvlink_active_links == 0  # NotSupported on link 0: this GPU has no NVLink


def test_a_lost_gpu_keeps_the_others(fake_root: Path) -> None:
    h100 = {**A100, "name": "NVIDIA H100 80GB HBM3", "capability": (9, 0), "bus_id": "00000000:53:00.0"}
    info = probe_nvidia(make_host(fake_root), lambda: fake_pynvml([A100, h100, A100], lost=(1,)))
    assert info.gpus_source == "nvml" and [g.index for g in info.gpus] == [0, 1, 2]
    assert [g.name for g in info.gpus] == ["NVIDIA A100-SXM4-80GB", None, "NVIDIA A100-SXM4-80GB"]
    lost = info.gpus[1]
    assert lost.uuid is None and lost.memory_total_bytes is None and lost.pci_bus_id is None
    assert set(lost.unknown) >= {"name", "uuid", "compute_capability", "memory_total_bytes", "pci_bus_id",
                                 "nvlink_active_links", "mig_enabled"}
    assert set(lost.unknown.values()) == {"nvmlDeviceGetHandleByIndex: GPU is lost"}
    assert info.gpus[2].unknown == {}


@pytest.mark.parametrize(("nvml_answer", "reason"), [
    ("raise", "nvmlSystemGetCudaDriverVersion: Not Supported"),
    (0, "nvmlSystemGetCudaDriverVersion returned 0"),
])
def test_driver_max_cuda_keeps_nvmls_reason(fake_root: Path, nvml_answer: object, reason: str) -> None:
    if nvml_answer == "raise":
        nvml = fake_pynvml([A100], unsupported=("nvmlSystemGetCudaDriverVersion",))
    else:
        nvml = fake_pynvml([A100], cuda=0)
    info = probe_nvidia(make_host(fake_root), lambda: nvml)
    assert info.driver_max_cuda is None and info.unknown["driver_max_cuda"] == reason


def test_fallback_to_sys_module_then_nvidia_smi_xml(fake_root: Path) -> None:
    # Every answer is the same machine's: telegraf's A100 `-q -x` capture, and its driver version as
    # /sys/module/nvidia/version holds it. That capture has no compute capability or NVLink query.
    smi = "/usr/bin/nvidia-smi"
    host = make_host(
        fake_root,
        env={"PATH": "/usr/bin"},
        files={"/sys/module/nvidia/version": "535.54.03\n"},
        executables=[smi],
        answers={("nvidia-smi", "-q", "-x"): fixture_text("nvidia_smi/xml_a100-sxm4-80gb-mig_535.54.03.xml")},
        unanswered=NOT_CAPTURED,
    )
    info = probe_nvidia(host, lambda: fake_pynvml([], init_error="NVML Shared Library Not Found"))
    assert info.attempts[0] == "nvml: nvmlInit failed: NVML Shared Library Not Found"
    assert info.attempts[1] == "/sys/module/nvidia/version: 535.54.03"
    assert (info.driver_version, info.driver_source) == ("535.54.03", "/sys/module/nvidia/version")
    assert (info.gpus_source, info.nvidia_smi, info.driver_max_cuda) == ("nvidia-smi", smi, "12.2")
    (gpu,) = info.gpus
    assert (gpu.name, gpu.pci_bus_id, gpu.mig_enabled) == ("NVIDIA A100-SXM4-80GB", "00000000:01:00.0", True)
    assert gpu.compute_capability is None and gpu.nvlink_active_links is None
    assert gpu.unknown["compute_capability"] == f"{smi}: {NOT_CAPTURED}"
    assert gpu.unknown["nvlink_active_links"] == f"{smi}: {NOT_CAPTURED}"
    assert info.kernel_module is None and "kernel_module" in info.unknown


def test_table_then_compute_caps_and_nvlink_of_one_h100(fake_root: Path) -> None:
    # Every answer is from nvidia_gpu_exporter's capture of one H100 machine: its default table, its
    # `--query-gpu` CSV (which asks for every field, index and compute_cap among them: the parser finds its
    # columns by the header) and its `nvlink -s`. It holds no `-q -x`, so the probe falls back to the table.
    smi = "/usr/bin/nvidia-smi"
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, executables=[smi], unanswered=NOT_CAPTURED, answers={
        ("nvidia-smi",): fixture_text("nvidia_smi/text_h100-80gb-hbm3_590.48.01.txt"),
        ("nvidia-smi", "--query-gpu=index,compute_cap", "--format=csv"):
            fixture_text("nvidia_smi/csv_query_gpu_all_fields_h100-80gb-hbm3_590.48.01.csv"),
        ("nvidia-smi", "nvlink", "-s"): fixture_text("nvidia_smi/nvlink_s_h100_590.48.01.txt"),
    })
    info = probe_nvidia(host, no_pynvml)
    assert info.attempts[3] == f"nvidia-smi -q -x: {smi}: {NOT_CAPTURED}"
    assert info.attempts[4] == "nvidia-smi: driver 590.48.01, 1 GPU(s) in its table"
    assert (info.driver_version, info.driver_source, info.driver_max_cuda) == ("590.48.01", "nvidia-smi", "13.1")
    assert info.gpus_source == "nvidia-smi" and "gpus" not in info.unknown
    (gpu,) = info.gpus
    assert (gpu.index, gpu.name, gpu.pci_bus_id) == (0, "NVIDIA H100 80GB HBM3", "00000000:00:09.0")
    assert (gpu.memory_total_bytes, gpu.mig_enabled) == (81559 * MIB, False)
    assert gpu.compute_capability == (9, 0) and gpu.nvlink_active_links == 18
    assert "compute_capability" not in gpu.unknown and "nvlink_active_links" not in gpu.unknown


def test_fallback_to_proc_when_sys_is_absent(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, files={
        "/proc/driver/nvidia/version": fixture_text("proc_driver_version/proprietary_x86_64_384.98.txt")})
    info = probe_nvidia(host, no_pynvml)
    assert info.attempts[0].startswith("nvml: pynvml cannot be imported")
    assert (info.driver_version, info.driver_source) == ("384.98", "/proc/driver/nvidia/version")
    assert info.kernel_module == "proprietary"
    assert info.gpus == () and "gpus" in info.unknown  # no nvidia-smi to list them
    assert info.driver_max_cuda is None and "driver_max_cuda" in info.unknown


def test_nvidia_smi_alone_with_old_driver_that_lacks_compute_cap(fake_root: Path) -> None:
    failed = CommandResult(("nvidia-smi",), 2, fixture_text(
        "nvidia_smi/csv_query_compute_cap_invalid_field_smi470.txt"), "")
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, executables=["/usr/bin/nvidia-smi"], answers={
        ("nvidia-smi", "-q", "-x"): fixture_text("nvidia_smi/xml_gtx1660ti_418.43.xml"),
        ("nvidia-smi", "--query-gpu=index,compute_cap", "--format=csv"): failed,
    })
    info = probe_nvidia(host, no_pynvml)
    assert (info.driver_version, info.driver_source) == ("418.43", "nvidia-smi")
    (gpu,) = info.gpus
    assert gpu.compute_capability is None
    assert "not a valid field" in gpu.unknown["compute_capability"]
    assert gpu.nvlink_active_links is None and "nvlink_active_links" in gpu.unknown


def test_plain_table_when_xml_fails(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, executables=["/usr/bin/nvidia-smi"], answers={
        ("nvidia-smi", "-q", "-x"): CommandResult(("nvidia-smi",), 9, "", "", None),
        ("nvidia-smi",): fixture_text("nvidia_smi/text_wsl2_rtx4060_570.86.16_win572.16.txt"),
    })
    info = probe_nvidia(host, no_pynvml)
    assert (info.driver_version, info.driver_source, info.driver_max_cuda) == ("572.16", "nvidia-smi", "12.8")
    (gpu,) = info.gpus  # the table's row: its name column cut "NVIDIA GeForce RTX 4060 Laptop GPU" short
    assert (gpu.index, gpu.name, gpu.pci_bus_id, gpu.memory_total_bytes) == (0, None, "00000000:06:00.0", 8188 * MIB)
    assert "NVIDIA GeForce RTX 4060 ..." in gpu.unknown["name"]


def test_nvidia_smi_that_cannot_reach_the_driver_lists_no_gpu(fake_root: Path) -> None:
    failed = fixture_text("nvidia_smi/text_failed_no_driver.txt")  # printed for any query, with exit status 9
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, executables=["/usr/bin/nvidia-smi"], answers={
        ("nvidia-smi", "-q", "-x"): CommandResult(("nvidia-smi",), 9, failed, ""),
        ("nvidia-smi",): CommandResult(("nvidia-smi",), 9, failed, ""),
    })
    info = probe_nvidia(host, no_pynvml)
    assert info.gpus == () and info.unknown["gpus"] == "nvidia-smi gave no GPU list"
    assert "couldn't communicate with the NVIDIA driver" in info.attempts[-1]


def test_wsl2_nvidia_smi_outside_path(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, executables=["/usr/lib/wsl/lib/nvidia-smi"], answers={
        ("nvidia-smi", "-q", "-x"): fixture_text("nvidia_smi/xml_gtx1660ti_418.43.xml"),
    })
    info = probe_nvidia(host, no_pynvml)
    assert info.nvidia_smi == "/usr/lib/wsl/lib/nvidia-smi" and len(info.gpus) == 1


def test_nothing_found_says_why(fake_root: Path) -> None:
    info = probe_nvidia(make_host(fake_root, env={"PATH": "/usr/bin"}), no_pynvml)
    assert info.driver_version is None and info.gpus == ()
    reason = info.unknown["driver_version"]
    assert "pynvml cannot be imported" in reason and "nvidia-smi: not found" in reason
    assert len(info.attempts) == 4


@pytest.mark.parametrize("nvml_works", [True, False])
def test_environment_override_wins(fake_root: Path, nvml_works: bool) -> None:
    host = make_host(fake_root, env={"ENVDOCTOR_CUDA_DRIVER_VERSION": "550.54.14"})
    info = probe_nvidia(host, (lambda: fake_pynvml([A100])) if nvml_works else no_pynvml)
    assert (info.driver_version, info.driver_source) == ("550.54.14", "env:ENVDOCTOR_CUDA_DRIVER_VERSION")
    assert info.attempts[0].startswith("ENVDOCTOR_CUDA_DRIVER_VERSION=550.54.14")
    assert len(info.gpus) == (1 if nvml_works else 0)


def test_windows_nvidia_smi_in_the_legacy_install_folder(fake_root: Path) -> None:
    legacy = "C:\\Program Files\\NVIDIA Corporation\\NVSMI"
    host = make_host(fake_root, env={"PATH": ""}, system="Windows", executables=[f"{legacy}/nvidia-smi"],
                     answers={("nvidia-smi", "-q", "-x"): fixture_text("nvidia_smi/xml_gtx1660ti_418.43.xml")})
    info = probe_nvidia(host, no_pynvml)
    assert info.nvidia_smi is not None and "NVSMI" in info.nvidia_smi
    assert info.driver_version == "418.43" and len(info.gpus) == 1

"""nvidia-smi parsers on real captured outputs (sources in tests/fixtures/README.md)."""

from __future__ import annotations

import pytest

from envdoctor.facts import GpuInfo
from envdoctor.parse.nvidia_smi import parse_compute_caps, parse_nvlink_status, parse_smi_text, parse_smi_xml
from envdoctor.parse.pci import normalise_pci_bus_id
from tests.helpers import fixture_text

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "smi", "driver", "cuda"),
    [
        ("text_grid-k520_418.87.00.txt", "418.87.00", "418.87.00", "10.1"),
        ("text_a10_550.127.05.txt", "550.127.05", "550.127.05", "12.4"),
        ("text_8xh100_550.90.07.txt", "550.90.07", "550.90.07", "12.4"),
        ("text_h100-80gb-hbm3_590.48.01.txt", "590.48.01", "590.48.01", "13.1"),
        # R610 renamed the header fields to "KMD Version" and "CUDA UMD Version".
        ("text_h200_610.43.02_kmd_version.txt", "610.43.02", "610.43.02", "13.3"),
        ("text_windows_rtx2080super_591.86_wddm.txt", "591.86", "591.86", "13.1"),
        ("text_windows_rtx2070_460.15_tcc_wddm_partial.txt", "460.15", "460.15", "11.1"),
        # Under WSL 2 the Linux-side nvidia-smi is older than the Windows driver it talks to.
        ("text_wsl2_rtx4060_570.86.16_win572.16.txt", "570.86.16", "572.16", "12.8"),
        ("text_wsl2_rtx3060_545.46_win546.80_cuda_err_partial.txt", "545.46", "546.80", None),
        ("text_a100-80gb-pcie_550.54.14_mig_enabled_cuda_na.txt", "550.54.14", "550.54.14", None),
        ("text_freebsd_rtx5070_575.64.03_cuda_na_partial.txt", "575.64.03", "575.64.03", None),
        ("text_smi470.256.02_driver580.95.05_mismatch.txt", "470.256.02", "580.95.05", "13.0"),
    ],
)
def test_text_header(name: str, smi: str, driver: str, cuda: str | None) -> None:
    summary = parse_smi_text(fixture_text(f"nvidia_smi/{name}"))
    assert summary is not None
    assert (summary.smi_version, summary.driver_version, summary.cuda_version) == (smi, driver, cuda)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        # (index, name, bus id, memory total in MiB, MIG mode) for each GPU row, as the capture shows them
        ("text_8xh100_550.90.07.txt", [
            (i, "NVIDIA H100 80GB HBM3", f"00000000:{bus}:00.0", 81559, False)
            for i, bus in enumerate(("53", "64", "75", "86", "97", "A8", "B9", "CA"))]),
        ("text_h100-80gb-hbm3_590.48.01.txt", [(0, "NVIDIA H100 80GB HBM3", "00000000:00:09.0", 81559, False)]),
        ("text_h200_610.43.02_kmd_version.txt", [(0, "NVIDIA H200", "00000000:83:00.0", 143771, False)]),
        ("text_a100-80gb-pcie_550.54.14_mig_enabled_cuda_na.txt",
         [(0, "NVIDIA A100 80GB PCIe", "00000000:17:00.0", 81920, True)]),
        ("text_a10_550.127.05.txt", [(0, "NVIDIA A10", "00000000:06:00.0", 23028, None)]),
        ("text_grid-k520_418.87.00.txt", [(0, "GRID K520", "00000000:00:03.0", 4037, None)]),
        # Names longer than the column are cut and end in "...": unknown, with the cut text in the reason.
        ("text_windows_rtx2080super_591.86_wddm.txt", [(0, None, "00000000:0C:00.0", 8192, None)]),
        ("text_windows_rtx2070_460.15_tcc_wddm_partial.txt", [(0, None, "00000000:01:00.0", 8192, None)]),
        ("text_wsl2_rtx4060_570.86.16_win572.16.txt", [(0, None, "00000000:06:00.0", 8188, None)]),
        ("text_wsl2_rtx3060_545.46_win546.80_cuda_err_partial.txt", [(0, None, "00000000:01:00.0", 6144, None)]),
        ("text_smi470.256.02_driver580.95.05_mismatch.txt", [(0, None, "00000000:01:00.0", 8151, None)]),
        ("text_freebsd_rtx5070_575.64.03_cuda_na_partial.txt",
         [(0, "NVIDIA GeForce RTX 5070", "00000000:02:00.0", 12227, None)]),
        # A Markdown list item's table, indented four spaces; a Hyper-V VM's own PCI domain.
        ("text_a100-80gb-pcie_515.86.01_mig_enabled_no_devices_indented.txt",
         [(0, None, "00000001:00:00.0", 81920, True)]),
    ],
)
def test_text_gpu_rows(name: str, rows: list[tuple[int, str | None, str, int, bool | None]]) -> None:
    summary = parse_smi_text(fixture_text(f"nvidia_smi/{name}"))
    assert summary is not None
    got = [(g.index, g.name, g.pci_bus_id, (g.memory_total_bytes or 0) // MIB, g.mig_enabled) for g in summary.gpus]
    assert got == rows
    for gpu in summary.gpus:
        assert gpu.memory_used_bytes is not None
        assert gpu.uuid is None and "not in nvidia-smi's default table" in gpu.unknown["uuid"]
        if gpu.name is None:
            assert gpu.unknown["name"].startswith("nvidia-smi's table cut the name short: ")
            assert gpu.unknown["name"].endswith("...'")
        if gpu.mig_enabled is None:
            assert "mig_enabled" in gpu.unknown


def _only_gpu(name: str) -> GpuInfo:
    summary = parse_smi_text(fixture_text(f"nvidia_smi/{name}"))
    assert summary is not None and len(summary.gpus) == 1
    return summary.gpus[0]


def test_text_gpu_row_reasons() -> None:
    windows = _only_gpu("text_windows_rtx2080super_591.86_wddm.txt")
    assert windows.unknown["name"] == "nvidia-smi's table cut the name short: 'NVIDIA GeForce RTX 2080 ...'"
    assert "no MIG M. field" in _only_gpu("text_grid-k520_418.87.00.txt").unknown["mig_enabled"]
    cut = _only_gpu("text_wsl2_rtx3060_545.46_win546.80_cuda_err_partial.txt")
    assert cut.unknown["mig_enabled"] == "the table ends before it"


def test_text_failure_message_is_not_a_table() -> None:
    assert parse_smi_text(fixture_text("nvidia_smi/text_failed_no_driver.txt")) is None


def test_xml_new_schema_a100_with_mig() -> None:
    log = parse_smi_xml(fixture_text("nvidia_smi/xml_a100-sxm4-80gb-mig_535.54.03.xml"))
    assert log is not None
    assert (log.driver_version, log.cuda_version) == ("535.54.03", "12.2")
    (gpu,) = log.gpus
    assert gpu.index == 0
    assert gpu.name == "NVIDIA A100-SXM4-80GB"
    assert gpu.uuid == "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    assert gpu.mig_enabled is True
    # The GPU's own framebuffer, not one of the MIG devices' (19968 MiB each) listed before it.
    assert gpu.memory_total_bytes == 81920 * MIB
    assert gpu.memory_used_bytes == 50 * MIB
    assert (gpu.pcie_gen, gpu.pcie_gen_max, gpu.pcie_width, gpu.pcie_width_max) == (4, 4, 16, 16)
    assert gpu.power_limit_w == 500.0
    assert (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz) == (1275, 1410)
    assert gpu.throttle_reasons == ()
    assert gpu.compute_capability is None and "compute_capability" in gpu.unknown
    assert gpu.pci_bus_id == "00000000:01:00.0"  # <gpu id="...">


def test_xml_old_schema_gtx1660ti() -> None:
    log = parse_smi_xml(fixture_text("nvidia_smi/xml_gtx1660ti_418.43.xml"))
    assert log is not None
    assert (log.driver_version, log.cuda_version) == ("418.43", "10.1")
    (gpu,) = log.gpus
    assert gpu.name == "Graphics Device"
    assert gpu.memory_total_bytes == 5912 * MIB
    assert gpu.mig_enabled is None and "mig_enabled" in gpu.unknown  # 418 predates MIG
    assert gpu.power_limit_w == 130.0  # <power_readings><power_limit>, before the 535 rename
    assert (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz) == (300, 2145)
    assert gpu.throttle_reasons == ("gpu_idle",)  # <clocks_throttle_reasons>, before the 535 rename
    assert (gpu.pcie_gen, gpu.pcie_gen_max) == (1, 3)  # an idle GPU drops its link to gen 1
    assert gpu.pci_bus_id == "00000000:43:00.0"


@pytest.mark.parametrize("text", ["", "not xml", "<other/>", fixture_text("nvidia_smi/text_a10_550.127.05.txt")])
def test_xml_rejects_other_text(text: str) -> None:
    assert parse_smi_xml(text) is None


def test_compute_caps_by_header_with_index_column() -> None:
    caps = parse_compute_caps(fixture_text("nvidia_smi/csv_query_compute_cap_titanv_rtx5880ada_570.86.15.csv"))
    assert caps == {0: (7, 0), 1: (8, 9)}


def test_compute_caps_without_index_column_are_in_gpu_order() -> None:
    assert parse_compute_caps(fixture_text("nvidia_smi/csv_query_compute_cap_only_570.133.07.csv")) == {0: (8, 9)}


def test_compute_caps_from_a_driver_that_does_not_know_the_field() -> None:
    assert parse_compute_caps(fixture_text("nvidia_smi/csv_query_compute_cap_invalid_field_smi470.txt")) == {}


def test_nvlink_h100_has_18_active_links() -> None:
    assert parse_nvlink_status(fixture_text("nvidia_smi/nvlink_s_h100_590.48.01.txt")) == {0: 18}


def test_nvlink_gpu_without_links_counts_zero() -> None:
    text = fixture_text("nvidia_smi/nvlink_s_windows_rtx2080super_591.86_inactive.txt")
    assert parse_nvlink_status(text) == {0: 0}


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("00000000:07:00.0", "00000000:07:00.0"),  # NVML's busId, nvidia-smi's Bus-Id
        (b"00000000:1B:00.0\0", "00000000:1B:00.0"),  # pynvml's ctypes char array
        ("0000:1b:00.0", "00000000:1B:00.0"),  # NVML's busIdLegacy, Linux sysfs (lower-case)
        ("00000001:00:00.0", "00000001:00:00.0"),  # a Hyper-V VM's own PCI domain
        ("GPU-513536b6", None),
        ("", None),
        (None, None),
    ],
)
def test_pci_bus_id_in_nvmls_spelling(spelling: str | bytes | None, expected: str | None) -> None:
    assert normalise_pci_bus_id(spelling) == expected

"""The machine documents of tests/machines.py, read back the way `check --from` reads a saved `check --json`."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from envdoctor.importers import read_facts
from envdoctor.render.json_doc import dumps
from tests.machines import MACHINES, check_document

MIB = 1024 * 1024
H100 = "NVIDIA H100 80GB HBM3"


class Gpu(NamedTuple):
    """One of nvidia.gpus[] as the captures give it."""

    name: Optional[str]
    capability: Optional[tuple[int, int]]
    bus_id: str
    memory_mib: int


class Device(NamedTuple):
    """One of torch.devices[], in CUDA's order."""

    name: str
    capability: tuple[int, int]
    memory_mib: int
    uuid: Optional[str]
    bus_id: str


class Machine(NamedTuple):
    driver: str
    torch: str
    gpus: list[Gpu]
    devices: list[Device]


H100_BUSES = ["53", "64", "75", "86", "97", "A8", "B9", "CA"]
MASKED = "00000000-0000-0000-0000-000000000000"  # nvidia_gpu_exporter's collector masks UUIDs
EXPECTED = {
    "h200": Machine("590.48.01", "2.14.1+cu130",
                    [Gpu("NVIDIA H200", (9, 0), "00000000:83:00.0", 143771)],
                    [Device("NVIDIA H200", (9, 0), 143771, MASKED, "00000000:83:00.0")]),
    "h100-sxm": Machine("590.48.01", "2.14.1+cu130",
                        [Gpu(H100, (9, 0), "00000000:00:09.0", 81559)],
                        [Device(H100, (9, 0), 81559, MASKED, "00000000:00:09.0")]),
    # The table cut the GPU's name ("NVIDIA A100 80G..."): unknown in nvidia.gpus, named by `nvidia-smi -L`.
    "a100-mig-1g.10gb": Machine("515.86.01", "2.7.1+cu118",
                                [Gpu(None, None, "00000001:00:00.0", 81920)],
                                [Device("NVIDIA A100 80GB PCIe MIG 1g.10gb", (8, 0), 9728,
                                        "3ba76b8d-4677-5637-bb32-ce72da625fa2", "00000001:00:00.0")]),
    "rtx-4090": Machine("535.86.05", "2.14.1+cu126",
                        [Gpu("NVIDIA GeForce RTX 4090", None, "00000000:84:00.0", 24564)],
                        [Device("NVIDIA GeForce RTX 4090", (8, 9), 24564, "71d1acc2-662d-2166-bf9f-65272d2fc437",
                                "00000000:84:00.0")]),
    "t4": Machine("515.105.01", "2.7.1+cu118",
                  [Gpu("Tesla T4", None, "00000000:00:1E.0", 15360)],
                  [Device("Tesla T4", (7, 5), 15360, "d37e67a5-91dd-3774-a5cb-99096249601a", "00000000:00:1E.0")]),
    "8xh100": Machine("550.90.07", "2.14.1+cu126",
                      [Gpu(H100, None, f"00000000:{bus}:00.0", 81559) for bus in H100_BUSES],
                      [Device(H100, (9, 0), 81559, None, f"00000000:{bus}:00.0") for bus in H100_BUSES]),
    "mixed-2gpu": Machine("595.71.05", "2.14.1+cu130",
                          [Gpu("NVIDIA GeForce RTX 5090", None, "00000000:01:00.0", 32607),
                           Gpu("NVIDIA GeForce RTX 3090 Ti", None, "00000000:03:00.0", 24564)],
                          [Device("NVIDIA GeForce RTX 5090", (12, 0), 32607, None, "00000000:01:00.0"),
                           Device("NVIDIA GeForce RTX 3090 Ti", (8, 6), 24564, None, "00000000:03:00.0")]),
}


def test_every_machine_is_tested() -> None:
    assert set(MACHINES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_machine_reads_back_through_check_from(name: str, tmp_path: Path) -> None:
    saved = tmp_path / f"{name}.json"
    saved.write_text(dumps(check_document(name)), encoding="utf-8")
    facts = read_facts(str(saved))
    expected = EXPECTED[name]
    assert facts.origin.kind == "file" and facts.origin.hostname == name
    assert (facts.nvidia.driver_version, facts.nvidia.gpus_source) == (expected.driver, "nvidia-smi")
    gpus = [Gpu(g.name, g.compute_capability, g.pci_bus_id or "", (g.memory_total_bytes or 0) // MIB)
            for g in facts.nvidia.gpus]
    assert gpus == expected.gpus
    assert [g.index for g in facts.nvidia.gpus] == list(range(len(expected.gpus)))
    for gpu in facts.nvidia.gpus:  # what the captures do not say is unknown with a reason, never a guess
        if gpu.compute_capability is None:
            assert gpu.unknown["compute_capability"]
        if gpu.name is None:
            assert gpu.unknown["name"].startswith("nvidia-smi's table cut the name short")
    torch = facts.torch
    assert (torch.status, torch.version, torch.cuda_available) == ("ok", expected.torch, True)
    assert torch.device_count == len(expected.devices)
    devices = [Device(d.name, d.capability, d.total_memory_bytes // MIB, d.uuid, d.pci_bus_id or "")
               for d in torch.devices]
    assert devices == expected.devices
    assert [d.index for d in torch.devices] == list(range(len(expected.devices)))


def test_a_mig_slice_is_one_smaller_device_on_its_gpus_bus() -> None:
    document = check_document("a100-mig-1g.10gb")
    (gpu,) = document["facts"]["nvidia"]["gpus"]
    (device,) = document["facts"]["torch"]["devices"]
    assert gpu["mig_enabled"] is True and device["pci_bus_id"] == gpu["pci_bus_id"]
    assert device["total_memory_bytes"] < gpu["memory_total_bytes"] / 8


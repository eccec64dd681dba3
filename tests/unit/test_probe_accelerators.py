"""PCI, ROCm and Intel probes against a fake sysfs and recorded rocminfo output."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.probe.accelerators import probe_accelerators
from tests.helpers import fixture_text, make_host


def _pci(root: Path, address: str, pci_class: str, vendor: str, device: str, driver: str | None) -> None:
    node = root / "sys/bus/pci/devices" / address
    node.mkdir(parents=True)
    (node / "class").write_text(pci_class + "\n")
    (node / "vendor").write_text(vendor + "\n")
    (node / "device").write_text(device + "\n")
    if driver:
        target = root / "sys/bus/pci/drivers" / driver
        target.mkdir(parents=True, exist_ok=True)
        (node / "driver").symlink_to(target)


def test_pci_gpus_with_and_without_a_driver(fake_root: Path) -> None:
    _pci(fake_root, "0000:01:00.0", "0x030000", "0x10de", "0x2684", None)  # an NVIDIA GPU, no driver loaded
    _pci(fake_root, "0000:00:02.0", "0x030000", "0x8086", "0x46a6", "i915")
    _pci(fake_root, "0000:00:1f.3", "0x040300", "0x8086", "0x51c8", "snd_hda_intel")  # audio: not a GPU
    facts = probe_accelerators(make_host(fake_root))
    assert [(g.address, g.vendor, g.driver) for g in facts.pci_gpus] == [
        ("0000:00:02.0", "intel", "i915"), ("0000:01:00.0", "nvidia", None)]
    assert facts.intel is not None and (facts.intel.devices, facts.intel.drivers) == (1, ("i915",))
    assert facts.rocm is None


def test_rocm_from_version_file_and_rocminfo(fake_root: Path) -> None:
    host = make_host(
        fake_root, env={"PATH": "/usr/bin"}, files={"/opt/rocm/.info/version": "5.7.1-98\n"},
        executables=["/opt/rocm/bin/rocminfo"],
        answers={("rocminfo",): fixture_text("rocminfo/rocminfo_gfx90a_4xmi210_rocm5.7.1.txt")},
    )
    rocm = probe_accelerators(host).rocm
    assert rocm is not None
    assert rocm.version == "5.7.1" and rocm.source == "rocminfo"
    assert rocm.gfx_archs == ("gfx90a",) * 4 and rocm.gpu_names[0] == "AMD Instinct MI210"


def test_rocm_version_without_rocminfo(fake_root: Path) -> None:
    host = make_host(fake_root, env={"PATH": "/usr/bin"}, files={"/opt/rocm/.info/version": "6.2.4\n"})
    rocm = probe_accelerators(host).rocm
    assert rocm is not None and rocm.version == "6.2.4"
    assert rocm.gfx_archs == () and rocm.unknown["gfx_archs"] == "rocminfo not found"


def test_nothing_on_a_plain_machine(fake_root: Path) -> None:
    facts = probe_accelerators(make_host(fake_root, env={"PATH": "/usr/bin"}))
    assert (facts.pci_gpus, facts.rocm, facts.apple, facts.intel) == ((), None, None, None)


def test_rosetta_is_read_from_sysctl(fake_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `sysctl -n sysctl.proc_translated` prints 1 in a process Rosetta 2 translates, 0 in a native one; Intel Macs
    # have no such key (Apple, "About the Rosetta translation environment").
    monkeypatch.setattr("envdoctor.probe.accelerators.platform.machine", lambda: "x86_64")
    translated = make_host(fake_root, system="Darwin", answers={("sysctl", "-n", "sysctl.proc_translated"): "1\n"})
    apple = probe_accelerators(translated).apple
    assert apple is not None and (apple.apple_silicon, apple.rosetta) == (True, True)
    intel = probe_accelerators(make_host(fake_root, system="Darwin")).apple
    assert intel is not None and (intel.apple_silicon, intel.rosetta) == (False, False)

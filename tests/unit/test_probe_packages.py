"""The package probe over fake site-packages directories: versions, local tags, conflicts, conda records."""

from __future__ import annotations

import json
from pathlib import Path

from envdoctor.probe.packages import probe_packages
from tests.helpers import make_host


def _dist(site: Path, name: str, version: str, top_level: str | None = None) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level + "\n")


def test_versions_and_local_tags(tmp_path: Path, fake_root: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "torch", "2.4.1+cu121")
    _dist(site, "torchvision", "0.20.1+cu124")
    _dist(site, "nvidia-cudnn-cu12", "9.1.0.70")
    _dist(site, "requests", "2.32.0", top_level="requests")
    facts = probe_packages(make_host(fake_root), str(tmp_path), path=[str(site)])
    assert [(d.name, d.version, d.local) for d in facts.distributions] == [
        ("nvidia-cudnn-cu12", "9.1.0.70", None), ("torch", "2.4.1+cu121", "cu121"),
        ("torchvision", "0.20.1+cu124", "cu124")]
    assert facts.conflicts == ()


def test_two_torches_on_the_path_conflict(tmp_path: Path, fake_root: Path) -> None:
    user, venv = tmp_path / "user-site", tmp_path / "venv-site"
    _dist(user, "torch", "2.1.0")
    _dist(venv, "torch", "2.5.1+cu124")
    facts = probe_packages(make_host(fake_root), str(tmp_path), path=[str(user), str(venv)])
    assert len(facts.get("torch")) == 2
    (conflict,) = facts.conflicts
    assert conflict.module == "torch"
    assert [p.split(" (")[0] for p in conflict.distributions] == ["torch 2.1.0", "torch 2.5.1+cu124"]


def test_old_pynvml_beside_nvidia_ml_py(tmp_path: Path, fake_root: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "pynvml", "11.5.0", top_level="pynvml")
    _dist(site, "nvidia-ml-py", "12.560.30")  # its wheel has no top_level.txt
    facts = probe_packages(make_host(fake_root), str(tmp_path), path=[str(site)])
    (conflict,) = facts.conflicts
    assert conflict.module == "pynvml" and len(conflict.distributions) == 2


def test_an_unrelated_distribution_that_ships_a_torch_module(tmp_path: Path, fake_root: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "torch", "2.3.0")
    _dist(site, "torch-fork", "1.0", top_level="torch")
    facts = probe_packages(make_host(fake_root), str(tmp_path), path=[str(site)])
    assert [c.module for c in facts.conflicts] == ["torch"]


def test_conda_environment_torch(tmp_path: Path, fake_root: Path) -> None:
    prefix = tmp_path / "conda-env"
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    record = {"name": "pytorch", "version": "2.5.1", "build": "py3.11_cuda12.4_cudnn9.1.0_0", "channel": "pytorch"}
    (meta / "pytorch-2.5.1-py3.11_cuda12.4_cudnn9.1.0_0.json").write_text(json.dumps(record))
    (meta / "numpy-2.1.0-py311_0.json").write_text(json.dumps({"name": "numpy", "version": "2.1.0", "build": "0"}))
    facts = probe_packages(make_host(fake_root), str(prefix), path=[])
    assert facts.conda_prefix == str(prefix)
    assert [(p.name, p.version, p.channel) for p in facts.conda_packages] == [("pytorch", "2.5.1", "pytorch")]


def test_this_environment_finds_torch_without_importing_it(fake_root: Path) -> None:
    import sys

    before = "torch" in sys.modules
    facts = probe_packages(make_host(fake_root), sys.prefix)
    assert ("torch" in sys.modules) == before
    if facts.get("torch"):
        assert facts.torch_origin is not None and facts.torch_origin.endswith("__init__.py")

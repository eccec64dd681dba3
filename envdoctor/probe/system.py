"""Probe the operating system, the Python interpreter, memory and the environment variables torch heeds."""

from __future__ import annotations

import os
import platform
import re
import shutil
import struct
import sys
import sysconfig
from importlib import metadata
from typing import Optional

import psutil

from envdoctor.facts.system import MemoryInfo, OsInfo, PythonInfo
from envdoctor.knowledge.environment import MASKED, secret, watched
from envdoctor.parse.kernel import wsl_generation
from envdoctor.parse.os_release import parse_os_release
from envdoctor.probe.host import Host
from envdoctor.probe.interpreter import Interpreter

# "scheme://user:password@host": the password of a URL in a value, masked even where the name says nothing
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/@\s]*@")


def _glibc(host: Host, unknown: dict[str, str]) -> Optional[str]:
    if host.system != "Linux":
        unknown["glibc"] = f"not applicable on {host.system}"
        return None
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (ValueError, OSError):
        name, version = "", ""
    if name == "glibc" and version:
        return version
    unknown["glibc"] = "the C library is not glibc (musl?)"
    return None


def _container(host: Host) -> tuple[Optional[str], Optional[str]]:
    """The container runtime this process seems to run in, and the evidence."""
    if "KUBERNETES_SERVICE_HOST" in host.env:
        return "kubernetes", "KUBERNETES_SERVICE_HOST is set"
    if host.exists("/run/.containerenv"):
        return "podman", "/run/.containerenv"
    if host.exists("/.dockerenv"):
        return "docker", "/.dockerenv"
    if host.env.get("container"):
        return host.env["container"], "the `container` environment variable"
    cgroup = host.read_text("/proc/1/cgroup") or ""
    for marker, runtime in (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"),
                            ("lxc", "lxc")):
        if marker in cgroup:
            return runtime, f"/proc/1/cgroup mentions {marker}"
    return None, None


def probe_os(host: Host) -> OsInfo:
    unknown: dict[str, str] = {}
    name = distro_id = version = None
    wsl = None
    if host.system == "Linux":
        text = host.read_text("/etc/os-release") or host.read_text("/usr/lib/os-release")
        if text is None:
            unknown.update(name="no /etc/os-release", distro_id="no /etc/os-release",
                           version="no /etc/os-release")
        else:
            release = parse_os_release(text)
            name = release.get("PRETTY_NAME") or release.get("NAME")
            distro_id = release.get("ID")
            version = release.get("VERSION_ID")
        wsl = wsl_generation(host.read_text("/proc/version") or platform.release())
    elif host.system == "Darwin":
        version = platform.mac_ver()[0] or None
        name, distro_id = (f"macOS {version}" if version else "macOS"), "macos"
    elif host.system == "Windows":
        version = platform.version() or None
        name, distro_id = f"Windows {platform.release()}", "windows"
    container, evidence = _container(host) if host.system == "Linux" else (None, None)
    return OsInfo(
        system=host.system,
        arch=platform.machine(),
        name=name,
        distro_id=distro_id,
        version=version,
        kernel=platform.release() or None,
        glibc=_glibc(host, unknown),
        wsl=wsl,
        container=container,
        container_evidence=evidence,
        unknown=unknown,
    )


def probe_python(other: Optional[Interpreter] = None) -> PythonInfo:
    """This interpreter, or `other` (`check --python`), whose packages are read from its sys.path."""
    me = other or Interpreter(platform.python_version(), platform.python_implementation(), sys.executable,
                              struct.calcsize("P") * 8, bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                              sys.prefix, getattr(sys, "base_prefix", sys.prefix), tuple(sys.path))
    unknown: dict[str, str] = {}
    conda = os.path.isdir(os.path.join(me.prefix, "conda-meta"))
    in_venv = me.prefix != me.base_prefix
    pips = [d.version for d in metadata.distributions(path=list(me.path)) if (d.metadata["Name"] or "") == "pip"]
    if not pips:
        unknown["pip_version"] = "pip is not installed in this environment"
    return PythonInfo(
        version=me.version,
        implementation=me.implementation,
        executable=me.executable,
        bits=me.bits,
        free_threaded=me.free_threaded,
        env_kind="conda" if conda else "venv" if in_venv else "system",
        env_path=me.prefix if conda or in_venv else None,
        pip_version=pips[0] if pips else None,
        unknown=unknown,
    )


def probe_memory(host: Host) -> MemoryInfo:
    unknown: dict[str, str] = {}
    vm = psutil.virtual_memory()
    shm_total = shm_free = None
    if host.system == "Linux":
        try:
            usage = shutil.disk_usage(host.path("/dev/shm"))
            shm_total, shm_free = usage.total, usage.free
        except OSError as exc:
            unknown["shm_total_bytes"] = unknown["shm_free_bytes"] = f"/dev/shm: {exc.strerror or exc}"
    return MemoryInfo(vm.total, vm.available, shm_total, shm_free, unknown)


def probe_environment(host: Host) -> dict[str, str]:
    """The variables envdoctor/knowledge/environment.py watches that are set, by name. The torch child and every
    child of `check --python` inherit them. A value that may be a credential is never recorded: the whole value
    where the name says so (a TOKEN, PASSWORD or KEY), a URL's password in any other."""
    env = host.env
    return {name: MASKED if secret(name) else _URL_PASSWORD.sub(rf"\1:{MASKED}@", env[name])
            for name in sorted(env) if watched(name) is not None}

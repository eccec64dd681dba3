"""The facts as a terminal report, grouped System, Accelerators, PyTorch, Toolkit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Optional, Union

from rich.console import Console
from rich.table import Table
from rich.text import Text

from envdoctor.diagnose.machine import GpuRow
from envdoctor.facts import Facts, GpuInfo, NvidiaInfo, PackageFacts, SystemFacts, ToolkitInfo, TorchRuntime
from envdoctor.facts.accelerators import AcceleratorFacts
from envdoctor.facts.deep import DeepResult
from envdoctor.facts.torch import cudnn_release

Cell = Union[str, Text]
Row = tuple[str, Cell]

_GIB = 1024**3
_LABEL_WIDTH = 23
_TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "triton", "pytorch-triton", "numpy")


def unknown(reason: Optional[str]) -> Text:
    return Text(f"unknown: {reason}" if reason else "unknown", style="dim")


def _or_unknown(value: Optional[object], reasons: Mapping[str, str], field: str, fmt: str = "{}") -> Cell:
    return fmt.format(value) if value is not None else unknown(reasons.get(field))


def _gib(n: int) -> str:
    """Bytes for people: GiB from 1 GiB up, MiB below."""
    return f"{n / _GIB:.1f} GiB" if n >= _GIB else f"{n / 1024**2:.0f} MiB"


def _join(parts: Iterable[Optional[str]]) -> str:
    return " · ".join(p for p in parts if p)


def system_rows(system: SystemFacts) -> list[Row]:
    os_, py, cpu, mem = system.os, system.python, system.cpu, system.memory
    where = None
    if os_.wsl:
        where = f"WSL {os_.wsl}"
    if os_.container:
        where = _join([where, f"in {os_.container} ({os_.container_evidence})"])
    os_line = _join([os_.name or os_.system, f"kernel {os_.kernel}" if os_.kernel else None, os_.arch,
                     f"glibc {os_.glibc}" if os_.glibc else None, where])
    env = f"{py.env_kind} {py.env_path}" if py.env_path else py.env_kind
    pip = f"pip {py.pip_version}" if py.pip_version else "pip unknown" if "pip_version" in py.unknown else "no pip"
    head = " ".join(filter(None, [py.version or "version unknown", py.implementation, f"{py.bits}-bit" if py.bits
                                  else None, "free-threaded" if py.free_threaded else None]))
    py_line = _join([head, env if env != "unknown" else None, pip])
    cores = _join([f"{cpu.cores} cores" if cpu.cores else None, f"{cpu.threads} threads" if cpu.threads else None,
                   f"{cpu.usable_threads} usable"
                   if cpu.usable_threads is not None and cpu.usable_threads != cpu.threads else None])
    isa: Cell = " ".join(cpu.isa) or "none of the tracked features" if cpu.isa is not None else unknown(
        cpu.unknown.get("isa"))
    shm: Cell = (f"{_gib(mem.shm_total_bytes)} ({_gib(mem.shm_free_bytes or 0)} free)"
                 if mem.shm_total_bytes is not None else unknown(mem.unknown.get("shm_total_bytes", "not Linux")))
    memory = (f"{_gib(mem.total_bytes)} ({_gib(mem.available_bytes or 0)} available)"
              if mem.total_bytes is not None else unknown(mem.unknown.get("total_bytes")))
    return [
        ("OS", os_line),
        ("Python", py_line),
        ("Interpreter", py.executable or unknown(py.unknown.get("executable"))),
        ("CPU", _join([cpu.model, cores]) or unknown(cpu.unknown.get("model"))),
        ("CPU features", isa),
        ("Memory", memory),
        ("/dev/shm", shm),
        ("Environment", environment_cell(system)),
    ]


def environment_cell(system: SystemFacts) -> Cell:
    """The variables torch heeds that are set, one NAME=value a line; and why the others are unknown, if they are."""
    text = Text("\n".join(f"{name}={value}" for name, value in system.environment.items()))
    why = system.unknown.get("environment")
    if why:
        text.append(("\n" if text else "") + f"others unknown: {why}", style="dim")
    return text if text else "none of the variables that change torch's behaviour is set"


def _gpu_line(gpu: GpuInfo, resolved: Optional[tuple[tuple[int, int], str]]) -> Cell:
    """`resolved`: the capability the diagnosis found for a GPU the driver did not give one, and from where."""
    if gpu.compute_capability:
        capability = f"compute capability sm_{gpu.compute_capability[0]}{gpu.compute_capability[1]}"
    elif resolved is not None:
        (major, minor), source = resolved
        capability = f"compute capability sm_{major}{minor} (from {source})"
    else:
        capability = f"compute capability unknown: {gpu.unknown.get('compute_capability', 'not read')}"
    memory = (f"{_gib(gpu.memory_used_bytes or 0)} / {_gib(gpu.memory_total_bytes)} used"
              if gpu.memory_total_bytes is not None else None)
    clock = (f"SM {gpu.sm_clock_mhz}/{gpu.sm_clock_max_mhz} MHz"
             if gpu.sm_clock_mhz is not None and gpu.sm_clock_max_mhz is not None else None)
    pcie = (f"PCIe gen {gpu.pcie_gen}/{gpu.pcie_gen_max} x{gpu.pcie_width}/{gpu.pcie_width_max}"
            if gpu.pcie_gen is not None else None)
    throttle = ("throttled: " + ", ".join(r for r in gpu.throttle_reasons if r != "gpu_idle")
                if gpu.throttle_reasons and set(gpu.throttle_reasons) - {"gpu_idle"} else None)
    links = f"NVLink {gpu.nvlink_active_links} links" if gpu.nvlink_active_links else None
    text = Text(_join([gpu.name or "unknown GPU", capability,
                       memory, "MIG on" if gpu.mig_enabled else None, clock,
                       f"{gpu.power_limit_w:g} W limit" if gpu.power_limit_w is not None else None, pcie, links]))
    if throttle:
        text.append(f" · {throttle}", style="yellow")
    if gpu.uuid:
        text.append(f"\n{gpu.uuid}", style="dim")
    return text


def accelerator_rows(nvidia: NvidiaInfo, accelerators: AcceleratorFacts,
                     resolved: Sequence[GpuRow] = ()) -> list[Row]:
    driver: Cell = f"{nvidia.driver_version} (from {nvidia.driver_source})"
    if nvidia.presence_unknown:
        driver = unknown(nvidia.presence_unknown)
    elif not nvidia.driver_version:
        driver = Text.assemble(("not found", "bold"))
        driver.append("".join(f"\n{attempt}" for attempt in nvidia.attempts), style="dim")
    rows: list[Row] = [("NVIDIA driver", driver)]
    if nvidia.driver_version:
        rows.append(("CUDA, driver's max", _or_unknown(nvidia.driver_max_cuda, nvidia.unknown, "driver_max_cuda",
                                                       "{} (the newest CUDA this driver can run)")))
    by_name = {name: (cap, source) for name, cap, source in resolved if cap is not None}
    rows.extend((f"GPU {g.index}", _gpu_line(g, by_name.get(g.name or ""))) for g in nvidia.gpus)
    if nvidia.driver_version and not nvidia.gpus:
        rows.append(("GPUs", unknown(nvidia.unknown.get("gpus"))))
    if len(nvidia.gpus) > 1:
        present = nvidia.nvlink_present
        rows.append(("NVLink", "present" if present else "none active" if present is False else unknown(None)))
    rows.extend(("PCI GPU", f"{g.vendor} {g.device_id} at {g.address}, driver {g.driver or 'none bound'}")
                for g in accelerators.pci_gpus if g.vendor != "nvidia" or not nvidia.gpus)
    if accelerators.rocm:
        rocm = accelerators.rocm
        rows.append(("ROCm", _join([rocm.version or "version unknown",
                                    ", ".join(f"{n} ({a})" for n, a in zip(rocm.gpu_names, rocm.gfx_archs))])))
    if accelerators.apple:
        apple = accelerators.apple
        rows.append(("Apple", _join(["Apple silicon" if apple.apple_silicon else "Intel Mac",
                                     "x86_64 Python under Rosetta 2" if apple.rosetta else None,
                                     f"macOS {apple.macos_version}" if apple.macos_version else None])))
    if accelerators.intel:
        intel = accelerators.intel
        rows.append(("Intel GPU", _join([f"{intel.devices} device(s)", ", ".join(intel.drivers) or None,
                                         intel.xpu_smi_version])))
    return rows


def torch_rows(torch: TorchRuntime, packages: PackageFacts) -> list[Row]:
    rows: list[Row] = []
    for name in _TORCH_FAMILY:
        for dist in packages.get(name):
            rows.append((name, f"{dist.version}  {dist.location}"))
    if not packages.get("torch"):
        if torch.status == "ok":
            rows.append(("torch", _join([torch.version, "its distribution is not known" if "distributions" in
                                         packages.unknown else "imports, but no installed distribution was found"])))
        elif "distributions" in packages.unknown:
            rows.append(("torch", unknown(packages.unknown["distributions"])))
        else:
            rows.append(("torch", Text("not installed", style="bold")))
    for conflict in packages.conflicts:
        rows.append((f"{conflict.module} from", Text("\n".join(conflict.distributions), style="yellow")))
    if packages.conda_packages:
        rows.append(("conda", ", ".join(f"{p.name} {p.version} ({p.build})" for p in packages.conda_packages)))
    nvidia_wheels = [d for d in packages.distributions if d.name.startswith("nvidia-") and d.name != "nvidia-ml-py"]
    if nvidia_wheels:
        rows.append(("NVIDIA wheels", ", ".join(f"{d.name} {d.version}" for d in nvidia_wheels)))
    rows.append(("Import", _import_line(torch)))
    if torch.status != "ok":
        return rows
    built = torch.cuda or (f"none (ROCm {torch.hip})" if torch.hip else "none (CPU build)")
    rows.append(("CUDA, torch built with", built))
    if torch.cuda or torch.hip:
        cudnn = (f"cuDNN {cudnn_release(torch.cudnn)}" if torch.cudnn else
                 f"cuDNN unknown ({torch.unknown['cudnn']})" if "cudnn" in torch.unknown else "no cuDNN")
        rows.append(("cuDNN / NCCL", _join([cudnn, f"NCCL {torch.nccl}" if torch.nccl else None])))
        rows.append(("Architectures", " ".join(torch.arch_list or ()) or unknown(torch.unknown.get("arch_list"))))
        count = f", {torch.device_count} device(s)" if torch.device_count is not None else ""
        available: Cell = (f"yes{count}" if torch.cuda_available else "no" if torch.cuda_available is False
                           else unknown(torch.unknown.get("cuda_available")))
        rows.append(("CUDA available", available))
        rows.extend((f"device {d.index}", f"{d.name} · capability {d.capability[0]}.{d.capability[1]} · "
                     f"{_gib(d.total_memory_bytes)}") for d in torch.devices)
    if torch.mps_available:
        rows.append(("MPS available", "yes"))
    if torch.warnings:
        rows.append(("torch warned", Text("\n".join(torch.warnings), style="yellow")))
    return rows


def _import_line(torch: TorchRuntime) -> Cell:
    if torch.status == "ok":
        if torch.import_seconds is None:
            return "imports (the file says so; no time or location given)"
        return f"imports in {torch.import_seconds:.2f} s from {torch.origin}"
    if torch.status in ("skipped", "not_installed"):
        return Text(torch.error or torch.status, style="dim")
    label = {"crashed": f"crashed ({torch.exit_signal})", "timeout": "timed out"}.get(torch.status,
                                                                                       "import failed")
    text = Text(label, style="bold red")
    if torch.error:
        lines = torch.error.strip().splitlines()
        text.append("\n" + "\n".join(lines[-6:]), style="red")
    return text


def toolkit_rows(toolkit: ToolkitInfo) -> list[Row]:
    nvcc: Cell = (toolkit.nvcc_version + (f" at {toolkit.nvcc_path}" if toolkit.nvcc_path else "")
                  if toolkit.nvcc_version
                  else unknown(toolkit.unknown.get("nvcc_version") or toolkit.unknown.get("nvcc_path")))
    rows: list[Row] = [
        ("CUDA, toolkit's nvcc", nvcc),
        ("CUDA_HOME", f"{toolkit.cuda_home} (from {toolkit.cuda_home_source})" if toolkit.cuda_home
         else unknown(toolkit.unknown.get("cuda_home"))),
    ]
    if toolkit.library_dirs:
        rows.extend((toolkit.library_path_var, Text(f"{d.path}: {' '.join(d.libraries)}", style="yellow"))
                    for d in toolkit.library_dirs)
    elif "library_dirs" in toolkit.unknown:
        rows.append((toolkit.library_path_var, unknown(toolkit.unknown["library_dirs"])))
    else:
        rows.append((toolkit.library_path_var, "no CUDA libraries that would shadow torch's"))
    return rows


def library_rows(torch: TorchRuntime) -> list[Row]:
    """The CUDA and torch libraries torch's process mapped; torch's own (libtorch*, libc10*) on one row."""
    if torch.loaded_libraries is None:
        return [("libraries", unknown(torch.unknown.get("loaded_libraries")))]
    own = [lib for lib in torch.loaded_libraries if lib.version_source == "wheel torch"]
    rows: list[Row] = []
    if own:
        rows.append(("torch's own", f"{', '.join(lib.name for lib in own)}: torch {own[0].version}"))
    for lib in torch.loaded_libraries:
        if lib in own:
            continue
        when = ", after CUDA ran" if lib.stage == "cuda-init" else ""
        where = lib.path.split("site-packages", 1)[-1].lstrip("/\\") if lib.origin == "torch-wheel" else lib.path
        line = f"{lib.version or 'version unknown'} ({lib.origin}{when}) {where}"
        rows.append((lib.name, Text(f"{line}\n  ahead of {lib.wheel_copy} ({lib.wheel_copy_owner})", style="red")
                     if lib.wheel_copy else line))
    return rows or [("libraries", "no CUDA or torch library is mapped")]


def _section(title: str, rows: Sequence[Row]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None,
                  padding=(0, 1), expand=False)
    table.add_column(style="cyan", no_wrap=True, width=_LABEL_WIDTH)
    table.add_column(overflow="fold")
    for label, value in rows:
        # Text, never markup: values come from the machine and may hold "[...]".
        table.add_row(Text(label), Text(value) if isinstance(value, str) else value)
    return table


def origin_line(facts: Facts) -> str:
    if facts.origin.kind == "file":
        where = "standard input" if facts.origin.path == "-" else facts.origin.path
        return f"Facts read from {where}, not probed on this machine"
    return f"Facts probed on {facts.origin.hostname or 'this machine'} at {facts.collected_at}"


def deep_rows(results: tuple[DeepResult, ...]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        timing = f" in {r.seconds * 1000:.0f} ms" if r.seconds is not None else ""
        if r.skipped:
            rows.append((f"{r.device}", Text(f"{r.check}: not run: {r.skipped}", style="dim")))
            continue
        rows.append((f"{r.device}", Text(f"{r.check}: ok{timing}", style="green") if r.ok
                     else Text(f"{r.check}: FAILED {r.error}", style="red")))
    return rows or [("devices", unknown("torch does not import, so nothing was run"))]


def fact_sections(facts: Facts, resolved: Sequence[GpuRow] = ()) -> list[tuple[str, list[Row]]]:
    """The facts as titled sections of rows, for every renderer (terminal, Markdown). `resolved`: GPUs' compute
    capabilities as the diagnosis found them (for GPUs the driver gave none)."""
    sections = [
        ("System", system_rows(facts.system)),
        ("Accelerators", accelerator_rows(facts.nvidia, facts.accelerators, resolved)),
        ("PyTorch", torch_rows(facts.torch, facts.packages)),
        ("Toolkit", toolkit_rows(facts.toolkit)),
    ]
    if facts.torch.loaded_libraries is not None or "loaded_libraries" in facts.torch.unknown:
        sections.append(("Libraries torch loaded", library_rows(facts.torch)))
    if facts.deep is not None:
        sections.append(("Deep checks", deep_rows(facts.deep)))
    return sections


def render_facts(console: Console, facts: Facts, resolved: Sequence[GpuRow] = ()) -> None:
    """`resolved`: GPUs' compute capabilities as the diagnosis found them (for GPUs the driver gave none)."""
    for index, (title, rows) in enumerate(fact_sections(facts, resolved)):
        if index:
            console.print()
        console.print(_section(title, rows))

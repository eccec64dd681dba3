"""The rules: each a pure function from the diagnosis context to findings. `diagnose` runs them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Optional

from packaging.version import Version

from envdoctor.diagnose import variables
from envdoctor.diagnose.advice import JETSON_WHEELS, Advice, InstallPlan, glibc_needed, plan_install
from envdoctor.diagnose.archs import runs_on, sm, too_new_or_old
from envdoctor.diagnose.build import TorchBuild, installed_torch, local_tag, variant_of
from envdoctor.diagnose.findings import Finding, Severity, worst_first
from envdoctor.diagnose.machine import GpuRow, Machine, gpu_capabilities, machine_from_facts
from envdoctor.facts import Facts, LoadedLibrary
from envdoctor.knowledge import ErrorSignature, Knowledge, torch_base, version_or_none

SHM_MINIMUM_BYTES = 1024**3  # below this, DataLoader workers and NCCL's shared-memory transport run short


@dataclass(frozen=True)
class Context:
    facts: Facts
    kb: Knowledge
    machine: Machine
    build: Optional[TorchBuild]
    gpus: tuple[GpuRow, ...]

    def plan_for(self, series: Optional[str]) -> Advice:
        try:
            return plan_install(self.machine, self.kb, series)
        except KeyError:
            return Advice(None, (f"torch {series} is not in the knowledge base",))

    def gpu_plan(self, series: Optional[str] = None) -> Optional[InstallPlan]:
        """The plan for `series` (the installed patch, when given) in the variant that fits. Where that is none,
        or only its CPU wheel on a machine with an NVIDIA GPU, the newest release that fits instead: a fix never
        gives up the GPU while a release that uses it exists."""
        plan = self.plan_for(series).plan
        if series is not None and (plan is None or (plan.variant == "cpu" and self.machine.has_nvidia)):
            plan = self.plan_for(None).plan or plan
        return plan

    def fix_command(self, series: Optional[str] = None) -> Optional[str]:
        plan = self.gpu_plan(series)
        return plan.pip_command if plan else None


def _signature(kb: Knowledge, text: Optional[str]) -> Optional[ErrorSignature]:
    return next((s for s in kb.signatures if text and s.pattern.search(text)), None)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def torch_missing(ctx: Context) -> list[Finding]:
    if ctx.build is not None or ctx.facts.torch.status not in ("not_installed", "skipped"):
        return []
    advice = ctx.plan_for(None)
    evidence = [("torch", "not installed for " + ctx.facts.system.python.executable)]
    if advice.plan:
        evidence.append(("fits this machine", f"torch {advice.plan.torch} ({advice.plan.variant})"))
    return [Finding("torch-missing", Severity.INFO, "torch is not installed in this environment", tuple(evidence),
                    "Install the release and variant that fit this machine:",
                    advice.plan.pip_command if advice.plan else None)]


def torch_import_failed(ctx: Context) -> list[Finding]:
    runtime = ctx.facts.torch
    if runtime.status not in ("import_failed", "crashed", "timeout"):
        return []
    error = runtime.error or ""
    evidence = [("status", runtime.status)]
    signature = _signature(ctx.kb, error)
    if runtime.exit_signal:
        evidence.append(("signal", runtime.exit_signal))
    if error:
        evidence.append(("error", _last_line(error)))
    if signature is not None:
        evidence.append(("cause", signature.explanation))
        fix = f"See the {signature.cause} finding." if signature.cause != "torch-import-failed" else (
            "Reinstall torch and its companions from one index:")
    elif runtime.exit_signal == "SIGILL":
        evidence.append(("cause", "the CPU lacks an instruction this build of torch uses"))
        fix = "Install a build for this CPU (or a newer torch, whose CPU kernels dispatch on the CPU's features)."
    elif runtime.status == "timeout":
        fix = "Run `python -c 'import torch'` to see where it hangs (a network file system, a stuck driver call)."
    else:
        fix = "Reinstall torch and its companions from one index:"
    command = ctx.fix_command(ctx.build.patch if ctx.build else None) if fix.endswith(":") else None
    return [Finding("torch-import-failed", Severity.ERROR, f"torch does not import ({runtime.status})",
                    tuple(evidence), fix, command)]


def driver_missing(ctx: Context) -> list[Finding]:
    pci = [g for g in ctx.facts.accelerators.pci_gpus if g.vendor == "nvidia"]
    if not pci or ctx.machine.driver is not None:
        return []
    evidence = tuple((f"PCI {g.address}", f"NVIDIA device {g.device_id}, kernel driver {g.driver or 'none'}")
                     for g in pci)
    return [Finding("driver-missing", Severity.ERROR, "an NVIDIA GPU is installed but no NVIDIA driver is loaded",
                    evidence, "Install the NVIDIA driver (580 or newer runs every current torch build) and reboot.")]


def warned(ctx: Context, cause: str) -> list[tuple[str, dict[str, str]]]:
    """torch's warnings that a signature ties to the finding `cause`: (the text matched, its named values)."""
    found = []
    for text in ctx.facts.torch.warnings:
        match = next((m for s in ctx.kb.signatures if s.cause == cause for m in [s.pattern.search(text)] if m), None)
        if match is not None:
            found.append((match.group(0), {k: v for k, v in match.groupdict().items() if v}))
    return found


def _cuda_of(driver_api_version: str) -> str:
    """cudaDriverGetVersion's number as a CUDA version: "11040" → "11.4"."""
    number = int(driver_api_version)
    return f"{number // 1000}.{number % 1000 // 10}"


def driver_too_old(ctx: Context) -> list[Finding]:
    build, driver = ctx.build, ctx.machine.driver
    if build is None or build.cuda is None or ctx.machine.jetson:
        return []  # a Jetson's driver is L4T's, numbered apart from the desktop table
    needed = ctx.kb.minimum_driver(build.cuda, ctx.machine.driver_os)
    torch_row = ("torch", f"{build.version} (CUDA {build.cuda}, from {build.variant_source})")
    warnings = [(("torch warned", text), values["driver_cuda"]) for text, values in warned(ctx, "driver-too-old")
                if "driver_cuda" in values and Version(_cuda_of(values["driver_cuda"])) < Version(build.cuda)]
    version = ctx.machine.driver_version
    if driver is not None and version is not None:
        if needed is None or version >= needed:
            return []
        evidence = (("driver", driver), torch_row, ("minimum driver for CUDA " + build.cuda, str(needed)),
                    *(row for row, _ in warnings))
        return [Finding("driver-too-old", Severity.ERROR,
                        f"the driver {driver} is too old for torch built with CUDA {build.cuda} (needs {needed})",
                        evidence, f"Upgrade the NVIDIA driver to {needed} or newer, or install a build this driver "
                                  "runs:", ctx.fix_command(build.patch))]
    if not warnings:
        return []
    (row, api_version), *_ = warnings  # the driver's version is unknown; torch's own warning names its CUDA
    cuda = _cuda_of(api_version)
    evidence = (("driver", f"version unknown; supports CUDA {cuda} (torch's warning: found version {api_version})"),
                torch_row, row, *((("minimum driver for CUDA " + build.cuda, str(needed)),) if needed else ()))
    return [Finding("driver-too-old", Severity.ERROR,
                    f"the NVIDIA driver supports CUDA {cuda}, older than torch's CUDA {build.cuda}", evidence,
                    f"Upgrade the NVIDIA driver{f' to {needed} or newer' if needed else ''}, or install a torch "
                    f"built for CUDA {cuda} or older.")]


def wheel_archs(ctx: Context) -> tuple[Optional[tuple[str, ...]], str]:
    build = ctx.build
    assert build is not None
    if ctx.facts.torch.arch_list:
        return ctx.facts.torch.arch_list, "torch._C._cuda_getArchFlags()"
    if build.variant and not ctx.machine.jetson:  # NVIDIA's Jetson builds are not the tables' wheels
        row = ctx.kb.archs(build.version, build.variant, ctx.machine.platform)
        if row:
            borrowed = (f"; borrowed from torch {row.borrowed_from}: no list is known for this release yet, "
                        "so this is the previous release's" if row.borrowed_from else "")
            return row.archs, (f"the knowledge base's list for {row.distribution} torch {row.torch} {build.variant} "
                               f"on {row.platform}{borrowed}")
    return None, ""


def gpu_arch_unsupported(ctx: Context) -> list[Finding]:
    """From the wheel's architectures and each GPU's capability; and from torch's own warning, which names the
    capability it refused even where the tables cannot tell."""
    build = ctx.build
    if build is None or build.cuda is None:
        return []
    findings = _arch_findings(ctx, build)
    for text, values in warned(ctx, "gpu-arch-unsupported"):
        number = values.get("sm", "")
        cap = (int(number[:-1]), int(number[-1])) if len(number) >= 2 else None
        index = next((i for i, f in enumerate(findings) if cap and f"({sm(cap)})" in f.title), None)
        if index is not None:
            findings[index] = replace(findings[index], evidence=(*findings[index].evidence, ("torch warned", text)))
        elif cap is not None:
            findings.append(_arch_finding(ctx, build, f"a GPU with compute capability {cap[0]}.{cap[1]}", cap,
                                          (("torch warned", text), ("torch", build.version))))
    return findings


def _arch_findings(ctx: Context, build: TorchBuild) -> list[Finding]:
    archs, source = wheel_archs(ctx)
    if archs is None:
        return []
    findings = []
    for name, cap, cap_source in ctx.gpus:
        if cap is None or runs_on(archs, cap, ctx.kb.exact_arch_devices):
            continue
        evidence = (("GPU", f"{name}, compute capability {cap[0]}.{cap[1]} (from {cap_source})"),
                    ("torch", build.version), ("wheel architectures", f"{' '.join(archs)} (from {source})"))
        findings.append(_arch_finding(ctx, build, name, cap, evidence, too_new_or_old(archs, cap)))
    return findings


def _arch_finding(ctx: Context, build: TorchBuild, name: str, cap: tuple[int, int],
                  evidence: tuple[tuple[str, str], ...], which: str = "not supported") -> Finding:
    """A GPU this build has no code for, and the fix that keeps the GPU where a release can."""
    plan = ctx.plan_for(None).plan  # the newest release that fits this GPU (none on a Jetson: not PyPI's wheels)
    if ctx.machine.jetson:
        fix = f"Install NVIDIA's JetPack build of torch for this board ({JETSON_WHEELS})."
    elif plan is None:
        fix = "No torch release in the knowledge base fits this machine."
    elif plan.variant == "cpu":
        fix = (f"No torch release in the knowledge base has code for {sm(cap)} that fits this machine; the CPU "
               "wheel runs, without the GPU:")
    else:
        fix = (f"Install torch {plan.torch} ({plan.variant}): the newest release with {sm(cap)} code that fits "
               "this machine:")
    return Finding("gpu-arch-unsupported", Severity.ERROR,
                   f"torch {build.version} has no code for {name} ({sm(cap)}): the GPU is {which} for this build",
                   evidence, fix, plan.pip_command if plan else None)


def cpu_wheel_on_gpu_host(ctx: Context) -> list[Finding]:
    build = ctx.build
    if build is None or build.variant != "cpu" or ctx.machine.driver is None or not ctx.gpus:
        return []
    evidence = (("torch", f"{build.version} (CPU build: {build.variant_source})"),
                ("NVIDIA driver", ctx.machine.driver), ("GPUs", ", ".join(name for name, _, _ in ctx.gpus)))
    return [Finding("cpu-wheel-on-gpu-host", Severity.ERROR, "a CPU-only torch is installed on a machine with an "
                    "NVIDIA GPU", evidence, "Install the CUDA build that fits this driver and GPU:",
                    ctx.fix_command(build.patch))]


def cuda_wheel_without_gpu(ctx: Context) -> list[Finding]:
    build = ctx.build
    if build is None or build.cuda is None or ctx.machine.has_nvidia or ctx.machine.driver_unknown:
        return []  # "no GPU" needs the report to say so, not merely to be silent
    if any(g.vendor == "nvidia" for g in ctx.facts.accelerators.pci_gpus):
        return []  # driver-missing says it better
    evidence = (("torch", f"{build.version} (CUDA {build.cuda}, from {build.variant_source})"),
                ("NVIDIA driver", "none found"), ("GPUs", "none found"))
    command = None
    if build.release is not None and ctx.machine.os != "macos":
        plan = ctx.plan_for(build.patch).plan
        if plan is not None and plan.variant == "cpu":
            command = plan.pip_command
    return [Finding("cuda-wheel-without-gpu", Severity.WARNING,
                    "a CUDA build of torch on a machine with no NVIDIA GPU: it runs on the CPU only", evidence,
                    "The CPU build is gigabytes smaller and runs the same here:", command)]


def companion_mismatch(ctx: Context) -> list[Finding]:
    build = ctx.build
    if build is None or build.release is None:
        return []
    torch_patch = build.patch
    torch_variant = build.variant
    findings = []
    parsed = version_or_none(build.version.split("+")[0])
    nightly = parsed is not None and parsed.is_prerelease
    for name, table in (("torchvision", build.release.torchvision), ("torchaudio", build.release.torchaudio)):
        problems = []
        for dist in ctx.facts.packages.get(name):
            expected = None if nightly else table.get(torch_patch)  # nightlies pair by date, not by table
            base = torch_base(dist.version)
            if expected and base is not None and base != Version(expected):
                problems.append(f"{name} {dist.version} is paired with another torch; torch {torch_patch} "
                                f"pairs with {name} {expected}")
            variant = variant_of(dist.version, ctx.kb.release(dist.version), ctx.machine)[0]
            if local_tag(dist.version) is None and ctx.facts.origin.kind == "file":
                variant = None  # untagged: PyPI's build or conda's, and a report does not say where it came from
            if variant and torch_variant and variant != torch_variant:
                problems.append(f"{name} is built for {variant}, torch for {torch_variant}")
        error = ctx.facts.torch.companion_errors.get(name)
        signature = _signature(ctx.kb, error)
        if signature is not None and signature.cause == "companion-mismatch":
            problems.append(f"importing {name} failed: {_last_line(error or '')}")
        if problems:
            evidence = (("torch", f"{build.version} ({torch_variant or 'variant unknown'})"),
                        *((name, p) for p in dict.fromkeys(problems)))
            findings.append(Finding("companion-mismatch", Severity.ERROR,
                                    f"{name} does not match the installed torch", evidence,
                                    "Reinstall torch, torchvision and torchaudio together from one index:",
                                    ctx.fix_command(torch_patch)))
    return findings


def python_unsupported(ctx: Context) -> list[Finding]:
    python = ctx.facts.system.python
    if python.implementation not in ("CPython", "") or python.bits == 32:  # "" and 0: not known (a report)
        return [Finding("python-unsupported", Severity.ERROR,
                        f"no torch wheels exist for {python.bits}-bit {python.implementation}",
                        (("Python", f"{python.version} {python.implementation} {python.bits}-bit"),),
                        "Use a 64-bit CPython.")]
    build, minor = ctx.build, ctx.machine.python
    if build is None or build.release is None or minor is None:
        return []
    release = build.release
    if minor in release.python or minor in release.python_experimental:
        return []
    severity = Severity.WARNING if build.imported else Severity.ERROR
    supported = f"{release.python[0]} to {release.python[-1]}" if release.python else "none known"
    return [Finding("python-unsupported", severity,
                    f"torch {release.series} does not support Python {minor}",
                    (("Python", python.version), ("torch", build.version), (f"torch {release.series} supports",
                                                                              supported)),
                    "Use a supported Python, or the newest torch for this Python:", ctx.fix_command(None))]


def rosetta(ctx: Context) -> list[Finding]:
    apple = ctx.facts.accelerators.apple
    if apple is None or not apple.rosetta:
        return []
    evidence = (("interpreter", f"x86_64 Python ({ctx.facts.system.python.version or 'version unknown'})"),
                ("hardware", ctx.facts.system.cpu.model or "Apple silicon"))
    return [Finding("rosetta", Severity.WARNING,
                    "Python runs as x86_64 under Rosetta 2 on Apple silicon: no MPS, and no torch after 2.2",
                    evidence, "Install a native arm64 Python (python.org's universal2 installer, an osx-arm64 conda, "
                              "or `uv python install`) and reinstall torch in it:", ctx.fix_command(None))]


def os_unsupported(ctx: Context) -> list[Finding]:
    build, machine, kb = ctx.build, ctx.machine, ctx.kb
    if build is None or build.release is None:
        return []
    findings = []
    if machine.os == "macos" and not machine.rosetta:  # under Rosetta, the rosetta finding says it
        if machine.platform not in build.release.platforms and build.release.platforms:
            apple = ctx.facts.accelerators.apple
            known_intel = apple is not None and apple.rosetta is False and not apple.apple_silicon
            fix = ("Intel Macs are limited to torch 2.2 and older." if known_intel else
                   "An x86_64 Python on macOS is limited to torch 2.2 and older; on Apple silicon (the hardware is "
                   "not known here), a native arm64 Python gets the newest.")
            findings.append(Finding("os-unsupported", Severity.ERROR,
                                    f"torch {build.release.series} has no wheels for {machine.platform}",
                                    (("platform", machine.platform), ("torch", build.version)),
                                    fix, ctx.fix_command(None)))
        macos = version_or_none(machine.macos_version)
        needed = kb.ranged(kb.mps_min_macos, build.version)
        if macos is not None and needed and machine.arch in ("arm64", "aarch64") and macos < Version(needed):
            findings.append(Finding("os-unsupported", Severity.ERROR,
                                    f"MPS (the Apple GPU backend) needs macOS {needed}; this Mac runs {macos}",
                                    (("macOS", str(macos)), ("torch", build.version),
                                     ("MPS needs macOS", needed)), f"Update macOS to {needed} or newer."))
    if not build.imported:  # an import proves the glibc suffices
        needed = glibc_needed(kb, machine, build.version)
        if needed and machine.glibc:
            findings.append(Finding("os-unsupported", Severity.ERROR,
                                    f"torch {build.release.series}'s wheels need glibc {needed}; this system has "
                                    f"{machine.glibc}", (("glibc", machine.glibc), ("torch", build.version),
                                                         ("needs glibc", needed)),
                                    "Use a newer distribution (or container image), or the newest torch it runs:",
                                    ctx.fix_command(None)))
    return findings


def _release(version: Optional[str]) -> Optional[str]:
    """A library version's major.minor, "9.1" of "9.1.0" and of "9.1.0.70"; None when only a major is known."""
    parts = (version or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def _loaded_shadowing(ctx: Context, loaded: tuple[LoadedLibrary, ...]) -> list[Finding]:
    """Judged from what the loader really mapped: a library whose copy in torch's wheels it passed over."""
    shadowing = [lib for lib in loaded if lib.wheel_copy]
    if not shadowing:
        return []
    runtime, env = ctx.facts.torch, ctx.facts.system.environment
    evidence: list[tuple[str, str]] = []
    mismatched = False
    for lib in shadowing:
        wheel_version = (lib.wheel_copy_owner or "").partition(" ")[2] or None
        mismatched |= _release(lib.version) != _release(wheel_version)
        evidence.append(("loaded", f"{lib.path} ({lib.version or 'version unknown'}, {lib.origin})"))
        evidence.append(("instead of", f"{lib.wheel_copy} ({lib.wheel_copy_owner})"))
    evidence.extend((var, env[var]) for var in ("LD_PRELOAD", "LD_LIBRARY_PATH") if env.get(var))
    broke = runtime.status == "import_failed" or "cudnn" in runtime.unknown
    if runtime.status == "import_failed":
        evidence.append(("torch import error", _last_line(runtime.error or "")))
    elif "cudnn" in runtime.unknown:
        evidence.append(("cuDNN", runtime.unknown["cudnn"]))
    names = ", ".join(dict.fromkeys(lib.name for lib in shadowing))
    return [Finding("library-shadowing", Severity.ERROR if broke or mismatched else Severity.WARNING,
                    f"torch runs {names} from outside its wheels, ahead of the copy they bundle", tuple(evidence),
                    "Stop the loader finding the other copy first: take it out of LD_PRELOAD and its directory out "
                    "of LD_LIBRARY_PATH for Python processes (torch's wheels bring their own CUDA libraries).")]


def library_shadowing(ctx: Context) -> list[Finding]:
    loaded = ctx.facts.torch.loaded_libraries
    found = _loaded_shadowing(ctx, loaded) if loaded is not None else []
    if found or (loaded is not None and ctx.facts.torch.status == "ok"):
        return found
    # What was loaded is unknown, or a failed import unmapped it: judge what the search path would find.
    dirs = ctx.facts.toolkit.library_dirs
    build = ctx.build
    if not dirs or build is None or build.cuda is None:
        return []
    signature = _signature(ctx.kb, ctx.facts.torch.error)
    broke_import = signature is not None and signature.cause == "library-shadowing"
    evidence = tuple((ctx.facts.toolkit.library_path_var, f"{d.path}: {' '.join(d.libraries)}") for d in dirs)
    if broke_import:
        evidence += (("torch import error", _last_line(ctx.facts.torch.error or "")),)
    var = ctx.facts.toolkit.library_path_var
    return [Finding("library-shadowing", Severity.ERROR if broke_import else Severity.WARNING,
                    f"{var} holds CUDA libraries that load before the ones torch's wheels bundle", evidence,
                    f"Remove these directories from {var} for Python processes (torch's wheels bring their own "
                    "CUDA libraries).")]


def toolkit_mismatch(ctx: Context) -> list[Finding]:
    build, nvcc = ctx.build, ctx.facts.toolkit.nvcc_version
    if build is None or build.cuda is None or nvcc is None:
        return []
    if nvcc.split(".")[0] == build.cuda.split(".")[0]:
        return []
    return [Finding("toolkit-mismatch", Severity.WARNING,
                    f"nvcc is CUDA {nvcc}, torch was built with CUDA {build.cuda}: C++/CUDA extension builds will fail",
                    (("nvcc", nvcc + (f" at {ctx.facts.toolkit.nvcc_path}" if ctx.facts.toolkit.nvcc_path else "")),
                     ("torch built with CUDA", build.cuda)),
                    f"Install CUDA toolkit {build.cuda} for extension builds (set CUDA_HOME to it), or a torch "
                    f"built for CUDA {nvcc.split('.')[0]}.x.")]


def duplicate_install(ctx: Context) -> list[Finding]:
    packages = ctx.facts.packages
    torches = packages.get("torch")
    evidence = [("torch", f"{d.version} in {d.location}") for d in torches] if len(torches) > 1 else []
    conflict = next((c for c in packages.conflicts if c.module == "torch"), None)
    if conflict and not evidence:
        evidence = [("torch from", p) for p in conflict.distributions]
    conda = [p for p in packages.conda_packages if p.name in ("pytorch", "libtorch")]
    if conda and torches and any(torch_base(d.version) != torch_base(conda[0].version) for d in torches):
        evidence.append(("conda", f"{conda[0].name} {conda[0].version} ({conda[0].build})"))
        evidence.extend(("pip", f"torch {d.version}") for d in torches)
    if not evidence:
        return []
    return [Finding("duplicate-install", Severity.WARNING, "more than one torch is installed in this environment",
                    tuple(evidence), "Uninstall every copy (pip and conda) and install one:", ctx.fix_command(None))]


def pynvml_conflict(ctx: Context) -> list[Finding]:
    conflict = next((c for c in ctx.facts.packages.conflicts if c.module == "pynvml"), None)
    if conflict is None or not ctx.facts.packages.get("pynvml"):
        return []
    return [Finding("pynvml-conflict", Severity.WARNING,
                    "the deprecated pynvml distribution is installed beside nvidia-ml-py; both write pynvml.py",
                    tuple(("pynvml from", p) for p in conflict.distributions),
                    "Remove the old distribution and reinstall the maintained one:",
                    f"{ctx.machine.python_command} -m pip uninstall -y pynvml && "
                    f"{ctx.machine.python_command} -m pip install --force-reinstall nvidia-ml-py")]


def cuda_unavailable(ctx: Context) -> list[Finding]:
    build, runtime = ctx.build, ctx.facts.torch
    if build is None or build.cuda is None or runtime.status != "ok" or runtime.cuda_available is not False:
        return []
    driver, version = ctx.machine.driver, ctx.machine.driver_version
    needed = ctx.kb.minimum_driver(build.cuda, ctx.machine.driver_os)
    if driver is None or version is None or not ctx.gpus or (needed is not None and version < needed):
        return []  # no GPU, or driver-too-old explains it
    evidence: list[tuple[str, str]] = [("torch", build.version), ("driver", driver),
                                       ("GPUs", ", ".join(name for name, _, _ in ctx.gpus))]
    visible = ctx.facts.system.environment.get(variables.VISIBLE)
    if visible is not None:
        if variables.hides_every_gpu(visible, ctx.facts.nvidia.gpus, "gpus" not in ctx.facts.nvidia.unknown):
            return []  # gpus-hidden says why
        evidence.append(("likely cause", f"{variables.VISIBLE}={visible!r} limits the GPUs CUDA sees"))
    if ctx.facts.system.os.wsl == 2:
        evidence.append(("likely cause", "WSL 2: a Linux driver or toolkit installed inside WSL can shadow the "
                                         "libcuda in /usr/lib/wsl/lib"))
    if ctx.facts.system.os.container:
        evidence.append(("likely cause", f"in a {ctx.facts.system.os.container} container: started without the "
                                         "GPU (NVIDIA container toolkit, --gpus all)?"))
    evidence.extend(("torch warned", w) for w in runtime.warnings)
    return [Finding("cuda-unavailable", Severity.ERROR,
                    "torch was built with CUDA and the driver fits, yet torch.cuda.is_available() is False",
                    tuple(evidence), "Check the likely causes listed; `python -c 'import torch; torch.cuda.init()'` "
                    "prints the CUDA error.")]


def shm_too_small(ctx: Context) -> list[Finding]:
    memory = ctx.facts.system.memory
    if memory.shm_total_bytes is None or memory.shm_total_bytes >= SHM_MINIMUM_BYTES:
        return []
    size = f"{memory.shm_total_bytes / 1024**2:.0f} MiB"
    container = ctx.facts.system.os.container
    fix = ("Start the container with `--ipc=host` or `--shm-size=16g`" if container in ("docker", "podman") else
           "In Kubernetes, mount an emptyDir with medium: Memory at /dev/shm" if container == "kubernetes" else
           "Enlarge /dev/shm: `sudo mount -o remount,size=16G /dev/shm`")
    return [Finding("shm-too-small", Severity.WARNING,
                    f"/dev/shm is {size}: DataLoader workers and NCCL need more", (("/dev/shm", size),
                                                                                  ("container", container or "none")),
                    fix + ".")]


def deep_check_failed(ctx: Context) -> list[Finding]:
    findings = []
    for result in ctx.facts.deep or ():
        if result.ok or result.skipped:
            continue
        evidence = [("device", result.device), ("check", result.check), ("error", _last_line(result.error or ""))]
        signature = _signature(ctx.kb, result.error)
        if signature is not None:
            evidence.append(("cause", signature.explanation))
        fix = f"See the {signature.cause} finding." if signature else "Run the same computation by hand to see more."
        findings.append(Finding("deep-check-failed", Severity.ERROR, f"{result.check} failed on {result.device}",
                                tuple(evidence), fix))
    return findings


RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    torch_missing, torch_import_failed, driver_missing, driver_too_old, gpu_arch_unsupported, cpu_wheel_on_gpu_host,
    cuda_wheel_without_gpu, companion_mismatch, python_unsupported, os_unsupported, library_shadowing,
    toolkit_mismatch, duplicate_install, pynvml_conflict, cuda_unavailable, shm_too_small, deep_check_failed,
    rosetta, *variables.RULES,
)


def unchecked(ctx: Context) -> tuple[str, ...]:
    """What could not be judged because a fact is unknown (most of all in reports from other machines)."""
    facts = ctx.facts
    notes = []
    if not facts.system.os.arch:
        notes.append(f"the machine's architecture is not known: {ctx.machine.arch} is assumed for install advice")
    notes.extend(f"gpu-arch-unsupported for {name}: its compute capability is not known"
                 for name, cap, _ in ctx.gpus if cap is None)
    if ctx.machine.driver_unknown:
        notes.append(f"driver-too-old, cuda-wheel-without-gpu, cpu-wheel-on-gpu-host and the install plan: whether "
                     f"there is an NVIDIA driver, and which, is not known ({ctx.machine.driver_unknown})")
    if ctx.machine.jetson:
        notes.append("driver-too-old, and the wheel tables' architectures: a Jetson runs NVIDIA's own builds and "
                     "L4T's driver")
    if facts.system.os.system == "Linux":
        if facts.system.memory.shm_total_bytes is None:
            notes.append("shm-too-small: the size of /dev/shm is not known")
        if facts.system.os.glibc is None:
            notes.append("os-unsupported (glibc): the glibc version is not known")
    if "library_dirs" in facts.toolkit.unknown:
        notes.append(f"library-shadowing: {facts.toolkit.library_path_var} is not known")
    if "distributions" in facts.packages.unknown:
        notes.append("companion-mismatch, duplicate-install: the installed packages are not known")
    elif "conflicts" in facts.packages.unknown:
        notes.append("pynvml-conflict, and two copies of torch on sys.path: which distribution provides each "
                     "module is not known")
    if facts.torch.status == "skipped":
        notes.append("cuda-unavailable, and the wheel's compiled architectures: torch was not imported")
    notes.extend(variables.unchecked(ctx))
    return tuple(notes)


def context(facts: Facts, kb: Knowledge) -> Context:
    gpus = gpu_capabilities(facts, kb)
    machine = machine_from_facts(facts, gpus)
    return Context(facts, kb, machine, installed_torch(facts, kb, machine), gpus)


def findings(ctx: Context) -> tuple[Finding, ...]:
    """Every finding the context's facts support, worst first."""
    return worst_first([finding for rule in RULES for finding in rule(ctx)])


def diagnose(facts: Facts, kb: Knowledge) -> tuple[Finding, ...]:
    """Every finding the facts support, worst first."""
    return findings(context(facts, kb))

"""Install advice: the release and variant chosen for described machines, and the exact commands."""

from __future__ import annotations

import json

import pytest

from envdoctor.cli import main
from envdoctor.diagnose.advice import plan_install
from envdoctor.diagnose.machine import Machine
from envdoctor.knowledge import knowledge

KB = knowledge()


def linux(driver: str | None, *caps: tuple[int, int], python: str = "3.10", glibc: str | None = None) -> Machine:
    return Machine(os="linux", arch="x86_64", python=python, driver=driver, gpu_names=tuple(f"gpu{i}" for i in
                   range(len(caps))), capabilities=caps, glibc=glibc)


def test_pascal_with_torch_28_gets_cu126_and_the_reason() -> None:
    advice = plan_install(linux("575.51.03", (6, 1)), KB, "2.8")
    assert advice.plan is not None and advice.plan.variant == "cu126"
    assert any("cu128 of torch 2.8 has no code for sm_61" in p for p in advice.passed_over)
    assert advice.plan.pip_command == ("python -m pip install torch==2.8.0+cu126 torchvision==0.23.0+cu126 "
                                       "torchaudio==2.8.0+cu126 --index-url https://download.pytorch.org/whl/cu126")
    assert advice.plan.uv_command.startswith("uv pip install torch==2.8.0+cu126 ")


def test_driver_470_gets_the_newest_release_with_a_cuda_11_variant() -> None:
    plan = plan_install(linux("470.82.01", (6, 1)), KB).plan
    assert plan is not None and (plan.torch, plan.variant) == ("2.7.1", "cu118")
    assert "torch 2.7 is the newest release that fits this machine" in plan.reasons


def test_blackwell_on_27_takes_the_experimental_cu128() -> None:
    plan = plan_install(linux("575.51.03", (12, 0)), KB, "2.7").plan
    assert plan is not None and plan.variant == "cu128"
    assert "experimental" in plan.reasons[0]


def test_no_gpu_gets_the_cpu_wheel_of_the_newest_release() -> None:
    plan = plan_install(linux(None, python="3.12"), KB).plan
    assert plan is not None and plan.variant == "cpu" and plan.torch == KB.releases[0].latest


def test_macos_installs_from_pypi() -> None:
    mac = Machine(os="macos", arch="arm64", python="3.12", driver=None, gpu_names=(), capabilities=())
    plan = plan_install(mac, KB).plan
    assert plan is not None and plan.variant == "pypi" and plan.index_url is None
    assert "--index-url" not in plan.pip_command and "+" not in plan.pip_command


def test_torch_1x_uses_the_flat_page_with_tags() -> None:
    plan = plan_install(linux("450.80.02", (7, 0), python="3.8"), KB, "1.7").plan
    assert plan is not None and plan.variant == "cu110"
    assert plan.pip_command == ("python -m pip install torch==1.7.1+cu110 torchvision==0.8.2+cu110 torchaudio==0.7.2 "
                                "-f https://download.pytorch.org/whl/torch_stable.html")


def test_torch_1x_pypi_variant_installs_untagged_from_pypi() -> None:
    plan = plan_install(linux("440.33", (7, 0), python="3.8"), KB, "1.6").plan
    assert plan is not None and plan.variant == "cu102"
    assert plan.pip_command == "python -m pip install torch==1.6.0 torchvision==0.7.0 torchaudio==0.6.0"


def test_python_outside_the_release_has_no_plan() -> None:
    advice = plan_install(linux("550.54.14", (8, 0), python="3.13"), KB, "2.4")
    assert advice.plan is None
    assert advice.passed_over == ("torch 2.4 has wheels for Python 3.8 to 3.12, not 3.13",)


def test_old_glibc_passes_over_manylinux_2_28_releases() -> None:
    plan = plan_install(linux("550.54.14", (8, 0), python="3.11", glibc="2.17"), KB).plan
    assert plan is not None and plan.torch.startswith("2.6")


def test_advise_cli_with_a_gpu_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["advise", "--driver", "575.51.03", "--gpu", "GeForce GTX 1080", "--python", "3.10", "--os", "linux",
                 "--torch", "2.8", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["schema"] == "envdoctor.advice"
    assert document["plan"]["variant"] == "cu126" and document["plan"]["torchvision"] == "0.23.0"


def test_advise_cli_without_a_fitting_release_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "--python", "3.13", "--os", "linux", "--torch", "2.4"]) == 1
    out = capsys.readouterr().out
    assert "No torch release" in out
    assert out.count("torch 2.4 has wheels for Python 3.8 to 3.12, not 3.13") == 1  # each reason once


def test_advise_lists_what_it_passed_over_beside_a_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "--python", "3.13", "--os", "linux", "--glibc", "2.17"]) == 0
    out = capsys.readouterr().out
    assert out.count("passed over:") >= 1 and "No torch release" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--driver", "latest", "--python", "3.10", "--os", "linux"], "--driver 'latest' is not a version"),
        (["--python", "three", "--os", "linux"], "--python 'three' is not a version like 3.11"),
        (["--python", "3.10", "--os", "linux", "--glibc", "new"], "--glibc 'new' is not a version like 2.31"),
        (["--driver", "550.54.14", "--gpu", "Banana 9000", "--python", "3.10", "--os", "linux"], "neither a compute"),
        (["--gpu", "8.6", "--python", "3.10", "--os", "linux"], "--gpu needs --driver"),
        (["--driver", "550", "--python", "3.12", "--os", "macos"], "macOS builds of torch cannot use"),
        (["--python", "3.10", "--os", "linux", "--torch", "9.9"], "--torch 9.9: not a torch release"),
        (["--python", "3.10", "--os", "beos"], "invalid choice: 'beos'"),
    ],
)
def test_advise_bad_input_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_glibc_floor_differs_by_variant_where_one_release_split() -> None:
    assert KB.ranged(KB.linux_glibc, "2.6.0+cu126", "x86_64") == "2.28"
    assert KB.ranged(KB.linux_glibc, "2.6.0+cu124", "x86_64") == "2.17"
    advice = plan_install(linux("570.26", (9, 0), python="3.11", glibc="2.17"), KB, "2.6")
    assert advice.plan is not None and advice.plan.variant == "cu124"  # stable, and on manylinux2014
    advice = plan_install(linux("570.26", (9, 0), python="3.11", glibc="2.28"), KB, "2.6")
    assert advice.plan is not None and advice.plan.variant == "cu124"
    hopper_needs_126 = plan_install(linux("570.26", (10, 0), python="3.11", glibc="2.17"), KB, "2.6")
    assert "torch 2.6.0+cu126's Linux wheels need glibc 2.28, this system has 2.17" in " ".join(
        hopper_needs_126.passed_over)


# torch 2.15 (PyPI 2026-10-28): requires-python >=3.11 on every wheel, variants cu130 and cu132 only (CUDA 12.6 wheels
# "will no longer be published from PyTorch 2.15", dev-discuss notice / PR #196249); torchvision 0.29.2 and torchaudio
# 2.11.1 uploaded the same day; a driver >= 580 runs CUDA 13.x (NVIDIA minor-version compatibility).
def test_h100_python_310_stops_at_torch_214() -> None:
    advice = plan_install(linux("580.65.06", (9, 0), python="3.10"), KB)
    assert advice.plan is not None and (advice.plan.torch, advice.plan.variant) == ("2.14.1", "cu132")
    assert "torch 2.15 has wheels for Python 3.11 to 3.15, not 3.10" in advice.passed_over


def test_h100_python_312_gets_torch_215_cu132() -> None:
    plan = plan_install(linux("580.65.06", (9, 0), python="3.12"), KB).plan
    assert plan is not None and (plan.torch, plan.variant) == ("2.15.0", "cu132")
    assert plan.pip_command == ("python -m pip install torch==2.15.0+cu132 torchvision==0.29.2+cu132 "
                                "torchaudio==2.11.1+cu132 --index-url https://download.pytorch.org/whl/cu132")


def test_pascal_python_312_falls_back_to_214_cu126() -> None:
    # 2.15 has no cu126 and CUDA 13 builds start at sm_75, so the newest wheel with sm_61 (Linux) is 2.14.1+cu126
    plan = plan_install(linux("580.65.06", (6, 1), python="3.12"), KB).plan
    assert plan is not None and (plan.torch, plan.variant) == ("2.14.1", "cu126")

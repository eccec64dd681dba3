"""The peak FLOP/s table: matched by exact model name, never by substring; figures written here from their sources.

Every expected figure below is copied from the source named beside it (the same sources peak_flops.json cites),
not read from the table, so a wrong or moved figure in the table fails here.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from envdoctor.knowledge import _peak_index, knowledge

KB = knowledge()

# (row, the real torch.cuda.get_device_name() strings it covers, dense TFLOP/s by dtype).
ROWS = [
    # torchtitan get_peak_flops 312; Lightning _CUDA_FLOPS "a100": tfloat32 156e12, float32 19.5e12
    ("A100", ["NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100-PCIE-40GB", "NVIDIA A100 80GB PCIe"],
     {"bfloat16": 312, "float16": 312, "tf32": 156, "float32": 19.5}),
    # torchtitan 989 ("for H100 SXM and other variants"); Lightning "h100 sxm": tfloat32 494.7e12, float32 66.9e12
    ("H100 SXM", ["NVIDIA H100 80GB HBM3"], {"bfloat16": 989, "float16": 989, "tf32": 494.7, "float32": 66.9}),
    # torchtitan 756; Lightning "h100 pcie": tfloat32 378e12, float32 51.2e12
    ("H100 PCIe", ["NVIDIA H100 PCIe"], {"bfloat16": 756, "float16": 756, "tf32": 378, "float32": 51.2}),
    # torchtitan 835; H100 NVL datasheet: FP32 60, TF32 835 with sparsity
    ("H100 NVL", ["NVIDIA H100 NVL"], {"bfloat16": 835, "float16": 835, "tf32": 417.5, "float32": 60}),
    # torchtitan 989; nvidia.com H200 page, SXM column: FP32 67, TF32 989 with sparsity
    ("H200", ["NVIDIA H200"], {"bfloat16": 989, "float16": 989, "tf32": 494.5, "float32": 67}),
    # nvidia.com H200 page, NVL column: BF16/FP16 1,671 and TF32 835 with sparsity, FP32 60
    ("H200 NVL", ["NVIDIA H200 NVL"], {"bfloat16": 835.5, "float16": 835.5, "tf32": 417.5, "float32": 60}),
    # torchtitan 148 (citing Tom's Hardware)
    ("H20", ["NVIDIA H20"], {"bfloat16": 148, "float16": 148}),
    # GH200 datasheet: FP32 67, TF32 494 dense, BF16/FP16 990 dense
    ("GH200", ["NVIDIA GH200 480GB", "NVIDIA GH200 120GB"],
     {"bfloat16": 990, "float16": 990, "tf32": 494, "float32": 67}),
    # torchtitan 2.25e15; Blackwell datasheet, HGX B200: TF32 2.2 PF sparse, FP32 75 TF
    ("B200", ["NVIDIA B200"], {"bfloat16": 2250, "float16": 2250, "tf32": 1100, "float32": 75}),
    # torchtitan 2.5e15; Blackwell datasheet, GB200 NVL72: TF32 2.5 PF sparse, FP32 80 TF
    ("GB200", ["NVIDIA GB200"], {"bfloat16": 2500, "float16": 2500, "tf32": 1250, "float32": 80}),
    # torchtitan 2.25e15 ("B300" in device_name)
    ("B300", ["NVIDIA B300 SXM6 AC"], {"bfloat16": 2250, "float16": 2250}),
    # Lightning "l4": float32 30.3e12, tfloat32 60e12, bfloat16 121e12
    ("L4", ["NVIDIA L4"], {"bfloat16": 121, "float16": 121, "tf32": 60, "float32": 30.3}),
    # torchtitan 362; L40S datasheet via winston-zhang-orz/gpu-specs: FP32 91.6, TF32 183
    ("L40S", ["NVIDIA L40S"], {"bfloat16": 362, "float16": 362, "tf32": 183, "float32": 91.6}),
    # Lightning "l40": float32 90.5e12, tfloat32 90.5e12, bfloat16 181e12
    ("L40", ["NVIDIA L40"], {"bfloat16": 181, "float16": 181, "tf32": 90.5, "float32": 90.5}),
    # Lightning "a10g": float32 31.2e12, tfloat32 62.5e12, bfloat16 125e12
    ("A10G", ["NVIDIA A10G"], {"bfloat16": 125, "float16": 125, "tf32": 62.5, "float32": 31.2}),
    # Lightning "t4": float32 8.1e12, float16 65e12 (no bfloat16, no tf32)
    ("T4", ["Tesla T4"], {"float16": 65, "float32": 8.1}),
    # Lightning "v100 sxm" / "v100 pcie" / "v100s pcie"
    ("V100 SXM2", ["Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"], {"float16": 125, "float32": 15.7}),
    ("V100 PCIe", ["Tesla V100-PCIE-16GB", "Tesla V100-PCIE-32GB"], {"float16": 112, "float32": 14}),
    ("V100S PCIe", ["Tesla V100S-PCIE-32GB"], {"float16": 130, "float32": 16.4}),
    # torchtitan 154.85e12 (309.7 sparse / 2); Lightning "a6000": tfloat32 77.4e12, float32 38.7e12
    ("RTX A6000", ["NVIDIA RTX A6000"], {"bfloat16": 154.85, "float16": 154.85, "tf32": 77.4, "float32": 38.7}),
    # llm.c: 80 * 328/336 * 1695/1860 = 71.2; Lightning "rtx 3090": tfloat32 and float32 35.6e12
    ("RTX 3090", ["NVIDIA GeForce RTX 3090"], {"bfloat16": 71.2, "float16": 71.2, "tf32": 35.6, "float32": 35.6}),
    # llm.c ADA: BF_16_32 165.2, TF_32 82.6; Lightning "rtx 4090": float32 82.6e12
    ("RTX 4090", ["NVIDIA GeForce RTX 4090"], {"bfloat16": 165.2, "float16": 165.2, "tf32": 82.6, "float32": 82.6}),
    # PrimeIntellect-ai/prime BLACKWELL_CONSUMER (= RTX 5090): tflops_tf32 104.8, tflops_bf16_32 209.5
    ("RTX 5090", ["NVIDIA GeForce RTX 5090"], {"bfloat16": 209.5, "float16": 209.5, "tf32": 104.8}),
]
CASES = [(row, name, figures) for row, names, figures in ROWS for name in names]


@pytest.mark.parametrize(("row", "name", "figures"), CASES, ids=[name for _, name, _ in CASES])
def test_each_real_name_resolves_to_its_row_with_the_sourced_figures(row: str, name: str,
                                                                      figures: dict[str, float]) -> None:
    model = KB.peak_model(name)
    assert model is not None and model.name == row
    assert dict(model.tflops) == pytest.approx(figures)  # dtypes with no source are absent, not guessed
    for dtype, tflops in figures.items():
        peak = KB.peak_flops(name, dtype)
        assert peak is not None and peak.device == row and peak.tflops == pytest.approx(tflops)


def test_every_row_is_covered_here() -> None:
    table = json.loads(resources.files("envdoctor.knowledge").joinpath("peak_flops.json").read_text("utf-8"))
    assert sorted((d["name"], sorted(d["names"])) for d in table["devices"]) == sorted(
        (row, sorted(names)) for row, names, _ in ROWS)


@pytest.mark.parametrize("name", ["NVIDIA H200", "NVIDIA H200 NVL"])
def test_h200_never_resolves_to_the_h20(name: str) -> None:
    model = KB.peak_model(name)
    assert model is not None and model.name != "H20"
    peak = KB.peak_flops(name, "bfloat16")
    assert peak is not None and peak.tflops != 148  # the substring defect gave an H200 the H20's 148


@pytest.mark.parametrize("name", [
    "NVIDIA A100-SXM4-80GB MIG 1g.10gb",  # torch.cuda.get_device_name(0) on a MIG slice (code index file 6782018764)
    "NVIDIA H100 80GB HBM3 MIG 1g.10gb",  # the same pattern on other parents
    "NVIDIA H100 NVL MIG 1g.12gb",
])
def test_a_mig_slice_has_no_peak(name: str) -> None:
    assert KB.peak_model(name) is None
    assert KB.peak_flops(name, "bfloat16") is None


@pytest.mark.parametrize("name", [
    "NVIDIA Imaginary GPU 9000",
    "NVIDIA GeForce RTX 4090 D",  # a cut-down China model (collect_env in code index file 57160020758)
    "NVIDIA GeForce RTX 5090 D",  # likewise (56858655683)
    "NVIDIA GeForce RTX 3090 Ti",  # a different card from the RTX 3090 (llm.c lists both)
    "NVIDIA A10",  # a prefix of "NVIDIA A100-..." and "NVIDIA A10G"
    "NVIDIA H100",  # a prefix of every H100 name
    "NVIDIA H100 80GB HBM3 (extra)",
    "H200",
    "",
])
def test_a_name_not_listed_exactly_has_no_peak(name: str) -> None:
    assert KB.peak_model(name) is None
    assert KB.peak_flops(name, "bfloat16") is None


def test_matching_ignores_only_whitespace_runs_and_case() -> None:
    model = KB.peak_model("  nvidia   H100 80gb\thbm3 ")
    assert model is not None and model.name == "H100 SXM"
    assert KB.peak_model("NVIDIA-H100-80GB-HBM3") is None


def test_a_dtype_without_a_source_is_absent_not_borrowed() -> None:
    model = KB.peak_model("Tesla T4")
    assert model is not None and "bfloat16" not in model.tflops  # the model is known...
    assert KB.peak_flops("Tesla T4", "bfloat16") is None  # ...but it has no bf16 figure
    assert KB.peak_flops("NVIDIA GeForce RTX 5090", "float32") is None
    assert KB.peak_flops("NVIDIA H100 80GB HBM3", "float8") is None


# Every gpus.json `name` and `match` string that is also a peak-table name, with the row it must be: the same model.
GPUS_JSON_WITH_PEAK = {
    "Tesla V100-PCIE-16GB": "V100 PCIe", "Tesla T4": "T4", "tesla t4": "T4", "NVIDIA A100-SXM4-80GB": "A100",
    "NVIDIA A10G": "A10G", "nvidia a10g": "A10G", "NVIDIA RTX A6000": "RTX A6000", "NVIDIA L4": "L4",
    "nvidia l4": "L4", "NVIDIA L40": "L40", "nvidia l40": "L40", "NVIDIA L40S": "L40S", "nvidia l40s": "L40S",
    "NVIDIA H100 80GB HBM3": "H100 SXM", "NVIDIA H200": "H200", "NVIDIA H20": "H20",
    "NVIDIA GH200 480GB": "GH200", "NVIDIA B200": "B200", "NVIDIA GB200": "GB200", "NVIDIA B300 SXM6 AC": "B300",
    "NVIDIA GeForce RTX 5090": "RTX 5090",
}
GPUS_JSON = json.loads(resources.files("envdoctor.knowledge").joinpath("gpus.json").read_text("utf-8"))["gpus"]
GPUS_JSON_NAMES = sorted({text for gpu in GPUS_JSON for text in [gpu["name"], *gpu["match"]]})


@pytest.mark.parametrize("name", GPUS_JSON_NAMES)
def test_no_gpus_json_name_borrows_another_models_peak(name: str) -> None:
    model = KB.peak_model(name)
    assert (model.name if model else None) == GPUS_JSON_WITH_PEAK.get(name)


def test_a_name_listed_by_two_rows_is_refused() -> None:
    rows = [{"name": "A", "names": ["NVIDIA X"], "tflops": {"bfloat16": 1}, "source": "s"},
            {"name": "B", "names": ["nvidia  x"], "tflops": {"bfloat16": 2}, "source": "s"}]
    with pytest.raises(ValueError, match="'A' and 'B'"):
        _peak_index(rows)

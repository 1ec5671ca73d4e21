//! The accelerator catalogue's data: dense datasheet figures (specs/simulator.md §12,
//! specs/npu.md §6).

use super::accelerator::Accelerator;

#[allow(clippy::too_many_arguments)]
fn entry(
    name: &str,
    aliases: &[&str],
    vendor: &str,
    memory_gb: f64,
    bandwidth_gbs: Option<f64>,
    fp16_bf16: f64,
    fp8: Option<f64>,
    int8: Option<f64>,
    interconnect: Option<f64>,
    source: &str,
) -> Accelerator {
    Accelerator {
        name: name.to_owned(),
        aliases: aliases.iter().map(|s| (*s).to_owned()).collect(),
        vendor: vendor.to_owned(),
        memory_gb,
        memory_bandwidth_gbs: bandwidth_gbs,
        fp16_tflops: fp16_bf16,
        bf16_tflops: fp16_bf16,
        fp8_tflops: fp8,
        int8_tops: int8,
        interconnect_gbs: interconnect,
        low_confidence: false,
        source: source.to_owned(),
    }
}

/// Builds every catalogue entry (called once, behind a `LazyLock`).
pub(crate) fn build() -> Vec<Accelerator> {
    let mut v = vec![
        entry(
            "A100-80GB",
            &[
                "A100",
                "A100 SXM",
                "A100 SXM4",
                "A100 SXM4 80GB",
                "A100-SXM4-80GB",
                "A100 80G",
            ],
            "NVIDIA",
            80.0,
            Some(2039.0),
            312.0,
            None,
            Some(624.0),
            Some(600.0),
            "NVIDIA A100 Tensor Core GPU datasheet (SXM 80GB: 312 TFLOPS BF16/FP16 dense, \
             INT8 624 TOPS dense, HBM2e 2,039 GB/s, NVLink3 600 GB/s)",
        ),
        entry(
            "A100-40GB",
            &["A100 40GB", "A100 SXM4 40GB", "A100-SXM4-40GB", "A100 40G"],
            "NVIDIA",
            40.0,
            Some(1555.0),
            312.0,
            None,
            Some(624.0),
            Some(600.0),
            "NVIDIA A100 Tensor Core GPU datasheet (SXM 40GB: 312 TFLOPS BF16/FP16 dense, \
             HBM2 1,555 GB/s, NVLink3 600 GB/s)",
        ),
        entry(
            "H100 SXM",
            &[
                "H100",
                "H100 SXM5",
                "H100 SXM5 80GB",
                "H100-SXM5-80GB",
                "H100 80GB HBM3",
            ],
            "NVIDIA",
            80.0,
            Some(3350.0),
            989.4,
            Some(1978.9),
            Some(1978.9),
            Some(900.0),
            "NVIDIA H100 Tensor Core GPU datasheet (SXM5: 989.4 TFLOPS BF16/FP16 dense, \
             1,978.9 FP8 dense, HBM3 3.35 TB/s, NVLink4 900 GB/s)",
        ),
        entry(
            "H100 PCIe",
            &["H100 PCIe 80GB", "H100-PCIE-80GB"],
            "NVIDIA",
            80.0,
            Some(2000.0),
            756.0,
            Some(1513.0),
            Some(1513.0),
            Some(600.0),
            "NVIDIA H100 Tensor Core GPU datasheet (PCIe: 756 TFLOPS BF16/FP16 dense, 1,513 FP8 \
             dense, HBM2e 2.0 TB/s, NVLink bridge 600 GB/s)",
        ),
        entry(
            "H200",
            &["H200 SXM", "H200 141GB", "H200-SXM-141GB"],
            "NVIDIA",
            141.0,
            Some(4800.0),
            989.4,
            Some(1978.9),
            Some(1978.9),
            Some(900.0),
            "NVIDIA H200 Tensor Core GPU datasheet (SXM: H100 compute, 141 GB HBM3e, 4.8 TB/s, \
             NVLink4 900 GB/s)",
        ),
        entry(
            "L40S",
            &["L40S 48GB"],
            "NVIDIA",
            48.0,
            Some(864.0),
            362.05,
            Some(733.0),
            Some(733.0),
            None,
            "NVIDIA L40S datasheet (362.05 TFLOPS BF16/FP16 dense, 733 FP8 dense (1,466 \
             sparse), 48 GB GDDR6 864 GB/s, PCIe Gen4 x16 only)",
        ),
        entry(
            "MI300X",
            &["Instinct MI300X", "MI300X 192GB", "AMD MI300X"],
            "AMD",
            192.0,
            Some(5300.0),
            1307.4,
            Some(2614.9),
            Some(2614.9),
            Some(896.0),
            "AMD Instinct MI300X data sheet (1,307.4 TFLOPS BF16/FP16 dense, 2,614.9 FP8 dense, \
             192 GB HBM3 5.3 TB/s, Infinity Fabric 7 links 896 GB/s aggregate)",
        ),
        entry(
            "Ascend 910B2",
            &[
                "910B2",
                "Ascend910B2",
                "Ascend910B2C",
                "Atlas A2",
                "Atlas 800 A2",
            ],
            "Huawei",
            64.0,
            Some(1600.0),
            353.9,
            None,
            None,
            None,
            "CANN cross-platform migration guide, Atlas A2 column 353T cube FP16/BF16 \
             (24 cores × 4096 × 2 × 1.8 GHz), 64 GB, 1.6 TB/s (gitcode.com/cann/ops-nn \
             docs/zh/develop/cross_platform_migration_guide.md, issue #6033); INT8, FP8 and \
             HCCS bandwidth not published",
        ),
    ];
    let mut generic = entry(
        "Ascend 910B",
        &["910B", "Ascend910B"],
        "Huawei",
        64.0,
        None,
        280.0,
        None,
        Some(560.0),
        None,
        "Gitee AI compute docs (ai.gitee.com/docs/compute/clusters_gpu/ascend_gpu): 910B, \
         variant unstated, 280 TFLOPS FP16/BF16, 560 TOPS INT8, 64 GB HBM2e; a cloud vendor's \
         page (lower confidence); memory bandwidth not published",
    );
    generic.low_confidence = true;
    v.push(generic);
    v
}

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
    v.extend([
        entry(
            "B200",
            &["HGX B200", "B200 SXM", "B200 180GB", "DGX B200"],
            "NVIDIA",
            180.0,
            Some(7700.0),
            2250.0,
            Some(4500.0),
            Some(4500.0),
            Some(1800.0),
            "NVIDIA HGX B200 specifications, per GPU (1,000 W): FP16/BF16 4.5 PFLOPS, FP8 9 \
             PFLOPS, INT8 9 POPS, all with sparsity, so 2,250 / 4,500 / 4,500 dense (half); \
             180 GB HBM3e at 7.7 TB/s (B200 launch material: 192 GB, 8 TB/s); NVLink5 1,800 GB/s",
        ),
        entry(
            "L4",
            &["L4 24GB", "L4 Tensor Core"],
            "NVIDIA",
            24.0,
            Some(300.0),
            121.0,
            Some(242.5),
            Some(242.5),
            None,
            "NVIDIA L4 datasheet: FP16/BF16 tensor 242 TFLOPS, FP8 485 TFLOPS, INT8 485 TOPS, all \
             with sparsity, so 121 / 242.5 / 242.5 dense (half); 24 GB GDDR6 300 GB/s; PCIe Gen4 \
             x16 only",
        ),
        entry(
            "RTX 4090",
            &["RTX4090", "GeForce RTX 4090", "4090", "RTX 4090 24GB"],
            "NVIDIA",
            24.0,
            Some(1008.0),
            165.2,
            Some(330.3),
            Some(660.6),
            None,
            "NVIDIA Ada GPU architecture whitepaper, GeForce RTX 4090 column: FP16/BF16 tensor \
             with FP32 accumulate 165.2 TFLOPS dense (330.4 sparse; GeForce runs FP32 accumulate \
             at half the 330.3 of FP16 accumulate), FP8 with FP32 accumulate 330.3 dense, INT8 \
             660.6 TOPS dense (1,321.2 sparse); 24 GB GDDR6X 1,008 GB/s; no NVLink (PCIe Gen4)",
        ),
        entry(
            "MI325X",
            &["Instinct MI325X", "MI325X 256GB", "AMD MI325X"],
            "AMD",
            256.0,
            Some(6000.0),
            1307.4,
            Some(2614.9),
            Some(2614.9),
            Some(896.0),
            "AMD Instinct MI325X data sheet (MI300X compute): 1,307.4 TFLOPS FP16/BF16 dense, \
             2,614.9 FP8 dense (5,229.8 with sparsity), 2,614.9 TOPS INT8 dense, 256 GB HBM3E \
             6 TB/s, 7 Infinity Fabric links 896 GB/s aggregate (as MI300X)",
        ),
    ]);
    let mut low_confidence = [
        entry(
            "RTX PRO 6000 Blackwell",
            &[
                "RTX PRO 6000",
                "RTXPRO6000",
                "RTX PRO 6000 Blackwell Workstation Edition",
                "RTX PRO 6000 Blackwell Server Edition",
                "RTX PRO 6000 96GB",
            ],
            "NVIDIA",
            96.0,
            Some(1792.0),
            503.8,
            Some(1007.6),
            Some(1007.6),
            None,
            "NVIDIA RTX PRO 6000 Blackwell (Workstation Edition, 600 W): 96 GB GDDR7, 512-bit at \
             28 Gbps = 1,792 GB/s, PCIe Gen5 only; NVIDIA states only 4,000 FP4 'AI TOPS' (with \
             sparsity) and 125 TFLOPS FP32, so the dense tensor peaks are third-party \
             (hmc-tech.com: FP16/BF16 503.8 TFLOPS with FP32 accumulate, FP8 1,007.6, INT8 \
             1,007.6 TOPS, each half the sparse figure and 1/8 of 4,031 sparse FP4); the Server \
             Edition has the same GPU but its bandwidth may be lower (LLMServingSim uses 1,597)",
        ),
        entry(
            "H20",
            &["H20 96GB", "HGX H20"],
            "NVIDIA",
            96.0,
            Some(4000.0),
            148.0,
            None,
            Some(296.0),
            Some(900.0),
            "No public NVIDIA datasheet; secondary pages (willitrunai.com/gpus/h20-96gb, Chinese \
             press summaries of the partner spec sheet): 96 GB HBM3 4.0 TB/s, 148 TFLOPS \
             FP16/BF16 dense, 296 TOPS INT8 dense, NVLink4 900 GB/s; FP8 (296 in circulated \
             specs) not confirmed by the pages found, so left unset",
        ),
        entry(
            "Ascend 910C",
            &["910C", "Ascend910C"],
            "Huawei",
            128.0,
            Some(3200.0),
            780.0,
            None,
            None,
            None,
            "No official figures; per package (two dies): 780 TFLOPS BF16 and eight HBM2E stacks \
             at 3.2 TB/s per DigiTimes via TechPowerUp (2025-04; another secondary page says 800 \
             TFLOPS FP16), FP16 taken equal to BF16; 128 GB from vLLM-Ascend's 'Atlas 800 A3 \
             (128GB × 8)' (specs/npu.md §6). CANN and vLLM-Ascend address each die as a \
             64 GB device: per-die figures are half. INT8, FP8 (unsupported) and HCCS bandwidth \
             left unset (secondary pages disagree: 400 vs 784 GB/s)",
        ),
    ];
    for a in &mut low_confidence {
        a.low_confidence = true;
    }
    v.extend(low_confidence);
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

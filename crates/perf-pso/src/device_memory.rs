//! Device memory from recorded tool output, for the theory-guided bound (specs/tuning.md §5):
//! total MB and the share in use, from `npu-smi info -t usages` (Ascend) or `nvidia-smi
//! --query-gpu=memory.total,memory.used --format=csv…` (NVIDIA).
//!
//! `npu-smi`: the seed (`common.get_npu_total_memory`) takes the first `HBM Capacity(MB)` and
//! `HBM Usage Rate(%)` lines, and on cards without HBM (Atlas 300I Duo) `DDR Capacity(MB)` with
//! `DDR Hugepages Usage Rate(%)` (device memory is allocated from huge pages there). Without
//! `-c <chip>` the tool prints one block per chip; [`parse_npu_smi_usages`] returns them all,
//! [`npu_smi_memory`] the first (what the seed uses). MB are the tool's MiB.
//!
//! `nvidia-smi`: one line per GPU, `total, used` (MiB) without a header
//! (`noheader,nounits`), or with the header `memory.total [MiB], memory.used [MiB]` and
//! ` MiB` units; the header decides the column order when present.

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

/// Which figures the memory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// `npu-smi` `HBM Capacity(MB)` and `HBM Usage Rate(%)`.
    Hbm,
    /// `npu-smi` `DDR Capacity(MB)` and `DDR Hugepages Usage Rate(%)` (cards without HBM).
    DdrHugepages,
    /// `nvidia-smi` `memory.total` and `memory.used`.
    NvidiaSmi,
}

/// Total device memory and the share in use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceMemory {
    /// Total memory, MB (MiB).
    pub total_mb: f64,
    /// Memory in use, percent of the total.
    pub usage_percent: f64,
    /// Where the figures came from.
    pub source: MemorySource,
    /// `Chip ID` of an `npu-smi` block, or the 0-based GPU line of `nvidia-smi`.
    pub device: Option<u32>,
}

const HBM_CAP: &str = "HBM Capacity(MB)";
const HBM_USE: &str = "HBM Usage Rate(%)";
const DDR_CAP: &str = "DDR Capacity(MB)";
const DDR_USE: &str = "DDR Hugepages Usage Rate(%)";

/// Parses `npu-smi info -t usages [-i N] [-c C]` output: one [`DeviceMemory`] per chip block
/// (a block ends where a key repeats, so `Chip ID` may come first or last).
///
/// # Errors
/// [`crate::PsoError::Config`] naming the key and value: no capacity line at all, a capacity
/// without its usage line, or a value that is not a number (`NA`).
pub fn parse_npu_smi_usages(text: &str) -> Result<Vec<DeviceMemory>> {
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        if k.is_empty() {
            continue;
        }
        if let Some(cur) = blocks.last()
            && cur.iter().any(|(seen, _)| *seen == k)
        {
            blocks.push(Vec::new());
        }
        if let Some(cur) = blocks.last_mut() {
            cur.push((k, v));
        }
    }
    let mut out = Vec::new();
    for b in &blocks {
        let get = |key: &str| b.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let (source, cap, usage_key) = if let Some(c) = get(HBM_CAP) {
            (MemorySource::Hbm, c, HBM_USE)
        } else if let Some(c) = get(DDR_CAP) {
            (MemorySource::DdrHugepages, c, DDR_USE)
        } else {
            continue;
        };
        let cap_key = if source == MemorySource::Hbm {
            HBM_CAP
        } else {
            DDR_CAP
        };
        let number = |key: &str, v: &str| -> Result<f64> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    config_err(
                        format!("npu-smi output: {key}"),
                        format!("`{v}` is not a number"),
                    )
                })
        };
        let total_mb = number(cap_key, cap)?;
        let usage = get(usage_key).ok_or_else(|| {
            config_err(
                format!("npu-smi output: {usage_key}"),
                format!("missing (the block has `{cap_key}`)"),
            )
        })?;
        let usage_percent = number(usage_key, usage)?;
        if total_mb <= 0.0 || usage_percent > 100.0 {
            return Err(config_err(
                format!("npu-smi output: {cap_key}"),
                format!("capacity {total_mb} MB with {usage_percent} % in use is not a device"),
            ));
        }
        out.push(DeviceMemory {
            total_mb,
            usage_percent,
            source,
            device: get("Chip ID").and_then(|c| c.parse().ok()),
        });
    }
    if out.is_empty() {
        return Err(config_err(
            "npu-smi output",
            format!("no `{HBM_CAP}` or `{DDR_CAP}` line (is this `npu-smi info -t usages`?)"),
        ));
    }
    Ok(out)
}

/// The memory of the first chip in `npu-smi info -t usages` output (the seed's reading).
///
/// # Errors
/// As [`parse_npu_smi_usages`].
pub fn npu_smi_memory(text: &str) -> Result<DeviceMemory> {
    let all = parse_npu_smi_usages(text)?;
    all.into_iter()
        .next()
        .ok_or_else(|| config_err("npu-smi output", "no chip"))
}

/// Parses `nvidia-smi --query-gpu=memory.total,memory.used --format=csv[,noheader][,nounits]`
/// output: one [`DeviceMemory`] per GPU line, `usage% = used/total·100`.
///
/// # Errors
/// [`crate::PsoError::Config`] naming the line and column: fewer than two columns, a value that
/// is not a number (`[N/A]`), a total ≤ 0, used > total; no GPU line at all.
pub fn parse_nvidia_smi_memory(text: &str) -> Result<Vec<DeviceMemory>> {
    let (mut total_col, mut used_col) = (0usize, 1usize);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.iter().any(|c| c.starts_with("memory.")) {
            let find = |name: &str| cells.iter().position(|c| c.starts_with(name));
            match (find("memory.total"), find("memory.used")) {
                (Some(t), Some(u)) => (total_col, used_col) = (t, u),
                _ => {
                    return Err(config_err(
                        format!("nvidia-smi output:{}", n + 1),
                        "the header needs memory.total and memory.used",
                    ));
                }
            }
            continue;
        }
        let at = |col: &str| format!("nvidia-smi output:{}: {col}", n + 1);
        let value = |k: usize, col: &str| -> Result<f64> {
            let raw = cells.get(k).copied().ok_or_else(|| {
                config_err(
                    at(col),
                    format!("missing in `{line}` (expected total, used)"),
                )
            })?;
            let v = raw.trim_end_matches("MiB").trim();
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| config_err(at(col), format!("`{raw}` is not a number of MiB")))
        };
        let total = value(total_col, "memory.total")?;
        let used = value(used_col, "memory.used")?;
        if total <= 0.0 || used > total {
            return Err(config_err(
                at("memory.total"),
                format!("total {total} MiB with {used} MiB used is not a device"),
            ));
        }
        out.push(DeviceMemory {
            total_mb: total,
            usage_percent: used / total * 100.0,
            source: MemorySource::NvidiaSmi,
            device: u32::try_from(out.len()).ok(),
        });
    }
    if out.is_empty() {
        return Err(config_err("nvidia-smi output", "no GPU line"));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values: integers, SLO bounds, parsed literals
mod tests {
    use super::*;

    const HBM: &str = include_str!("../tests/fixtures/npu_smi_usages_hbm.txt");
    const DDR: &str = include_str!("../tests/fixtures/npu_smi_usages_ddr_two_chips.txt");
    const NV: &str = include_str!("../tests/fixtures/nvidia_smi_memory.csv");
    const NV_HEADER: &str = include_str!("../tests/fixtures/nvidia_smi_memory_header.csv");

    #[test]
    fn npu_smi_hbm_card() {
        let m = npu_smi_memory(HBM).unwrap();
        assert_eq!(
            m,
            DeviceMemory {
                total_mb: 65536.0,
                usage_percent: 3.0,
                source: MemorySource::Hbm,
                device: Some(0),
            }
        );
        assert_eq!(parse_npu_smi_usages(HBM).unwrap().len(), 1);
    }

    #[test]
    fn npu_smi_ddr_card_with_two_chips() {
        let all = parse_npu_smi_usages(DDR).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (
                all[0].total_mb,
                all[0].usage_percent,
                all[0].source,
                all[0].device
            ),
            (44280.0, 12.0, MemorySource::DdrHugepages, Some(0))
        );
        assert_eq!((all[1].usage_percent, all[1].device), (37.0, Some(1)));
        // Chip ID first instead of last: same blocks
        let leading = "Chip ID : 4\nHBM Capacity(MB) : 32768\nHBM Usage Rate(%) : 10\n\
                       Chip ID : 5\nHBM Capacity(MB) : 32768\nHBM Usage Rate(%) : 20\n";
        let all = parse_npu_smi_usages(leading).unwrap();
        assert_eq!((all[0].device, all[0].usage_percent), (Some(4), 10.0));
        assert_eq!((all[1].device, all[1].usage_percent), (Some(5), 20.0));
    }

    #[test]
    fn npu_smi_errors_name_the_key() {
        let na = HBM.replace(
            "HBM Usage Rate(%)              : 3",
            "HBM Usage Rate(%) : NA",
        );
        let e = npu_smi_memory(&na).unwrap_err().to_string();
        assert_eq!(e, "npu-smi output: HBM Usage Rate(%): `NA` is not a number");
        let e = npu_smi_memory("Aicore Usage Rate(%) : 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no `HBM Capacity(MB)` or `DDR Capacity(MB)` line"),
            "{e}"
        );
        let e = npu_smi_memory("HBM Capacity(MB) : 65536\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("HBM Usage Rate(%): missing"), "{e}");
    }

    #[test]
    fn nvidia_smi_with_and_without_header() {
        let gpus = parse_nvidia_smi_memory(NV).unwrap();
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].total_mb, 81559.0);
        assert!((gpus[0].usage_percent - 1234.0 / 81559.0 * 100.0).abs() < 1e-12);
        assert!((gpus[1].usage_percent - 80211.0 / 81559.0 * 100.0).abs() < 1e-12);
        assert_eq!(gpus[1].device, Some(1));
        let gpus = parse_nvidia_smi_memory(NV_HEADER).unwrap();
        assert_eq!(gpus.len(), 2);
        assert_eq!((gpus[1].total_mb, gpus[1].usage_percent), (46068.0, 50.0));
        // the header decides the order
        let swapped = "memory.used [MiB], memory.total [MiB]\n1000 MiB, 4000 MiB\n";
        assert_eq!(
            parse_nvidia_smi_memory(swapped).unwrap()[0].usage_percent,
            25.0
        );
    }

    #[test]
    fn nvidia_smi_errors_name_line_and_column() {
        let e = parse_nvidia_smi_memory("81559, [N/A]\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "nvidia-smi output:1: memory.used: `[N/A]` is not a number of MiB"
        );
        let e = parse_nvidia_smi_memory("81559\n").unwrap_err().to_string();
        assert!(e.contains("memory.used") && e.contains("missing"), "{e}");
        assert!(parse_nvidia_smi_memory("\n").is_err());
        assert!(parse_nvidia_smi_memory("100, 200\n").is_err());
    }
}

//! `hardware_profile` onto inline accelerators: each compute device becomes an
//! [`Accelerator`] with the seed's figures (its defaults fill the gaps); links are checked.

use std::collections::BTreeMap;

use perf_model_core::Accelerator;

use crate::config::ClientLink;
use crate::error::{Result, invalid, non_negative, positive};

use super::decision::Log;
use super::schema::{SeedHardware, SeedLink};

/// The seed's defaults for a device without figures.
const DEFAULT_TFLOPS: f64 = 100.0;
const DEFAULT_MEMORY_BYTES: f64 = 80e9;
const DEFAULT_MEMORY_GBPS: f64 = 1000.0;
/// The seed's defaults for a link.
const DEFAULT_LINK_BPS: f64 = 10e9;
const DEFAULT_LINK_LATENCY_S: f64 = 1e-4;

/// A device: its accelerator and its path in the seed configuration.
#[derive(Clone, Debug)]
pub(crate) struct Device {
    pub(crate) accelerator: Accelerator,
    pub(crate) path: String,
}

/// The devices by `device_id`.
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the path: a duplicate or empty id, a figure that
/// is not finite and > 0.
pub(crate) fn devices(hw: &SeedHardware, log: &mut Log) -> Result<BTreeMap<String, Device>> {
    let mut out = BTreeMap::new();
    for (i, d) in hw.compute_devices.iter().enumerate() {
        let path = format!("hardware_profile.compute_devices[{i}]");
        if d.device_id.trim().is_empty() {
            return Err(invalid(
                format!("{path}.device_id"),
                "\"\"",
                "must not be empty",
            ));
        }
        if out.contains_key(&d.device_id) {
            return Err(invalid(
                format!("{path}.device_id"),
                &d.device_id,
                "duplicate device id",
            ));
        }
        let peak = d.peak_tflops.clone().unwrap_or_default();
        let fp16 = match peak.fp16 {
            Some(v) => positive(format!("{path}.peak_tflops.fp16"), v)?,
            None => {
                log.default_applied(
                    format!("{path}.peak_tflops.fp16"),
                    format!("{DEFAULT_TFLOPS} TFLOPS"),
                );
                DEFAULT_TFLOPS
            }
        };
        let int8 = peak
            .int8
            .map(|v| positive(format!("{path}.peak_tflops.int8"), v))
            .transpose()?;
        let bytes = match d.memory_capacity_bytes {
            Some(v) => positive(format!("{path}.memory_capacity_bytes"), v)?,
            None => {
                log.default_applied(
                    format!("{path}.memory_capacity_bytes"),
                    format!("{DEFAULT_MEMORY_BYTES:e} bytes"),
                );
                DEFAULT_MEMORY_BYTES
            }
        };
        let gbps = match d.memory_gbps {
            Some(v) => positive(format!("{path}.memory_gbps"), v)?,
            None => {
                log.default_applied(
                    format!("{path}.memory_gbps"),
                    format!("{DEFAULT_MEMORY_GBPS} GB/s"),
                );
                DEFAULT_MEMORY_GBPS
            }
        };
        let memory_gb = bytes / f64::from(1u32 << 30);
        log.converted(
            format!("{path}.memory_capacity_bytes"),
            format!("{bytes:e} bytes = {memory_gb:.3} GiB of device memory"),
        );
        if d.processing_units.is_some() {
            log.ignored(
                format!("{path}.processing_units"),
                "the roofline uses peak FLOPS and bandwidth only",
            );
        }
        let accelerator = Accelerator {
            name: d.device_id.clone(),
            vendor: d.device_type.clone().unwrap_or_default(),
            memory_gb,
            memory_bandwidth_gbs: Some(gbps),
            fp16_tflops: fp16,
            bf16_tflops: fp16,
            int8_tops: int8,
            source: format!("seed config {path}"),
            ..Accelerator::default()
        };
        accelerator.validate()?;
        out.insert(d.device_id.clone(), Device { accelerator, path });
    }
    Ok(out)
}

/// A checked link: `(source, dest, bandwidth bits/s, bidirectional, latency s)`.
pub(crate) type Link = (String, String, f64, bool, f64);

/// Checks the links (the seed's defaults fill gaps) and reports what each becomes: a link
/// between two compute devices sets the TP interconnect, one with another end (a client
/// node) is the client link ([`client_link`]).
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the path: a bandwidth not finite and > 0, a
/// negative latency.
pub(crate) fn links(hw: &SeedHardware, log: &mut Log) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    for (i, l) in hw.network_links.iter().enumerate() {
        let path = format!("hardware_profile.network_links[{i}]");
        let SeedLink {
            link_id,
            source_id,
            dest_id,
            bandwidth_bps,
            latency_s,
            bidirectional,
            ..
        } = l;
        let bps = match bandwidth_bps {
            Some(v) => positive(format!("{path}.bandwidth_bps"), *v)?,
            None => {
                log.default_applied(
                    format!("{path}.bandwidth_bps"),
                    format!("{DEFAULT_LINK_BPS:e} bit/s"),
                );
                DEFAULT_LINK_BPS
            }
        };
        let latency = match latency_s {
            Some(v) => non_negative(format!("{path}.latency_s"), *v)?,
            None => {
                log.default_applied(
                    format!("{path}.latency_s"),
                    format!("{DEFAULT_LINK_LATENCY_S} s"),
                );
                DEFAULT_LINK_LATENCY_S
            }
        };
        let id = link_id
            .as_deref()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        let is_device = |id: &String| hw.compute_devices.iter().any(|d| &d.device_id == id);
        if is_device(source_id) && is_device(dest_id) {
            log.ignored(
                path,
                format!(
                    "{id}{source_id} -> {dest_id}: a device-to-device link sets only the TP \
                     interconnect (KV and activations inside a replica are not routed over it)"
                ),
            );
        } else {
            log.mapped(
                path,
                format!(
                    "{id}{source_id} -> {dest_id}: the client link (workload.network): each \
                     prompt and each streamed token crosses it"
                ),
            );
        }
        out.push((
            source_id.clone(),
            dest_id.clone(),
            bps,
            bidirectional.unwrap_or(false),
            latency,
        ));
    }
    Ok(out)
}

/// The interconnect of a TP group for [`Accelerator::interconnect_gbs`] (GB/s, both
/// directions: twice the one-way rate): the slowest link joining two devices of the group
/// (a ring or a full mesh), or `None` when some device of the group has no such link.
pub(crate) fn interconnect_gbs(gpus: &[String], links: &[Link]) -> Option<f64> {
    let inside: Vec<&Link> = links
        .iter()
        .filter(|(s, d, _, _, _)| s != d && gpus.contains(s) && gpus.contains(d))
        .collect();
    let joined = |g: &String| inside.iter().any(|(s, d, _, _, _)| s == g || d == g);
    if !gpus.iter().all(joined) {
        return None;
    }
    let slowest = inside.iter().map(|l| l.2).fold(f64::INFINITY, f64::min);
    slowest.is_finite().then(|| 2.0 * slowest / 8e9)
}

/// The client link: the first link with an end that is no compute device (a client node), with
/// `bytes_per_token` (the seed's `bytes_per_token_estimate_for_network`, else 4).
pub(crate) fn client_link(hw: &SeedHardware, bytes_per_token: f64) -> Option<ClientLink> {
    let is_device = |id: &String| hw.compute_devices.iter().any(|d| &d.device_id == id);
    hw.network_links
        .iter()
        .find(|l| !(is_device(&l.source_id) && is_device(&l.dest_id)))
        .map(|l| ClientLink {
            latency_ms: l.latency_s.unwrap_or(DEFAULT_LINK_LATENCY_S) * 1e3,
            bandwidth_gbps: l.bandwidth_bps.unwrap_or(DEFAULT_LINK_BPS) / 1e9,
            bytes_per_token,
        })
}

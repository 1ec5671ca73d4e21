//! The whole seed configuration onto a [`SimConfig`].

use crate::config::{ClientConfig, ClusterConfig, KvCacheConfig, RouterKind, SimConfig};
use crate::config::{
    ConversationConfig, EngineOverheads, PreemptionPolicy, ThinkTime, WorkloadConfig,
};
use crate::error::{Result, invalid, non_negative, positive};
use crate::pool::PoolConfig;

use super::SeedOutputs;
use super::decision::Log;
use super::dist;
use super::framework::replicas;
use super::hardware::{client_link, devices, links};
use super::schema::{SeedDist, SeedFile, SeedMetrics, SeedWorkload};

/// Converts `file`, logging every decision.
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the seed path of the first bad value.
pub(crate) fn convert(file: &SeedFile, log: &mut Log) -> Result<(SimConfig, SeedOutputs)> {
    let sim = file.simulation.clone().unwrap_or_default();
    let w = &file.workload;
    let seed = match (sim.random_seed, w.random_seed) {
        (Some(s), other) => {
            if other.is_some_and(|o| o != s) {
                log.ignored(
                    "workload.random_seed",
                    format!("simulation.random_seed ({s}) seeds every random stream"),
                );
            }
            s
        }
        (None, Some(s)) => {
            log.mapped("workload.random_seed", format!("master seed {s}"));
            s
        }
        (None, None) => {
            log.default_applied("simulation.random_seed", "0");
            0
        }
    };
    let max_simulation_time_s = sim
        .max_simulation_time
        .map(|t| positive("simulation.max_simulation_time", t))
        .transpose()?;
    if sim.lod.is_some() {
        log.ignored(
            "simulation.lod",
            "steps are always simulated whole (one event per batch step)",
        );
    }
    if let Some(p) = &file.model_characteristics_db_path {
        log.ignored(
            "model_characteristics_db_path",
            format!("{p}: model figures come from the built-in catalogue"),
        );
    }
    let hw = file.hardware_profile.clone().unwrap_or_default();
    let devices = devices(&hw, log)?;
    let links = links(&hw, log)?;
    let bytes_per_token = match file.workload.bytes_per_token_estimate_for_network {
        Some(b) => non_negative("workload.bytes_per_token_estimate_for_network", b)?,
        None => 4.0,
    };
    let network = client_link(&hw, bytes_per_token);
    match (&network, file.workload.bytes_per_token_estimate_for_network) {
        (Some(_), Some(b)) => log.mapped(
            "workload.bytes_per_token_estimate_for_network",
            format!("workload.network.bytes_per_token {b}"),
        ),
        (Some(_), None) => log.default_applied(
            "workload.bytes_per_token_estimate_for_network",
            "4 bytes per token on the client link",
        ),
        (None, Some(_)) => log.ignored(
            "workload.bytes_per_token_estimate_for_network",
            "no client link (every network link joins two compute devices)",
        ),
        (None, None) => {}
    }
    let reps = replicas(&file.frameworks_to_test, &devices, &links, log)?;
    let first = &reps[0].1;
    let names: Vec<&str> = reps
        .iter()
        .map(|(i, _)| file.frameworks_to_test[*i].name.as_str())
        .collect();
    let router = router(w, &names, log)?;
    // Several targets run side by side: one pool each, named after its framework (the
    // summary then reports each framework), weighted by framework_weights.
    let pools: Vec<PoolConfig> = if reps.len() > 1 {
        reps.iter()
            .map(|(i, r)| {
                let f = &file.frameworks_to_test[*i];
                log.mapped(
                    format!("frameworks_to_test[{i}]"),
                    format!(
                        "pool `{}` of one replica ({}, {}): the summary's pools[] report it",
                        f.name,
                        r.engine.kind.name(),
                        match &r.cost_model {
                            crate::config::CostModelConfig::Roofline { accelerator, .. } =>
                                accelerator.as_str(),
                            crate::config::CostModelConfig::Inferno { .. } => "inferno",
                        }
                    ),
                );
                PoolConfig {
                    name: f.name.clone(),
                    replicas: 1,
                    engine: Some(r.engine.clone()),
                    cost_model: Some(r.cost_model.clone()),
                    kv_cache: None,
                    preemption: None,
                    overheads: None,
                    weight: Some(framework_weight(w, &f.name)),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let (horizon_s, max_requests) = limits(w)?;
    let clients = clients(w, log)?;
    let (outputs, warm_up_s) = metrics(file.metrics_config.as_ref(), log)?;
    if let (Some(w), Some(h)) = (warm_up_s, horizon_s)
        && w >= h
    {
        return Err(invalid(
            "metrics_config.warm_up_duration_s",
            w,
            format!("must be < workload.total_duration ({h} s): no arrival would be measured"),
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    let count = reps.len() as u32;
    let config = SimConfig {
        seed,
        max_requests,
        horizon_s,
        drain: true,
        max_simulation_time_s,
        warm_up_s,
        slo: None,
        cluster: ClusterConfig {
            replicas: count,
            router,
            engine: first.engine.clone(),
            cost_model: first.cost_model.clone(),
            kv_cache: KvCacheConfig::default(),
            preemption: PreemptionPolicy::default(),
            overheads: EngineOverheads::default(),
            pools,
            disaggregation: None,
        },
        workload: WorkloadConfig {
            rate: None,
            clients,
            network,
        },
    };
    Ok((config, outputs))
}

fn limits(w: &SeedWorkload) -> Result<(Option<f64>, Option<u64>)> {
    let horizon = w
        .total_duration
        .map(|t| positive("workload.total_duration", t))
        .transpose()?;
    if horizon.is_none() && w.total_requests_to_generate.is_none() {
        return Err(invalid(
            "workload.total_duration",
            "null",
            "give total_duration or total_requests_to_generate (or both)",
        ));
    }
    Ok((horizon, w.total_requests_to_generate))
}

fn router(w: &SeedWorkload, names: &[&str], log: &mut Log) -> Result<RouterKind> {
    let path = "workload.load_balancing_strategy";
    if let Some(weights) = &w.framework_weights {
        for (name, v) in weights {
            if !names.contains(&name.as_str()) {
                return Err(invalid(
                    format!("workload.framework_weights.{name}"),
                    v,
                    format!("not a target framework (targets: {})", names.join(", ")),
                ));
            }
            non_negative(format!("workload.framework_weights.{name}"), *v)?;
        }
    }
    let strategy = w.load_balancing_strategy.as_deref().unwrap_or_else(|| {
        log.default_applied(path, "round_robin");
        "round_robin"
    });
    if w.framework_weights.is_some() && strategy != "weighted_random" {
        log.ignored(
            "workload.framework_weights",
            format!("only weighted_random uses them (the strategy is {strategy})"),
        );
    }
    Ok(match strategy {
        "round_robin" => RouterKind::RoundRobin,
        "random" => RouterKind::Random,
        "least_loaded" => {
            log.mapped(path, "least_outstanding_requests (waiting + running)");
            RouterKind::LeastOutstandingRequests
        }
        "weighted_random" => {
            let first = framework_weight(w, names[0]);
            if names
                .iter()
                .all(|n| framework_weight(w, n).to_bits() == first.to_bits())
            {
                log.mapped(path, "random (all framework weights are equal)");
                RouterKind::Random
            } else {
                let total: f64 = names.iter().map(|n| framework_weight(w, n)).sum();
                if total <= 0.0 {
                    return Err(invalid(
                        "workload.framework_weights",
                        0,
                        "weighted_random needs a target framework with a weight > 0",
                    ));
                }
                let shares: Vec<String> = names
                    .iter()
                    .map(|n| format!("{n} {:.3}", framework_weight(w, n) / total))
                    .collect();
                log.mapped(
                    path,
                    format!(
                        "weighted_random over the frameworks' pools, shares {} (a framework \
                         without a weight weighs 1)",
                        shares.join(", ")
                    ),
                );
                RouterKind::WeightedRandom
            }
        }
        "session_affinity" => {
            log.mapped(
                path,
                "session_affinity: a conversation's turns go to the replica of its first \
                 turn; first turns and lone requests to the fewest outstanding requests",
            );
            RouterKind::SessionAffinity
        }
        other => {
            return Err(invalid(
                path,
                other,
                "unknown strategy (the seed's are round_robin, random, least_loaded, \
                 weighted_random, session_affinity)",
            ));
        }
    })
}

/// A target framework's `framework_weights` entry (1 without one).
fn framework_weight(w: &SeedWorkload, name: &str) -> f64 {
    w.framework_weights
        .as_ref()
        .and_then(|m| m.get(name).copied())
        .unwrap_or(1.0)
}

fn clients(w: &SeedWorkload, log: &mut Log) -> Result<Vec<ClientConfig>> {
    if w.client_profiles.is_empty() {
        return Err(invalid(
            "workload.client_profiles",
            "[]",
            "need at least one client profile",
        ));
    }
    let any_conversation = w
        .client_profiles
        .iter()
        .any(|p| p.conversational_probability.is_some_and(|c| c > 0.0));
    let unused = "no profile opens conversations (conversational_probability 0 or absent)";
    let max_turns = match w.max_turns_per_session {
        Some(0) => {
            return Err(invalid("workload.max_turns_per_session", 0, "must be >= 1"));
        }
        Some(n) if any_conversation => {
            log.mapped(
                "workload.max_turns_per_session",
                format!("conversation.max_turns {n} of every conversational profile"),
            );
            n
        }
        Some(n) => {
            log.ignored("workload.max_turns_per_session", unused);
            n
        }
        None => {
            if any_conversation {
                log.default_applied("workload.max_turns_per_session", "10");
            }
            10
        }
    };
    let accumulate = w.accumulate_conversational_tokens.unwrap_or(true);
    if w.accumulate_conversational_tokens.is_some() {
        if any_conversation {
            log.mapped(
                "workload.accumulate_conversational_tokens",
                if accumulate {
                    "a follow-up prompt is the previous prompt + its actual output + new input"
                } else {
                    "a follow-up prompt is its new input only (turns share no prefix)"
                },
            );
        } else {
            log.ignored("workload.accumulate_conversational_tokens", unused);
        }
    }
    if w.generate_prompt_tokens.is_some() {
        log.ignored(
            "workload.generate_prompt_tokens",
            "requests carry token counts, not token ids",
        );
    }
    if w.prefix_patterns.is_some() {
        log.ignored(
            "workload.prefix_patterns",
            "prompts share no prefixes (shared-prefix workloads are a native-config feature)",
        );
    }
    // The seed draws one arrival stream: each gap comes from the profile picked (by weight)
    // for the next request. Independent streams with the same mean rate shares replace it
    // (exact when all profiles have the same exponential gaps: a thinned Poisson process).
    let mut out = Vec::new();
    let mut mean_gaps = Vec::new();
    for (i, p) in w.client_profiles.iter().enumerate() {
        let path = format!("workload.client_profiles[{i}]");
        let weight = match p.weight {
            Some(v) => positive(format!("{path}.weight"), v)?,
            None => {
                log.default_applied(format!("{path}.weight"), "1");
                1.0
            }
        };
        let (arrival, gap) = dist::arrival(
            &p.inter_arrival_time_dist_config,
            &format!("{path}.inter_arrival_time_dist_config"),
            log,
        )?;
        let input = dist::length(
            &p.prompt_tokens_dist_config,
            &format!("{path}.prompt_tokens_dist_config"),
            log,
        )?;
        let output = dist::length(
            &p.max_output_tokens_dist_config,
            &format!("{path}.max_output_tokens_dist_config"),
            log,
        )?;
        if let Some(c) = p.conversational_probability
            && !(0.0..=1.0).contains(&c)
        {
            return Err(invalid(
                format!("{path}.conversational_probability"),
                c,
                "must be in [0, 1]",
            ));
        }
        let conversation = match p.conversational_probability {
            Some(c) if c > 0.0 => {
                let follow = format!("{path}.follow_up_inter_arrival_time_dist_config");
                let (think_time_s, think) = match &p.follow_up_inter_arrival_time_dist_config {
                    Some(d) => think_time(d, &follow, log)?,
                    None => {
                        log.default_applied(&follow, "exponential think time, mean 5 s");
                        (5.0, ThinkTime::Exponential)
                    }
                };
                log.mapped(
                    format!("{path}.conversational_probability"),
                    format!(
                        "conversation.probability {c}: an arrival opens a conversation; each \
                         next turn (probability 0.7, at most {max_turns} turns) arrives a think \
                         time after the previous turn completes"
                    ),
                );
                Some(ConversationConfig {
                    probability: c,
                    max_turns,
                    think_time_s,
                    think,
                    accumulate_context: accumulate,
                    ..ConversationConfig::default()
                })
            }
            _ => {
                if p.follow_up_inter_arrival_time_dist_config.is_some() {
                    log.ignored(
                        format!("{path}.follow_up_inter_arrival_time_dist_config"),
                        "the profile opens no conversation",
                    );
                }
                None
            }
        };
        if let Some(s) = p.streaming_response_probability {
            if !(0.0..=1.0).contains(&s) {
                return Err(invalid(
                    format!("{path}.streaming_response_probability"),
                    s,
                    "must be in [0, 1]",
                ));
            }
            log.ignored(
                format!("{path}.streaming_response_probability"),
                "every response is timed as streamed: TTFT is the first token reaching the \
                 client (a non-streamed response arrives whole at completion: its E2E)",
            );
        }
        if p.turn_type_dist_config.is_some() {
            log.ignored(
                format!("{path}.turn_type_dist_config"),
                "every follow-up turn draws its new input from the profile's prompt lengths",
            );
        }
        if p.user_priority_dist_config.is_some() {
            log.ignored(
                format!("{path}.user_priority_dist_config"),
                "scheduling is first come, first served",
            );
        }
        let name = p.profile_name.clone().unwrap_or_else(|| {
            log.default_applied(format!("{path}.profile_name"), format!("profile{i}"));
            format!("profile{i}")
        });
        mean_gaps.push(weight * gap);
        out.push(ClientConfig {
            name: Some(name),
            weight,
            arrival,
            input: Some(input),
            output: Some(output),
            pairs: None,
            max_tokens: None,
            shared_prefix: None,
            slo: None,
            conversation,
        });
    }
    if out.len() > 1 {
        let exact = out.iter().all(|c| c.arrival == out[0].arrival)
            && matches!(out[0].arrival, crate::config::ArrivalConfig::Poisson { .. });
        let how = if exact {
            "exact: all profiles have the same exponential gaps"
        } else {
            "same mean rates, different gap distribution"
        };
        let total_w: f64 = out.iter().map(|c| c.weight).sum();
        let rate = total_w / mean_gaps.iter().sum::<f64>();
        for (i, c) in out.iter_mut().enumerate() {
            let r = rate * c.weight / total_w;
            set_rate(&mut c.arrival, r);
            log.mapped(
                format!("workload.client_profiles[{i}]"),
                format!(
                    "independent stream at {r:.6} req/s, {:.3} of the seed's single stream of \
                     {rate:.6} req/s whose gaps come from the profile picked by weight ({how})",
                    c.weight / total_w
                ),
            );
        }
    }
    Ok(out)
}

fn set_rate(a: &mut crate::config::ArrivalConfig, r: f64) {
    use crate::config::ArrivalConfig as A;
    if let A::Poisson { rate } | A::Constant { rate } | A::Gamma { rate, .. } = a {
        *rate = Some(r);
    }
}

/// The output paths and the warm-up (`warm_up_s`, `None` for none or 0).
fn metrics(m: Option<&SeedMetrics>, log: &mut Log) -> Result<(SeedOutputs, Option<f64>)> {
    let Some(m) = m else {
        return Ok((SeedOutputs::default(), None));
    };
    let p = "metrics_config";
    for (key, set) in [
        (
            "percentiles_to_calculate",
            m.percentiles_to_calculate.is_some(),
        ),
        ("compute_percentiles", m.compute_percentiles.is_some()),
    ] {
        if set {
            log.ignored(
                format!("{p}.{key}"),
                "the summary reports p50, p90, p95 and p99",
            );
        }
    }
    if m.compute_token_stats.is_some() {
        log.ignored(
            format!("{p}.compute_token_stats"),
            "token throughputs are always in the summary",
        );
    }
    let mut warm_up_s = None;
    if let Some(w) = m.warm_up_duration_s {
        non_negative(format!("{p}.warm_up_duration_s"), w)?;
        if w > 0.0 {
            warm_up_s = Some(w);
            log.mapped(
                format!("{p}.warm_up_duration_s"),
                format!(
                    "warm_up_s = {w}: requests arriving in the first {w} s are simulated and \
                     written to the CSV but excluded from latency and throughput"
                ),
            );
        }
    }
    if m.log_level.is_some() {
        log.ignored(
            format!("{p}.log_level"),
            "RUST_LOG filters llm-perf's log events",
        );
    }
    let outputs = SeedOutputs {
        summary_json: m.output_summary_json_path.clone().map(Into::into),
        requests_csv: m.output_requests_csv_path.clone().map(Into::into),
    };
    if let Some(s) = &m.output_summary_json_path {
        log.mapped(
            format!("{p}.output_summary_json_path"),
            format!("the summary JSON is written to {s} (llm-perf's summary fields)"),
        );
    }
    if let Some(s) = &m.output_requests_csv_path {
        log.mapped(
            format!("{p}.output_requests_csv_path"),
            format!("one CSV row per request is written to {s} (llm-perf's columns)"),
        );
    }
    Ok((outputs, warm_up_s))
}

/// A follow-up think time from the seed's `follow_up_inter_arrival_time_dist_config`:
/// Exponential (by its mean) or Constant.
fn think_time(d: &SeedDist, path: &str, log: &mut Log) -> Result<(f64, ThinkTime)> {
    Ok(match dist::resolve(d, path, log)? {
        dist::Dist::Exponential(rate) => {
            let mean = 1.0 / positive(format!("{path}.rate"), rate)?;
            log.mapped(path, format!("exponential think time, mean {mean} s"));
            (mean, ThinkTime::Exponential)
        }
        dist::Dist::Constant(gap) => {
            let gap = non_negative(format!("{path}.value"), gap)?;
            log.mapped(path, format!("fixed think time of {gap} s"));
            (gap, ThinkTime::Fixed)
        }
        _ => {
            return Err(invalid(
                format!("{path}.type"),
                d.kind.as_deref().unwrap_or("?"),
                "not supported for think times: use Exponential or Constant",
            ));
        }
    })
}

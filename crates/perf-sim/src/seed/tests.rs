//! Tests of the seed loader on the sample seed configuration and its variations.

use crate::{DecisionKind, LoadedConfig, RouterKind, SimConfig, SimError, Simulation};

const EXAMPLE: &str = include_str!("../../../../samples/sim/llmperforacle-example.yaml");

fn load(text: &str) -> LoadedConfig {
    SimConfig::load_yaml_str(text).unwrap()
}

fn err(text: &str) -> String {
    SimConfig::load_yaml_str(text)
        .and_then(|l| Simulation::new(l.config).map(|_| ()))
        .unwrap_err()
        .to_string()
}

/// The example with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "{from}");
    EXAMPLE.replacen(from, to, 1)
}

fn has(l: &LoadedConfig, kind: DecisionKind, path: &str) -> bool {
    l.decisions.iter().any(|d| d.kind == kind && d.path == path)
}

#[test]
fn example_loads_and_runs() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/sim/llmperforacle-example.yaml"
    );
    let l = SimConfig::load_path(sample).unwrap();
    assert!(l.seed);
    let c = &l.config;
    assert_eq!(c.seed, 2024);
    assert_eq!(c.max_requests, Some(300));
    assert_eq!(c.horizon_s, Some(60.0));
    assert_eq!(c.max_simulation_time_s, Some(300.0));
    assert_eq!(c.cluster.replicas, 1);
    assert_eq!(c.cluster.router, RouterKind::LeastOutstandingRequests);
    assert_eq!(c.cluster.engine.max_batch_size(), 128);
    assert_eq!(c.cluster.engine.max_num_batched_tokens(), 4096);
    assert_eq!(c.workload.clients.len(), 2);
    // One stream of 6 req/s split 0.8 / 0.2.
    assert!(
        (c.client_rate(0) - 4.8).abs() < 1e-9,
        "{}",
        c.client_rate(0)
    );
    assert!((c.client_rate(1) - 1.2).abs() < 1e-9);
    assert_eq!(
        l.outputs.summary_json.as_deref(),
        Some(std::path::Path::new("llmperforacle_summary.json"))
    );
    let summary = Simulation::new(l.config.clone())
        .unwrap()
        .run(std::io::sink())
        .unwrap();
    let r = summary.requests;
    assert_eq!(r.arrived, 300);
    assert_eq!(r.completed, 300);
    assert!(summary.latency.ttft_ms.mean > 0.0);
    // Same seed, same bits.
    let again = Simulation::new(l.config)
        .unwrap()
        .run(std::io::sink())
        .unwrap();
    assert_eq!(summary.to_json().unwrap(), again.to_json().unwrap());
}

#[test]
fn decisions_are_reported() {
    let l = load(EXAMPLE);
    use DecisionKind::{DefaultApplied, Ignored, Mapped, UnitConverted};
    assert!(has(&l, Ignored, "simulation.lod"));
    assert!(has(&l, Ignored, "model_characteristics_db_path"));
    assert!(has(
        &l,
        Ignored,
        "frameworks_to_test[0].config.scheduler_iteration_delay_s"
    ));
    assert!(has(
        &l,
        UnitConverted,
        "hardware_profile.compute_devices[0].memory_capacity_bytes"
    ));
    assert!(has(&l, Mapped, "workload.load_balancing_strategy"));
    assert!(has(
        &l,
        Mapped,
        "workload.client_profiles[0].conversational_probability"
    ));
    assert!(has(
        &l,
        Mapped,
        "workload.client_profiles[0].follow_up_inter_arrival_time_dist_config"
    ));
    assert!(has(&l, Mapped, "workload.max_turns_per_session"));
    // The client link (client_node_0 -> gpu0) and the bytes per token cross into the network.
    assert!(has(&l, Mapped, "hardware_profile.network_links[0]"));
    assert!(has(
        &l,
        Mapped,
        "workload.bytes_per_token_estimate_for_network"
    ));
    let net = l.config.workload.network.unwrap();
    assert_eq!(
        (net.latency_ms, net.bandwidth_gbps, net.bytes_per_token),
        (0.1, 10.0, 2.0)
    );
    // The chat profile's conversations: probability 0.2, 3 turns, think time mean 1/0.2 s.
    let conv = l.config.workload.clients[0].conversation.clone().unwrap();
    assert_eq!(
        (conv.probability, conv.max_turns, conv.think_time_s),
        (0.2, 3, 5.0)
    );
    assert!(l.config.workload.clients[1].conversation.is_none());
    // Every line is one line and says what it is.
    for d in &l.decisions {
        let s = d.to_string();
        assert!(s.starts_with("seed config: ") && !s.contains('\n'), "{s}");
    }
    // A device without figures gets the seed's defaults, each reported.
    let bare = edit(
        "      peak_tflops: { fp16: 989.0, int8: 1979.0 }\n      memory_capacity_bytes: 85899345920    # 80 GiB\n      memory_gbps: 3350\n",
        "",
    );
    let l = load(&bare);
    for key in ["peak_tflops.fp16", "memory_capacity_bytes", "memory_gbps"] {
        let path = format!("hardware_profile.compute_devices[0].{key}");
        assert!(has(&l, DefaultApplied, &path), "{path}");
    }
    let crate::CostModelConfig::Roofline {
        device: Some(d), ..
    } = &l.config.cluster.cost_model
    else {
        panic!("roofline with an inline device");
    };
    assert!((d.fp16_tflops - 100.0).abs() < 1e-12);
    assert!((d.memory_bytes() - 80e9).abs() < 1.0);
    assert_eq!(d.memory_bandwidth_gbs, Some(1000.0));
    Simulation::new(l.config).unwrap();
}

#[test]
fn broken_documents_report_their_own_error_not_the_native_schemas() {
    // Not even valid YAML: the parser's error with its line, not "unknown field `simulation`"
    // from the native schema (the text could not be recognised as a seed config).
    let e = err(&edit("block_size: 16", "block_size: [16"));
    assert!(!e.contains("unknown field"), "{e}");
    assert!(e.contains("line "), "{e}");
    // A number no field can hold: its path and line.
    let e = err(&edit(
        "max_num_batched_tokens: 4096",
        "max_num_batched_tokens: 99999999999999999999999",
    ));
    assert!(
        e.contains("frameworks_to_test[0].config.max_num_batched_tokens")
            && !e.contains("unknown field"),
        "{e}"
    );
}

#[test]
fn unknown_key_is_an_error_naming_its_path() {
    let e = err(&edit(
        "      weight: 0.2\n",
        "      weight: 0.2\n      wieght: 1\n",
    ));
    assert!(e.contains("workload.client_profiles[1].wieght"), "{e}");
    let e = err(&edit("block_size: 16", "block_sise: 16"));
    assert!(e.contains("frameworks_to_test[0].config.block_sise"), "{e}");
    let e = err(&edit("lod: medium", "lod: medium\n  speed: 2"));
    assert!(e.contains("simulation.speed"), "{e}");
}

#[test]
fn bad_distributions_are_errors_naming_their_path() {
    let p = "workload.client_profiles[1].prompt_tokens_dist_config";
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Pareto, shape: -1.5, scale: 100 }",
    ));
    assert!(e.contains(&format!("{p}.shape")), "{e}");
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Mixture, components: [ { type: Constant, value: 5 } ], weights: [1, 2] }",
    ));
    assert!(e.contains(&format!("{p}.weights")), "{e}");
    // Errors found in the mapped values are still reported at the seed's own keys.
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Mixture, components: [ { type: Constant, value: 5 } ], weights: [0] }",
    ));
    assert!(e.contains(&format!("{p}.weights")), "{e}");
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Exponential, rate: 1.0e-320 }",
    ));
    assert!(e.contains(&format!("{p}.rate")), "{e}");
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Zipf, s: 1 }",
    ));
    assert!(e.contains(p), "{e}");
    let e = err(&edit(
        "{ type: Normal, mean: 2000, std: 400, is_int: true }",
        "{ type: Zipf }",
    ));
    assert!(e.contains(&format!("{p}.type = Zipf")), "{e}");
    // A linear mean where the seed expects log space (as the seed's own example configs
    // write it) is read as the token count's mean and standard deviation, and said so.
    let l = load(&edit("mean: 6.0, sigma: 0.6", "mean: 400, sigma: 120"));
    let path = "workload.client_profiles[0].prompt_tokens_dist_config";
    assert!(has(&l, DecisionKind::Mapped, path), "{:?}", l.decisions);
    assert_eq!(
        l.config.workload.clients[0].input,
        Some(crate::LengthDist::Lognormal {
            mu: None,
            sigma: None,
            mean: Some(400.0),
            std: Some(120.0),
            min: None,
            max: None
        })
    );
    // In log space, e^6 ≈ 403 tokens is plausible and kept as given.
    let l = load(EXAMPLE);
    assert!(!has(&l, DecisionKind::Mapped, path));
    // Gaps the simulator cannot reproduce.
    let e = err(&edit(
        "{ type: Exponential, rate: 6.0 }",
        "{ type: Uniform, low: 0.1, high: 0.3 }",
    ));
    assert!(
        e.contains("workload.client_profiles[0].inter_arrival_time_dist_config.type"),
        "{e}"
    );
    // Parameters nested under `params` are read too.
    let l = load(&edit(
        "{ type: Exponential, rate: 6.0 }",
        "{ type: Gamma, params: { shape: 4.0, scale: 0.05 } }",
    ));
    let a = &l.config.workload.clients[0].arrival;
    assert_eq!(
        *a,
        crate::ArrivalConfig::Gamma {
            rate: Some(l.config.client_rate(0)),
            cv: 0.5
        }
    );
}

#[test]
fn negative_rate_is_an_error() {
    let e = err(&edit(
        "{ type: Exponential, rate: 6.0 }",
        "{ type: Exponential, rate: -2.0 }",
    ));
    assert!(
        e.contains("workload.client_profiles[0].inter_arrival_time_dist_config.rate = -2"),
        "{e}"
    );
}

#[test]
fn model_must_fit_in_device_memory() {
    let e = err(&edit("85899345920", "8.0e9"));
    assert!(
        e.contains("frameworks_to_test[0].config.model_profile_id")
            && e.contains("Llama-3-8B")
            && e.contains("does not fit"),
        "{e}"
    );
}

#[test]
fn unknown_model_and_device_name_their_path() {
    let e = err(&edit("meta-llama/Meta-Llama-3-8B-Instruct", "Llama-9-8B"));
    assert!(
        e.contains("frameworks_to_test[0].config.model_profile_id = Llama-9-8B"),
        "{e}"
    );
    let l = load(&edit("meta-llama/Meta-Llama-3-8B-Instruct", "Llama3-8B"));
    assert!(matches!(
        &l.config.cluster.cost_model,
        crate::CostModelConfig::Roofline { model, .. } if model == "Llama-3-8B"
    ));
    let e = err(&edit("gpu_id: gpu0", "gpu_id: gpu7"));
    assert!(
        e.contains("frameworks_to_test[0].config.gpu_id = gpu7"),
        "{e}"
    );
}

/// Two devices and two frameworks: `second` is the second framework's config block.
fn two_frameworks(second: &str, strategy: &str) -> String {
    let devices = EXAMPLE.replacen(
        "  network_links:",
        "    - device_id: gpu1\n      peak_tflops: { fp16: 989.0, int8: 1979.0 }\n      memory_capacity_bytes: 85899345920\n      memory_gbps: 3350\n  network_links:",
        1,
    );
    let fw = format!(
        "  - name: vllm_b\n    type: VLLM\n    config:\n      model_profile_id: Llama3-8B\n      gpu_id: gpu1\n{second}\nmetrics_config:"
    );
    devices
        .replacen("metrics_config:", &fw, 1)
        .replacen("least_loaded", strategy, 1)
}

#[test]
fn each_target_framework_is_a_replica() {
    let same = "      max_num_seqs: 128\n      max_num_batched_tokens: 4096\n      enable_prefix_caching: false";
    let l = load(&two_frameworks(same, "weighted_random"));
    assert_eq!(l.config.cluster.replicas, 2);
    assert_eq!(l.config.cluster.router, RouterKind::Random);
    // Each target is a pool of its own, named after its framework.
    let names: Vec<&str> = l
        .config
        .cluster
        .pools
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["vllm_llama3_8b", "vllm_b"]);
    let summary = Simulation::new(l.config).unwrap().run_summary().unwrap();
    assert_eq!(summary.pools.len(), 2);
    assert_eq!(summary.pools[1].name, "vllm_b");
    // Frameworks that differ run side by side (they were an error before pools).
    let l = load(&two_frameworks(
        "      max_num_seqs: 64\n      max_num_batched_tokens: 4096\n      enable_prefix_caching: false",
        "round_robin",
    ));
    let e = &l.config.cluster.pools[1].engine;
    assert_eq!(e.as_ref().map(|e| e.max_batch_size()), Some(64));
    Simulation::new(l.config).unwrap();
    // Unequal weights: the weighted_random router over the pools.
    let text = two_frameworks(same, "weighted_random").replacen(
        "  bytes_per_token",
        "  framework_weights: { vllm_b: 3.0 }\n  bytes_per_token",
        1,
    );
    let l = load(&text);
    assert_eq!(l.config.cluster.router, RouterKind::WeightedRandom);
    let w: Vec<Option<f64>> = l.config.cluster.pools.iter().map(|p| p.weight).collect();
    assert_eq!(w, [Some(1.0), Some(3.0)]);
    assert!(has(
        &l,
        DecisionKind::Mapped,
        "workload.load_balancing_strategy"
    ));
    let s = Simulation::new(l.config).unwrap().run_summary().unwrap();
    let (a, b) = (s.pools[0].requests.routed, s.pools[1].requests.routed);
    assert!(b > 2 * a, "weights 1 : 3 route {a} : {b}");
    // A weight for a framework that is not a target is still an error.
    let text = two_frameworks(same, "weighted_random").replacen(
        "  bytes_per_token",
        "  framework_weights: { vllm_c: 3.0 }\n  bytes_per_token",
        1,
    );
    assert!(err(&text).contains("workload.framework_weights.vllm_c"));
    // A framework that is not a target gets no replica.
    let text = two_frameworks(same, "round_robin").replacen(
        "    type: VLLM\n    config:\n      model_profile_id: Llama3-8B",
        "    type: VLLM\n    is_target_for_workload: false\n    config:\n      model_profile_id: Llama3-8B",
        1,
    );
    let l = load(&text);
    assert_eq!(l.config.cluster.replicas, 1);
    assert!(l.config.cluster.pools.is_empty());
    assert!(has(&l, DecisionKind::Ignored, "frameworks_to_test[1]"));
}

#[test]
fn sglang_and_tensorrt_llm_targets_run_side_by_side() {
    let second = "      max_num_seqs: 64\n      max_num_batched_tokens: 2048\n      enable_prefix_caching: true";
    for (ty, engine) in [
        ("SGLang", "sglang"),
        ("TensorRTLLM", "trtllm"),
        ("TRTLLM", "trtllm"),
    ] {
        let text = two_frameworks(second, "weighted_random")
            .replacen(
                "  - name: vllm_b\n    type: VLLM",
                &format!("  - name: b\n    type: {ty}"),
                1,
            )
            .replacen(
                "  bytes_per_token",
                "  framework_weights: { vllm_llama3_8b: 1.0, b: 2.0 }\n  bytes_per_token",
                1,
            );
        let l = load(&text);
        assert!(
            l.decisions
                .iter()
                .any(|d| d.path == "frameworks_to_test[1].type"
                    && d.detail.starts_with(&format!("{ty}: engine {engine}"))),
            "{:#?}",
            l.decisions
        );
        assert!(has(&l, DecisionKind::Mapped, "frameworks_to_test[0].type"));
        let s = Simulation::new(l.config).unwrap().run_summary().unwrap();
        assert_eq!(s.pools[1].name, "b");
        assert_eq!(s.pools[1].engine, engine);
        assert_eq!(s.pools[0].engine, "vllm_v1");
        let c = s.requests;
        assert_eq!(
            c.arrived,
            c.completed + c.rejected + c.dropped + c.unfinished
        );
        assert_eq!(
            s.pools[0].requests.completed + s.pools[1].requests.completed,
            c.completed
        );
    }
    let text = two_frameworks(second, "round_robin").replacen(
        "  - name: vllm_b\n    type: VLLM",
        "  - name: b\n    type: Triton",
        1,
    );
    assert!(err(&text).contains("frameworks_to_test[1].type = Triton"));
    let text = two_frameworks(second, "round_robin").replacen(
        "  - name: vllm_b",
        "  - name: vllm_llama3_8b",
        1,
    );
    assert!(err(&text).contains("frameworks_to_test[1].name = vllm_llama3_8b"));
}

#[test]
fn tensor_parallel_framework() {
    let text = two_frameworks("", "round_robin")
        .replacen(
            "  - name: vllm_b\n    type: VLLM\n    config:\n      model_profile_id: Llama3-8B\n      gpu_id: gpu1\n",
            "",
            1,
        )
        .replacen("type: VLLM", "type: ParallelVLLM", 1)
        .replacen(
            "      gpu_id: gpu0\n",
            "      parallelism: { strategy: TP, tp_degree: 2, gpu_ids: [gpu0, gpu1] }\n",
            1,
        )
        .replacen(
            "      bidirectional: true\n",
            "      bidirectional: true\n    - { link_id: nvlink, source_id: gpu0, dest_id: gpu1, bandwidth_bps: 3.6e12, latency_s: 1.0e-6, bidirectional: true }\n",
            1,
        );
    let l = load(&text);
    assert_eq!(l.config.cluster.engine.tensor_parallel(), 2);
    let crate::CostModelConfig::Roofline {
        device: Some(d), ..
    } = &l.config.cluster.cost_model
    else {
        panic!("roofline with an inline device");
    };
    assert_eq!(d.interconnect_gbs, Some(900.0));
    Simulation::new(l.config).unwrap();
    let e = err(&text.replacen("tp_degree: 2", "tp_degree: 2, pp_stages: 2", 1));
    assert!(
        e.contains("frameworks_to_test[0].config.parallelism.pp_stages"),
        "{e}"
    );
    let e = err(&text.replacen("tp_degree: 2", "tp_degree: 4", 1));
    assert!(
        e.contains("frameworks_to_test[0].config.parallelism.gpu_ids"),
        "{e}"
    );
}

#[test]
#[allow(clippy::float_cmp)]
fn pipeline_parallel_framework() {
    let text = two_frameworks("", "round_robin")
        .replacen(
            "  - name: vllm_b\n    type: VLLM\n    config:\n      model_profile_id: Llama3-8B\n      gpu_id: gpu1\n",
            "",
            1,
        )
        .replacen("type: VLLM", "type: ParallelVLLM", 1)
        .replacen(
            "      gpu_id: gpu0\n",
            "      parallelism: { strategy: PP, pp_stages: 2, gpu_ids: [gpu0, gpu1], num_microbatches_per_request: 4 }\n",
            1,
        )
        .replacen(
            "      bidirectional: true\n",
            "      bidirectional: true\n    - { link_id: nvlink, source_id: gpu0, dest_id: gpu1, bandwidth_bps: 3.6e12, latency_s: 2.0e-6, bidirectional: true }\n",
            1,
        );
    let l = load(&text);
    let e = &l.config.cluster.engine;
    assert_eq!((e.tensor_parallel(), e.pipeline_parallel()), (1, 2));
    let link = e.pipeline_link.unwrap();
    // 3.6e12 bit/s = 450 GB/s one way; 2 µs.
    assert_eq!(link.bandwidth_gbs, 450.0);
    assert!((link.latency_us - 2.0).abs() < 1e-9);
    assert!(has(
        &l,
        DecisionKind::Mapped,
        "frameworks_to_test[0].config.parallelism.pp_stages"
    ));
    assert!(has(
        &l,
        DecisionKind::Ignored,
        "frameworks_to_test[0].config.parallelism.num_microbatches_per_request"
    ));
    let s = Simulation::new(l.config).unwrap().run_summary().unwrap();
    // One engine per stage, sharing the stages.
    assert_eq!(s.replicas.len(), 2);
    assert!(s.replicas[0].pipeline_busy_fraction.is_some());
    assert_eq!(s.requests.completed, s.requests.arrived);
    // Two stages need two devices.
    let e = err(&text.replacen("gpu_ids: [gpu0, gpu1]", "gpu_ids: [gpu0]", 1));
    assert!(e.contains("needs 2 device(s)"), "{e}");
}

#[test]
fn native_configs_are_not_seed_configs() {
    let l = SimConfig::load_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/sim/llama31-8b-h100.yaml"
    ))
    .unwrap();
    assert!(!l.seed && l.decisions.is_empty());
    let _: fn() -> Option<SimError> = || None;
}

#[test]
fn pyyaml_numbers_and_real_seed_keys_are_read() {
    // PyYAML (YAML 1.1) reads `80_000_000_000` as a number; the seed's configs use it.
    let text = edit("85899345920", "85_899_345_920").replacen(
        "      enable_prefix_caching: false\n",
        "      enable_prefix_caching: false\n      scheduling_policy: fcfs\n      \
         data_parallel_group: dp\n      data_parallel_size: 1\n      data_parallel_rank: 0\n      \
         bytes_per_token_estimate_for_network: 2\n",
        1,
    );
    let text = text
        .replacen(
            "metrics_config:\n",
            "metrics_config:\n  log_level: INFO\n  compute_token_stats: true\n  \
             compute_percentiles: [50, 90]\n",
            1,
        )
        .replacen(
            "      streaming_response_probability: 0.0\n",
            "      streaming_response_probability: 0.0\n      \
             turn_type_dist_config: { type: Fixed, value: new_conversation }\n",
            1,
        );
    let l = load(&text);
    assert!(has(
        &l,
        DecisionKind::Ignored,
        "workload.client_profiles[1].turn_type_dist_config"
    ));
    let crate::CostModelConfig::Roofline {
        device: Some(d), ..
    } = &l.config.cluster.cost_model
    else {
        panic!("roofline with an inline device");
    };
    assert!((d.memory_gb - 80.0).abs() < 1e-12);
    assert!(has(
        &l,
        DecisionKind::Ignored,
        "frameworks_to_test[0].config.data_parallel_size"
    ));
    assert!(has(&l, DecisionKind::Ignored, "metrics_config.log_level"));
    let e = err(&edit("85899345920", "85__899"));
    assert!(
        e.contains("hardware_profile.compute_devices[0].memory_capacity_bytes"),
        "{e}"
    );
    let e = err(&edit("max_num_seqs: 128", "max_num_seqs: 12.5"));
    assert!(
        e.contains("frameworks_to_test[0].config.max_num_seqs"),
        "{e}"
    );
    let e = err(&edit(
        "      enable_prefix_caching: false\n",
        "      enable_prefix_caching: false\n      scheduling_policy: priority\n",
    ));
    assert!(
        e.contains("frameworks_to_test[0].config.scheduling_policy = priority"),
        "{e}"
    );
}

#[test]
fn tp_interconnect_is_the_slowest_link_of_the_group() {
    use super::hardware::interconnect_gbs;
    let gpus: Vec<String> = (0..4).map(|i| format!("gpu{i}")).collect();
    let link =
        |a: usize, b: usize, bps: f64| (format!("gpu{a}"), format!("gpu{b}"), bps, true, 1e-6);
    // A ring of 600 Gbit/s links, one of them 400: 400e9 / 8 = 50 GB/s each way.
    let ring = [
        link(0, 1, 600e9),
        link(1, 2, 600e9),
        link(2, 3, 400e9),
        link(3, 0, 600e9),
        (
            "client_node_0".to_owned(),
            "gpu0".to_owned(),
            1e9,
            true,
            1e-4,
        ),
    ];
    assert_eq!(interconnect_gbs(&gpus, &ring), Some(100.0));
    // gpu3 joined to nobody in the group: no interconnect figure.
    assert_eq!(interconnect_gbs(&gpus, &ring[..2]), None);
}

#[test]
fn warm_up_duration_maps_onto_warm_up_s() {
    // The sample says `warm_up_duration_s: 0`: no warm-up, no decision.
    let l = load(EXAMPLE);
    assert_eq!(l.config.warm_up_s, None);
    let path = "metrics_config.warm_up_duration_s";
    assert!(!l.decisions.iter().any(|d| d.path == path));
    let l = load(&edit("warm_up_duration_s: 0", "warm_up_duration_s: 10"));
    assert_eq!(l.config.warm_up_s, Some(10.0));
    assert!(has(&l, DecisionKind::Mapped, path), "{:?}", l.decisions);
    assert!(!has(&l, DecisionKind::Ignored, path));
    let summary = Simulation::new(l.config).unwrap().run_summary().unwrap();
    assert!((summary.warm_up_s - 10.0).abs() < 1e-12);
    assert!(summary.requests.warm_up > 0);
    assert_eq!(summary.requests.arrived, 300);
    assert_eq!(
        summary.latency.ttft_ms.count + summary.requests.warm_up,
        summary.requests.completed
    );
    // Negative, or covering the whole `total_duration` (60 s): errors naming the seed key.
    for bad in ["-1", "60", ".nan"] {
        let e = err(&edit(
            "warm_up_duration_s: 0",
            &format!("warm_up_duration_s: {bad}"),
        ));
        assert!(e.contains(path), "{bad}: {e}");
    }
}

#[test]
fn every_seed_length_distribution_maps_onto_an_equivalent() {
    use crate::LengthDist;
    let p = "{ type: Normal, mean: 2000, std: 400, is_int: true }";
    let input = |dist: &str| {
        load(&edit(p, dist)).config.workload.clients[1]
            .input
            .clone()
    };
    assert_eq!(
        input("{ type: Exponential, rate: 0.002, is_int: true }"),
        Some(LengthDist::Exponential {
            mean: 500.0,
            min: None,
            max: None
        })
    );
    assert_eq!(
        input("{ type: Pareto, shape: 1.5, scale: 100 }"),
        Some(LengthDist::Pareto {
            scale: 100.0,
            shape: 1.5,
            min: None,
            max: None
        })
    );
    assert_eq!(
        input("{ type: Weibull, params: { shape: 2, scale: 300 } }"),
        Some(LengthDist::Weibull {
            scale: 300.0,
            shape: 2.0,
            min: None,
            max: None
        })
    );
    assert_eq!(
        input("{ type: Gamma, shape: 3, scale: 100 }"),
        Some(LengthDist::Gamma {
            shape: 3.0,
            scale: 100.0,
            min: None,
            max: None
        })
    );
    assert_eq!(
        input(
            "{ type: Mixture, components: [ { type: Constant, value: 50 }, \
             { type: Uniform, low: 100, high: 200 } ], weights: [0.25, 0.75] }"
        ),
        Some(LengthDist::Mixture {
            components: vec![
                LengthDist::Fixed { value: 50 },
                LengthDist::Uniform {
                    low: 100,
                    high: 200
                }
            ],
            weights: Some(vec![0.25, 0.75])
        })
    );
    // And the loaded config runs.
    let l = load(&edit(
        p,
        "{ type: Pareto, shape: 2.5, scale: 300, is_int: true }",
    ));
    let s = Simulation::new(l.config)
        .unwrap()
        .run(std::io::sink())
        .unwrap();
    assert!(s.requests.completed > 0);
}

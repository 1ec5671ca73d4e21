//! The whole pipeline across crates: read a benchmark file, fit α, β, γ, size a deployment,
//! and check the simulator against the analyzer on the fitted parameters.

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;

fn samples(rel: &str) -> String {
    format!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/{}"),
        rel
    )
}

#[test]
fn read_fit_and_size_the_headline_sweep() -> llm_perf::Result<()> {
    let dataset = read_any(samples("inferno-trainer/data.json"))?;
    assert_eq!(dataset.len(), 7);
    let points = points_from_datasets(std::slice::from_ref(&dataset))?;
    let fitted = InfernoTrainer::params()
        .model(QueueModel::V3)
        .loss(Loss::WeightedAbsolute)
        .init(10.0, 0.0, 0.0)
        .fit(&points)?;
    // The improved default beats the published seed-compatible loss (1.0455848) on this data.
    assert!(fitted.loss() < 1.0455, "loss {}", fitted.loss());
    let analyzer = fitted.analyzer(RequestShape::new(64.0, 64.0)?, QueueConfig::new(512, 512)?)?;
    // The sweep's highest measured rate (176.5 req/s) is feasible, and capacity is above it.
    assert!(analyzer.rate_range().max_rps > 176.5);
    let sizing = analyzer.size(&SloTargets::latency(30.0, 12.0))?;
    assert!(sizing.analysis.ttft_ms <= 30.0 + 1e-3 && sizing.analysis.itl_ms <= 12.0 + 1e-3);
    Ok(())
}

#[test]
fn simulator_and_analyzer_agree_on_itl_for_fitted_parameters() -> llm_perf::Result<()> {
    let (alpha, beta, gamma) = (12.0, 0.05, 5e-4);
    let config: SimConfig = serde_json::from_str(&format!(
        r#"{{ "seed": 3, "max_requests": 3000,
          "cluster": {{ "replicas": 1,
            "engine": {{ "max_batch_size": 48, "max_num_batched_tokens": 8192 }},
            "cost_model": {{ "kind": "inferno", "alpha": {alpha}, "beta": {beta}, "gamma": {gamma} }},
            "kv_cache": {{ "num_gpu_blocks": 100000 }} }},
          "workload": {{ "clients": [ {{ "arrival": {{ "kind": "poisson", "rate": 2.0 }},
            "input": {{ "kind": "fixed", "value": 128 }},
            "output": {{ "kind": "fixed", "value": 512 }} }} ] }} }}"#
    ))
    .expect("a valid simulation config");
    let summary = Simulation::new(config)?.run(std::io::sink())?;
    let analyzer = Analyzer::new(
        QueueModel::V7,
        ServiceParams::new(alpha, beta, gamma)?,
        RequestShape::new(128.0, 512.0)?,
        QueueConfig::new(48, 128)?,
    )?;
    let predicted = analyzer.solve(2.0)?.itl_ms;
    let simulated = summary.latency.itl_ms.mean;
    assert!(
        (simulated - predicted).abs() / predicted < 0.02,
        "simulated ITL {simulated} vs analyzer {predicted}"
    );
    Ok(())
}

//! The facade's prelude, error wrapping and serde round trips.

use llm_perf::prelude::*;

fn plan(total: f64) -> llm_perf::Result<u64> {
    let analyzer = Analyzer::new(
        QueueModel::V7,
        ServiceParams::new(12.0, 0.05, 5e-4)?,
        RequestShape::new(128.0, 512.0)?,
        QueueConfig::new(48, 128)?,
    )?;
    Ok(analyzer
        .replicas_for(total, &SloTargets::latency(60.0, 20.0))?
        .replicas)
}

#[test]
fn core_errors_convert_into_the_facade_error() {
    // V7 sizes one replica of the REST example at ≈ 2.95 req/s under TTFT 60 / ITL 20.
    assert_eq!(plan(10.0).unwrap(), 4);
    let err = plan(f64::NAN).unwrap_err();
    assert!(matches!(err, llm_perf::Error::Model(_)), "{err:?}");
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[test]
fn version_is_the_workspace_version() {
    assert_eq!(llm_perf::VERSION, env!("CARGO_PKG_VERSION"));
}

#[test]
fn analysis_and_catalogue_entries_round_trip_through_json() {
    let analyzer = Analyzer::new(
        QueueModel::V3,
        ServiceParams::new(6.76, 0.0254, 2.6e-9).unwrap(),
        RequestShape::new(64.0, 64.0).unwrap(),
        QueueConfig::new(512, 512).unwrap(),
    )
    .unwrap();
    let a = analyzer.solve(100.0).unwrap();
    let text = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Analysis>(&text).unwrap(), a);

    let model = ModelSpec::lookup("Qwen/Qwen2.5-72B-Instruct").unwrap();
    let back: ModelSpec = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(back, model);
    let gpu = Accelerator::lookup("mi300x").unwrap();
    let back: Accelerator = serde_json::from_str(&serde_json::to_string(&gpu).unwrap()).unwrap();
    assert_eq!(back, gpu);
}

#[test]
fn invalid_json_values_cannot_be_deserialised() {
    assert!(serde_json::from_str::<ServiceParams>(r#"{"alpha":1,"beta":-2,"gamma":0}"#).is_err());
    assert!(
        serde_json::from_str::<BenchmarkPoint>(r#"{"input_tokens":1,"output_tokens":1}"#).is_err()
    );
}

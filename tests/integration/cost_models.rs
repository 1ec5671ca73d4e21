//! Cost models behind the `StepTimeModel` seam: every catalogued model on every catalogued
//! accelerator, the Inferno step model against its closed forms (specs/simulator.md §4.4), and
//! the analyzer's own primitives against the step model.

use llm_perf::model::catalog;
use llm_perf::prelude::*;

#[test]
fn every_catalogue_pair_gives_finite_monotone_step_times() {
    let mut built = 0;
    for model in catalog::models() {
        for gpu in catalog::accelerators() {
            let roofline = match RooflineModel::new(model.clone(), gpu.clone(), Dtype::Bf16, 8) {
                Ok(r) => r,
                // Only a device without a published bandwidth may be refused, with that field named.
                Err(e) => {
                    assert!(gpu.memory_bandwidth_gbs.is_none(), "{}: {e}", gpu.name);
                    assert!(e.to_string().contains("memory_bandwidth_gbs"), "{e}");
                    continue;
                }
            };
            built += 1;
            let cost: Box<dyn StepTimeModel> = Box::new(roofline.clone());
            let mut previous = 0.0;
            for batch in [1, 2, 8, 32, 128, 512] {
                let shape = BatchShape::decode(batch, 2048);
                let t = cost.step_time(&shape);
                assert!(t.is_finite() && t > 0.0, "{} on {}", model.name, gpu.name);
                assert!(
                    t >= roofline.lower_bound(&shape),
                    "{} on {}",
                    model.name,
                    gpu.name
                );
                assert!(
                    t >= previous,
                    "{} on {}: not monotone",
                    model.name,
                    gpu.name
                );
                previous = t;
            }
            assert_eq!(
                cost.step_time(&BatchShape::default()).to_bits(),
                0f64.to_bits()
            );
        }
    }
    assert!(built >= 16 * 8, "only {built} pairs built");
}

#[test]
fn inferno_step_model_matches_the_lone_request_formulas() {
    let params = ServiceParams::new(12.0, 0.05, 5e-4).unwrap();
    let cost: &dyn StepTimeModel = &InfernoStepModel::new(params);
    let (a, b, g) = (12.0, 0.05, 5e-4);
    // A lone 128-token prefill: α + (β + γ)·P.
    let prefill = cost.step_time(&BatchShape::prefill(128));
    assert!((prefill - (a + (b + g) * 128.0)).abs() < 1e-12);
    // 32 decodes at context 1000: α + 32·(β + γ·(1000 + 1)).
    let decode = cost.step_time(&BatchShape::decode(32, 1000));
    assert!((decode - (a + 32.0 * (b + g * 1001.0))).abs() < 1e-9);
}

#[test]
fn roofline_and_fitted_inferno_agree_on_the_fixed_step_cost() {
    // The model-trainer's published fit for a Llama-3.1-8B sweep has α = 6.76 ms; a batch-1
    // decode on an H100 with the default efficiencies must land within 15 % of it.
    let roofline = RooflineModel::new(
        ModelSpec::lookup("Llama-3.1-8B").unwrap(),
        Accelerator::lookup("H100").unwrap(),
        Dtype::Bf16,
        1,
    )
    .unwrap();
    let t = roofline.step_time(&BatchShape::decode(1, 128));
    assert!((t - 6.76).abs() / 6.76 < 0.15, "roofline {t} ms");
}

#[test]
fn analyzer_primitives_agree_with_the_step_model() {
    // V6 without chunking: a request alone (B = 1) takes Prefill(1) = α + δ + (β+γ)·n, where
    // δ = β·(n+m)/(m+1) + γ·(n + m/2); the step model's lone prefill step is α + (β+γ)·n, so the analyzer
    // charges exactly one extra δ (its documented "double count" of the request's own work).
    use llm_perf::model::inferno::ServiceTimes;
    let (a, b, g, n, m) = (12.0, 0.05, 5e-4, 128.0, 512.0);
    let params = ServiceParams::new(a, b, g).unwrap();
    let times = ServiceTimes::new(
        QueueModel::V6,
        params,
        RequestShape::new(n, m).unwrap(),
        8192,
    )
    .unwrap();
    let delta = b * (n + m) / (m + 1.0) + g * (n + m / 2.0);
    let step = InfernoStepModel::new(params).step_time(&BatchShape::prefill(128));
    assert!((times.prefill_time(1.0) - (step + delta)).abs() < 1e-9);
}

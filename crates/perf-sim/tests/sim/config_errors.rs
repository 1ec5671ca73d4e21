//! Bad configurations give typed errors naming the field.

use perf_sim::{ArrivalConfig, LengthDist, SimConfig, SimError, Simulation};
use serde_json::json;

use crate::cfg;

fn base() -> SimConfig {
    cfg(json!({
        "max_requests": 10,
        "cluster": { "cost_model": { "kind": "inferno", "alpha": 1.0, "beta": 0.0, "gamma": 0.0 },
                     "kv_cache": { "num_gpu_blocks": 100 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 1.0 },
            "input": { "kind": "fixed", "value": 8 }, "output": { "kind": "fixed", "value": 8 } } ] }
    }))
}

fn field_of(err: SimError) -> String {
    match err {
        SimError::InvalidConfig { field, .. } => field,
        other => panic!("expected InvalidConfig, got {other}"),
    }
}

#[test]
fn zero_replicas() {
    let mut c = base();
    c.cluster.replicas = 0;
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "cluster.replicas"
    );
}

#[test]
fn nan_rate() {
    let mut c = base();
    c.workload.clients[0].arrival = ArrivalConfig::Poisson {
        rate: Some(f64::NAN),
    };
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "workload.clients[0].arrival.rate"
    );
    let mut c = base();
    c.workload.clients[0].arrival = ArrivalConfig::Gamma {
        rate: Some(-2.0),
        cv: 1.0,
    };
    assert!(Simulation::new(c).is_err());
}

#[test]
fn lognormal_sigma_not_positive() {
    for (sigma, std) in [(Some(0.0), None), (Some(-1.0), None), (None, Some(0.0))] {
        let mut c = base();
        c.workload.clients[0].input = Some(LengthDist::Lognormal {
            mu: sigma.map(|_| 5.0),
            sigma,
            mean: std.map(|_| 100.0),
            std,
            min: None,
            max: None,
        });
        let f = field_of(Simulation::new(c).unwrap_err());
        assert!(f.starts_with("workload.clients[0].input."), "{f}");
    }
}

#[test]
fn unknown_keys_are_rejected() {
    let mut v = serde_json::to_value(base()).unwrap();
    v["cluster"]["replicaz"] = json!(2);
    let err = serde_json::from_value::<SimConfig>(v).unwrap_err();
    assert!(err.to_string().contains("replicaz"), "{err}");
    let mut v = serde_json::to_value(base()).unwrap();
    v["workload"]["clients"][0]["input"]["sigma"] = json!(1.0);
    assert!(serde_json::from_value::<SimConfig>(v).is_err());
}

#[test]
fn no_stopping_rule_and_missing_kv_size() {
    let mut c = base();
    c.max_requests = None;
    assert_eq!(field_of(Simulation::new(c).unwrap_err()), "max_requests");
    let mut c = base();
    c.cluster.kv_cache.num_gpu_blocks = None;
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "cluster.kv_cache.num_gpu_blocks"
    );
}

#[test]
fn config_round_trips_through_json() {
    let c = base();
    let back: SimConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn lognormal_mu_given_as_linear_mean() {
    let mut v = serde_json::to_value(base()).unwrap();
    v["cluster"]["engine"] = json!({ "max_model_len": 4096 });
    v["workload"]["clients"][0]["output"] =
        json!({ "kind": "lognormal", "mu": 128.0, "sigma": 0.5 });
    let c: SimConfig = serde_json::from_value(v).unwrap();
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "workload.clients[0].output"
    );
}

#[test]
fn absurd_sizes_are_errors_before_anything_is_allocated() {
    let mut c = base();
    c.cluster.replicas = 4_000_000_000;
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "cluster.replicas"
    );
    let mut c = base();
    c.workload.clients[0].arrival = serde_json::from_value(json!(
        { "kind": "closed_loop", "users": 4_000_000_000u32, "think_time_s": 1.0 }
    ))
    .unwrap();
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "workload.clients[0].arrival.users"
    );
}

#[test]
fn extreme_times_saturate_instead_of_overflowing() {
    // A rate of 1e-300 req/s puts the next arrival beyond the clock; the run still ends.
    let mut c = base();
    c.max_requests = Some(3);
    c.workload.clients[0].arrival = ArrivalConfig::Poisson { rate: Some(1e-300) };
    let summary = Simulation::new(c).unwrap().run(std::io::sink()).unwrap();
    assert!(summary.requests.arrived <= 3);
    // A step of 1e308 ms likewise.
    let mut c = base();
    c.cluster.cost_model = serde_json::from_value(json!(
        { "kind": "inferno", "alpha": 1e308, "beta": 0.0, "gamma": 0.0 }
    ))
    .unwrap();
    assert!(
        Simulation::new(c)
            .and_then(|s| s.run(std::io::sink()))
            .is_ok()
    );
}

#[test]
fn kv_cache_too_small_for_the_smallest_request() {
    // 100 blocks of 16 tokens = 1600 tokens: a fixed 1000 + 700 request cannot fit.
    let mut c = base();
    c.workload.clients[0].input = Some(LengthDist::Fixed { value: 1000 });
    c.workload.clients[0].output = Some(LengthDist::Fixed { value: 700 });
    let e = Simulation::new(c.clone()).unwrap_err();
    let text = e.to_string();
    assert_eq!(field_of(e), "cluster.kv_cache.num_gpu_blocks");
    assert!(
        text.contains("1700 tokens") && text.contains("1600 tokens"),
        "{text}"
    );
    // A cap on the output makes the smallest request fit (1000 + 600 = 1600).
    c.workload.clients[0].max_tokens = Some(600);
    assert!(Simulation::new(c.clone()).is_ok());
    // Distributions count by their lower end: uniform 1500..=3000 + 200 does not fit.
    c.workload.clients[0].input = Some(LengthDist::Uniform {
        low: 1500,
        high: 3000,
    });
    c.workload.clients[0].output = Some(LengthDist::Fixed { value: 200 });
    assert_eq!(
        field_of(Simulation::new(c).unwrap_err()),
        "cluster.kv_cache.num_gpu_blocks"
    );
}

#[test]
fn bad_length_distribution_parameters_name_their_field() {
    for (dist, field) in [
        (
            LengthDist::Zipf {
                theta: 0.6,
                min: 0,
                max: 5,
            },
            "workload.clients[0].input.min",
        ),
        (
            LengthDist::Zipf {
                theta: -1.0,
                min: 1,
                max: 5,
            },
            "workload.clients[0].input.theta",
        ),
        (
            LengthDist::Gamma {
                shape: 0.0,
                scale: 10.0,
                min: None,
                max: None,
            },
            "workload.clients[0].input.shape",
        ),
        (
            LengthDist::Pareto {
                scale: f64::NAN,
                shape: 2.0,
                min: None,
                max: None,
            },
            "workload.clients[0].input.scale",
        ),
        (
            LengthDist::Exponential {
                mean: -3.0,
                min: None,
                max: None,
            },
            "workload.clients[0].input.mean",
        ),
        (
            LengthDist::Weibull {
                scale: 10.0,
                shape: 1.0,
                min: Some(9),
                max: Some(3),
            },
            "workload.clients[0].input.min",
        ),
    ] {
        let mut c = base();
        c.workload.clients[0].input = Some(dist);
        assert_eq!(field_of(Simulation::new(c).unwrap_err()), field);
    }
}

#[test]
fn an_unread_trace_file_names_its_path() {
    let mut c = base();
    c.workload.clients[0].arrival = ArrivalConfig::TraceFile {
        path: "azure.csv".into(),
        time_scale: None,
        target_rate: None,
        start_s: None,
        end_s: None,
    };
    let e = Simulation::new(c).unwrap_err();
    assert!(e.to_string().contains("resolve_trace_files"), "{e}");
    assert_eq!(field_of(e), "workload.clients[0].arrival.path");
}

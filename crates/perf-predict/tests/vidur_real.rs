//! Per-op held-out MAPE on Vidur's H100 Llama-2-7B `mlp.csv` (MIT, ~0.7 MB, not copied into
//! `samples/`). `#[ignore]`d; reads the Vidur profile root from `LLM_PERF_VIDUR_DIR`, e.g.
//! `LLM_PERF_VIDUR_DIR=/path/to/vidur cargo test -p perf-predict --test vidur_real -- --ignored --nocapture`.
//! Fails (never skips) without the data.

use std::path::PathBuf;

use perf_predict::vidur::{
    VidurPredictor, holdout_per_op, read_vidur_all_reduce_csv, read_vidur_mlp_csv,
};

fn root() -> PathBuf {
    PathBuf::from(
        std::env::var_os("LLM_PERF_VIDUR_DIR")
            .expect("set LLM_PERF_VIDUR_DIR to the Vidur profile root"),
    )
}

#[test]
#[ignore = "needs LLM_PERF_VIDUR_DIR"]
fn h100_llama2_7b_per_op_holdout_mape() {
    let path = root().join("compute/h100/meta-llama/Llama-2-7b-hf/mlp.csv");
    let f = std::fs::File::open(&path).unwrap();
    let rows = read_vidur_mlp_csv(f, &path).unwrap();
    eprintln!("{} rows after dedup", rows.len());
    for tp in [1, 2, 4, 8] {
        let m = holdout_per_op(&rows, tp, 0.2, 2024).unwrap();
        for (op, s) in &m {
            eprintln!(
                "tp{tp} {op:26} MAPE {:6.2} %  ({} held out)",
                s.mape, s.rows
            );
            assert!(s.mape.is_finite());
        }
        let worst = m.values().map(|s| s.mape).fold(0.0, f64::max);
        assert!(worst < 25.0, "tp{tp}: worst op MAPE {worst}");
    }
    let ar_path = root().join("network/h100_dgx/all_reduce.csv");
    let ar = read_vidur_all_reduce_csv(std::fs::File::open(&ar_path).unwrap(), &ar_path, 2, 4096)
        .unwrap();
    let p = VidurPredictor::train(&rows, 2, 32)
        .unwrap()
        .with_all_reduce(ar);
    for tokens in [1.0, 128.0, 512.0, 2048.0, 4096.0] {
        eprintln!(
            "tp2 32 layers, {tokens} tokens: {:.3} ms (no attention)",
            p.step_ms(tokens)
        );
    }
}

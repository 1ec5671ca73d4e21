//! The LLM profiler's `webview`: a step-time predictor's prefill and decode latency against
//! batch size (at one input length) and against input length (at one batch size), with the
//! profiling points it was trained on.

use llm_perf::model::{BatchShape, StepTimeModel};
use llm_perf::predict::{ProfileRow, Stage, StepPredictor, VidurPredictor};

use super::{Axis, Chart, RefLine, Series, Style, xy_chart};

/// A predictor of either file kind.
#[derive(Clone, Copy, Debug)]
pub enum AnyPredictor<'a> {
    /// A linear / GBDT / forest predictor (`llm-perf/predictor` files).
    Step(&'a StepPredictor),
    /// A Vidur per-operation predictor (`llm-perf/vidur-predictor` files).
    Vidur(&'a VidurPredictor),
}

impl AnyPredictor<'_> {
    /// Stage latency, ms, of a uniform batch of `batch_size` requests of `input_len` tokens
    /// (decode: one step at that context); `None` where the predictor cannot answer.
    #[must_use]
    pub fn ms(&self, stage: Stage, batch_size: u32, input_len: u32) -> Option<f64> {
        let v = match self {
            Self::Step(p) => p
                .predict_ms(stage, f64::from(batch_size), f64::from(input_len))
                .ok()?,
            Self::Vidur(p) => {
                let shape = match stage {
                    Stage::Prefill => {
                        let mut b = BatchShape::default();
                        for _ in 0..batch_size {
                            b.add_prefill(input_len, 0, true);
                        }
                        b
                    }
                    Stage::Decode => BatchShape::decode(batch_size, input_len),
                };
                p.step_time(&shape)
            }
        };
        v.is_finite().then_some(v)
    }
}

/// Batch sizes and input lengths the curves run over (powers of two, and the chosen value).
fn grid(max: u32, chosen: u32) -> Vec<u32> {
    let mut v: Vec<u32> = std::iter::successors(Some(1u32), |x| x.checked_mul(2))
        .take_while(|x| *x <= max.max(chosen))
        .collect();
    v.push(chosen);
    v.sort_unstable();
    v.dedup();
    v
}

/// The two charts for `predictor` at batch size `bs` and input length `input_len`;
/// `training` rows (latencies in s, as profiled) are drawn where they match.
#[must_use]
pub fn predictor_charts(
    predictor: AnyPredictor<'_>,
    bs: u32,
    input_len: u32,
    training: &[ProfileRow],
) -> Vec<Chart> {
    let max_bs = training
        .iter()
        .map(|r| r.batch_size as u32)
        .max()
        .unwrap_or(256)
        .max(bs);
    let max_len = training
        .iter()
        .map(|r| r.input_len as u32)
        .max()
        .unwrap_or(8192)
        .max(input_len);
    let curve = |stage: Stage, over_bs: bool| -> Vec<[f64; 2]> {
        let xs = if over_bs {
            grid(max_bs, bs)
        } else {
            grid(max_len, input_len)
        };
        xs.into_iter()
            .filter_map(|x| {
                let (b, l) = if over_bs { (x, input_len) } else { (bs, x) };
                Some([f64::from(x), predictor.ms(stage, b, l)?])
            })
            .collect()
    };
    let measured = |stage: Stage, over_bs: bool| -> Vec<[f64; 2]> {
        training
            .iter()
            .filter(|r| {
                if over_bs {
                    r.input_len as u32 == input_len
                } else {
                    r.batch_size as u32 == bs
                }
            })
            .filter_map(|r| {
                let x = if over_bs { r.batch_size } else { r.input_len };
                Some([x, r.target(stage)? * 1000.0])
            })
            .collect()
    };
    let mut charts = Vec::new();
    for over_bs in [true, false] {
        let (x_axis, title, chosen) = if over_bs {
            (
                Axis::new("batch size", "requests"),
                format!("Step latency against batch size at input length {input_len}"),
                bs,
            )
        } else {
            (
                Axis::new("input length", "tokens"),
                format!("Step latency against input length at batch size {bs}"),
                input_len,
            )
        };
        let id = if over_bs {
            "predictor-bs"
        } else {
            "predictor-len"
        };
        charts.push(xy_chart(
            id,
            &title,
            &x_axis,
            &Axis::new("step latency", "ms"),
            vec![
                Series::new(
                    "prefill (predicted)",
                    Style::Line,
                    curve(Stage::Prefill, over_bs),
                ),
                Series::new(
                    "decode (predicted)",
                    Style::Line,
                    curve(Stage::Decode, over_bs),
                ),
                Series::new(
                    "prefill (profiled)",
                    Style::Scatter,
                    measured(Stage::Prefill, over_bs),
                ),
                Series::new(
                    "decode (profiled)",
                    Style::Scatter,
                    measured(Stage::Decode, over_bs),
                ),
            ],
            &[RefLine {
                name: "chosen".to_owned(),
                vertical: true,
                value: f64::from(chosen),
            }],
        ));
    }
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_holds_powers_of_two_and_the_choice() {
        assert_eq!(grid(64, 48), vec![1, 2, 4, 8, 16, 32, 48, 64]);
        assert_eq!(grid(4, 6), vec![1, 2, 4, 6]);
    }
}

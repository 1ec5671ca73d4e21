//! Charts as Apache ECharts options built in Rust: one builder per kind of result, shared by
//! the workbench pages and the offline HTML reports (the browser only renders, through
//! `assets/charts.js`).
//!
//! Every axis carries its unit; an axis whose positive values span two decades or more is
//! logarithmic, and values ≤ 0 are dropped from it (the legend says how many); CDFs are at most
//! [`CDF_POINTS`] quantiles; long series are thinned to [`MAX_SERIES_POINTS`].

pub mod capacity;
pub mod fidelity;
pub mod modeling;
pub mod predictor;
pub mod sim;
pub mod sweep;
pub mod tune;

use serde::Serialize;
use serde_json::{Value, json};

/// Quantile points per CDF series.
pub const CDF_POINTS: usize = 512;
/// Points per line series beyond which it is thinned.
pub const MAX_SERIES_POINTS: usize = 2000;

/// One chart: its ECharts option and how many data points it holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    /// Element id, unique on a page.
    pub id: String,
    /// Title shown above the chart.
    pub title: String,
    /// The ECharts option.
    pub option: Value,
    /// Data points over all series (what the chart must show).
    pub points: usize,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Points joined by lines, with symbols.
    Line,
    /// Points joined by lines, no symbols (dense curves, fits).
    Curve,
    /// Points only.
    Scatter,
    /// A step line (CDFs).
    Step,
    /// Points only, large and highlighted (a query, a chosen configuration).
    Marker,
}

/// One series of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// How it is drawn.
    pub style: Style,
    /// The points.
    pub points: Vec<[f64; 2]>,
}

impl Series {
    /// A series.
    pub fn new(name: impl Into<String>, style: Style, points: Vec<[f64; 2]>) -> Self {
        Self {
            name: name.into(),
            style,
            points,
        }
    }
}

/// An axis: its quantity and unit, e.g. `("request rate", "req/s")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// What is on it.
    pub name: String,
    /// Its unit (empty for a plain count or fraction).
    pub unit: String,
    /// `Some(true)`: logarithmic; `Some(false)`: linear; `None`: decided by the data.
    pub log: Option<bool>,
}

impl Axis {
    /// An axis whose scale the data decides.
    pub fn new(name: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            unit: unit.into(),
            log: None,
        }
    }

    /// Always linear.
    #[must_use]
    pub fn linear(mut self) -> Self {
        self.log = Some(false);
        self
    }

    fn label(&self) -> String {
        if self.unit.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }
}

/// A horizontal or vertical reference line (an SLO, a chosen value).
#[derive(Clone, Debug, PartialEq)]
pub struct RefLine {
    /// Label.
    pub name: String,
    /// `true`: at x = value; `false`: at y = value.
    pub vertical: bool,
    /// Where.
    pub value: f64,
}

/// Whether positive `values` span two decades or more (then a log axis reads better).
fn spans_decades(values: impl Iterator<Item = f64>) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0_f64);
    for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    lo.is_finite() && hi / lo >= 100.0
}

/// Builds an x–y chart.
#[must_use]
pub fn xy_chart(
    id: &str,
    title: &str,
    x: &Axis,
    y: &Axis,
    series: Vec<Series>,
    refs: &[RefLine],
) -> Chart {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_log = x.log.unwrap_or_else(|| spans_decades(all().map(|p| p[0])));
    let y_log = y.log.unwrap_or_else(|| spans_decades(all().map(|p| p[1])));
    let mut points = 0;
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let before = s.points.len();
        let mut kept: Vec<[f64; 2]> = s
            .points
            .into_iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .filter(|p| (!x_log || p[0] > 0.0) && (!y_log || p[1] > 0.0))
            .collect();
        let dropped = before - kept.len();
        if s.style != Style::Scatter && s.style != Style::Marker && kept.len() > MAX_SERIES_POINTS {
            kept = thin(&kept, MAX_SERIES_POINTS);
        }
        let name = if dropped > 0 {
            format!("{} ({dropped} values ≤ 0 or not finite left out)", s.name)
        } else {
            s.name
        };
        points += kept.len();
        out.push(series_option(&name, s.style, &kept));
    }
    if let Some(first) = out.first_mut()
        && !refs.is_empty()
    {
        let data: Vec<Value> = refs
            .iter()
            .map(|r| {
                if r.vertical {
                    json!({"name": r.name, "xAxis": r.value})
                } else {
                    json!({"name": r.name, "yAxis": r.value})
                }
            })
            .collect();
        first["markLine"] = json!({
            "silent": true,
            "symbol": "none",
            "lineStyle": {"type": "dashed", "width": 1.5},
            "label": {"formatter": "{b}: {c}", "position": "insideEndTop"},
            "data": data,
        });
    }
    let axis = |a: &Axis, log: bool, gap: u32| {
        json!({
            "type": if log { "log" } else { "value" },
            "name": a.label(),
            "nameLocation": "middle",
            "nameGap": gap,
            "scale": !log,
            "splitLine": {"show": true},
        })
    };
    let option = json!({
        "animation": false,
        "backgroundColor": "transparent",
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "item"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 70, "right": 30, "top": 45, "bottom": 75},
        "xAxis": axis(x, x_log, 28),
        "yAxis": axis(y, y_log, 52),
        "series": out,
    });
    Chart {
        id: id.to_owned(),
        title: title.to_owned(),
        option,
        points,
    }
}

fn series_option(name: &str, style: Style, points: &[[f64; 2]]) -> Value {
    let data: Vec<Value> = points.iter().map(|p| json!([p[0], p[1]])).collect();
    match style {
        Style::Line => json!({"name": name, "type": "line", "data": data, "symbolSize": 6}),
        Style::Curve => json!({"name": name, "type": "line", "data": data, "showSymbol": false}),
        Style::Scatter => json!({
            "name": name, "type": "scatter", "data": data, "symbolSize": 7,
            "large": points.len() > 2000,
        }),
        Style::Step => {
            json!({"name": name, "type": "line", "step": "end", "data": data, "showSymbol": false})
        }
        Style::Marker => json!({
            "name": name, "type": "scatter", "data": data, "symbol": "diamond", "symbolSize": 16,
            "z": 10,
        }),
    }
}

/// At most `n` points of `points`, keeping the first, the last and the largest y of each
/// bucket (peaks of batch size or KV use survive thinning).
#[must_use]
pub fn thin(points: &[[f64; 2]], n: usize) -> Vec<[f64; 2]> {
    if points.len() <= n || n < 3 {
        return points.to_vec();
    }
    let inner = n - 2;
    let body = &points[1..points.len() - 1];
    let mut out = Vec::with_capacity(n);
    out.push(points[0]);
    for b in 0..inner {
        let lo = b * body.len() / inner;
        let hi = ((b + 1) * body.len() / inner).max(lo + 1).min(body.len());
        if let Some(p) = body[lo..hi].iter().max_by(|a, b| a[1].total_cmp(&b[1])) {
            out.push(*p);
        }
    }
    out.push(points[points.len() - 1]);
    out
}

/// The empirical CDF of `values` (finite ones) as at most `max` (value, fraction ≤ value)
/// points: every value when there are few, else evenly spaced quantiles.
#[must_use]
pub fn cdf(values: &[f64], max: usize) -> Vec<[f64; 2]> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 || max == 0 {
        return Vec::new();
    }
    if n <= max {
        return v
            .iter()
            .enumerate()
            .map(|(i, x)| [*x, (i + 1) as f64 / n as f64])
            .collect();
    }
    (1..=max)
        .map(|k| {
            let frac = k as f64 / max as f64;
            let idx = ((frac * n as f64).ceil() as usize).clamp(1, n) - 1;
            [v[idx], (idx + 1) as f64 / n as f64]
        })
        .collect()
}

/// The JSON of `value` safe inside `<script type="application/json">`: `<` is written
/// `\u003c`, so no `</script>` or `<!--` can close or comment the element (`<` only occurs
/// inside JSON strings, where the escape means the same character).
#[must_use]
pub fn script_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c")
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values in, exact values out
mod tests {
    use super::*;

    #[test]
    fn log_axis_only_for_decades_and_drops_non_positive() {
        let s = Series::new(
            "a",
            Style::Line,
            vec![[1.0, 0.0], [10.0, 5.0], [1000.0, 7.0]],
        );
        let c = xy_chart(
            "c",
            "t",
            &Axis::new("x", "req/s"),
            &Axis::new("y", "ms"),
            vec![s],
            &[],
        );
        assert_eq!(c.option["xAxis"]["type"], "log");
        assert_eq!(c.option["yAxis"]["type"], "value");
        assert_eq!(c.option["xAxis"]["name"], "x (req/s)");
        assert_eq!(c.points, 3);
        let s = Series::new("b", Style::Line, vec![[1.0, 0.0], [2.0, 5.0], [3.0, 700.0]]);
        let c = xy_chart(
            "c",
            "t",
            &Axis::new("x", ""),
            &Axis::new("y", "ms"),
            vec![s],
            &[],
        );
        assert_eq!(c.option["yAxis"]["type"], "log");
        assert_eq!(c.points, 2);
        let name = c.option["series"][0]["name"].as_str().unwrap();
        assert!(name.contains("1 values ≤ 0"), "{name}");
    }

    #[test]
    fn cdf_is_monotone_and_ends_at_one() {
        let values: Vec<f64> = (0..10_000).map(|i| f64::from((i * 7919) % 1000)).collect();
        let c = cdf(&values, CDF_POINTS);
        assert_eq!(c.len(), CDF_POINTS);
        assert!(
            c.windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] < w[1][1])
        );
        assert!((c[c.len() - 1][1] - 1.0).abs() < 1e-12);
        assert!((c[c.len() - 1][0] - 999.0).abs() < 1e-12);
        // The median point: half the values are ≤ it.
        let mid = c[CDF_POINTS / 2 - 1];
        assert!(
            (mid[1] - 0.5).abs() < 1e-9 && (mid[0] - 499.0).abs() < 1e-9,
            "{mid:?}"
        );
        assert_eq!(
            cdf(&[3.0, 1.0, 2.0], 512),
            vec![[1.0, 1.0 / 3.0], [2.0, 2.0 / 3.0], [3.0, 1.0]]
        );
    }

    #[test]
    fn thinning_keeps_ends_and_peaks() {
        let mut pts: Vec<[f64; 2]> = (0..10_000).map(|i| [f64::from(i), 1.0]).collect();
        pts[5000][1] = 99.0;
        let t = thin(&pts, 100);
        assert_eq!(t.len(), 100);
        assert_eq!(t[0], [0.0, 1.0]);
        assert_eq!(t[99], [9999.0, 1.0]);
        assert!(t.iter().any(|p| p[1] == 99.0));
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let text = script_json(&json!({"name": "</script><!--x"}));
        assert!(!text.contains('<'), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["name"], "</script><!--x");
    }
}

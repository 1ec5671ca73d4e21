//! Offline HTML reports: one self-contained file (library, glue, stylesheet and data
//! inlined) with the same charts as the pages. The CLI's `--report FILE.html` and
//! `llm-perf report DIR` write them.

use askama::Template;

use crate::assets::{APP_CSS, CHARTS_JS, ECHARTS_JS};
use crate::charts::Chart;
use crate::pages::ChartView;

/// A report: a title and sections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Title (the command and its input).
    pub title: String,
    /// One line under the title.
    pub subtitle: String,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

/// One section: a heading, notes, key–value rows, an optional table, charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Section {
    /// Heading.
    pub heading: String,
    /// Paragraphs shown first.
    pub notes: Vec<String>,
    /// Key–value rows.
    pub rows: Vec<(String, String)>,
    /// Column titles of the table (empty: no table).
    pub table_head: Vec<String>,
    /// Table rows.
    pub table_rows: Vec<Vec<String>>,
    /// Charts.
    pub charts: Vec<Chart>,
}

struct SectionView<'a> {
    heading: &'a str,
    notes: &'a [String],
    rows: &'a [(String, String)],
    table_head: &'a [String],
    table_rows: &'a [Vec<String>],
    charts: Vec<ChartView>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    title: &'a str,
    subtitle: &'a str,
    sections: Vec<SectionView<'a>>,
    css: &'static str,
    echarts: &'static str,
    charts_js: &'static str,
    version: &'static str,
    generated: String,
}

/// The report as one HTML document. Chart ids are made unique per section.
///
/// # Errors
/// The template engine's error (not expected: every value is text).
pub fn render_report(report: &Report) -> Result<String, askama::Error> {
    let sections = report
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| SectionView {
            heading: &s.heading,
            notes: &s.notes,
            rows: &s.rows,
            table_head: &s.table_head,
            table_rows: &s.table_rows,
            charts: s
                .charts
                .iter()
                .map(|c| {
                    let mut v = ChartView::from(c);
                    v.id = format!("s{i}-{}", c.id);
                    v
                })
                .collect(),
        })
        .collect();
    ReportPage {
        title: &report.title,
        subtitle: &report.subtitle,
        sections,
        css: APP_CSS,
        echarts: ECHARTS_JS,
        charts_js: CHARTS_JS,
        version: llm_perf::VERSION,
        generated: utc_now(),
    }
    .render()
}

/// Now as `YYYY-MM-DD HH:MM UTC` (civil date from days since the epoch, H. Hinnant's
/// algorithm).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{Axis, Series, Style, xy_chart};

    #[test]
    fn a_report_is_self_contained_and_escapes_names() {
        let chart = xy_chart(
            "c",
            "t",
            &Axis::new("x", "s"),
            &Axis::new("y", "ms"),
            vec![Series::new(
                "</script><!--run",
                Style::Line,
                vec![[1.0, 2.0]],
            )],
            &[],
        );
        let report = Report {
            title: "<img src=x onerror=alert(1)>".into(),
            subtitle: "s".into(),
            sections: vec![Section {
                heading: "h".into(),
                rows: vec![("k".into(), "<b>v</b>".into())],
                charts: vec![chart.clone(), chart],
                ..Section::default()
            }],
        };
        let html = render_report(&report).unwrap();
        assert!(!html.contains("<img src=x"));
        assert!(
            html.contains("&#60;img src=x") || html.contains("&lt;img src=x"),
            "escaped title"
        );
        assert!(!html.contains("<b>v</b>"));
        // The only `</script>`s close our own elements: one per chart block and two libraries.
        assert_eq!(html.matches("</script>").count(), 4);
        assert!(!html.contains("<!--run"));
        assert!(html.contains("id=\"s0-c\""));
        for attr in ["src=\"http", "href=\"http", "src='http", "href='http"] {
            assert!(!html.contains(attr), "{attr}");
        }
        assert!(html.len() < 2_000_000, "{}", html.len());
        assert!(utc_now().ends_with(" UTC"));
    }
}

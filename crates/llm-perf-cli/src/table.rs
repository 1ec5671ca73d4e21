//! Plain-text tables for terminal output.

/// A table of left-aligned text columns with a header row and a rule under it.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<S: ToString>(header: &[S]) -> Self {
        Self {
            header: header.iter().map(ToString::to_string).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (cells beyond the header's width are kept; missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table, each line ending with a newline.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut push = |cells: &[String]| {
            let line: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{:<w$}", cells.get(i).map_or("", String::as_str)))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        };
        push(&self.header);
        push(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
        for row in &self.rows {
            push(row);
        }
        out
    }
}

/// Key/value lines, keys padded to one width.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// Formats a number with up to `digits` significant digits, trimming trailing zeros.
pub fn num(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i64;
    // Very small and very large values in scientific notation (a 300-digit integer helps
    // nobody).
    if !(-4..15).contains(&magnitude) {
        let text = format!("{value:.prec$e}", prec = digits.saturating_sub(1));
        return match text.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => format!(
                "{}e{exp}",
                mantissa.trim_end_matches('0').trim_end_matches('.')
            ),
            _ => text,
        };
    }
    let decimals = (digits as i64 - 1 - magnitude).clamp(0, 12) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_columns() {
        let mut t = Table::new(&["a", "long"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "a    long\n---  ----\nxyz  1\n");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(num(20.534498, 6), "20.5345");
        assert_eq!(num(3.0, 6), "3");
        assert_eq!(num(10568.446, 6), "10568.4");
        assert_eq!(num(0.000123456, 3), "0.000123");
        assert_eq!(num(2.843e-9, 4), "2.843e-9");
        assert_eq!(num(1e300, 6), "1e300");
        assert_eq!(num(-1.25e20, 6), "-1.25e20");
    }
}

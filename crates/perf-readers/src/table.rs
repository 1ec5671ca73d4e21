//! A CSV file with one header row, read with typed cell access and errors naming the row and
//! column (shared by the BurstGPT, Vidur trace and Vidur profile readers).

use crate::error::{Location, ReadError, Result, shorten};
use crate::text;

/// The header and records of a CSV file.
pub(crate) struct Table<'a> {
    pub path: &'a str,
    pub headers: Vec<String>,
    pub records: Vec<csv::StringRecord>,
}

impl<'a> Table<'a> {
    /// Decodes and parses `bytes` (flexible row widths, cells trimmed).
    pub(crate) fn read(bytes: &'a [u8], path: &'a str) -> Result<Self> {
        let text = text::decode(bytes, path)?;
        let mut reader = text::csv_reader(text);
        let csv_err = |e: &csv::Error| text::csv_error(path, text, e);
        let headers = reader
            .headers()
            .map_err(|e| csv_err(&e))?
            .iter()
            .map(str::to_owned)
            .collect();
        let records = reader
            .records()
            .map(|r| r.map_err(|e| csv_err(&e)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            path,
            headers,
            records,
        })
    }

    /// The index of the column named `name` (ASCII case ignored).
    pub(crate) fn col(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }

    /// The index of a required column.
    pub(crate) fn req_col(&self, name: &str) -> Result<usize> {
        self.col(name).ok_or_else(|| ReadError::Field {
            path: self.path.to_owned(),
            location: Location::Line { line: 1, column: 0 },
            value: shorten(&self.headers.join(",")),
            message: format!("missing column `{name}` in the header"),
        })
    }

    /// The records as [`Row`]s (1-based row numbers, after the header).
    pub(crate) fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().enumerate().map(|(i, rec)| Row {
            table: self,
            rec,
            row: i + 1,
        })
    }
}

/// One record of a [`Table`].
pub(crate) struct Row<'t> {
    table: &'t Table<'t>,
    rec: &'t csv::StringRecord,
    pub row: usize,
}

impl Row<'_> {
    /// The cell of column `c` (empty when the row is short).
    pub(crate) fn cell(&self, c: usize) -> &str {
        self.rec.get(c).unwrap_or("")
    }

    /// An error about the cell of column `c`.
    pub(crate) fn bad(&self, c: usize, message: &str) -> ReadError {
        ReadError::Field {
            path: self.table.path.to_owned(),
            location: Location::Cell {
                row: self.row,
                column: self.table.headers.get(c).cloned().unwrap_or_default(),
            },
            value: shorten(self.cell(c)),
            message: message.to_owned(),
        }
    }

    /// The finite number in column `c`.
    pub(crate) fn num(&self, c: usize) -> Result<f64> {
        self.cell(c)
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| self.bad(c, "expected a finite number"))
    }

    /// The finite number in column `c`, `None` when the column is absent or the cell empty.
    pub(crate) fn opt_num(&self, c: Option<usize>) -> Result<Option<f64>> {
        match c {
            Some(c) if !self.cell(c).is_empty() => self.num(c).map(Some),
            _ => Ok(None),
        }
    }

    /// The whole number `0..=u32::MAX` in column `c` (`12` or `12.0`).
    pub(crate) fn count(&self, c: usize) -> Result<u32> {
        let x = self
            .num(c)
            .map_err(|_| self.bad(c, "expected a whole number"))?;
        if x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(x as u32)
        } else {
            Err(self.bad(c, "expected a whole number (0..=4294967295)"))
        }
    }

    /// A whole number `0..=2^53` in column `c` (byte sizes, which may exceed `u32`).
    pub(crate) fn count_u64(&self, c: usize) -> Result<u64> {
        let x = self
            .num(c)
            .map_err(|_| self.bad(c, "expected a whole number"))?;
        if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(x as u64)
        } else {
            Err(self.bad(c, "expected a whole number (0..=2^53)"))
        }
    }

    /// As [`Row::count`], `None` when the column is absent or the cell empty.
    pub(crate) fn opt_count(&self, c: Option<usize>) -> Result<Option<u32>> {
        match c {
            Some(c) if !self.cell(c).is_empty() => self.count(c).map(Some),
            _ => Ok(None),
        }
    }

    /// A boolean (`True`/`False`, `true`/`false`, `1`/`0`), `None` when absent or empty.
    pub(crate) fn opt_bool(&self, c: Option<usize>) -> Result<Option<bool>> {
        let Some(c) = c else { return Ok(None) };
        match self.cell(c).to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "1.0" => Ok(Some(true)),
            "false" | "0" | "0.0" => Ok(Some(false)),
            _ => Err(self.bad(c, "expected True or False")),
        }
    }

    /// The text of column `c`, `None` when absent or empty.
    pub(crate) fn opt_text(&self, c: Option<usize>) -> Option<String> {
        c.map(|c| self.cell(c))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// An error for a record that fails `perf-model-core` validation.
    pub(crate) fn invalid(&self, c: usize, e: perf_model_core::Error) -> ReadError {
        ReadError::Invalid {
            path: self.table.path.to_owned(),
            location: Location::Cell {
                row: self.row,
                column: self.table.headers.get(c).cloned().unwrap_or_default(),
            },
            source: Box::new(e),
        }
    }
}

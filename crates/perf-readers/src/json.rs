//! Lenient JSON: the non-standard `Infinity`, `-Infinity` and `NaN` tokens that Python's
//! `json.dumps` writes, JSON Lines, and typed access with JSON paths in errors.

use serde_json::Value;

use crate::error::{Location, ReadError, Result, shorten};

/// Parses one JSON document, accepting the bare tokens `Infinity`, `-Infinity` and `NaN`.
///
/// The text is first given to serde_json as it is; only when that fails and the text holds one
/// of the tokens outside a string is it rewritten (the tokens become the strings
/// `"Infinity"`, `"-Infinity"` and `"NaN"`, which the readers take as numbers) and parsed again.
/// Files without the tokens therefore cost one plain serde_json parse.
///
/// # Examples
/// ```
/// let v = perf_readers::parse_json_lenient(r#"{"request_rate": Infinity, "x": NaN}"#, "a.json")?;
/// assert_eq!(v["request_rate"], "Infinity");
/// assert_eq!(v["x"], "NaN");
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Json`] with the line and column of the syntax error.
pub fn parse_json_lenient(text: &str, path: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(first) => match rewrite_special_tokens(text) {
            Some(fixed) => serde_json::from_str::<Value>(&fixed).map_err(|e| json_error(path, &e)),
            None => Err(json_error(path, &first)),
        },
    }
}

/// Parses a JSON document or a JSON-Lines stream (values separated by white space), leniently
/// as [`parse_json_lenient`]. Returns each value with the 1-based line it starts on.
pub(crate) fn parse_records(text: &str, path: &str) -> Result<Vec<(usize, Value)>> {
    match parse_stream(text) {
        Ok(v) => Ok(v),
        Err(first) => match rewrite_special_tokens(text) {
            Some(fixed) => parse_stream(&fixed).map_err(|e| json_error(path, &e)),
            None => Err(json_error(path, &first)),
        },
    }
}

fn parse_stream(text: &str) -> std::result::Result<Vec<(usize, Value)>, serde_json::Error> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let bytes = text.as_bytes();
    let (mut counted_to, mut line) = (0usize, 1usize);
    loop {
        let start = stream.byte_offset();
        let Some(next) = stream.next() else { break };
        let value = next?;
        // The value starts at the first non-blank byte after `start`.
        let begin = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(start, |p| start + p);
        line += bytes[counted_to..begin]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted_to = begin;
        out.push((line, value));
    }
    Ok(out)
}

pub(crate) fn json_error(path: &str, e: &serde_json::Error) -> ReadError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ReadError::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Rewrites `Infinity`, `-Infinity` and `NaN` outside strings into quoted strings. `None` when
/// there is none (so the caller reports the original error).
fn rewrite_special_tokens(text: &str) -> Option<String> {
    if !text.contains("Infinity") && !text.contains("NaN") {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        let token = match b {
            b'"' => {
                in_string = true;
                None
            }
            b'N' if bytes[i..].starts_with(b"NaN") => Some("NaN"),
            b'I' if bytes[i..].starts_with(b"Infinity") => Some("Infinity"),
            b'-' if bytes[i..].starts_with(b"-Infinity") => Some("-Infinity"),
            _ => None,
        };
        if let Some(t) = token {
            out.push_str(&text[copied..i]);
            out.push('"');
            out.push_str(t);
            out.push('"');
            i += t.len();
            copied = i;
            changed = true;
        } else {
            i += 1;
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Reads a number from a JSON value: a JSON number, or a string holding a number with an
/// optional unit suffix (`ms`, `us`, `s`, `token/s`, `req/s`, …) or one of `inf`, `Infinity`,
/// `-inf`, `-Infinity`, `NaN`. The suffix is dropped, not applied: callers know the unit.
pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_number_text(s),
        _ => None,
    }
}

/// Parses a number written as text, see [`number`].
pub(crate) fn parse_number_text(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Ok(x) = t.parse::<f64>() {
        return Some(x);
    }
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    let unit = unit.trim();
    let known = unit.is_empty()
        || unit.chars().all(|c| c.is_ascii_alphabetic() || c == '/')
            && unit.len() <= 12
            && !unit.eq_ignore_ascii_case("e");
    if known {
        num.trim().parse::<f64>().ok()
    } else {
        None
    }
}

/// Reading context: the file's path and the JSON-Lines record line (0 for a single document).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cx<'a> {
    pub path: &'a str,
    pub line: usize,
}

impl Cx<'_> {
    pub(crate) fn loc(&self, json_path: &str) -> Location {
        Location::JsonPath {
            line: self.line,
            path: json_path.to_owned(),
        }
    }

    pub(crate) fn field_err(&self, json_path: &str, v: Option<&Value>, message: &str) -> ReadError {
        ReadError::Field {
            path: self.path.to_owned(),
            location: self.loc(json_path),
            value: v.map_or_else(|| "nothing".to_owned(), |v| shorten(&v.to_string())),
            message: message.to_owned(),
        }
    }

    pub(crate) fn invalid(&self, json_path: &str, source: perf_model_core::Error) -> ReadError {
        ReadError::Invalid {
            path: self.path.to_owned(),
            location: self.loc(json_path),
            source: Box::new(source),
        }
    }
}

/// A JSON value with its path from the root, for error messages.
#[derive(Clone, Debug)]
pub(crate) struct Node<'v> {
    pub v: &'v Value,
    pub path: String,
}

impl<'v> Node<'v> {
    pub(crate) fn root(v: &'v Value) -> Self {
        Self {
            v,
            path: "$".to_owned(),
        }
    }

    /// The member `key`; `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<Node<'v>> {
        let child = self.v.get(key).filter(|c| !c.is_null())?;
        Some(Node {
            v: child,
            path: format!("{}.{key}", self.path),
        })
    }

    /// The member whose name equals `key` ignoring ASCII case (Go's JSON decoder matches that
    /// way); `None` when absent or `null`.
    pub(crate) fn get_ci(&self, key: &str) -> Option<Node<'v>> {
        if let Some(n) = self.get(key) {
            return Some(n);
        }
        let (name, child) = self
            .v
            .as_object()?
            .iter()
            .find(|(k, c)| k.eq_ignore_ascii_case(key) && !c.is_null())?;
        Some(Node {
            v: child,
            path: format!("{}.{name}", self.path),
        })
    }

    /// Walks `keys`; `None` when any is absent or `null`.
    pub(crate) fn at(&self, keys: &[&str]) -> Option<Node<'v>> {
        let mut node = self.clone();
        for k in keys {
            node = node.get(k)?;
        }
        Some(node)
    }

    /// The elements when this is an array.
    pub(crate) fn items(&self) -> Option<Vec<Node<'v>>> {
        let arr = self.v.as_array()?;
        Some(
            arr.iter()
                .enumerate()
                .map(|(i, v)| Node {
                    v,
                    path: format!("{}[{i}]", self.path),
                })
                .collect(),
        )
    }

    pub(crate) fn as_str(&self) -> Option<&'v str> {
        self.v.as_str()
    }

    /// This value as a number (see [`number`]).
    pub(crate) fn num(&self, cx: &Cx<'_>) -> Result<f64> {
        number(self.v).ok_or_else(|| cx.field_err(&self.path, Some(self.v), "expected a number"))
    }

    /// The number at `keys`: `Ok(None)` when absent or null, an error when not a number.
    pub(crate) fn opt_num(&self, keys: &[&str], cx: &Cx<'_>) -> Result<Option<f64>> {
        self.at(keys).map(|n| n.num(cx)).transpose()
    }

    /// The number at `keys`, required.
    pub(crate) fn req_num(&self, keys: &[&str], cx: &Cx<'_>) -> Result<f64> {
        match self.at(keys) {
            Some(n) => n.num(cx),
            None => Err(cx.field_err(
                &format!("{}.{}", self.path, keys.join(".")),
                None,
                "missing required number",
            )),
        }
    }

    /// A non-negative whole count at `keys`.
    pub(crate) fn opt_count(&self, keys: &[&str], cx: &Cx<'_>) -> Result<Option<u64>> {
        let Some(n) = self.at(keys) else {
            return Ok(None);
        };
        let x = n.num(cx)?;
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9.0e15 {
            // Exact: a whole number below 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(Some(x as u64))
        } else {
            Err(cx.field_err(&n.path, Some(n.v), "expected a whole count >= 0"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_outside_strings_only() {
        let text = r#"{"a": Infinity, "b": -Infinity, "c": NaN, "d": "NaN Infinity \" NaN"}"#;
        let v = parse_json_lenient(text, "t.json").unwrap();
        assert_eq!(v["a"], "Infinity");
        assert_eq!(v["b"], "-Infinity");
        assert_eq!(v["c"], "NaN");
        assert_eq!(v["d"], "NaN Infinity \" NaN");
        assert_eq!(number(&v["b"]), Some(f64::NEG_INFINITY));
        assert!(number(&v["c"]).is_some_and(f64::is_nan));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_json_lenient("{\n  \"a\": 1,\n  \"b\": x\n}", "t.json").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("t.json:3:8: JSON syntax error: expected value"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn json_lines_with_lines() {
        let recs = parse_records("{\"a\":1}\n\n{\"a\":Infinity}\n", "t.jsonl").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].0, 1);
        assert_eq!(recs[1].0, 3);
    }

    #[test]
    fn unit_suffixes() {
        assert_eq!(parse_number_text("2006.0 ms"), Some(2006.0));
        assert_eq!(parse_number_text("41.6254 token/s"), Some(41.6254));
        assert_eq!(parse_number_text("3 req/s"), Some(3.0));
        assert_eq!(parse_number_text("inf"), Some(f64::INFINITY));
        assert_eq!(parse_number_text("abc"), None);
        assert_eq!(parse_number_text(""), None);
    }
}

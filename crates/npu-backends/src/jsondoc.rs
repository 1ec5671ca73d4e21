//! An order-preserving JSON document and the MindIE dotted-path writer (spec `npu.md` §2.1).
//!
//! serde_json's `Map` sorts keys unless its `preserve_order` feature is on, and turning that on
//! would change every crate of the workspace; this small value type keeps the file's key order
//! instead.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

use crate::error::{NpuError, Result};

/// Longest dotted path accepted (segments).
pub const MAX_PATH_SEGMENTS: usize = 16;

/// A JSON value whose objects keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, integer or float as written.
    Number(Number),
    /// A string.
    String(String),
    /// A list.
    Array(Vec<Doc>),
    /// An object, in file order.
    Object(Vec<(String, Doc)>),
}

impl Doc {
    /// Parses strict JSON, keeping key order.
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] with serde_json's message (line and column).
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| NpuError::InvalidConfig(format!("{what}: not valid JSON: {e}")))
    }

    /// Pretty-prints with 4-space indentation, non-ASCII unescaped, and a final newline.
    #[must_use]
    pub fn to_pretty(&self) -> String {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serialising a Doc into a Vec cannot fail (no maps with non-string keys, no I/O).
        if self.serialize(&mut ser).is_err() {
            return String::new();
        }
        let mut s = String::from_utf8_lossy(&out).into_owned();
        s.push('\n');
        s
    }

    /// The equivalent `serde_json::Value` (key order lost).
    #[must_use]
    pub fn to_value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Number(n) => Value::Number(n.clone()),
            Doc::String(s) => Value::String(s.clone()),
            Doc::Array(a) => Value::Array(a.iter().map(Doc::to_value).collect()),
            Doc::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    /// Converts a `serde_json::Value` (objects in its map order).
    #[must_use]
    pub fn from_value(v: &Value) -> Self {
        match v {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => Doc::Number(n.clone()),
            Value::String(s) => Doc::String(s.clone()),
            Value::Array(a) => Doc::Array(a.iter().map(Doc::from_value).collect()),
            Value::Object(o) => Doc::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Doc::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// The JSON type name: `null`, `bool`, `integer`, `float`, `string`, `list`, `object`.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Doc::Null => "null",
            Doc::Bool(_) => "bool",
            Doc::Number(n) if n.is_f64() => "float",
            Doc::Number(_) => "integer",
            Doc::String(_) => "string",
            Doc::Array(_) => "list",
            Doc::Object(_) => "object",
        }
    }

    /// The value at a dotted path, if present.
    #[must_use]
    pub fn get_path(&self, path: &str) -> Option<&Doc> {
        let mut cur = self;
        for seg in path.split('.') {
            cur = match cur {
                Doc::Object(o) => o.iter().find(|(k, _)| k == seg).map(|(_, v)| v)?,
                Doc::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Writes `value` at the dotted `path` following `npu.md` §2.1 and returns the value it
    /// replaced (`None` when the key or list item was created).
    ///
    /// Type check: an existing value keeps its JSON type — an integer accepts integers and
    /// integral floats (written as integers, `105` not `105.0`), a float accepts any number, a
    /// bool only a bool, a string only a string, a list or object only the same kind; `null`
    /// accepts anything.
    ///
    /// # Errors
    /// [`NpuError::ConfigPathNotFound`] naming the path (index past the end, integer key in an
    /// object, descent into a scalar, more than [`MAX_PATH_SEGMENTS`] segments);
    /// [`NpuError::TypeMismatch`].
    pub fn set_path(&mut self, path: &str, value: &Value) -> Result<Option<Doc>> {
        let segs: Vec<&str> = path.split('.').collect();
        let not_found = |reason: String| NpuError::ConfigPathNotFound {
            path: path.to_owned(),
            reason,
        };
        if path.is_empty() || segs.iter().any(|s| s.is_empty()) {
            return Err(not_found("empty segment".to_owned()));
        }
        if segs.len() > MAX_PATH_SEGMENTS {
            return Err(not_found(format!(
                "{} segments, at most {MAX_PATH_SEGMENTS} allowed",
                segs.len()
            )));
        }
        let mut cur = self;
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let next_is_index = segs.get(i + 1).is_some_and(|s| s.parse::<usize>().is_ok());
            let fresh = || {
                if next_is_index {
                    Doc::Array(Vec::new())
                } else {
                    Doc::Object(Vec::new())
                }
            };
            let at = segs[..=i].join(".");
            match cur {
                Doc::Object(o) => {
                    let pos = o.iter().position(|(k, _)| k == seg);
                    if last {
                        return match pos {
                            Some(p) => {
                                let new = checked(&o[p].1, value, path)?;
                                Ok(Some(std::mem::replace(&mut o[p].1, new)))
                            }
                            None => {
                                o.push(((*seg).to_owned(), Doc::from_value(value)));
                                Ok(None)
                            }
                        };
                    }
                    let p = match pos {
                        Some(p) => p,
                        None if seg.parse::<usize>().is_ok() => {
                            return Err(not_found(format!(
                                "`{at}`: integer segment `{seg}` but the parent is an object without that key"
                            )));
                        }
                        None => {
                            o.push(((*seg).to_owned(), fresh()));
                            o.len() - 1
                        }
                    };
                    cur = &mut o[p].1;
                }
                Doc::Array(a) => {
                    let Ok(idx) = seg.parse::<usize>() else {
                        return Err(not_found(format!("`{at}`: `{seg}` is not a list index")));
                    };
                    if idx > a.len() {
                        return Err(not_found(format!(
                            "`{at}`: index {idx} past the end of a list of length {}",
                            a.len()
                        )));
                    }
                    if last {
                        if idx == a.len() {
                            a.push(Doc::from_value(value));
                            return Ok(None);
                        }
                        let new = checked(&a[idx], value, path)?;
                        return Ok(Some(std::mem::replace(&mut a[idx], new)));
                    }
                    if idx == a.len() {
                        a.push(fresh());
                    }
                    cur = &mut a[idx];
                }
                other => {
                    return Err(not_found(format!(
                        "`{}` is a {}, cannot descend into it",
                        segs[..i].join("."),
                        other.type_name()
                    )));
                }
            }
        }
        Err(not_found("empty path".to_owned()))
    }
}

/// Describes a `serde_json::Value`'s type like [`Doc::type_name`].
fn value_type(v: &Value) -> &'static str {
    Doc::from_value(v).type_name()
}

/// The new value to store at `path` over `old`, or a type mismatch.
fn checked(old: &Doc, new: &Value, path: &str) -> Result<Doc> {
    let mismatch = || NpuError::TypeMismatch {
        path: path.to_owned(),
        expected: old.type_name(),
        found: format!("{} {new}", value_type(new)),
    };
    match (old, new) {
        (Doc::Null, v) => Ok(Doc::from_value(v)),
        (Doc::Bool(_), Value::Bool(b)) => Ok(Doc::Bool(*b)),
        (Doc::String(_), Value::String(s)) => Ok(Doc::String(s.clone())),
        (Doc::Array(_), Value::Array(_)) | (Doc::Object(_), Value::Object(_)) => {
            Ok(Doc::from_value(new))
        }
        (Doc::Number(o), Value::Number(n)) => {
            if o.is_f64() || !n.is_f64() {
                return Ok(Doc::Number(n.clone()));
            }
            // The config holds an integer: accept integral floats, written as integers.
            let x = n.as_f64().ok_or_else(mismatch)?;
            if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 {
                #[allow(clippy::cast_possible_truncation)]
                let i = x as i64;
                Ok(Doc::Number(Number::from(i)))
            } else {
                Err(mismatch())
            }
        }
        _ => Err(mismatch()),
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Doc::Null => s.serialize_unit(),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Number(n) => n.serialize(s),
            Doc::String(v) => s.serialize_str(v),
            Doc::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Doc::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Doc, E> {
        Ok(Doc::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Doc, E> {
        Ok(Doc::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Doc, E> {
        Ok(Doc::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Doc, E> {
        Number::from_f64(v)
            .map(Doc::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Doc, E> {
        Ok(Doc::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Doc, E> {
        Ok(Doc::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Doc, E> {
        Ok(Doc::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Doc, E> {
        Ok(Doc::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Doc, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Doc::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Doc, A::Error> {
        let mut v: Vec<(String, Doc)> = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, Doc>()? {
            // Duplicate keys: the last one wins, like serde_json, but in first position.
            if let Some(slot) = v.iter_mut().find(|(key, _)| *key == k) {
                slot.1 = x;
            } else {
                v.push((k, x));
            }
        }
        Ok(Doc::Object(v))
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Doc, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
    ));

    fn keys(d: &Doc) -> Vec<String> {
        match d {
            Doc::Object(o) => o.iter().map(|(k, _)| k.clone()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn round_trip_keeps_order_and_values() {
        let d = Doc::parse(DS, "ds").unwrap();
        let again = Doc::parse(&d.to_pretty(), "again").unwrap();
        assert_eq!(d, again);
        assert_eq!(
            keys(&d),
            ["Version", "LogConfig", "ServerConfig", "BackendConfig"]
        );
        let orig: Value = serde_json::from_str(DS).unwrap();
        assert_eq!(d.to_value(), orig);
    }

    #[test]
    fn acceptance_examples_of_spec() {
        let base = Doc::parse(DS, "ds").unwrap();
        let mut d = base.clone();
        let p = "BackendConfig.ModelDeployConfig.ModelConfig.0.tp";
        assert_eq!(d.set_path(p, &json!(4)).unwrap(), None);
        let mut expect = base.to_value();
        expect["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["tp"] = json!(4);
        assert_eq!(d.to_value(), expect);
        let mc = d
            .get_path("BackendConfig.ModelDeployConfig.ModelConfig.0")
            .unwrap();
        assert_eq!(keys(mc).last().map(String::as_str), Some("tp"));

        let mut d = base.clone();
        d.set_path(
            "BackendConfig.ModelDeployConfig.ModelConfig.1.tp",
            &json!(4),
        )
        .unwrap();
        assert_eq!(
            d.get_path("BackendConfig.ModelDeployConfig.ModelConfig.1")
                .unwrap()
                .to_value(),
            json!({"tp": 4})
        );

        let mut d = base.clone();
        let err = d
            .set_path(
                "BackendConfig.ModelDeployConfig.ModelConfig.2.tp",
                &json!(4),
            )
            .unwrap_err();
        assert!(
            matches!(&err, NpuError::ConfigPathNotFound { path, .. } if path.ends_with("ModelConfig.2.tp")),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("BackendConfig.ModelDeployConfig.ModelConfig.2.tp")
        );

        let mut d = base.clone();
        let old = d
            .set_path("BackendConfig.ScheduleConfig.maxBatchSize", &json!(256.0))
            .unwrap();
        assert_eq!(old, Some(Doc::Number(200.into())));
        assert!(d.to_pretty().contains("\"maxBatchSize\": 256,"));
    }

    const LAYOUT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/npu/fixture_mindie-llm-layout_config.json"
    ));

    #[test]
    fn round_trip_second_layout_and_non_ascii() {
        let d = Doc::parse(LAYOUT, "layout").unwrap();
        assert_eq!(
            keys(&d),
            [
                "Version",
                "ServerConfig",
                "BackendConfig",
                "LogConfig",
                "EnableDynamicAdjustTimeoutConfig"
            ]
        );
        let text = d.to_pretty();
        assert!(text.contains("\"modelName\": \"qwen3_示例\""), "{text}");
        assert_eq!(Doc::parse(&text, "again").unwrap(), d);
        let orig: Value = serde_json::from_str(LAYOUT).unwrap();
        assert_eq!(d.to_value(), orig);
        let mut d2 = d.clone();
        d2.set_path(
            "BackendConfig.ScheduleConfig.maxFirstTokenWaitTime",
            &json!(3000),
        )
        .unwrap();
        d2.set_path("BackendConfig.ModelDeployConfig.truncation", &json!(true))
            .unwrap();
        let e = d2
            .set_path("BackendConfig.ModelDeployConfig.truncation", &json!(0))
            .unwrap_err();
        assert!(matches!(e, NpuError::TypeMismatch { .. }));
        // A float field accepts integers.
        d2.set_path(
            "BackendConfig.ModelDeployConfig.ModelConfig.0.models.nested.depth",
            &json!(2),
        )
        .unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
            // seed to explore further).
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
            ..proptest::test_runner::Config::default()
        })]
        #[test]
        fn set_path_never_panics(path in "[a-zA-Z0-9.]{0,40}", v in 0i64..1000) {
            let mut d = Doc::parse(DS, "ds").unwrap();
            if d.set_path(&path, &json!(v)).is_ok() {
                proptest::prop_assert_eq!(d.get_path(&path).map(Doc::to_value), Some(json!(v)));
            }
        }
    }

    #[test]
    fn type_checks() {
        let mut d = Doc::parse(DS, "ds").unwrap();
        let e = d
            .set_path("BackendConfig.ScheduleConfig.maxBatchSize", &json!(2.5))
            .unwrap_err();
        assert!(
            matches!(
                e,
                NpuError::TypeMismatch {
                    expected: "integer",
                    ..
                }
            ),
            "{e}"
        );
        let e = d
            .set_path("BackendConfig.ScheduleConfig.supportSelectBatch", &json!(1))
            .unwrap_err();
        assert!(
            matches!(
                e,
                NpuError::TypeMismatch {
                    expected: "bool",
                    ..
                }
            ),
            "{e}"
        );
        d.set_path(
            "BackendConfig.ScheduleConfig.supportSelectBatch",
            &json!(true),
        )
        .unwrap();
        let e = d
            .set_path("BackendConfig.backendName", &json!(3))
            .unwrap_err();
        assert!(matches!(
            e,
            NpuError::TypeMismatch {
                expected: "string",
                ..
            }
        ));
        let e = d.set_path("Version.x", &json!(3)).unwrap_err();
        assert!(matches!(e, NpuError::ConfigPathNotFound { .. }));
        let deep = vec!["a"; 17].join(".");
        assert!(d.set_path(&deep, &json!(1)).is_err());
    }

    #[test]
    fn creates_missing_objects_and_lists() {
        let mut d = Doc::parse("{}", "x").unwrap();
        d.set_path("a.b.0.c", &json!("v")).unwrap();
        assert_eq!(d.to_value(), json!({"a": {"b": [{"c": "v"}]}}));
        assert!(
            Doc::parse("{}", "x")
                .unwrap()
                .set_path("0.a", &json!(1))
                .is_err()
        );
        assert!(d.to_pretty().starts_with("{\n    \"a\""));
    }
}

//! One item's overrides: dotted paths into the base simulation config and the values written
//! there, in the order the sweep file gives them.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An ordered list of `path → value` overrides of a simulation config.
///
/// A path is dotted (`cluster.engine.max_batch_size`); a list element is selected by an
/// integer segment or a bracketed index (`workload.clients.0.arrival.rate` and
/// `workload.clients[0].arrival.rate` are the same path). It serialises as a JSON object in
/// its own order.
///
/// # Examples
/// ```
/// use llm_perf::sweep::Overrides;
/// let mut o = Overrides::default();
/// o.push("workload.rate", serde_json::json!(10.0));
/// o.push("cluster.engine.max_batch_size", serde_json::json!(64));
/// let mut tree = serde_json::json!({ "cluster": { "engine": {} }, "workload": { "rate": 1.0 } });
/// o.apply(&mut tree).map_err(|(path, why)| format!("{path}: {why}"))?;
/// assert_eq!(tree["cluster"]["engine"]["max_batch_size"], 64);
/// assert_eq!(serde_json::to_string(&o)?,
///            r#"{"workload.rate":10.0,"cluster.engine.max_batch_size":64}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides(Vec<(String, Value)>);

impl Overrides {
    /// Appends `path = value` (a later value of the same path wins when applied).
    pub fn push(&mut self, path: impl Into<String>, value: Value) {
        self.0.push((path.into(), value));
    }

    /// The overrides in order.
    #[must_use]
    pub fn entries(&self) -> &[(String, Value)] {
        &self.0
    }

    /// The value set at `path`, if any (the last one).
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes every override into `tree` (a config as JSON), creating missing objects on the
    /// way (whether a created key exists in the schema is for the config's parser to say).
    ///
    /// # Errors
    /// The path and why, when a path is malformed, crosses a scalar, or indexes past the end
    /// of a list.
    pub fn apply(&self, tree: &mut Value) -> Result<(), (String, String)> {
        for (path, value) in &self.0 {
            set_path(tree, path, value.clone()).map_err(|m| (path.clone(), m))?;
        }
        Ok(())
    }

    /// A canonical text of the overrides and `seed`: paths sorted, values as compact JSON
    /// (object keys sorted). The item id hashes it, so it must not change between versions.
    #[must_use]
    pub fn canonical(&self, seed: u64) -> String {
        let mut sorted: Vec<(&str, &Value)> = Vec::new();
        for (p, v) in &self.0 {
            // the effective value of a path is its last one
            if let Some(slot) = sorted.iter_mut().find(|(q, _)| *q == p.as_str()) {
                slot.1 = v;
            } else {
                sorted.push((p, v));
            }
        }
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = format!("seed={seed}");
        for (p, v) in sorted {
            out.push(';');
            out.push_str(p);
            out.push('=');
            canonical_json(v, &mut out);
        }
        out
    }
}

/// Compact JSON with object keys sorted, whatever map type `serde_json` was built with.
fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(k) {
                    canonical_json(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(list) => {
            out.push('[');
            for (i, inner) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(inner, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// 64-bit FNV-1a of `text`.
///
/// # Formula
/// `h₀ = 0xcbf29ce484222325`, `hᵢ = (hᵢ₋₁ ⊕ byteᵢ) · 0x100000001b3 mod 2⁶⁴` (Fowler, Noll, Vo).
#[must_use]
pub(crate) fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The segments of a dotted path: `a.b[2].c` → `a`, `b`, `2`, `c`.
///
/// # Errors
/// Why the path is malformed (an empty segment, an unclosed bracket).
pub(crate) fn segments(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && (rest.is_empty() || out.is_empty()) {
            return Err("empty segment in the dotted path".to_owned());
        }
        if !name.is_empty() {
            out.push(name.to_owned());
        }
        while !rest.is_empty() {
            let Some(close) = rest.find(']') else {
                return Err("unclosed `[` in the dotted path".to_owned());
            };
            let index = &rest[1..close];
            if index.parse::<usize>().is_err() {
                return Err(format!("`[{index}]` is not a list index"));
            }
            out.push(index.to_owned());
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected `{rest}` after `]`"));
            }
        }
    }
    Ok(out)
}

/// Writes `value` at dotted `path` in `tree`.
fn set_path(tree: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let segs = segments(path)?;
    let mut node = tree;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if node.is_null() {
            *node = Value::Object(serde_json::Map::new());
        }
        node = match node {
            Value::Object(map) => map.entry(seg.clone()).or_insert(Value::Null),
            Value::Array(list) => {
                let Ok(k) = seg.parse::<usize>() else {
                    return Err(format!("`{seg}` indexes a list: use a number"));
                };
                let len = list.len();
                // a list element must exist: an override changes a config, it does not grow it
                list.get_mut(k)
                    .ok_or_else(|| format!("index {k} is past the end of a list of {len} items"))?
            }
            _ => {
                return Err(format!(
                    "`{seg}` is below a value that is not an object or a list"
                ));
            }
        };
        if last {
            *node = value;
            return Ok(());
        }
    }
    Ok(())
}

impl Serialize for Overrides {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Overrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Overrides;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of dotted paths to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Overrides, A::Error> {
                let mut out = Overrides::default();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Ordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_and_dots_are_the_same_path() {
        assert_eq!(segments("a.b[2].c").unwrap(), ["a", "b", "2", "c"]);
        assert_eq!(segments("a.b.2.c").unwrap(), ["a", "b", "2", "c"]);
        assert_eq!(segments("a[0][1]").unwrap(), ["a", "0", "1"]);
    }

    #[test]
    fn malformed_paths_are_errors() {
        for bad in ["", "a..b", ".a", "a.", "a[x]", "a[1", "a[1]b", "[0]"] {
            assert!(segments(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_indexes_must_exist() {
        let mut tree = json!({ "w": { "clients": [ { "rate": 1 } ] } });
        let mut o = Overrides::default();
        o.push("w.clients[0].rate", json!(5));
        o.apply(&mut tree).unwrap();
        assert_eq!(tree["w"]["clients"][0]["rate"], 5);
        let mut o = Overrides::default();
        o.push("w.clients[3].rate", json!(5));
        let (path, msg) = o.apply(&mut tree).unwrap_err();
        assert_eq!(path, "w.clients[3].rate");
        assert!(msg.contains("past the end of a list of 1"), "{msg}");
        let mut o = Overrides::default();
        o.push("w.clients[0].rate.x", json!(5));
        assert!(o.apply(&mut tree).unwrap_err().1.contains("not an object"));
    }

    #[test]
    fn canonical_text_ignores_order_and_keeps_last_value() {
        let mut a = Overrides::default();
        a.push("b", json!({ "y": 1, "x": [1, 2.5] }));
        a.push("a", json!(1));
        let mut b = Overrides::default();
        b.push("a", json!(0));
        b.push("a", json!(1));
        b.push("b", json!({ "x": [1, 2.5], "y": 1 }));
        assert_eq!(a.canonical(3), b.canonical(3));
        assert_eq!(a.canonical(3), r#"seed=3;a=1;b={"x":[1,2.5],"y":1}"#);
        assert_ne!(a.canonical(3), a.canonical(4));
    }

    #[test]
    fn fnv1a_reference_values() {
        // published FNV-1a 64 test vectors
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn serialises_in_its_own_order() {
        let o: Overrides = serde_json::from_str(r#"{"z": 1, "a": 2}"#).unwrap();
        assert_eq!(serde_json::to_string(&o).unwrap(), r#"{"z":1,"a":2}"#);
    }
}

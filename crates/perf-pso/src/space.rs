//! Search spaces: typed fields, their placement in a configuration, and the codec between a
//! particle's position (a point of the unit cube) and a concrete configuration.
//!
//! Every dimension's coordinate `u ∈ [0, 1]` maps to a *raw* coordinate `x = min + u·(max − min)`
//! in the field's own bounds, which the field kind then decodes (specs/tuning.md §1.3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PsoError, Result, config_err};

/// Largest number of values a `range` field may enumerate (each becomes an enum item).
pub const MAX_RANGE_VALUES: f64 = 10_000_000.0;
/// How far past the end of a list a `config_position` index may reach (new items are `null`).
pub const MAX_LIST_GROWTH: usize = 1024;

/// Which of the seed's codec quirks to reproduce (specs/tuning.md §1.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedCompat {
    /// Our fixes: ints map through equal-width buckets over `[min, max + 1)` so `max` is
    /// reachable; range items stop at `≤ max`.
    #[default]
    Fixed,
    /// The seed's behaviour: ints truncate (`int(x)`); range items go up to `max + step − 1`.
    Seed,
}

/// Where a field's value goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A dotted path into the engine's JSON configuration; an integer segment indexes a list.
    Path(String),
    /// An environment variable named after the field (upper-cased, trimmed).
    Env,
}

impl Placement {
    /// Parses a seed `config_position`: `"env"` or a dotted path.
    #[must_use]
    pub fn parse(position: &str) -> Self {
        let p = position.trim();
        if p.eq_ignore_ascii_case("env") {
            Self::Env
        } else {
            Self::Path(p.to_owned())
        }
    }
}

/// One search-space entry as written in a TOML file (`[[<engine>.target_field]]`).
///
/// Build one with the constructors ([`FieldSpec::int`], …) or deserialize it; [`SearchSpace::new`]
/// validates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Unique name (result column; environment variable name when upper-cased).
    pub name: String,
    /// `"env"` or a dotted path into the engine configuration.
    pub config_position: String,
    /// Lower bound (raw coordinate).
    #[serde(default)]
    pub min: f64,
    /// Upper bound (raw coordinate).
    #[serde(default)]
    pub max: f64,
    /// `int`, `float`, `bool`, `enum`, `range`, `ratio`, `share`, `factories`, `times`,
    /// `ternary_factories`, `ternary_times` or `str`.
    pub dtype: String,
    /// Default or current value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Kind parameter: enum values, range step, ratio/share target name, derived-field table
    /// (`{target_name, product, dtype}`; ternary: `{target_names = [a, b], product, dtype,
    /// min_value, max_value, priority_policy, priority}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype_param: Option<Value>,
    /// Fixed value: the field is then no dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<Value>,
}

impl FieldSpec {
    fn new(name: &str, position: &str, dtype: &str, min: f64, max: f64) -> Self {
        Self {
            name: name.to_owned(),
            config_position: position.to_owned(),
            min,
            max,
            dtype: dtype.to_owned(),
            value: None,
            dtype_param: None,
            constant: None,
        }
    }
    /// An integer field on `[min, max]`.
    #[must_use]
    pub fn int(name: &str, position: &str, min: i64, max: i64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        Self::new(name, position, "int", min as f64, max as f64)
    }
    /// A real field on `[min, max]`.
    #[must_use]
    pub fn float(name: &str, position: &str, min: f64, max: f64) -> Self {
        Self::new(name, position, "float", min, max)
    }
    /// A boolean field.
    #[must_use]
    pub fn bool(name: &str, position: &str) -> Self {
        Self::new(name, position, "bool", 0.0, 1.0)
    }
    /// A choice among `values` (numbers or strings), on coordinates `[0, 1]`.
    #[must_use]
    pub fn choice(name: &str, position: &str, values: Vec<Value>) -> Self {
        let mut f = Self::new(name, position, "enum", 0.0, 1.0);
        f.dtype_param = Some(Value::Array(values));
        f
    }
    /// The numbers `min, min + step, …` up to `max`.
    #[must_use]
    pub fn range(name: &str, position: &str, min: i64, max: i64, step: i64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let mut f = Self::new(name, position, "range", min as f64, max as f64);
        f.dtype_param = Some(Value::from(step));
        f
    }
    /// `int(x · value(target))` for a fraction `x ∈ [min, max]`.
    #[must_use]
    pub fn ratio(name: &str, position: &str, target: &str, min: f64, max: f64) -> Self {
        let mut f = Self::new(name, position, "ratio", min, max);
        f.dtype_param = Some(Value::from(target));
        f
    }
    /// Derived, no dimension: `product / value(target)` as an int (`int = true`) or a float.
    #[must_use]
    pub fn factories(name: &str, position: &str, target: &str, product: f64, int: bool) -> Self {
        let mut f = Self::new(name, position, "factories", 0.0, 0.0);
        f.dtype_param = Some(serde_json::json!({
            "target_name": target, "product": product, "dtype": if int { "int" } else { "float" }
        }));
        f
    }
    /// Derived, no dimension: `product × value(target)` as an int (`int = true`) or a float.
    #[must_use]
    pub fn times(name: &str, position: &str, target: &str, product: f64, int: bool) -> Self {
        let mut f = Self::new(name, position, "times", 0.0, 0.0);
        f.dtype_param = Some(serde_json::json!({
            "target_name": target, "product": product, "dtype": if int { "int" } else { "float" }
        }));
        f
    }
    /// Derived, no dimension: `product / (value(a) · value(b))`, with upstream's repair of
    /// non-divisible int results (default `balanced` priority, `min_value` 1 for ints).
    #[must_use]
    pub fn ternary_factories(
        name: &str,
        position: &str,
        targets: [&str; 2],
        product: f64,
        int: bool,
    ) -> Self {
        let mut f = Self::new(name, position, "ternary_factories", 0.0, 0.0);
        f.dtype_param = Some(serde_json::json!({
            "target_names": targets, "product": product, "dtype": if int { "int" } else { "float" }
        }));
        f
    }
    /// Derived, no dimension: `product · value(a) · value(b)`.
    #[must_use]
    pub fn ternary_times(
        name: &str,
        position: &str,
        targets: [&str; 2],
        product: f64,
        int: bool,
    ) -> Self {
        let mut f = Self::new(name, position, "ternary_times", 0.0, 0.0);
        f.dtype_param = Some(serde_json::json!({
            "target_names": targets, "product": product, "dtype": if int { "int" } else { "float" }
        }));
        f
    }
    /// Sets the default value.
    #[must_use]
    pub fn with_value(mut self, value: Value) -> Self {
        self.value = Some(value);
        self
    }
    /// Makes the field a constant.
    #[must_use]
    pub fn with_constant(mut self, value: Value) -> Self {
        self.constant = Some(value);
        self
    }
}

/// A validated field kind (specs/tuning.md §1.3). `range` is converted to [`FieldKind::Enum`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FieldKind {
    /// Integer.
    Int,
    /// Real number.
    Float,
    /// `true` iff the raw coordinate is > 0.5 of the way.
    Bool,
    /// One of `values`, in `n` equal buckets over `[min, max]`.
    Enum {
        /// The choices (numbers or strings).
        values: Vec<Value>,
    },
    /// `int(x · value(target))`.
    Ratio {
        /// Name of the field it is a fraction of.
        target: String,
    },
    /// `int(target.min + target.max − target.value)`; its coordinate is ignored.
    Share {
        /// The field it complements.
        target: String,
    },
    /// Derived, no dimension: `product / value(target)`, kept at `value` when the target is 0.
    Factories {
        /// The divisor field.
        target: String,
        /// The product.
        product: f64,
        /// Truncate to an integer.
        int: bool,
    },
    /// Derived, no dimension: `product × value(target)`, kept at `value` when the target has no
    /// number (none/NaN).
    Times {
        /// The multiplier field.
        target: String,
        /// The product.
        product: f64,
        /// Truncate to an integer.
        int: bool,
    },
    /// Derived, no dimension: `product / (value(a) · value(b))`, kept at `value` when a target
    /// is 0. An int result that is not exact, or outside `[min_value, max_value]`, is repaired
    /// by moving the sources (see [`SearchSpace::decode_in`]).
    TernaryFactories {
        /// The two divisor fields `[a, b]` (`target_names`).
        targets: Vec<String>,
        /// The product.
        product: f64,
        /// Truncate to an integer.
        int: bool,
        /// Lowest acceptable result (`min_value`; 1 for ints when absent).
        min_value: Option<f64>,
        /// Highest acceptable result (`max_value`).
        max_value: Option<f64>,
        /// Which source the repair keeps.
        priority: PriorityPolicy,
    },
    /// Derived, no dimension: `product · value(a) · value(b)`, kept at `value` when a target has
    /// no number.
    TernaryTimes {
        /// The two multiplier fields `[a, b]` (`target_names`).
        targets: Vec<String>,
        /// The product.
        product: f64,
        /// Truncate to an integer.
        int: bool,
    },
    /// A fixed string, no dimension.
    Str,
}

impl FieldKind {
    /// `true` for the kinds whose value is computed from other fields and that are no PSO
    /// dimension: `factories`, `times`, `ternary_factories`, `ternary_times`.
    #[must_use]
    pub fn is_derived(&self) -> bool {
        matches!(
            self,
            Self::Factories { .. }
                | Self::Times { .. }
                | Self::TernaryFactories { .. }
                | Self::TernaryTimes { .. }
        )
    }
}

/// The order in which a `ternary_factories` repair treats its two sources (upstream
/// `priority_policy`): the first is kept if possible, the second moved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "policy")]
pub enum PriorityPolicy {
    /// `target_names` order for the first half of the particles, reversed for the second half;
    /// flipped again on odd iterations (upstream's code); `target_names` order without a
    /// [`DecodeContext`].
    #[default]
    Balanced,
    /// Always this order (a permutation of `target_names`).
    Fixed {
        /// Keep first, then adjust.
        order: Vec<String>,
    },
}

/// Where a position comes from, for decisions that depend on the particle (the `balanced`
/// repair priority of `ternary_factories`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeContext {
    /// Particle index (0-based).
    pub particle: usize,
    /// Swarm size.
    pub n_particles: usize,
    /// PSO iteration (0-based), if known.
    pub iteration: Option<usize>,
}

/// A validated field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Unique name.
    pub name: String,
    /// Where the value goes.
    pub placement: Placement,
    /// Lower raw bound.
    pub min: f64,
    /// Upper raw bound.
    pub max: f64,
    /// Kind.
    pub kind: FieldKind,
    /// Default value.
    pub value: Option<Value>,
    /// Fixed value, if the field is a constant (`Value::Null` = "no value", e.g. unthrottled).
    pub constant: Option<Value>,
    /// Index of the field's coordinate in a position, if it is a dimension.
    pub dimension: Option<usize>,
}

/// A user constraint, checked on every decoded configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Constraint {
    /// The product of the fields' values equals `value` (e.g. tp·dp = devices).
    ProductEquals {
        /// Field names.
        fields: Vec<String>,
        /// Required product.
        value: f64,
    },
    /// `field ≤ limit` (both field names).
    AtMost {
        /// The bounded field.
        field: String,
        /// The bounding field.
        limit: String,
    },
}

/// What happens to a decoded configuration that breaks a constraint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintMode {
    /// Not evaluated; cost +∞, recorded with the violation as its error.
    #[default]
    Penalise,
    /// Repaired before evaluation: `AtMost` fields are lowered to their limit; a
    /// `ProductEquals` that cannot be repaired is penalised.
    Repair,
}

/// One entry of a decoded configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// Field name.
    pub name: String,
    /// Where it goes.
    pub placement: Placement,
    /// The value (`Null` = no value: an env token and its flag are dropped).
    pub value: Value,
    /// `false` when the engine ignores it in this configuration (MindIE's per-request times
    /// without `supportSelectBatch`); inactive values do not distinguish configurations.
    pub active: bool,
}

/// A concrete configuration: every field's value, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodedConfig {
    /// Entries in field order.
    pub entries: Vec<ConfigEntry>,
    /// Broken constraints, empty when valid.
    pub violations: Vec<String>,
}

impl DecodedConfig {
    /// The value of field `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.value)
    }
    /// The value of field `name` as a number (booleans are 0/1).
    #[must_use]
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(value_f64)
    }
    /// `true` when no constraint is broken.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
    /// A name → value JSON object (field order).
    #[must_use]
    pub fn to_map(&self) -> serde_json::Map<String, Value> {
        self.entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect()
    }
    /// A key identifying the configuration for de-duplication: active values only.
    #[must_use]
    pub fn key(&self) -> String {
        let parts: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                if e.active {
                    e.value.clone()
                } else {
                    Value::Null
                }
            })
            .collect();
        Value::Array(parts).to_string()
    }
    /// Writes every path-placed value into `tree` (objects and lists created as needed).
    ///
    /// # Errors
    /// [`PsoError::Config`] when a path crosses a scalar.
    pub fn apply_to_json(&self, tree: &mut Value) -> Result<()> {
        for e in &self.entries {
            if let Placement::Path(p) = &e.placement {
                set_path(tree, p, e.value.clone())?;
            }
        }
        Ok(())
    }
    /// Environment variables `(NAME, value)` of env-placed fields; `None` = unset the variable
    /// (and drop its command token with the flag before it).
    #[must_use]
    pub fn env(&self) -> Vec<(String, Option<String>)> {
        self.entries
            .iter()
            .filter(|e| e.placement == Placement::Env)
            .map(|e| {
                let v = match &e.value {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => match n.as_f64() {
                        Some(f) if !f.is_finite() => None,
                        _ => Some(n.to_string()),
                    },
                    other => Some(other.to_string()),
                };
                (e.name.trim().to_uppercase(), v)
            })
            .collect()
    }
}

/// The number in `v` (booleans 0/1, strings parsed).
#[must_use]
pub fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Writes `value` at dotted `path` in `tree`; integer segments index lists.
///
/// # Errors
/// [`PsoError::Config`] when the path is empty or crosses a scalar.
pub fn set_path(tree: &mut Value, path: &str, value: Value) -> Result<()> {
    let segs: Vec<&str> = path.split('.').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(config_err(path, "empty segment in config_position"));
    }
    let mut node = tree;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let idx = seg.parse::<usize>().ok();
        if node.is_null() {
            *node = if idx.is_some() {
                Value::Array(Vec::new())
            } else {
                Value::Object(serde_json::Map::new())
            };
        }
        node = match (node, idx) {
            (Value::Array(list), Some(k)) => {
                // Growing a list by a few entries is how a new item is added; an index far
                // past the end is a typo that would allocate without bound.
                if k > list.len().saturating_add(MAX_LIST_GROWTH) {
                    return Err(config_err(
                        path,
                        format!(
                            "index {k} is far past the end of a list of {} items",
                            list.len()
                        ),
                    ));
                }
                if list.len() <= k {
                    list.resize(k + 1, Value::Null);
                }
                &mut list[k]
            }
            (Value::Object(map), _) => map.entry((*seg).to_owned()).or_insert(Value::Null),
            _ => {
                return Err(config_err(
                    path,
                    format!("segment `{seg}` crosses a value that is not an object or list"),
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

/// A validated search space: fields in file order, dimensions in field order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    fields: Vec<Field>,
    dims: Vec<usize>,
    constraints: Vec<Constraint>,
    constraint_mode: ConstraintMode,
    compat: SeedCompat,
}

fn num_value(x: f64, int: bool) -> Value {
    if int {
        #[allow(clippy::cast_possible_truncation)]
        Value::from(x.trunc() as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn is_intlike(v: &Value) -> bool {
    v.as_i64().is_some() || v.as_u64().is_some()
}

/// Decodes raw coordinate `x` of an `n`-bucket enum on `[min, max]` to a bucket index
/// (open left, closed right; `x ≤ min` → 0, `x ≥ max` → n − 1).
#[must_use]
pub fn enum_bucket(x: f64, min: f64, max: f64, n: usize) -> usize {
    if n == 0 || x <= min {
        return 0;
    }
    if x >= max {
        return n - 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let edge = |i: usize| min + (max - min) * i as f64 / n as f64;
    // first i in 0..n with upper edge(i + 1) >= x
    let (mut lo, mut hi) = (0usize, n - 1);
    while lo < hi {
        let mid = usize::midpoint(lo, hi);
        if edge(mid + 1) >= x {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The `dtype` of a derived field's table: `"int"` (default) or `"float"`.
fn derived_int(p: Option<&Value>, at: &dyn Fn(&str) -> String) -> Result<bool> {
    match p.and_then(|p| p.get("dtype")) {
        None => Ok(true),
        Some(Value::String(d)) if d.trim() == "int" => Ok(true),
        Some(Value::String(d)) if d.trim() == "float" => Ok(false),
        Some(other) => Err(config_err(
            at("dtype_param.dtype"),
            format!("{other} is neither \"int\" nor \"float\""),
        )),
    }
}

/// Periodic boundary of pyswarms on `[lb, ub]` (specs/tuning.md §2.2).
#[must_use]
pub fn periodic(x: f64, lb: f64, ub: f64) -> f64 {
    let span = ub - lb;
    if x < lb {
        ub - ((lb - x) % span)
    } else if x > ub {
        lb + ((x - ub) % span)
    } else {
        x
    }
}

impl SearchSpace {
    /// Validates `specs` (file order) into a space.
    ///
    /// # Errors
    /// [`PsoError::Config`] naming field and key: `min > max`, unknown dtype, duplicate name,
    /// missing or later-defined target, empty enum, step ≤ 0, a ratio whose target is always 0.
    pub fn new(specs: &[FieldSpec], compat: SeedCompat) -> Result<Self> {
        let mut fields: Vec<Field> = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            let at = |key: &str| format!("field[{i}] ({}).{key}", s.name);
            let name = s.name.trim().to_owned();
            if name.is_empty() {
                return Err(config_err(at("name"), "empty name"));
            }
            if fields.iter().any(|f| f.name == name) {
                return Err(config_err(at("name"), "duplicate field name"));
            }
            if !s.min.is_finite() || !s.max.is_finite() {
                return Err(config_err(at("min"), "bounds must be finite"));
            }
            if s.min > s.max {
                return Err(config_err(
                    at("min"),
                    format!("min {} > max {}", s.min, s.max),
                ));
            }
            let target_of = |key: &str, t: Option<&str>| -> Result<String> {
                let t = t.ok_or_else(|| config_err(at(key), "needs a target field name"))?;
                let tf = fields.iter().find(|f| f.name == t).ok_or_else(|| {
                    config_err(
                        at(key),
                        format!("target `{t}` is not a field defined before this one"),
                    )
                })?;
                if matches!(tf.kind, FieldKind::Str) || value_is_str_enum(&tf.kind) {
                    return Err(config_err(at(key), format!("target `{t}` is not numeric")));
                }
                Ok(t.to_owned())
            };
            let (mut min, mut max) = (s.min, s.max);
            let mut constant = s.constant.clone();
            let kind = match s.dtype.trim().to_ascii_lowercase().as_str() {
                "int" => FieldKind::Int,
                "float" => FieldKind::Float,
                "bool" => FieldKind::Bool,
                "str" => FieldKind::Str,
                "enum" => {
                    let values = match &s.dtype_param {
                        Some(Value::Array(v)) if !v.is_empty() => v.clone(),
                        _ => {
                            return Err(config_err(
                                at("dtype_param"),
                                "enum needs a non-empty list",
                            ));
                        }
                    };
                    if values.iter().any(|v| !(v.is_number() || v.is_string())) {
                        return Err(config_err(
                            at("dtype_param"),
                            "enum values must be numbers or strings",
                        ));
                    }
                    FieldKind::Enum { values }
                }
                "range" => {
                    let step = s.dtype_param.as_ref().and_then(value_f64).unwrap_or(0.0);
                    if !(step > 0.0 && step.fract() == 0.0) {
                        return Err(config_err(
                            at("dtype_param"),
                            "range needs an integer step > 0",
                        ));
                    }
                    let stop = match compat {
                        SeedCompat::Fixed => {
                            if ((max - min) / step).fract() != 0.0 {
                                tracing::warn!(field = %name, "range (max - min) is not a multiple of step");
                            }
                            max
                        }
                        SeedCompat::Seed => max + step - 1.0,
                    };
                    let count = ((stop - min) / step).floor() + 1.0;
                    if count.is_nan() || count > MAX_RANGE_VALUES {
                        return Err(config_err(
                            at("dtype_param"),
                            format!(
                                "range from {min} to {max} by {step} has {count} values; at most {MAX_RANGE_VALUES} are searched: use a larger step or an int field"
                            ),
                        ));
                    }
                    let mut values = Vec::new();
                    let mut v = min;
                    while v <= stop {
                        values.push(num_value(v, min.fract() == 0.0));
                        v += step;
                    }
                    min = 0.0;
                    max = 1.0;
                    FieldKind::Enum { values }
                }
                "ratio" => FieldKind::Ratio {
                    target: target_of(
                        "dtype_param",
                        s.dtype_param.as_ref().and_then(Value::as_str),
                    )?,
                },
                "share" => FieldKind::Share {
                    target: target_of(
                        "dtype_param",
                        s.dtype_param.as_ref().and_then(Value::as_str),
                    )?,
                },
                "factories" => {
                    let p = s.dtype_param.as_ref();
                    let t = p.and_then(|p| p.get("target_name")).and_then(Value::as_str);
                    let product = p
                        .and_then(|p| p.get("product"))
                        .and_then(value_f64)
                        .ok_or_else(|| {
                            config_err(
                                at("dtype_param.product"),
                                "factories needs a numeric product",
                            )
                        })?;
                    let int = p
                        .and_then(|p| p.get("dtype"))
                        .and_then(Value::as_str)
                        .is_none_or(|d| d == "int");
                    min = 0.0;
                    max = 0.0;
                    FieldKind::Factories {
                        target: target_of("dtype_param.target_name", t)?,
                        product,
                        int,
                    }
                }
                "times" => {
                    let p = s.dtype_param.as_ref();
                    let t = p.and_then(|p| p.get("target_name")).and_then(Value::as_str);
                    let product = p
                        .and_then(|p| p.get("product"))
                        .and_then(value_f64)
                        .ok_or_else(|| {
                            config_err(at("dtype_param.product"), "times needs a numeric product")
                        })?;
                    min = 0.0;
                    max = 0.0;
                    FieldKind::Times {
                        target: target_of("dtype_param.target_name", t)?,
                        product,
                        int: derived_int(p, &at)?,
                    }
                }
                dt @ ("ternary_factories" | "ternary_times") => {
                    let p = s.dtype_param.as_ref();
                    let names: Vec<&str> = match p.and_then(|p| p.get("target_names")) {
                        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    let listed = p
                        .and_then(|p| p.get("target_names"))
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    if names.len() != 2 || listed != 2 || names[0] == names[1] {
                        return Err(config_err(
                            at("dtype_param.target_names"),
                            format!("{dt} needs a list of two different field names"),
                        ));
                    }
                    let targets = vec![
                        target_of("dtype_param.target_names", Some(names[0]))?,
                        target_of("dtype_param.target_names", Some(names[1]))?,
                    ];
                    // upstream's default product is 1
                    let product = match p.and_then(|p| p.get("product")) {
                        None => 1.0,
                        Some(v) => value_f64(v).ok_or_else(|| {
                            config_err(at("dtype_param.product"), format!("not a number: {v}"))
                        })?,
                    };
                    if !product.is_finite() {
                        return Err(config_err(at("dtype_param.product"), "must be finite"));
                    }
                    let int = derived_int(p, &at)?;
                    min = 0.0;
                    max = 0.0;
                    if dt == "ternary_times" {
                        FieldKind::TernaryTimes {
                            targets,
                            product,
                            int,
                        }
                    } else {
                        let bound = |key: &str| -> Result<Option<f64>> {
                            match p.and_then(|p| p.get(key)) {
                                None | Some(Value::Null) => Ok(None),
                                Some(v) => value_f64(v)
                                    .filter(|x| x.is_finite())
                                    .map(Some)
                                    .ok_or_else(|| {
                                        config_err(
                                            at(&format!("dtype_param.{key}")),
                                            format!("not a number: {v}"),
                                        )
                                    }),
                            }
                        };
                        let (min_value, max_value) = (bound("min_value")?, bound("max_value")?);
                        let priority = match p
                            .and_then(|p| p.get("priority_policy"))
                            .map(|v| v.as_str().map(str::trim))
                        {
                            None | Some(Some("balanced")) => PriorityPolicy::Balanced,
                            Some(Some("fixed")) => {
                                let order: Vec<String> = match p.and_then(|p| p.get("priority")) {
                                    None => targets.clone(),
                                    Some(Value::Array(list)) => list
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_owned)
                                        .collect(),
                                    Some(other) => {
                                        return Err(config_err(
                                            at("dtype_param.priority"),
                                            format!("not a list of field names: {other}"),
                                        ));
                                    }
                                };
                                let mut a = order.clone();
                                let mut b = targets.clone();
                                a.sort();
                                b.sort();
                                if a != b {
                                    return Err(config_err(
                                        at("dtype_param.priority"),
                                        format!(
                                            "{order:?} is not an order of target_names {targets:?}"
                                        ),
                                    ));
                                }
                                PriorityPolicy::Fixed { order }
                            }
                            Some(other) => {
                                return Err(config_err(
                                    at("dtype_param.priority_policy"),
                                    format!(
                                        "{} is neither \"balanced\" nor \"fixed\"",
                                        other.map_or_else(
                                            || "a non-string".to_owned(),
                                            |o| format!("`{o}`")
                                        )
                                    ),
                                ));
                            }
                        };
                        FieldKind::TernaryFactories {
                            targets,
                            product,
                            int,
                            min_value,
                            max_value,
                            priority,
                        }
                    }
                }
                other => {
                    return Err(config_err(at("dtype"), format!("unknown dtype `{other}`")));
                }
            };
            // min ≈ max with int, float or str ⇒ constant = max
            let same = (s.max - s.min).abs() <= 1e-5 * s.max.abs().max(s.min.abs());
            if constant.is_none()
                && same
                && matches!(kind, FieldKind::Int | FieldKind::Float | FieldKind::Str)
            {
                constant = Some(match (&kind, &s.value) {
                    (FieldKind::Str, Some(v)) => v.clone(),
                    (FieldKind::Int, _) => num_value(s.max, true),
                    _ => num_value(s.max, false),
                });
            }
            if matches!(kind, FieldKind::Str) && constant.is_none() {
                constant = Some(s.value.clone().unwrap_or(Value::Null));
            }
            if let Some(c) = &constant
                && let Some(cv) = value_f64(c)
                && !matches!(kind, FieldKind::Enum { .. } | FieldKind::Str)
            {
                min = cv;
                max = cv;
            }
            if let FieldKind::Ratio { target } = &kind {
                let tf = fields.iter().find(|f| &f.name == target);
                if let Some(tf) = tf {
                    let always_zero = tf.constant.as_ref().and_then(value_f64) == Some(0.0)
                        || (tf.constant.is_none() && tf.min == 0.0 && tf.max == 0.0);
                    if always_zero {
                        return Err(config_err(
                            at("dtype_param"),
                            format!("ratio of `{target}`, which is always 0 (division by zero)"),
                        ));
                    }
                }
            }
            fields.push(Field {
                name,
                placement: Placement::parse(&s.config_position),
                min,
                max,
                kind,
                value: s.value.clone(),
                constant,
                dimension: None,
            });
        }
        let mut dims = Vec::new();
        for (i, f) in fields.iter_mut().enumerate() {
            let is_dim =
                f.constant.is_none() && !f.kind.is_derived() && !matches!(f.kind, FieldKind::Str);
            if is_dim {
                f.dimension = Some(dims.len());
                dims.push(i);
            }
        }
        Ok(Self {
            fields,
            dims,
            constraints: Vec::new(),
            constraint_mode: ConstraintMode::default(),
            compat,
        })
    }

    /// Adds constraints checked on every decoded configuration.
    ///
    /// # Errors
    /// [`PsoError::Config`] when a constraint names an unknown field.
    pub fn with_constraints(
        mut self,
        constraints: Vec<Constraint>,
        mode: ConstraintMode,
    ) -> Result<Self> {
        for c in &constraints {
            let names: Vec<&String> = match c {
                Constraint::ProductEquals { fields, .. } => fields.iter().collect(),
                Constraint::AtMost { field, limit } => vec![field, limit],
            };
            for n in names {
                if !self.fields.iter().any(|f| &f.name == n) {
                    return Err(config_err(format!("constraint.{n}"), "unknown field"));
                }
            }
        }
        self.constraints = constraints;
        self.constraint_mode = mode;
        Ok(self)
    }

    /// The fields, in file order.
    #[must_use]
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
    /// The number of PSO dimensions.
    #[must_use]
    pub fn dimensions(&self) -> usize {
        self.dims.len()
    }
    /// The fields that are dimensions, in dimension order.
    pub fn dimension_fields(&self) -> impl Iterator<Item = &Field> {
        self.dims.iter().map(|&i| &self.fields[i])
    }
    /// The codec variant.
    #[must_use]
    pub fn compat(&self) -> SeedCompat {
        self.compat
    }
    /// Raw bounds `(mins, maxs)` of the dimensions.
    #[must_use]
    pub fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        self.dimension_fields().map(|f| (f.min, f.max)).unzip()
    }

    /// Number of distinct values of each dimension if they are all discrete (int, bool,
    /// enum), else `None`; a ratio or share counts as one (it is derived).
    #[must_use]
    pub fn grid_sizes(&self) -> Option<Vec<usize>> {
        self.dimension_fields()
            .map(|f| match &f.kind {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                FieldKind::Int => Some((f.max.trunc() - f.min.trunc()) as usize + 1),
                FieldKind::Bool => Some(2),
                FieldKind::Enum { values } => Some(values.len()),
                FieldKind::Share { .. } => Some(1),
                _ => None,
            })
            .collect()
    }

    /// Decodes one raw coordinate of a pass-1 field (int, float, bool, enum).
    fn decode_raw(&self, f: &Field, x: f64) -> Value {
        match &f.kind {
            FieldKind::Int => match self.compat {
                SeedCompat::Seed => num_value(x, true),
                SeedCompat::Fixed => {
                    let (lo, hi) = (f.min.trunc(), f.max.trunc());
                    let span = f.max - f.min;
                    let u = if span > 0.0 {
                        ((x - f.min) / span).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    num_value((lo + (u * (hi - lo + 1.0)).floor()).min(hi), true)
                }
            },
            FieldKind::Float => num_value(x, false),
            FieldKind::Bool => Value::Bool(x > f.min + 0.5 * (f.max - f.min)),
            FieldKind::Enum { values } => {
                values[enum_bucket(x, f.min, f.max, values.len())].clone()
            }
            _ => Value::Null,
        }
    }

    /// Decodes a unit-cube position into a configuration (constraints checked, repaired in
    /// [`ConstraintMode::Repair`]); [`SearchSpace::decode_in`] without a particle context.
    ///
    /// # Errors
    /// [`PsoError::Dimension`] when `position` has the wrong length.
    pub fn decode(&self, position: &[f64]) -> Result<DecodedConfig> {
        self.decode_in(position, None)
    }

    /// Decodes a unit-cube position into a configuration; `context` (particle, swarm size,
    /// iteration) decides the `balanced` repair order of `ternary_factories` fields.
    ///
    /// Pass 1 decodes the dimensions (constants keep their value); pass 2 resolves `ratio`,
    /// `share` and the derived kinds in file order (specs/tuning.md §1.3):
    /// * `times`: `dtype(product × t)`; `ternary_times`: `dtype(product × a × b)` (targets in
    ///   file order); kept at `value` when a target has no number.
    /// * `ternary_factories`: `dtype(product / (a × b))`, kept at `value` when a target is 0. With
    ///   an int dtype, a result that is not exact (`product mod a·b ≠ 0`) or outside
    ///   `[min_value (1), max_value]` is repaired as upstream does: the priority order names the
    ///   source to keep; stage 1 keeps its value and tries the other source's candidates nearest
    ///   first; stage 2 tries both, nearest first; candidates are an enum's numeric values or an
    ///   int field's integers when it spans ≤ 256 (a constant source is never moved). The first
    ///   valid pair wins and both sources take those values. Without one, the result is clamped
    ///   to `min_value`/`max_value` with a warning, and a non-exact unclamped result is reported
    ///   as a constraint violation (upstream raises, which costs +∞).
    ///
    /// # Errors
    /// [`PsoError::Dimension`] when `position` has the wrong length.
    pub fn decode_in(
        &self,
        position: &[f64],
        context: Option<&DecodeContext>,
    ) -> Result<DecodedConfig> {
        if position.len() != self.dims.len() {
            return Err(PsoError::Dimension {
                expected: self.dims.len(),
                got: position.len(),
            });
        }
        let mut values: Vec<Value> = vec![Value::Null; self.fields.len()];
        // pass 1
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(c) = &f.constant {
                values[i] = match f.kind {
                    FieldKind::Int => value_f64(c).map_or(c.clone(), |v| num_value(v, true)),
                    FieldKind::Float => value_f64(c).map_or(c.clone(), |v| num_value(v, false)),
                    FieldKind::Bool => value_f64(c).map_or(c.clone(), |v| Value::Bool(v > 0.5)),
                    _ => c.clone(),
                };
            } else if let Some(d) = f.dimension {
                let u = position[d].clamp(0.0, 1.0);
                let x = f.min + u * (f.max - f.min);
                values[i] = self.decode_raw(f, if u.is_nan() { f.min } else { x });
            }
        }
        // pass 2: ratio and derived, in file order
        for (i, f) in self.fields.iter().enumerate() {
            if f.constant.is_some() {
                continue;
            }
            let tv = |t: &str| {
                self.fields
                    .iter()
                    .position(|g| g.name == t)
                    .and_then(|j| value_f64(&values[j]))
                    .unwrap_or(0.0)
            };
            match &f.kind {
                FieldKind::Ratio { target } => {
                    let d = f.dimension.unwrap_or(0);
                    let u = position.get(d).copied().unwrap_or(0.0).clamp(0.0, 1.0);
                    let x = f.min + u * (f.max - f.min);
                    let mut v = (x * tv(target)).trunc();
                    if v == 0.0 && f.name_is("maxPrefillBatchSize") {
                        v = 1.0;
                    }
                    values[i] = num_value(v, true);
                }
                FieldKind::Share { target } => {
                    let t = &self.fields[self.index_of(target)];
                    values[i] = num_value(t.min + t.max - tv(target), true);
                }
                FieldKind::Factories {
                    target,
                    product,
                    int,
                } => {
                    let t = tv(target);
                    values[i] = if t == 0.0 {
                        f.value.clone().unwrap_or(Value::Null)
                    } else {
                        num_value(product / t, *int)
                    };
                }
                FieldKind::Times {
                    target,
                    product,
                    int,
                } => {
                    let t = value_f64(&values[self.index_of(target)]).filter(|t| !t.is_nan());
                    values[i] = match t {
                        Some(t) => num_value(product * t, *int),
                        None => {
                            tracing::warn!(field = %f.name, %target, "times: target has no number; value kept");
                            f.value.clone().unwrap_or(Value::Null)
                        }
                    };
                }
                FieldKind::TernaryTimes {
                    targets,
                    product,
                    int,
                } => {
                    let mut result = *product;
                    let mut ok = true;
                    for j in self.in_file_order(targets) {
                        match value_f64(&values[j]).filter(|t| !t.is_nan()) {
                            Some(t) => result *= t,
                            None => ok = false,
                        }
                    }
                    values[i] = if ok {
                        num_value(result, *int)
                    } else {
                        tracing::warn!(field = %f.name, "ternary_times: a target has no number; value kept");
                        f.value.clone().unwrap_or(Value::Null)
                    };
                }
                FieldKind::TernaryFactories { .. } => {
                    self.decode_ternary_factories(i, &mut values, context);
                }
                _ => {}
            }
        }
        let mut cfg = DecodedConfig {
            entries: self
                .fields
                .iter()
                .zip(values)
                .map(|(f, value)| ConfigEntry {
                    name: f.name.clone(),
                    placement: f.placement.clone(),
                    value,
                    active: true,
                })
                .collect(),
            violations: Vec::new(),
        };
        mark_inactive(&mut cfg);
        self.check(&mut cfg);
        Ok(cfg)
    }

    /// Field indices of `names`, in file order.
    fn in_file_order(&self, names: &[String]) -> Vec<usize> {
        let mut idx: Vec<usize> = names.iter().map(|n| self.index_of(n)).collect();
        idx.sort_unstable();
        idx
    }

    /// Repair candidates of a source field: its constant, an enum's numeric values, or an int
    /// field's integers when it spans ≤ 256 (upstream `_get_field_candidates`); `None` when it
    /// cannot be enumerated.
    fn repair_candidates(&self, j: usize) -> Option<Vec<(f64, Value)>> {
        let f = &self.fields[j];
        if let Some(c) = &f.constant {
            return value_f64(c).map(|v| vec![(v, c.clone())]);
        }
        match &f.kind {
            FieldKind::Enum { values } => Some(
                values
                    .iter()
                    .filter(|v| v.is_number())
                    .filter_map(|v| value_f64(v).map(|x| (x, v.clone())))
                    .collect(),
            ),
            FieldKind::Int => {
                let (lo, hi) = (f.min.trunc(), f.max.trunc());
                #[allow(clippy::cast_possible_truncation)]
                if (0.0..=256.0).contains(&(hi - lo)) {
                    let (lo, hi) = (lo as i64, hi as i64);
                    #[allow(clippy::cast_precision_loss)]
                    Some((lo..=hi).map(|v| (v as f64, Value::from(v))).collect())
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Pass 2 of a `ternary_factories` field `i` (see [`SearchSpace::decode_in`]).
    #[allow(clippy::too_many_lines)]
    fn decode_ternary_factories(
        &self,
        i: usize,
        values: &mut [Value],
        context: Option<&DecodeContext>,
    ) {
        let f = &self.fields[i];
        let FieldKind::TernaryFactories {
            targets,
            product,
            int,
            min_value,
            max_value,
            priority,
        } = &f.kind
        else {
            return;
        };
        let product = *product;
        let mut divisor = 1.0;
        for j in self.in_file_order(targets) {
            match value_f64(&values[j]) {
                Some(t) if t != 0.0 && !t.is_nan() => divisor *= t,
                _ => {
                    tracing::warn!(field = %f.name, target = %self.fields[j].name,
                        "ternary_factories: target is 0 or has no number; value kept");
                    values[i] = f.value.clone().unwrap_or(Value::Null);
                    return;
                }
            }
        }
        let conv = |x: f64| if *int { x.trunc() } else { x };
        let min_v = min_value.or(if *int { Some(1.0) } else { None });
        let result = conv(product / divisor);
        let out_of_range =
            min_v.is_some_and(|m| result < m) || max_value.is_some_and(|m| result > m);
        if !(out_of_range || (*int && product % divisor != 0.0)) {
            values[i] = num_value(result, *int);
            return;
        }
        // priority: [keep, adjust] as field indices
        let mut order: Vec<&String> = match priority {
            PriorityPolicy::Fixed { order } => order.iter().collect(),
            PriorityPolicy::Balanced => targets.iter().collect(),
        };
        if *priority == PriorityPolicy::Balanced
            && let Some(c) = context
        {
            #[allow(clippy::cast_precision_loss)]
            let mut reverse = c.particle as f64 >= c.n_particles as f64 / 2.0;
            if c.iteration.is_some_and(|it| it % 2 == 1) {
                reverse = !reverse;
            }
            if reverse {
                order.reverse();
            }
        }
        let (Some(keep), Some(adjust)) = (order.first(), order.get(1)) else {
            values[i] = num_value(result, *int);
            return;
        };
        let (keep, adjust) = (self.index_of(keep), self.index_of(adjust));
        let valid = |k: f64, a: f64| -> Option<f64> {
            if k == 0.0 || a == 0.0 || k.is_nan() || a.is_nan() {
                return None;
            }
            let d = k * a;
            if *int && product % d != 0.0 {
                return None;
            }
            let r = conv(product / d);
            if min_v.is_some_and(|m| r < m) || max_value.is_some_and(|m| r > m) {
                return None;
            }
            Some(r)
        };
        let repaired = (|| {
            let mut keep_c = self.repair_candidates(keep)?;
            let mut adjust_c = self.repair_candidates(adjust)?;
            if keep_c.is_empty() || adjust_c.is_empty() {
                return None;
            }
            let cur_keep = value_f64(&values[keep]).unwrap_or(0.0);
            let cur_adjust = value_f64(&values[adjust]).unwrap_or(0.0);
            keep_c.sort_by(|a, b| (a.0 - cur_keep).abs().total_cmp(&(b.0 - cur_keep).abs()));
            adjust_c.sort_by(|a, b| {
                (a.0 - cur_adjust)
                    .abs()
                    .total_cmp(&(b.0 - cur_adjust).abs())
            });
            // stage 1: keep the high-priority source, move the other
            for (a, av) in &adjust_c {
                if let Some(r) = valid(cur_keep, *a) {
                    return Some((values[keep].clone(), av.clone(), r));
                }
            }
            // stage 2: move both, nearest first
            for (k, kv) in &keep_c {
                for (a, av) in &adjust_c {
                    if let Some(r) = valid(*k, *a) {
                        return Some((kv.clone(), av.clone(), r));
                    }
                }
            }
            None
        })();
        if let Some((kv, av, r)) = repaired {
            tracing::debug!(field = %f.name, keep = %self.fields[keep].name, %kv,
                adjust = %self.fields[adjust].name, %av, result = r, "ternary_factories repair");
            values[keep] = kv;
            values[adjust] = av;
            values[i] = num_value(r, *int);
            return;
        }
        let mut v = result;
        if let Some(m) = min_v
            && result < m
        {
            tracing::warn!(field = %f.name, result, min_value = m, "ternary_factories repair failed; clamped");
            v = m;
        }
        if let Some(m) = max_value
            && result > *m
        {
            tracing::warn!(field = %f.name, result, max_value = m, "ternary_factories repair failed; clamped");
            v = *m;
        }
        values[i] = num_value(v, *int);
    }

    /// A configuration from name → value pairs (a results row, a record's `config`): entries
    /// in field order with the fields' placements; a missing name takes the field's constant,
    /// else its `value`, else `null`. Values are taken as they are (not decoded); constraints
    /// are checked.
    #[must_use]
    pub fn config_from_map(&self, values: &serde_json::Map<String, Value>) -> DecodedConfig {
        let mut cfg = DecodedConfig {
            entries: self
                .fields
                .iter()
                .map(|f| ConfigEntry {
                    name: f.name.clone(),
                    placement: f.placement.clone(),
                    value: values
                        .get(&f.name)
                        .or(f.constant.as_ref())
                        .or(f.value.as_ref())
                        .cloned()
                        .unwrap_or(Value::Null),
                    active: true,
                })
                .collect(),
            violations: Vec::new(),
        };
        mark_inactive(&mut cfg);
        self.check(&mut cfg);
        cfg
    }

    /// The field named `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Narrows (or widens) the raw bounds of the int or float dimension `name`, e.g. the
    /// theory-guided `max_batch_size` bound (specs/tuning.md §5).
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the field: unknown, not a dimension (constant or derived),
    /// not int/float, bounds not finite or `min > max`.
    pub fn set_bounds(&mut self, name: &str, min: f64, max: f64) -> Result<()> {
        let at = format!("field `{name}`");
        let f = self
            .fields
            .iter_mut()
            .find(|f| f.name == name)
            .ok_or_else(|| config_err(&at, "no such field"))?;
        if f.dimension.is_none() {
            return Err(config_err(
                &at,
                "is not a search dimension (constant or derived)",
            ));
        }
        if !matches!(f.kind, FieldKind::Int | FieldKind::Float) {
            return Err(config_err(
                &at,
                "bounds can be set on int and float fields only",
            ));
        }
        if !(min.is_finite() && max.is_finite()) || min > max {
            return Err(config_err(
                &at,
                format!("bounds {min}..{max} must be finite with min <= max"),
            ));
        }
        f.min = min;
        f.max = max;
        Ok(())
    }

    fn index_of(&self, name: &str) -> usize {
        self.fields.iter().position(|f| f.name == name).unwrap_or(0)
    }

    /// Checks (and in repair mode repairs) constraints, filling `cfg.violations`.
    pub fn check(&self, cfg: &mut DecodedConfig) {
        cfg.violations.clear();
        for f in &self.fields {
            if let FieldKind::Factories {
                target,
                product,
                int: true,
            } = &f.kind
            {
                let t = cfg.get_f64(target).unwrap_or(0.0);
                let v = cfg.get_f64(&f.name).unwrap_or(0.0);
                if t != 0.0 && ((t * v - product).abs() > 1e-9 * product.abs().max(1.0) || v < 1.0)
                {
                    cfg.violations.push(format!(
                        "{} = {product}/{target} is not a positive integer ({target} = {t})",
                        f.name
                    ));
                }
            }
            if let FieldKind::TernaryFactories {
                targets,
                product,
                int: true,
                min_value,
                max_value,
                ..
            } = &f.kind
            {
                let (Some(ta), Some(tb)) = (targets.first(), targets.get(1)) else {
                    continue;
                };
                let (a, b) = (cfg.get_f64(ta), cfg.get_f64(tb));
                let v = cfg.get_f64(&f.name);
                if let (Some(a), Some(b), Some(v)) = (a, b, v)
                    && a != 0.0
                    && b != 0.0
                {
                    let d = a * b;
                    let raw = (product / d).trunc();
                    let min_v = min_value.unwrap_or(1.0);
                    let in_range = raw >= min_v && max_value.is_none_or(|m| raw <= m);
                    // integers (and the bounds they were clamped to) are exact in f64
                    let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
                    let exact = product % d == 0.0 && same(v, raw) && in_range;
                    // upstream's fallback: clamped to a bound with a warning, accepted
                    let clamped = (raw < min_v && same(v, min_v))
                        || max_value.is_some_and(|m| raw > m && same(v, m));
                    if !(exact || clamped) {
                        cfg.violations.push(format!(
                            "{} = {product}/({}·{}) = {product}/{d} is not an integer in range \
                             and no repair was found ({} = {a}, {} = {b})",
                            f.name, ta, tb, ta, tb
                        ));
                    }
                }
            }
        }
        for c in &self.constraints {
            match c {
                Constraint::ProductEquals { fields, value } => {
                    let p: f64 = fields
                        .iter()
                        .map(|n| cfg.get_f64(n).unwrap_or(f64::NAN))
                        .product();
                    if (p - value).abs() > 1e-9 * value.abs().max(1.0) || p.is_nan() {
                        cfg.violations
                            .push(format!("{} = {p}, must be {value}", fields.join("·")));
                    }
                }
                Constraint::AtMost { field, limit } => {
                    let (v, l) = (cfg.get_f64(field), cfg.get_f64(limit));
                    if let (Some(v), Some(l)) = (v, l)
                        && v > l
                    {
                        if self.constraint_mode == ConstraintMode::Repair {
                            if let Some(e) = cfg.entries.iter_mut().find(|e| &e.name == field) {
                                e.value = if is_intlike(&e.value) {
                                    num_value(l, true)
                                } else {
                                    num_value(l, false)
                                };
                            }
                        } else {
                            cfg.violations
                                .push(format!("{field} = {v} > {limit} = {l}"));
                        }
                    }
                }
            }
        }
    }

    /// Encodes a configuration (name → value; missing dimension fields take their default
    /// `value`, else the lower bound) into a unit-cube position that decodes back to it.
    ///
    /// # Errors
    /// [`PsoError::Encode`] for a value of the wrong type, an unknown enum value, or a ratio
    /// whose target is missing.
    pub fn encode(&self, config: &serde_json::Map<String, Value>) -> Result<Vec<f64>> {
        let mut pos = Vec::with_capacity(self.dims.len());
        for f in self.dimension_fields() {
            let err = |reason: String| PsoError::Encode {
                field: f.name.clone(),
                reason,
            };
            let v = config.get(&f.name).or(f.value.as_ref());
            let Some(v) = v else {
                pos.push(0.0);
                continue;
            };
            let span = f.max - f.min;
            let to_u = |x: f64| {
                if span > 0.0 {
                    ((x - f.min) / span).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            };
            let u = match &f.kind {
                FieldKind::Int => {
                    let x = value_f64(v).ok_or_else(|| err(format!("not a number: {v}")))?;
                    match self.compat {
                        // the middle of [x, x + 1) truncates back to x despite rounding
                        SeedCompat::Seed => {
                            let mid = if x < 0.0 {
                                x.trunc() - 0.5
                            } else {
                                x.trunc() + 0.5
                            };
                            to_u(mid.clamp(f.min, f.max))
                        }
                        SeedCompat::Fixed => {
                            let (lo, hi) = (f.min.trunc(), f.max.trunc());
                            let k = (x.trunc() - lo).clamp(0.0, hi - lo);
                            ((k + 0.5) / (hi - lo + 1.0)).clamp(0.0, 1.0)
                        }
                    }
                }
                FieldKind::Float => {
                    let x = value_f64(v).ok_or_else(|| err(format!("not a number: {v}")))?;
                    exact_u(to_u(x), x, f.min, f.max)
                }
                FieldKind::Bool => {
                    let b = value_f64(v).ok_or_else(|| err(format!("not a bool: {v}")))? > 0.5;
                    if b { 1.0 } else { 0.0 }
                }
                FieldKind::Enum { values } => {
                    let k = values
                        .iter()
                        .position(|c| {
                            c == v
                                || (value_f64(c).is_some()
                                    && value_f64(c) == value_f64(v)
                                    && !c.is_string())
                        })
                        .ok_or_else(|| err(format!("{v} is not one of the choices")))?;
                    #[allow(clippy::cast_precision_loss)]
                    let edge = |i: usize| f.min + (f.max - f.min) * i as f64 / values.len() as f64;
                    to_u(f64::midpoint(edge(k), edge(k + 1)))
                }
                FieldKind::Ratio { target } => {
                    let t = config
                        .get(target)
                        .and_then(value_f64)
                        .ok_or_else(|| err(format!("target `{target}` missing")))?;
                    if t == 0.0 {
                        // every fraction decodes to the same value
                        pos.push(0.0);
                        continue;
                    }
                    let x = value_f64(v).ok_or_else(|| err(format!("not a number: {v}")))?;
                    // middle of the fraction interval that truncates to x
                    let product = if x > 0.0 {
                        x.trunc() + 0.5
                    } else if x < 0.0 {
                        x.trunc() - 0.5
                    } else {
                        f.min * t
                    };
                    let frac = (product / t).clamp(f.min, f.max);
                    to_u(frac)
                }
                FieldKind::Share { .. } => 0.5,
                FieldKind::Factories { .. }
                | FieldKind::Times { .. }
                | FieldKind::TernaryFactories { .. }
                | FieldKind::TernaryTimes { .. }
                | FieldKind::Str => 0.0,
            };
            pos.push(u);
        }
        Ok(pos)
    }
}

/// MindIE honours the per-request times only with `supportSelectBatch`: without it they are
/// marked inactive (kept, but not distinguishing configurations).
fn mark_inactive(cfg: &mut DecodedConfig) {
    let select = cfg
        .entries
        .iter()
        .find(|e| e.position_ends("supportSelectBatch"))
        .map(|e| e.value.clone());
    if select == Some(Value::Bool(false)) {
        for e in &mut cfg.entries {
            if e.position_ends("prefillTimeMsPerReq") || e.position_ends("decodeTimeMsPerReq") {
                e.active = false;
            }
        }
    }
}

/// Nudges `u` by a few ulps so that `min + u·(max − min)` is exactly `x` when possible.
fn exact_u(u: f64, x: f64, min: f64, max: f64) -> f64 {
    let at = |u: f64| min + u * (max - min);
    let (mut up, mut down) = (u, u);
    for _ in 0..8 {
        if at(up).to_bits() == x.to_bits() {
            return up;
        }
        if at(down).to_bits() == x.to_bits() {
            return down;
        }
        up = up.next_up().min(1.0);
        down = down.next_down().max(0.0);
    }
    u
}

fn value_is_str_enum(kind: &FieldKind) -> bool {
    matches!(kind, FieldKind::Enum { values } if values.iter().any(Value::is_string))
}

impl Field {
    fn name_is(&self, camel: &str) -> bool {
        matches!(&self.placement, Placement::Path(p) if p.rsplit('.').next() == Some(camel))
    }
}

impl ConfigEntry {
    fn position_ends(&self, camel: &str) -> bool {
        matches!(&self.placement, Placement::Path(p) if p.rsplit('.').next() == Some(camel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(spec: FieldSpec) -> SearchSpace {
        SearchSpace::new(&[spec], SeedCompat::Seed).unwrap()
    }

    #[test]
    fn enum_codec_matches_spec() {
        let s = one(FieldSpec::choice(
            "p",
            "a.p",
            vec![json!(0), json!(1), json!(3)],
        ));
        let dec = |x: f64| s.decode(&[x]).unwrap().get("p").unwrap().clone();
        for (x, want) in [
            (0.0, 0),
            (0.2, 0),
            (1.0 / 3.0, 0),
            (0.34, 1),
            (0.5, 1),
            (0.9, 3),
            (1.0, 3),
        ] {
            assert_eq!(dec(x), json!(want), "x = {x}");
        }
        let mut m = serde_json::Map::new();
        m.insert("p".into(), json!(1));
        assert_eq!(s.encode(&m).unwrap()[0].to_bits(), 0.5f64.to_bits());
        m.insert("p".into(), json!(3));
        assert_eq!(
            s.encode(&m).unwrap()[0].to_bits(),
            0.833_333_333_333_333_3_f64.to_bits()
        );
    }

    #[test]
    fn range_codec_matches_spec() {
        let s = one(FieldSpec::range("q", "a.q", 500, 1_000_000, 100));
        let FieldKind::Enum { values } = &s.fields()[0].kind else {
            panic!()
        };
        assert_eq!(values.len(), 9996);
        let dec = |x: f64| s.decode(&[x]).unwrap().get("q").unwrap().clone();
        assert_eq!(dec(0.3), json!(300_300));
        assert_eq!(dec(0.0001), json!(500));
        assert_eq!(dec(0.99999), json!(1_000_000));
        let s = one(FieldSpec::range("t", "a.t", 0, 1000, 10));
        assert!(matches!(&s.fields()[0].kind, FieldKind::Enum { values } if values.len() == 101));
        let seed = one(FieldSpec::range("t", "a.t", 0, 1005, 10));
        assert!(
            matches!(&seed.fields()[0].kind, FieldKind::Enum { values } if values.last() == Some(&json!(1010)))
        );
        let ours = SearchSpace::new(
            &[FieldSpec::range("t", "a.t", 0, 1005, 10)],
            SeedCompat::Fixed,
        )
        .unwrap();
        assert!(
            matches!(&ours.fields()[0].kind, FieldKind::Enum { values } if values.last() == Some(&json!(1000)))
        );
    }

    #[test]
    fn ratio_int_and_factories_match_spec() {
        let s = SearchSpace::new(
            &[
                FieldSpec::int("mbs", "S.maxBatchSize", 10, 1000),
                FieldSpec::ratio("mpbs", "S.maxPrefillBatchSize", "mbs", 0.1, 0.7),
                FieldSpec::choice(
                    "tp",
                    "M.0.tp",
                    vec![json!(1), json!(2), json!(4), json!(8), json!(16)],
                ),
                FieldSpec::factories("dp", "M.0.dp", "tp", 16.0, true),
            ],
            SeedCompat::Seed,
        )
        .unwrap();
        assert_eq!(s.dimensions(), 3);
        // int 123.9 → 123 (seed truncation); raw x = 10 + u·990
        let u_int = (123.9 - 10.0) / 990.0;
        let u_ratio = (0.35 - 0.1) / 0.6;
        let c = s.decode(&[u_int, u_ratio, 0.5]).unwrap();
        assert_eq!(c.get("mbs"), Some(&json!(123)));
        let c300 = s
            .decode(&[(300.0 - 10.0) / 990.0 + 1e-12, u_ratio, 0.5])
            .unwrap();
        assert_eq!(c300.get("mbs"), Some(&json!(300)));
        assert_eq!(c300.get("mpbs"), Some(&json!(105)));
        assert_eq!(c300.get("tp"), Some(&json!(4)));
        assert_eq!(c300.get("dp"), Some(&json!(4)));
        let c16 = s.decode(&[0.5, 0.5, 1.0]).unwrap();
        assert_eq!(c16.get("dp"), Some(&json!(1)));
        let mut tree = Value::Null;
        c16.apply_to_json(&mut tree).unwrap();
        assert_eq!(tree["M"][0]["tp"], json!(16));
        assert_eq!(tree["S"]["maxBatchSize"], c16.get("mbs").unwrap().clone());
    }

    #[test]
    fn periodic_matches_spec() {
        assert!((periodic(1005.0, 10.0, 1000.0) - 15.0).abs() < 1e-12);
        assert!((periodic(-20.0, 10.0, 1000.0) - 970.0).abs() < 1e-12);
        assert!((periodic(2990.0, 10.0, 1000.0) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn fixed_ints_reach_max() {
        let s = SearchSpace::new(&[FieldSpec::int("n", "n", 1, 4)], SeedCompat::Fixed).unwrap();
        assert_eq!(s.decode(&[1.0]).unwrap().get("n"), Some(&json!(4)));
        assert_eq!(s.decode(&[0.74]).unwrap().get("n"), Some(&json!(3)));
        assert_eq!(s.decode(&[0.0]).unwrap().get("n"), Some(&json!(1)));
    }

    #[test]
    fn bad_specs_are_errors() {
        let mut f = FieldSpec::int("n", "n", 5, 1);
        assert!(
            SearchSpace::new(&[f.clone()], SeedCompat::Fixed)
                .unwrap_err()
                .to_string()
                .contains("min 5 > max 1")
        );
        f = FieldSpec::int("n", "n", 1, 5);
        f.dtype = "complex".into();
        assert!(
            SearchSpace::new(&[f], SeedCompat::Fixed)
                .unwrap_err()
                .to_string()
                .contains("unknown dtype")
        );
        let zero = FieldSpec::int("z", "z", 0, 0);
        let r = FieldSpec::ratio("r", "r", "z", 0.1, 0.5);
        assert!(
            SearchSpace::new(&[zero, r], SeedCompat::Fixed)
                .unwrap_err()
                .to_string()
                .contains("division by zero")
        );
        let r = FieldSpec::ratio("r", "r", "later", 0.1, 0.5);
        assert!(SearchSpace::new(&[r], SeedCompat::Fixed).is_err());
        let dup = FieldSpec::bool("b", "b");
        assert!(SearchSpace::new(&[dup.clone(), dup], SeedCompat::Fixed).is_err());
    }

    #[test]
    fn env_null_drops_and_inactive_times() {
        let s = SearchSpace::new(
            &[
                FieldSpec::float("requestrate", "env", 0.0, 0.0).with_constant(Value::Null),
                FieldSpec::bool("ssb", "B.supportSelectBatch"),
                FieldSpec::range("pt", "B.prefillTimeMsPerReq", 0, 1000, 10),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let a = s.decode(&[0.0, 0.1]).unwrap();
        let b = s.decode(&[0.0, 0.9]).unwrap();
        assert_eq!(a.env(), vec![("REQUESTRATE".to_owned(), None)]);
        assert_ne!(a.get("pt"), b.get("pt"));
        assert_eq!(a.key(), b.key());
    }
    fn ternary_space(product: f64, pp_max: i64, priority: Option<Value>) -> SearchSpace {
        let mut dp = FieldSpec::ternary_factories("dp", "M.0.dp", ["tp", "pp"], product, true);
        if let (Some(Value::Object(m)), Some(p)) = (dp.dtype_param.as_mut(), priority) {
            m.insert("priority_policy".into(), json!("fixed"));
            m.insert("priority".into(), p);
        }
        SearchSpace::new(
            &[
                FieldSpec::choice("tp", "M.0.tp", vec![json!(1), json!(2), json!(4), json!(8)]),
                FieldSpec::int("pp", "M.0.pp", 1, pp_max),
                dp,
                FieldSpec::times("blocks", "S.blocks", "tp", 8.0, true),
                FieldSpec::ternary_times("world", "env", ["tp", "pp"], 2.0, true),
            ],
            SeedCompat::Fixed,
        )
        .unwrap()
    }

    fn at(s: &SearchSpace, tp: i64, pp: i64, ctx: Option<&DecodeContext>) -> DecodedConfig {
        let mut m = serde_json::Map::new();
        m.insert("tp".into(), json!(tp));
        m.insert("pp".into(), json!(pp));
        s.decode_in(&s.encode(&m).unwrap(), ctx).unwrap()
    }

    fn triple(c: &DecodedConfig) -> (Value, Value, Value) {
        (
            c.get("tp").unwrap().clone(),
            c.get("pp").unwrap().clone(),
            c.get("dp").unwrap().clone(),
        )
    }

    #[test]
    fn derived_kinds_have_no_dimension_and_match_their_formulas() {
        let s = ternary_space(16.0, 4, None);
        assert_eq!(s.dimensions(), 2);
        assert!(
            s.fields()[2..]
                .iter()
                .all(|f| f.dimension.is_none() && f.kind.is_derived())
        );
        let c = at(&s, 4, 2, None);
        // dp = 16/(4·2), blocks = 8·4, world = 2·4·2
        assert_eq!(triple(&c), (json!(4), json!(2), json!(2)));
        assert_eq!(c.get("blocks"), Some(&json!(32)));
        assert_eq!(c.get("world"), Some(&json!(16)));
        assert_eq!(c.env(), vec![("WORLD".to_owned(), Some("16".to_owned()))]);
        assert!(c.is_valid());
        // float dtype keeps the fraction
        let f = SearchSpace::new(
            &[
                FieldSpec::float("a", "a", 1.0, 3.0),
                FieldSpec::int("b", "b", 3, 3),
                FieldSpec::ternary_factories("q", "q", ["a", "b"], 1.0, false),
                FieldSpec::times("t", "t", "a", 0.5, false),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let c = f.decode(&[0.5]).unwrap();
        assert_eq!(c.get_f64("q"), Some(1.0 / (2.0 * 3.0)));
        assert_eq!(c.get_f64("t"), Some(1.0));
    }

    #[test]
    fn ternary_factories_repair_keeps_the_priority_source() {
        // 8/(4·4) truncates to 0 < 1: repair
        let s = ternary_space(8.0, 4, None);
        // no context: target_names order, tp kept, pp moved to the nearest divisor (2)
        assert_eq!(triple(&at(&s, 4, 4, None)), (json!(4), json!(2), json!(1)));
        // balanced, second half of the swarm: reversed, pp kept, tp moved (4 → 2)
        let late = DecodeContext {
            particle: 2,
            n_particles: 4,
            iteration: Some(0),
        };
        assert_eq!(
            triple(&at(&s, 4, 4, Some(&late))),
            (json!(2), json!(4), json!(1))
        );
        // odd iterations flip the direction again
        let late_odd = DecodeContext {
            iteration: Some(1),
            ..late
        };
        assert_eq!(
            triple(&at(&s, 4, 4, Some(&late_odd))),
            (json!(4), json!(2), json!(1))
        );
        let early = DecodeContext {
            particle: 1,
            ..late
        };
        assert_eq!(
            triple(&at(&s, 4, 4, Some(&early))),
            (json!(4), json!(2), json!(1))
        );
        // fixed priority [pp, tp]
        let fixed = ternary_space(8.0, 4, Some(json!(["pp", "tp"])));
        assert_eq!(
            triple(&at(&fixed, 4, 4, None)),
            (json!(2), json!(4), json!(1))
        );
        // not divisible: 16/(2·3) → tp kept, pp 3 → 2 (stage 1)
        let s16 = ternary_space(16.0, 3, None);
        let c = at(&s16, 2, 3, None);
        assert_eq!(triple(&c), (json!(2), json!(2), json!(4)));
        assert!(c.is_valid());
        // stage 2: 12/(8·pp) is never exact for pp ∈ 1..=3, so both move: tp nearest 8 first
        // (8, 4, 2, 1), pp nearest 3 first (3, 2, 1); the first valid pair is (4, 3) → 1
        let s12 = ternary_space(12.0, 3, None);
        assert_eq!(
            triple(&at(&s12, 8, 3, None)),
            (json!(4), json!(3), json!(1))
        );
    }

    #[test]
    fn ternary_factories_without_repair_clamps_or_violates() {
        let wide = |product: f64| {
            SearchSpace::new(
                &[
                    FieldSpec::int("a", "a", 1, 1000),
                    FieldSpec::int("b", "b", 1, 1000),
                    FieldSpec::ternary_factories("d", "d", ["a", "b"], product, true)
                        .with_value(json!(5)),
                ],
                SeedCompat::Seed,
            )
            .unwrap()
        };
        let pos = |a: f64, b: f64| [(a + 0.5 - 1.0) / 999.0, (b + 0.5 - 1.0) / 999.0];
        // 7/(2·2) is not exact and the sources span > 256 values: no repair, no clamp
        let s = wide(7.0);
        let c = s.decode(&pos(2.0, 2.0)).unwrap();
        assert_eq!(c.get("d"), Some(&json!(1)));
        assert!(!c.is_valid());
        assert!(
            c.violations[0].contains("d = 7/(a·b)"),
            "{:?}",
            c.violations
        );
        // 7/(4·4) < 1: clamped to min_value 1 with a warning, accepted
        let c = s.decode(&pos(4.0, 4.0)).unwrap();
        assert_eq!(c.get("d"), Some(&json!(1)));
        assert!(c.is_valid(), "{:?}", c.violations);
        // a zero target keeps the value
        let z = SearchSpace::new(
            &[
                FieldSpec::int("a", "a", 0, 4),
                FieldSpec::int("b", "b", 1, 4),
                FieldSpec::ternary_factories("d", "d", ["a", "b"], 8.0, true).with_value(json!(5)),
            ],
            SeedCompat::Seed,
        )
        .unwrap();
        assert_eq!(z.decode(&[0.0, 0.5]).unwrap().get("d"), Some(&json!(5)));
    }

    #[test]
    fn derived_kinds_validate_their_tables() {
        let tp = FieldSpec::int("tp", "tp", 1, 8);
        let err = |f: FieldSpec| {
            SearchSpace::new(&[tp.clone(), f], SeedCompat::Fixed)
                .unwrap_err()
                .to_string()
        };
        let mut one = FieldSpec::ternary_factories("d", "d", ["tp", "tp"], 8.0, true);
        assert!(err(one.clone()).contains("dtype_param.target_names"));
        one.dtype_param = Some(json!({"target_names": ["tp"], "product": 8}));
        assert!(err(one).contains("two different field names"));
        let later = FieldSpec::ternary_times("d", "d", ["tp", "zz"], 8.0, true);
        assert!(err(later).contains("target `zz` is not a field defined before this one"));
        let mut bad = FieldSpec::times("t", "t", "tp", 2.0, true);
        bad.dtype_param = Some(json!({"target_name": "tp", "product": "x"}));
        assert!(err(bad).contains("dtype_param.product"));
        let mut bad = FieldSpec::times("t", "t", "tp", 2.0, true);
        bad.dtype_param = Some(json!({"target_name": "tp", "product": 2, "dtype": "str"}));
        assert!(err(bad).contains("dtype_param.dtype"));
        let pp = FieldSpec::int("pp", "pp", 1, 8);
        let mut pol = FieldSpec::ternary_factories("d", "d", ["tp", "pp"], 8.0, true);
        if let Some(Value::Object(m)) = pol.dtype_param.as_mut() {
            m.insert("priority_policy".into(), json!("random"));
        }
        let e = SearchSpace::new(&[tp.clone(), pp.clone(), pol.clone()], SeedCompat::Fixed)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("priority_policy") && e.contains("`random`"),
            "{e}"
        );
        if let Some(Value::Object(m)) = pol.dtype_param.as_mut() {
            m.insert("priority_policy".into(), json!("fixed"));
            m.insert("priority".into(), json!(["tp", "dp"]));
        }
        let e = SearchSpace::new(&[tp, pp, pol], SeedCompat::Fixed)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dtype_param.priority"), "{e}");
    }

    #[test]
    fn set_bounds_narrows_int_dimensions_only() {
        let mut s = SearchSpace::new(
            &[
                FieldSpec::int("max_batch_size", "S.maxBatchSize", 10, 1000),
                FieldSpec::int("k", "S.k", 3, 3),
                FieldSpec::choice("p", "S.p", vec![json!(0), json!(1)]),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        s.set_bounds("max_batch_size", 176.0, 345.0).unwrap();
        assert_eq!(s.bounds(), (vec![176.0, 0.0], vec![345.0, 1.0]));
        assert_eq!(
            s.decode(&[1.0, 0.0]).unwrap().get("max_batch_size"),
            Some(&json!(345))
        );
        assert_eq!(
            s.decode(&[0.0, 0.0]).unwrap().get("max_batch_size"),
            Some(&json!(176))
        );
        assert!(
            s.set_bounds("k", 1.0, 2.0)
                .unwrap_err()
                .to_string()
                .contains("not a search dimension")
        );
        assert!(
            s.set_bounds("p", 0.0, 1.0)
                .unwrap_err()
                .to_string()
                .contains("int and float")
        );
        assert!(
            s.set_bounds("nope", 0.0, 1.0)
                .unwrap_err()
                .to_string()
                .contains("`nope`")
        );
        assert!(s.set_bounds("max_batch_size", 5.0, 1.0).is_err());
    }

    /// `env` placement (specs/tuning.md §1.2): upper-cased trimmed names; none/NaN/inf and
    /// empty strings unset the variable; path fields are not exported; env fields do not touch
    /// the JSON tree.
    #[test]
    fn env_placement_exports_upper_cased_names() {
        assert_eq!(Placement::parse(" ENV "), Placement::Env);
        assert_eq!(
            Placement::parse("BackendConfig.ScheduleConfig.maxBatchSize"),
            Placement::Path("BackendConfig.ScheduleConfig.maxBatchSize".into())
        );
        let s = SearchSpace::new(
            &[
                FieldSpec::int(" max_num_seqs ", "env", 8, 256),
                FieldSpec::float("rate", "Env", 1.0, 2.0),
                FieldSpec::choice("extra", "env", vec![json!(""), json!("--enforce-eager")]),
                FieldSpec::bool("flag", "env"),
                FieldSpec::int("mbs", "S.maxBatchSize", 1, 4),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let c = s.decode(&[1.0, 0.5, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(
            c.env(),
            vec![
                ("MAX_NUM_SEQS".to_owned(), Some("256".to_owned())),
                ("RATE".to_owned(), Some("1.5".to_owned())),
                ("EXTRA".to_owned(), None),
                ("FLAG".to_owned(), Some("true".to_owned())),
            ]
        );
        let c = s.decode(&[0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
        assert_eq!(
            c.env()[2],
            ("EXTRA".to_owned(), Some("--enforce-eager".to_owned()))
        );
        let mut tree = json!({});
        c.apply_to_json(&mut tree).unwrap();
        assert_eq!(tree, json!({"S": {"maxBatchSize": 1}}));
        let mut inf = c.clone();
        inf.entries[1].value = json!(f64::INFINITY);
        assert_eq!(inf.env()[1], ("RATE".to_owned(), None));
    }
}

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
    /// `int`, `float`, `bool`, `enum`, `range`, `ratio`, `share`, `factories` or `str`.
    pub dtype: String,
    /// Default or current value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Kind parameter: enum values, range step, ratio/share target name, factories table.
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
    /// A fixed string, no dimension.
    Str,
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
            let is_dim = f.constant.is_none()
                && !matches!(f.kind, FieldKind::Factories { .. } | FieldKind::Str);
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
    /// [`ConstraintMode::Repair`]).
    ///
    /// # Errors
    /// [`PsoError::Dimension`] when `position` has the wrong length.
    pub fn decode(&self, position: &[f64]) -> Result<DecodedConfig> {
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
        // MindIE honours the per-request times only with supportSelectBatch
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
        self.check(&mut cfg);
        Ok(cfg)
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
                FieldKind::Factories { .. } | FieldKind::Str => 0.0,
            };
            pos.push(u);
        }
        Ok(pos)
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
}

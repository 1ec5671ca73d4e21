//! Candidate configurations and command-line templating (`tuning.md` §1.2, `npu.md` §2.2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{NpuError, Result};

/// Where a field's value goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    /// Exported as the environment variable `NAME` and substituted for `$NAME` in argv.
    Env(String),
    /// A dotted path into the engine's JSON config file.
    Path(String),
}

/// One decoded field of a candidate: a name, a `config_position` and a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Field name (its env variable name when upper-cased).
    pub name: String,
    /// `"env"` or a dotted JSON path such as `BackendConfig.ScheduleConfig.maxBatchSize`.
    pub config_position: String,
    /// The value; `null`, NaN or ±inf mean "unset" for env fields.
    pub value: Value,
}

impl Field {
    /// Where this field goes.
    #[must_use]
    pub fn placement(&self) -> Placement {
        if self.config_position.trim().eq_ignore_ascii_case("env") {
            Placement::Env(self.name.trim().to_ascii_uppercase())
        } else {
            Placement::Path(self.config_position.trim().to_owned())
        }
    }
}

/// A candidate configuration: decoded fields in order (the tuner's `DecodedConfig`).
///
/// # Examples
/// ```
/// use npu_backends::DecodedConfig;
/// let cfg = DecodedConfig::new()
///     .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
///     .with_env("MAX_NUM_SEQS", 128);
/// assert_eq!(cfg.env_vars()["MAX_NUM_SEQS"], serde_json::json!(128));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodedConfig {
    /// The fields, in file order.
    pub fields: Vec<Field>,
}

impl DecodedConfig {
    /// An empty configuration.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field written at a dotted path (its name is the last segment).
    #[must_use]
    pub fn with_path(mut self, path: &str, value: impl Into<Value>) -> Self {
        let name = path.rsplit('.').next().unwrap_or(path).to_owned();
        self.fields.push(Field {
            name,
            config_position: path.to_owned(),
            value: value.into(),
        });
        self
    }

    /// Adds an env field (`config_position = "env"`).
    #[must_use]
    pub fn with_env(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.push(Field {
            name: name.to_owned(),
            config_position: "env".to_owned(),
            value: value.into(),
        });
        self
    }

    /// Env fields by upper-cased name (later fields win).
    #[must_use]
    pub fn env_vars(&self) -> BTreeMap<String, Value> {
        self.fields
            .iter()
            .filter_map(|f| match f.placement() {
                Placement::Env(n) => Some((n, f.value.clone())),
                Placement::Path(_) => None,
            })
            .collect()
    }

    /// Path fields as (path, value), in order.
    #[must_use]
    pub fn path_fields(&self) -> Vec<(String, Value)> {
        self.fields
            .iter()
            .filter_map(|f| match f.placement() {
                Placement::Path(p) => Some((p, f.value.clone())),
                Placement::Env(_) => None,
            })
            .collect()
    }
}

/// Whether a value means "unset": `null`, NaN or ±inf (numbers or their string spellings).
#[must_use]
pub fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Number(n) => n.as_f64().is_some_and(|x| !x.is_finite()),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "none" | "nan" | "inf" | "+inf" | "-inf" | "infinity" | "-infinity"
        ),
        _ => false,
    }
}

/// The text of a value as it goes into env or argv: strings as is, integers as integers,
/// floats as the shortest round-trip decimal (`3.7800000000000002`), integral floats without
/// a fraction (`16384`), bools as `true`/`false`. `None` when unset.
#[must_use]
pub fn value_text(v: &Value) -> Option<String> {
    if is_unset(v) {
        return None;
    }
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.fract() == 0.0 && x.abs() < 9.0e15 {
                #[allow(clippy::cast_possible_truncation)]
                let i = x as i64;
                i.to_string()
            } else {
                x.to_string()
            }
        }
        other => other.to_string(),
    })
}

/// Splits a command line with POSIX shell-word rules (quotes, backslashes); no expansion.
///
/// # Errors
/// [`NpuError::InvalidConfig`] on an unterminated quote.
pub fn shell_split(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => {
                            return Err(NpuError::InvalidConfig(format!(
                                "unterminated ' in `{s}`"
                            )));
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => break,
                        },
                        Some(x) => cur.push(x),
                        None => {
                            return Err(NpuError::InvalidConfig(format!(
                                "unterminated \" in `{s}`"
                            )));
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Quotes one word for a POSIX shell (for `command.txt` and logs).
#[must_use]
pub fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Joins argv into one shell-quoted line.
#[must_use]
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Substitutes `$NAME` tokens of `argv` with `vars`.
///
/// A token equal to `$NAME` is replaced by the value's text; an unset value (null/NaN/inf)
/// removes the token **and the token before it** (its flag); an empty string removes the
/// token only; a multi-word string expands into its shell words. A `$NAME` token left without
/// a value is an error.
///
/// # Examples
/// ```
/// # use npu_backends::config::substitute;
/// # use std::collections::BTreeMap;
/// let argv: Vec<String> = "vllm serve m --max-num-seqs $MAX_NUM_SEQS --request-rate $REQUESTRATE"
///     .split(' ').map(String::from).collect();
/// let vars = BTreeMap::from([("MAX_NUM_SEQS".to_string(), serde_json::json!(128)),
///                            ("REQUESTRATE".to_string(), serde_json::Value::Null)]);
/// assert_eq!(substitute(&argv, &vars)?.join(" "), "vllm serve m --max-num-seqs 128");
/// # Ok::<(), npu_backends::NpuError>(())
/// ```
///
/// # Errors
/// [`NpuError::InvalidConfig`] naming an unknown `$VAR`, or a bad multi-word value.
pub fn substitute(argv: &[String], vars: &BTreeMap<String, Value>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(argv.len());
    for tok in argv {
        let name = tok.strip_prefix('$').filter(|n| is_var_name(n));
        let Some(name) = name else {
            out.push(tok.clone());
            continue;
        };
        let Some(value) = vars.get(name) else {
            return Err(NpuError::InvalidConfig(format!(
                "unknown variable `${name}` in the command line (known: {})",
                vars.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        match value_text(value) {
            None => {
                out.pop();
            }
            Some(t) if t.trim().is_empty() => {}
            Some(t) if t.split_whitespace().nth(1).is_some() => out.extend(shell_split(&t)?),
            Some(t) => out.push(t),
        }
    }
    Ok(out)
}

fn is_var_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !n.starts_with(|c: char| c.is_ascii_digit())
}

/// Flags (`--x`) given more than once in argv, for a warning.
#[must_use]
pub fn duplicate_flags(argv: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut dups = Vec::new();
    for a in argv {
        if let Some(flag) = a.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap_or(flag);
            if !seen.insert(flag.to_owned()) && !dups.contains(&flag.to_owned()) {
                dups.push(flag.to_owned());
            }
        }
    }
    dups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(s: &str) -> Vec<String> {
        shell_split(s).unwrap()
    }

    #[test]
    fn spec_templating_example() {
        let argv = words(
            "vllm serve m --max-num-batched-tokens $MAX_NUM_BATCHED_TOKENS --max-num-seqs $MAX_NUM_SEQS",
        );
        let vars = BTreeMap::from([
            ("MAX_NUM_BATCHED_TOKENS".to_owned(), json!(16384.0)),
            ("MAX_NUM_SEQS".to_owned(), json!(128)),
        ]);
        assert_eq!(
            substitute(&argv, &vars).unwrap().join(" "),
            "vllm serve m --max-num-batched-tokens 16384 --max-num-seqs 128"
        );
    }

    #[test]
    fn unset_values_drop_flag_and_token() {
        let argv = words("b --request-rate $R --x 1");
        for v in [Value::Null, json!("inf"), json!("NaN"), json!("none")] {
            let vars = BTreeMap::from([("R".to_owned(), v)]);
            assert_eq!(substitute(&argv, &vars).unwrap(), words("b --x 1"));
        }
        let rate = 1.05 * 3.6;
        let vars = BTreeMap::from([("R".to_owned(), json!(rate))]);
        assert_eq!(
            substitute(&argv, &vars).unwrap().join(" "),
            "b --request-rate 3.7800000000000002 --x 1"
        );
    }

    #[test]
    fn empty_and_multi_word_values() {
        let argv = words("vllm serve m $COMPILATION_CONFIG --y");
        let empty = BTreeMap::from([("COMPILATION_CONFIG".to_owned(), json!(""))]);
        assert_eq!(
            substitute(&argv, &empty).unwrap(),
            words("vllm serve m --y")
        );
        let multi = BTreeMap::from([(
            "COMPILATION_CONFIG".to_owned(),
            json!(r#"--compilation-config '{"level": 3}'"#),
        )]);
        let out = substitute(&argv, &multi).unwrap();
        assert_eq!(out[3], "--compilation-config");
        assert_eq!(out[4], r#"{"level": 3}"#);
        assert_eq!(out[5], "--y");
    }

    #[test]
    fn unknown_var_is_error() {
        let err = substitute(&words("x --a $NOPE"), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("$NOPE"), "{err}");
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
        fn join_then_split_is_identity(words in proptest::collection::vec("\\PC{0,12}", 0..6)) {
            let joined = shell_join(&words);
            proptest::prop_assert_eq!(shell_split(&joined).unwrap(), words);
        }

        #[test]
        fn split_never_panics(s in "\\PC{0,60}") {
            let _ = shell_split(&s);
        }
    }

    #[test]
    fn shell_words_and_quoting() {
        assert_eq!(
            words(r#"a "b c" 'd e' f\ g --j='{"k": 1}'"#),
            vec!["a", "b c", "d e", "f g", r#"--j={"k": 1}"#]
        );
        assert!(shell_split("'oops").is_err());
        assert_eq!(shell_join(&words("a 'b c'")), "a 'b c'");
        assert_eq!(duplicate_flags(&words("--a 1 --b --a 2")), vec!["a"]);
    }
}

//! `llm-perf predict view`: the llm-profiler's `view` — a predictors file's weights, then
//! predictions from lines read on stdin, interactive at a terminal and scriptable in a pipe.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use llm_perf::predict::Stage;

use crate::predict_cmd::{Loaded, config_names, load, predict_ms, show_loaded};
use crate::table::num;

/// Arguments of `llm-perf predict view`.
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Predictors file (llm-perf's envelope, the seed's shape, or a Vidur predictor).
    file: PathBuf,
}

/// What the session has been told so far.
#[derive(Debug, Default)]
struct Query {
    stage: Option<Stage>,
    bs: Option<f64>,
    input_len: Option<f64>,
    config: String,
}

const HELP: &str = "lines: `mode prefill|decode`, `bs N`, `input-len L`, `config NAME`; \
                    a prediction follows every line once mode, bs and input-len are set";

/// Applies one line to `q`; `Ok(false)` for a blank line or a comment.
fn apply(line: &str, q: &mut Query, configs: &[String]) -> Result<bool, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(false);
    }
    let mut words = line.split_whitespace();
    let key = words.next().unwrap_or_default();
    let value = words.next();
    if words.next().is_some() {
        return Err(format!("`{line}`: one key and one value per line ({HELP})"));
    }
    let number = |what: &str| -> Result<f64, String> {
        let v = value.ok_or_else(|| format!("`{what}` needs a value"))?;
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("{what} = {v}: expected a number >= 0"))
    };
    match key {
        "mode" => {
            q.stage = Some(match value {
                Some("prefill") => Stage::Prefill,
                Some("decode") => Stage::Decode,
                other => {
                    return Err(format!(
                        "mode = {}: expected prefill or decode",
                        other.unwrap_or("(nothing)")
                    ));
                }
            });
        }
        "bs" => q.bs = Some(number("bs")?),
        "input-len" | "input_len" => q.input_len = Some(number("input-len")?),
        "config" => {
            let v = value.ok_or("`config` needs a name")?;
            if !configs.iter().any(|c| c == v) {
                return Err(format!(
                    "config = {v}: not in the file (configurations: {})",
                    configs.join(", ")
                ));
            }
            v.clone_into(&mut q.config);
        }
        "help" => return Err(HELP.to_owned()),
        other => return Err(format!("unknown key `{other}` ({HELP})")),
    }
    Ok(true)
}

/// Runs a session over `input`, writing to `out`; `prompt` before each line (a terminal).
/// Errors in a line are reported and the session goes on; returns how many lines failed.
fn session(
    loaded: &Loaded,
    input: impl BufRead,
    out: &mut impl Write,
    prompt: bool,
) -> Result<usize> {
    let configs = config_names(loaded);
    let mut q = Query {
        config: configs.first().cloned().unwrap_or_default(),
        ..Query::default()
    };
    let mut failed = 0;
    if prompt {
        write!(out, "{HELP}\n> ")?;
        out.flush()?;
    }
    for line in input.lines() {
        match apply(&line?, &mut q, &configs) {
            Ok(false) => {}
            Ok(true) => {
                if let (Some(stage), Some(bs), Some(len)) = (q.stage, q.bs, q.input_len) {
                    match predict_ms(loaded, &q.config, stage, bs, len) {
                        Ok(ms) => writeln!(
                            out,
                            "{} ms  (config {}, {}, bs {bs}, input-len {len})",
                            num(ms, 6),
                            q.config,
                            match stage {
                                Stage::Prefill => "prefill",
                                Stage::Decode => "decode",
                            }
                        )?,
                        Err(e) => {
                            failed += 1;
                            writeln!(out, "error: {e}")?;
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(out, "error: {e}")?;
            }
        }
        if prompt {
            write!(out, "> ")?;
            out.flush()?;
        }
    }
    if prompt {
        writeln!(out)?;
    }
    Ok(failed)
}

/// Runs `llm-perf predict view`: the weights (as `predict show`), then the session on stdin.
/// The output streams (it is interactive), so the returned text is empty.
pub fn view(a: &ViewArgs) -> Result<String> {
    let loaded = load(&a.file)?;
    let weights = show_loaded(load(&a.file)?, false)?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    out.write_all(weights.as_bytes())?;
    let failed = session(&loaded, stdin.lock(), &mut out, stdin.is_terminal())?;
    if failed > 0 {
        anyhow::bail!("{failed} line(s) of input were not understood (see above)");
    }
    Ok(String::new())
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn lines_update_the_query_and_bad_ones_say_why() {
        let configs = vec!["a".to_owned(), "b".to_owned()];
        let mut q = Query {
            config: "a".into(),
            ..Query::default()
        };
        assert_eq!(apply("  # comment", &mut q, &configs), Ok(false));
        assert_eq!(apply("mode decode", &mut q, &configs), Ok(true));
        assert_eq!(apply("bs 8", &mut q, &configs), Ok(true));
        assert_eq!(apply("input-len 512", &mut q, &configs), Ok(true));
        assert_eq!(apply("config b", &mut q, &configs), Ok(true));
        assert_eq!(
            (q.bs, q.input_len, q.config.as_str()),
            (Some(8.0), Some(512.0), "b")
        );
        assert!(matches!(q.stage, Some(Stage::Decode)));
        let err = |l: &str| apply(l, &mut Query::default(), &configs).unwrap_err();
        assert!(err("mode both").contains("expected prefill or decode"));
        assert!(err("bs -1").contains("bs = -1: expected a number >= 0"));
        assert!(err("config c").contains("configurations: a, b"));
        assert!(err("speed 3").contains("unknown key `speed`"));
        assert!(err("bs 1 2").contains("one key and one value"));
    }
}

//! `llm-perf engines`: the serving engines and benchmark runners the tuner's real-benchmark mode
//! can drive (built-ins and their aliases).

use anyhow::Result;
use clap::Args;
use llm_perf::npu::Registry;

use crate::table::Table;

/// Arguments of `llm-perf engines`.
#[derive(Args, Debug)]
pub struct EnginesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `llm-perf engines`.
pub fn engines(args: &EnginesArgs) -> Result<String> {
    let registry = Registry::with_builtins();
    let aliases_of = |name: &str| -> Vec<String> {
        registry
            .aliases()
            .iter()
            .filter(|(_, target)| target.as_str() == name)
            .map(|(alias, _)| alias.clone())
            .collect()
    };
    let rows: Vec<(&str, String, Vec<String>)> = registry
        .engine_names()
        .into_iter()
        .map(|n| ("engine", n))
        .chain(
            registry
                .benchmark_names()
                .into_iter()
                .map(|n| ("benchmark", n)),
        )
        .map(|(kind, name)| {
            let aliases = aliases_of(&name);
            (kind, name, aliases)
        })
        .collect();
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(kind, name, aliases)| {
                serde_json::json!({ "kind": kind, "name": name, "aliases": aliases })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list)? + "\n");
    }
    let mut t = Table::new(&["kind", "name", "aliases"]);
    for (kind, name, aliases) in rows {
        t.row(vec![kind.to_owned(), name, aliases.join(", ")]);
    }
    Ok(t.render())
}

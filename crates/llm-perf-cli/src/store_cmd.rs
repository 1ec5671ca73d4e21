//! `llm-perf store import|list|rm`: the benchmark store of `llm-perf serve`, without a server,
//! so scripts can fill and prune it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llm_perf_server::ServerError;
use llm_perf_server::store::{self, Store, UploadRequest};
use serde::Serialize;

use crate::table::Table;

/// Where the database is: `--db`, else `LLM_PERF_DB`, else the platform data directory.
#[derive(Args, Clone, Debug, Default)]
pub struct DbArgs {
    /// Database file (`:memory:` for a throw-away one); default `LLM_PERF_DB`, else
    /// `$XDG_DATA_HOME/llm-perf/llm-perf.db`.
    #[arg(long, value_name = "PATH")]
    pub db: Option<String>,
}

/// Opens the database `args` names, creating it on first use.
///
/// # Errors
/// No path can be found, or the file cannot be opened or migrated.
pub fn open_store(args: &DbArgs) -> Result<Store> {
    let path = match (&args.db, std::env::var("LLM_PERF_DB")) {
        (Some(p), _) => p.clone(),
        (None, Ok(p)) if !p.is_empty() => p,
        _ => Store::default_path()?.display().to_string(),
    };
    Store::open(&path).with_context(|| format!("cannot open the store {path}"))
}

/// Arguments of `llm-perf store`.
#[derive(Args, Debug)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Store benchmark files (any format `llm-perf read` detects); duplicates are reported.
    Import(ImportArgs),
    /// List stored benchmarks.
    List(ListArgs),
    /// Delete benchmarks by id.
    Rm(RmArgs),
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// Files to store.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
    /// Model name for files that name none.
    #[arg(long)]
    model: Option<String>,
    /// Accelerator for files that name none.
    #[arg(long)]
    accelerator: Option<String>,
    /// Engine for files that name none.
    #[arg(long)]
    engine: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RmArgs {
    /// Benchmark ids.
    #[arg(required = true)]
    ids: Vec<i64>,
    #[command(flatten)]
    db: DbArgs,
}

/// Runs `llm-perf store …`.
pub fn store(args: &StoreArgs) -> Result<String> {
    match &args.command {
        StoreCommand::Import(a) => import(a),
        StoreCommand::List(a) => list(a),
        StoreCommand::Rm(a) => rm(a),
    }
}

/// What happened to one file.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Outcome {
    Stored(store::StoredUpload),
    Duplicate { upload_id: i64, message: String },
    Failed { message: String },
    Skipped { message: String },
}

/// The file earlier in the list that `path` is the AISBench partner of (`x.json` / `x.csv`,
/// both AISBench), if any.
fn aisbench_partner<'a>(path: &std::path::Path, earlier: &'a [PathBuf]) -> Option<&'a PathBuf> {
    let ext = path.extension()?.to_str()?;
    let other = match ext {
        "json" => path.with_extension("csv"),
        "csv" => path.with_extension("json"),
        _ => return None,
    };
    let is_aisbench = |p: &std::path::Path| {
        std::fs::read(p).ok().is_some_and(|b| {
            matches!(
                llm_perf::readers::detect(&b, Some(p)),
                llm_perf::readers::Format::AisbenchJson | llm_perf::readers::Format::AisbenchCsv
            )
        })
    };
    earlier
        .iter()
        .find(|e| **e == other)
        .filter(|e| is_aisbench(e) && is_aisbench(path))
}

fn import(a: &ImportArgs) -> Result<String> {
    let db = open_store(&a.db)?;
    let mut results = Vec::with_capacity(a.files.len());
    for (i, path) in a.files.iter().enumerate() {
        let shown = path.display().to_string();
        // An AISBench pair is read as one result from either file: store it once.
        if let Some(first) = aisbench_partner(path, &a.files[..i]) {
            results.push((
                shown,
                Outcome::Skipped {
                    message: format!("read together with {}", first.display()),
                },
            ));
            continue;
        }
        let request = UploadRequest {
            model: a.model.clone(),
            accelerator: a.accelerator.clone(),
            engine: a.engine.clone(),
            ..UploadRequest::default()
        };
        let outcome = match store::parse_upload_path(path, request)
            .and_then(|parsed| db.with_conn(|c| store::insert_upload(c, &parsed)))
        {
            Ok(stored) => Outcome::Stored(stored),
            Err(ServerError::Duplicate(d)) => Outcome::Duplicate {
                upload_id: d.upload_id,
                message: ServerError::Duplicate(d).to_string(),
            },
            Err(e) if e.status().is_client_error() => Outcome::Failed {
                message: e.to_string(),
            },
            Err(ServerError::Io { path, source }) => Outcome::Failed {
                message: format!("{path}: {source}"),
            },
            Err(e) => return Err(e).context(format!("storing {shown}")),
        };
        results.push((shown, outcome));
    }
    let stored = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Stored(_)))
        .count();
    let duplicates = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Duplicate { .. }))
        .count();
    let skipped = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped { .. }))
        .count();
    let failed = results.len() - stored - duplicates - skipped;
    let text = if a.json {
        let list: Vec<_> = results
            .iter()
            .map(|(f, o)| serde_json::json!({ "file": f, "result": o }))
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "database": db.location(),
            "stored": stored,
            "duplicates": duplicates,
            "failed": failed,
            "skipped": skipped,
            "files": list,
        }))? + "\n"
    } else {
        let mut out = String::new();
        for (file, o) in &results {
            let line = match o {
                Outcome::Stored(s) => {
                    let parts: Vec<String> = s
                        .benchmarks
                        .iter()
                        .map(|b| {
                            format!(
                                "benchmark {} `{}` {} points",
                                b.benchmark_id, b.model, b.points
                            )
                        })
                        .collect();
                    let mut line = if parts.is_empty() {
                        format!(
                            "stored {file} ({} {}): {}",
                            s.format,
                            s.kind.as_str(),
                            s.summary
                        )
                    } else {
                        format!("stored {file} ({}): {}", s.format, parts.join(", "))
                    };
                    for w in &s.warnings {
                        line.push_str(&format!("\n  warning: {w}"));
                    }
                    line
                }
                Outcome::Duplicate { message, .. } => format!("duplicate: {message}"),
                Outcome::Failed { message } => format!("failed: {message}"),
                Outcome::Skipped { message } => format!("skipped {file}: {message}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "{stored} stored, {duplicates} already stored, {skipped} skipped, {failed} failed ({} files) in {}\n",
            results.len(),
            db.location()
        ));
        out
    };
    if failed > 0 {
        // The report goes out first: the caller sees which files failed and why.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
        bail!("{failed} of {} files could not be stored", results.len());
    }
    Ok(text)
}

fn list(a: &ListArgs) -> Result<String> {
    let db = open_store(&a.db)?;
    let all = db.with_conn(|c| store::all_benchmarks(c))?;
    if a.json {
        return Ok(serde_json::to_string_pretty(&all)? + "\n");
    }
    if all.is_empty() {
        return Ok(format!("no benchmarks stored in {}\n", db.location()));
    }
    let mut t = Table::new(&[
        "id", "model", "points", "in tok", "out tok", "format", "file", "uploaded",
    ]);
    for b in &all {
        t.row(vec![
            b.benchmark_id.to_string(),
            b.provider_model.clone(),
            b.num_runs.to_string(),
            crate::table::num(b.avg_input_tokens, 5),
            crate::table::num(b.avg_output_tokens, 5),
            b.format.clone(),
            b.file_name.clone(),
            b.upload_date.clone(),
        ]);
    }
    Ok(t.render())
}

fn rm(a: &RmArgs) -> Result<String> {
    let db = open_store(&a.db)?;
    let mut out = String::new();
    for &id in &a.ids {
        let points = db
            .with_conn(|c| store::delete_benchmark(c, id))
            .with_context(|| format!("cannot delete benchmark {id}"))?;
        out.push_str(&format!("deleted benchmark {id} ({points} points)\n"));
    }
    Ok(out)
}

//! `llm-perf sweep`: plan, run (sharded), merge and submit (SLURM, Kubernetes) a grid of
//! simulations. The logic is the facade's `llm_perf::sweep`; this file parses flags and
//! prints.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use llm_perf::sweep::{
    Kubernetes, Merged, ResultStore, Scheduler, Shard, Slurm, SubmitOptions, Sweep, Volume, merge,
    read_list, run_shard, submit_sweep, write_atomic,
};

use crate::table::{Table, num};

/// Arguments of `llm-perf sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: SweepCommand,
}

#[derive(Subcommand, Debug)]
enum SweepCommand {
    /// List a sweep's items (ids, overrides, seeds) and its estimated cost.
    Plan(PlanArgs),
    /// Simulate the items of one shard (or all) into a results directory, one file per item;
    /// items already there are skipped.
    Run(RunArgs),
    /// Gather a results directory into one table (CSV and JSON) in item order, listing
    /// missing and failed items.
    Merge(MergeArgs),
    /// Write a SLURM array script or a Kubernetes Indexed Job for the sweep and submit it
    /// (SLURM) or print the kubectl command.
    Submit(Box<SubmitArgs>),
}

/// Arguments of `llm-perf sweep plan`.
#[derive(Args, Debug)]
struct PlanArgs {
    /// The sweep file (YAML or JSON; see docs/sweep.md), or a results directory's plan.json.
    file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `llm-perf sweep run`.
#[derive(Args, Debug)]
struct RunArgs {
    /// The sweep file, or a results directory's plan.json.
    file: PathBuf,
    /// The results directory (created if missing; on a shared filesystem for a cluster).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Run the items whose position ≡ I mod N. Default: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX with --shards, else every item.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The number of shards when the index comes from JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job's completions).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Run only the items listed in this file (one id a line, as `submit --only-missing`
    /// writes); the shard applies to positions in the list.
    #[arg(long, value_name = "FILE")]
    items: Option<PathBuf>,
    /// Simulate up to this many items at once.
    #[arg(long, default_value_t = 1, value_name = "J")]
    jobs: usize,
}

/// Arguments of `llm-perf sweep merge`.
#[derive(Args, Debug)]
struct MergeArgs {
    /// The results directory of `sweep run` / `sweep submit`.
    dir: PathBuf,
    /// Write `merged.csv` and `merged.json` into this directory (created if missing).
    #[arg(long, value_name = "DIR2")]
    out: Option<PathBuf>,
    /// Exit with code 2 when any item is missing or failed.
    #[arg(long)]
    strict: bool,
    /// Print the merged JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `llm-perf sweep submit`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("scheduler").required(true).args(["slurm", "k8s"]))]
struct SubmitArgs {
    /// The sweep file.
    file: PathBuf,
    /// Submit a SLURM job array (`DIR/sweep.sbatch`, `sbatch --parsable`; prints the job id).
    #[arg(long)]
    slurm: bool,
    /// Write a Kubernetes Indexed Job (`DIR/sweep-job.yaml`) and print the `kubectl apply`
    /// command (kubectl is never run).
    #[arg(long)]
    k8s: bool,
    /// The results directory, on a filesystem every task sees at the same path.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write the job file and print it, without submitting.
    #[arg(long)]
    dry_run: bool,
    /// Tasks in the array (default: one per item to run; never more than the items).
    #[arg(long, value_name = "N")]
    tasks: Option<usize>,
    /// Submit only the items without a result (missing or failed).
    #[arg(long)]
    only_missing: bool,
    /// SLURM time limit per task.
    #[arg(long, default_value = "01:00:00", conflicts_with = "k8s")]
    time: String,
    /// SLURM partition.
    #[arg(long, conflicts_with = "k8s")]
    partition: Option<String>,
    /// SLURM account.
    #[arg(long, conflicts_with = "k8s")]
    account: Option<String>,
    /// SLURM generic resources per task (`gpu:1`, `npu:8`).
    #[arg(long, conflicts_with = "k8s")]
    gres: Option<String>,
    /// Wait until the SLURM job has ended (polling squeue every second), at most this many
    /// seconds.
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["k8s", "dry_run"])]
    wait: Option<u64>,
    /// Kubernetes: the container image with `llm-perf` on its PATH.
    #[arg(long, conflicts_with = "slurm")]
    image: Option<String>,
    /// Kubernetes: an extended resource per pod, NAME=COUNT (`nvidia.com/gpu=1`,
    /// `huawei.com/Ascend910=1`); repeatable.
    #[arg(long, value_name = "NAME=COUNT", conflicts_with = "slurm")]
    gpu: Vec<String>,
    /// Kubernetes: mount this PersistentVolumeClaim at the results directory's path (default:
    /// the node's directory, hostPath).
    #[arg(long, value_name = "CLAIM", conflicts_with = "slurm")]
    pvc: Option<String>,
    /// Kubernetes: CPU request and limit per pod.
    #[arg(long, default_value = "1", conflicts_with = "slurm")]
    cpu: String,
    /// Kubernetes: memory request and limit per pod.
    #[arg(long, default_value = "2Gi", conflicts_with = "slurm")]
    memory: String,
    /// Kubernetes: the namespace.
    #[arg(long, conflicts_with = "slurm")]
    namespace: Option<String>,
    /// The llm-perf the tasks run (default: this binary's absolute path for SLURM,
    /// `llm-perf` on the image's PATH for Kubernetes).
    #[arg(long, value_name = "PATH")]
    program: Option<String>,
}

/// Runs `llm-perf sweep …`.
pub fn sweep(args: &SweepArgs) -> Result<String> {
    match &args.command {
        SweepCommand::Plan(a) => plan(a),
        SweepCommand::Run(a) => run(a),
        SweepCommand::Merge(a) => merge_cmd(a),
        SweepCommand::Submit(a) => submit(a),
    }
}

fn plan(args: &PlanArgs) -> Result<String> {
    let sweep = Sweep::load(&args.file)?;
    let mut rows = Vec::new();
    let mut total = 0.0;
    let mut known = true;
    for item in sweep.items() {
        let (expected, invalid) = match sweep.config(item) {
            Ok(c) => match c.validate() {
                Ok(()) => (c.expected_requests(), None),
                Err(e) => (c.expected_requests(), Some(e.to_string())),
            },
            Err(e) => (None, Some(e.to_string())),
        };
        match expected {
            Some(n) => total += n,
            None => known = false,
        }
        rows.push((item, expected, invalid));
    }
    let n = sweep.items().len();
    if args.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(item, expected, invalid)| {
                serde_json::json!({
                    "index": item.index,
                    "id": item.id,
                    "seed": item.seed,
                    "overrides": item.overrides,
                    "expected_requests": expected,
                    "invalid": invalid,
                })
            })
            .collect();
        let out = serde_json::json!({
            "name": sweep.name(),
            "file": sweep.file(),
            "items": n,
            "override_sets": sweep.shape().map(|s| s.0),
            "seeds_per_set": sweep.shape().map(|s| s.1),
            "expected_requests": known.then_some(total),
            "rows": items,
        });
        return Ok(serde_json::to_string_pretty(&out)? + "\n");
    }
    let mut out = String::new();
    let shape = sweep.shape().map_or_else(String::new, |(s, k)| {
        format!(" = {s} override sets × {k} seeds")
    });
    let _ = writeln!(
        out,
        "sweep {} ({}): {n} items{shape}",
        sweep.name(),
        sweep.file()
    );
    #[allow(clippy::cast_precision_loss)]
    if known {
        let _ = writeln!(
            out,
            "estimated cost: {} simulated requests in all, {} per item on average",
            num(total, 8),
            num(total / n.max(1) as f64, 6)
        );
    } else {
        let _ = writeln!(
            out,
            "estimated cost: unknown for some items (closed-loop or trace-file arrivals without \
             max_requests); {} simulated requests for the others",
            num(total, 8)
        );
    }
    out.push('\n');
    let paths = override_paths(sweep.items().iter().map(|i| &i.overrides));
    let mut header = vec!["id".to_owned(), "seed".to_owned()];
    header.extend(paths.iter().cloned());
    header.push("expected requests".to_owned());
    let mut table = Table::new(&header);
    for (item, expected, invalid) in &rows {
        let mut cells = vec![item.id.clone(), item.seed.to_string()];
        cells.extend(paths.iter().map(|p| value_text(item.overrides.get(p))));
        cells.push(match (expected, invalid) {
            (_, Some(_)) => "invalid".to_owned(),
            (Some(e), None) => num(*e, 8),
            (None, None) => "unknown".to_owned(),
        });
        table.row(cells);
    }
    out.push_str(&table.render());
    let invalid: Vec<String> = rows
        .iter()
        .filter_map(|(item, _, inv)| inv.as_ref().map(|m| format!("  {}: {m}", item.id)))
        .collect();
    if !invalid.is_empty() {
        let _ = writeln!(
            out,
            "\n{} item(s) will fail (invalid config):\n{}",
            invalid.len(),
            invalid.join("\n")
        );
    }
    Ok(out)
}

fn run(args: &RunArgs) -> Result<String> {
    let sweep = Sweep::load(&args.file)?;
    let shard = match &args.shard {
        Some(text) => text.parse::<Shard>()?,
        None => match Shard::from_env(|v| std::env::var(v).ok(), args.shards)? {
            Some(s) => s,
            None if args.shards.is_some() => anyhow::bail!(
                "--shards {} needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it); \
                 outside one, give --shard I/N",
                args.shards.unwrap_or(0)
            ),
            None => Shard::ALL,
        },
    };
    if args.jobs == 0 {
        anyhow::bail!("--jobs 0: must be at least 1");
    }
    let store = ResultStore::create(&args.out)?;
    let items = match &args.items {
        Some(list) => read_list(list, &sweep)?,
        None => sweep.items().iter().collect(),
    };
    let started = std::time::Instant::now();
    let report = run_shard(&sweep, &store, &items, shard, args.jobs)?;
    let seconds = started.elapsed().as_secs_f64();
    let of = if args.items.is_some() {
        format!("listed {} of {}", items.len(), sweep.items().len())
    } else {
        sweep.items().len().to_string()
    };
    let text = format!(
        "sweep {}, shard {shard}: {} of {of} items: {} simulated, {} already present, {} failed \
         ({} s; results in {})\n",
        sweep.name(),
        report.assigned,
        report.ran - report.failed.len(),
        report.skipped,
        report.failed.len(),
        num(seconds, 3),
        store.items_dir().display()
    );
    if report.failed.is_empty() {
        return Ok(text);
    }
    print!("{text}");
    let first = &report.failed[0];
    anyhow::bail!(
        "{} item(s) failed, first {}: {} (see {}/<id>.failed.json)",
        report.failed.len(),
        first.0,
        first.1,
        store.items_dir().display()
    )
}

fn merge_cmd(args: &MergeArgs) -> Result<String> {
    let store = ResultStore::open(&args.dir)?;
    let merged = merge(&store)?;
    let mut wrote = Vec::new();
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        for (name, text) in [
            ("merged.csv", merged.to_csv()),
            ("merged.json", merged.to_json()?),
        ] {
            let path = out.join(name);
            write_atomic(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            wrote.push(path);
        }
    }
    let text = if args.json {
        merged.to_json()?
    } else {
        render_merged(&merged, &wrote)
    };
    if args.strict && !merged.complete {
        print!("{text}");
        anyhow::bail!(
            "sweep {} is incomplete: {} missing, {} failed of {} items (--strict)",
            merged.name,
            merged.missing.len(),
            merged.failed.len(),
            merged.items
        );
    }
    Ok(text)
}

fn render_merged(m: &Merged, wrote: &[PathBuf]) -> String {
    let mut header = vec!["id".to_owned(), "seed".to_owned()];
    header.extend(m.override_paths.iter().cloned());
    let goodput = m.rows.iter().any(|r| r.metrics.goodput_rps.is_some());
    header.extend(
        [
            "req/s",
            "tok/s",
            "TTFT mean",
            "TTFT p99",
            "TPOT mean",
            "TPOT p99",
            "E2E mean",
            "E2E p99",
        ]
        .map(str::to_owned),
    );
    if goodput {
        header.push("goodput req/s".to_owned());
    }
    let mut table = Table::new(&header);
    for r in &m.rows {
        let x = &r.metrics;
        let mut cells = vec![r.id.clone(), r.seed.to_string()];
        cells.extend(
            m.override_paths
                .iter()
                .map(|p| value_text(r.overrides.get(p))),
        );
        cells.extend(
            [
                x.throughput_rps,
                x.output_tokens_per_s,
                x.ttft_mean_ms,
                x.ttft_p99_ms,
                x.tpot_mean_ms,
                x.tpot_p99_ms,
                x.e2e_mean_ms,
                x.e2e_p99_ms,
            ]
            .map(|v| num(v, 5)),
        );
        if goodput {
            cells.push(x.goodput_rps.map_or_else(String::new, |g| num(g, 5)));
        }
        table.row(cells);
    }
    let mut out = format!(
        "sweep {}: {} of {} items merged (latencies in ms)\n\n",
        m.name,
        m.rows.len(),
        m.items
    );
    out.push_str(&table.render());
    if !m.missing.is_empty() {
        let _ = writeln!(
            out,
            "\nmissing ({}): {}",
            m.missing.len(),
            m.missing.join(", ")
        );
    }
    if !m.failed.is_empty() {
        let _ = writeln!(out, "\nfailed ({}):", m.failed.len());
        for f in &m.failed {
            let _ = writeln!(out, "  {}: {}", f.id, f.error);
        }
    }
    if m.complete {
        out.push_str("\ncomplete: every item has a result\n");
    } else {
        let _ = writeln!(
            out,
            "\nincomplete: rerun `llm-perf sweep run` (present items are skipped) or \
             `sweep submit --only-missing`"
        );
    }
    for p in wrote {
        let _ = writeln!(out, "wrote {}", p.display());
    }
    out
}

fn submit(args: &SubmitArgs) -> Result<String> {
    let sweep = Sweep::load(&args.file)?;
    let store = ResultStore::create(&args.out)?;
    let dir = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let (scheduler, program, input): (Box<dyn Scheduler>, String, String) = if args.slurm {
        let program = match &args.program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .and_then(std::fs::canonicalize)
                .context("cannot find the path of this llm-perf binary: give --program")?
                .display()
                .to_string(),
        };
        let file = std::fs::canonicalize(&args.file)
            .with_context(|| format!("cannot resolve {}", args.file.display()))?;
        let slurm = Slurm {
            time: Some(args.time.clone()),
            partition: args.partition.clone(),
            account: args.account.clone(),
            gres: args.gres.clone(),
            ..Slurm::default()
        };
        (Box::new(slurm), program, file.display().to_string())
    } else {
        let Some(image) = &args.image else {
            anyhow::bail!("--k8s needs --image: the container image that has llm-perf");
        };
        let accelerators = args
            .gpu
            .iter()
            .map(|g| parse_resource(g))
            .collect::<Result<Vec<_>>>()?;
        let k8s = Kubernetes {
            image: image.clone(),
            namespace: args.namespace.clone(),
            volume: args.pvc.clone().map_or(Volume::HostPath, Volume::Claim),
            cpu: args.cpu.clone(),
            memory: args.memory.clone(),
            accelerators,
            ..Kubernetes::default()
        };
        let program = args
            .program
            .clone()
            .unwrap_or_else(|| "llm-perf".to_owned());
        // pods read the frozen plan from the mounted results directory
        (
            Box::new(k8s),
            program,
            dir.join("plan.json").display().to_string(),
        )
    };
    let options = SubmitOptions {
        program,
        input,
        tasks: args.tasks,
        only_missing: args.only_missing,
        // kubectl is never run here
        dry_run: args.dry_run || args.k8s,
    };
    let outcome = submit_sweep(&sweep, &store, scheduler.as_ref(), &options)?;
    let Some(job_file) = &outcome.job_file else {
        return Ok(format!(
            "nothing to submit: all {} items of sweep {} have results in {}\n",
            outcome.items,
            sweep.name(),
            dir.display()
        ));
    };
    eprintln!(
        "{}: {} of {} items in {} tasks{}",
        job_file.display(),
        outcome.to_run,
        outcome.items,
        outcome.tasks,
        outcome
            .list
            .as_ref()
            .map_or_else(String::new, |l| format!(" (item list {})", l.display()))
    );
    if args.dry_run {
        return Ok(outcome.text);
    }
    if args.k8s {
        return Ok(format!("kubectl apply -f {}\n", job_file.display()));
    }
    let Some(job) = outcome.submission else {
        anyhow::bail!("sbatch returned no job id");
    };
    if let Some(seconds) = args.wait {
        // The id first, so a caller reading stdout sees it before the wait.
        println!("{}", job.id);
        let started = std::time::Instant::now();
        scheduler.wait(
            &job,
            std::time::Duration::from_secs(seconds),
            std::time::Duration::from_secs(1),
        )?;
        eprintln!(
            "job {} ended after {} s",
            job.id,
            num(started.elapsed().as_secs_f64(), 3)
        );
        return Ok(String::new());
    }
    Ok(format!("{}\n", job.id))
}

/// `NAME=COUNT` of `--gpu`.
pub(crate) fn parse_resource(text: &str) -> Result<(String, u32)> {
    let (name, count) = text
        .split_once('=')
        .with_context(|| format!("--gpu {text}: expected NAME=COUNT, e.g. nvidia.com/gpu=1"))?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|c| *c > 0)
        .with_context(|| format!("--gpu {text}: the count must be a positive integer"))?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        anyhow::bail!("--gpu {text}: the resource name must be one word, e.g. nvidia.com/gpu");
    }
    Ok((name.to_owned(), count))
}

/// Every override path, in order of first appearance.
fn override_paths<'a>(sets: impl Iterator<Item = &'a llm_perf::sweep::Overrides>) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for o in sets {
        for (p, _) in o.entries() {
            if !paths.contains(p) {
                paths.push(p.clone());
            }
        }
    }
    paths
}

/// An override value in a table cell: strings bare, others as JSON, absent empty.
fn value_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

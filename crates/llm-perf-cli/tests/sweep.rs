//! `llm-perf sweep` end to end: plan, sharded runs merging to the same bytes as an unsharded
//! one, reruns skipping finished items, failed items, one-line errors, the SLURM script and
//! the Kubernetes manifest (golden files), and a real SLURM job array when SLURM is up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SAMPLE: &str = "samples/sweep/sim_grid.yaml";

fn repo() -> PathBuf {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .expect("the repository root exists")
}

fn sample() -> PathBuf {
    repo().join(SAMPLE)
}

fn bin() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_llm-perf")).expect("the binary exists")
}

/// Runs `llm-perf ARGS` with no scheduler variables inherited, plus `env`.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the llm-perf binary runs")
}

fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and asserts success; returns stdout.
fn ok(args: &[&str]) -> String {
    ok_env(args, &[])
}

fn ok_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run_env(args, env);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts exit code 2 and a one-line error containing `needle`.
fn fails(args: &[&str], needle: &str) {
    let out = run(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected `{needle}` in: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `sweep merge DIR --out DIR/merged` → (merged.csv, merged.json) bytes.
fn merged(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let out = dir.join("merged");
    ok(&["sweep", "merge", s(dir), "--out", s(&out), "--strict"]);
    (
        std::fs::read(out.join("merged.csv")).expect("merged.csv"),
        std::fs::read(out.join("merged.json")).expect("merged.json"),
    )
}

/// The sample run unsharded into a fresh directory; its merge.
fn unsharded_merge() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("all");
    ok(&["sweep", "run", s(&sample()), "--out", s(&results)]);
    merged(&results)
}

fn item_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("items"))
        .expect("items dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn plan_lists_24_items_with_stable_ids_and_cost() {
    let out = ok(&["sweep", "plan", s(&sample()), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["items"], 24);
    assert_eq!(
        (v["override_sets"].as_u64(), v["seeds_per_set"].as_u64()),
        (Some(6), Some(4))
    );
    // 300 requests per item (max_requests of the base config)
    assert_eq!(v["expected_requests"].as_f64(), Some(7200.0));
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 24);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().expect("id")).collect();
    for (i, id) in ids.iter().enumerate() {
        assert!(id.starts_with(&format!("{i:04}-")), "{id}");
        assert_eq!(id.len(), 13);
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 24);
    // the id hashes the overrides and seed with FNV-1a: pinned, so a change is noticed
    assert_eq!(ids[0], "0000-caea78d9");
    assert_eq!(ids[23], "0023-2a1810a7");
    // grid order: batch size outermost, then rate, then the seeds
    let r5 = &rows[5];
    assert_eq!(r5["seed"], 2);
    assert_eq!(r5["overrides"]["cluster.engine.max_batch_size"], 16);
    assert_eq!(r5["overrides"]["workload.rate"], 60.0);
    assert_eq!(rows[23]["overrides"]["cluster.engine.max_batch_size"], 256);
    assert!(
        rows.iter()
            .all(|r| r["invalid"].is_null() && r["expected_requests"] == 300.0)
    );
    // the same plan again: same ids
    let again = ok(&["sweep", "plan", s(&sample()), "--json"]);
    assert_eq!(out, again);
    let table = ok(&["sweep", "plan", s(&sample())]);
    assert!(
        table.contains("24 items = 6 override sets × 4 seeds"),
        "{table}"
    );
    assert!(
        table.contains("7200 simulated requests in all, 300 per item"),
        "{table}"
    );
    assert!(table.contains("0023-2a1810a7  4     256"), "{table}");
}

#[test]
fn four_shards_merge_to_the_bytes_of_one_run() {
    let (csv, json) = unsharded_merge();
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("sharded");
    // each shard separately, out of order, from the flag or the schedulers' variables
    let out = ok(&[
        "sweep",
        "run",
        s(&sample()),
        "--out",
        s(&results),
        "--shard",
        "2/4",
    ]);
    assert!(
        out.contains("shard 2/4: 6 of 24 items: 6 simulated, 0 already present"),
        "{out}"
    );
    ok_env(
        &["sweep", "run", s(&sample()), "--out", s(&results)],
        &[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    );
    let out = ok_env(
        &[
            "sweep",
            "run",
            s(&sample()),
            "--out",
            s(&results),
            "--shards",
            "4",
        ],
        &[("JOB_COMPLETION_INDEX", "3")],
    );
    assert!(out.contains("shard 3/4"), "{out}");
    // between shards the merge says what is missing
    let partial = ok(&["sweep", "merge", s(&results)]);
    assert!(partial.contains("18 of 24 items merged"), "{partial}");
    assert!(
        partial.contains("missing (6): 0001-f8532d4e, 0005-62f2ed6e"),
        "{partial}"
    );
    ok(&[
        "sweep",
        "run",
        s(&sample()),
        "--out",
        s(&results),
        "--shard",
        "1/4",
        "--jobs",
        "2",
    ]);
    assert_eq!(item_files(&results).len(), 24);
    let (csv4, json4) = merged(&results);
    assert_eq!(text(&csv), text(&csv4));
    assert_eq!(json, json4);

    // the merged table holds the real figures, in item order
    let v: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(v["complete"], true);
    assert_eq!(v["missing"].as_array().map(Vec::len), Some(0));
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 24);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["index"], i);
        let m = &r["metrics"];
        assert_eq!(
            (m["arrived"].as_u64(), m["completed"].as_u64()),
            (Some(300), Some(300))
        );
        assert!(m["ttft_p99_ms"].as_f64() >= m["ttft_mean_ms"].as_f64());
        assert!(
            m["goodput_rps"].as_f64().is_some(),
            "the base config has an SLO"
        );
    }
    // batch 16 saturates near 15 req/s at 60 req/s offered; batch 256 serves about 40
    let tput = |i: usize| rows[i]["metrics"]["throughput_rps"].as_f64().unwrap_or(0.0);
    assert!(
        tput(4) < 17.0 && tput(20) > 35.0,
        "{} {}",
        tput(4),
        tput(20)
    );
    let csv = text(&csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 25);
    assert_eq!(
        lines[0],
        "index,id,seed,cluster.engine.max_batch_size,workload.rate,arrived,completed,\
         throughput_rps,output_tokens_per_s,ttft_mean_ms,ttft_p99_ms,tpot_mean_ms,tpot_p99_ms,\
         e2e_mean_ms,e2e_p99_ms,goodput_rps,slo_attainment"
    );
    assert!(
        lines[21].starts_with("20,0020-621cd528,1,256,60.0,300,300,"),
        "{}",
        lines[21]
    );
    // no wall-clock time or host name in an item file
    let item = std::fs::read_to_string(results.join("items/0000-caea78d9.json")).expect("item");
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    assert!(host.trim().is_empty() || !item.contains(host.trim()));
    assert!(item.contains("\"id\": \"0000-caea78d9\""));
}

#[test]
fn a_rerun_skips_present_items() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("r");
    ok(&[
        "sweep",
        "run",
        s(&sample()),
        "--out",
        s(&results),
        "--shard",
        "0/3",
    ]);
    let first = results.join("items/0000-caea78d9.json");
    // mark a present item: a rerun must leave it alone
    let mut marked = std::fs::read_to_string(&first).expect("item");
    marked.push('\n');
    std::fs::write(&first, &marked).expect("write");
    let out = ok(&["sweep", "run", s(&sample()), "--out", s(&results)]);
    assert!(
        out.contains("24 of 24 items: 16 simulated, 8 already present, 0 failed"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&first).expect("item"), marked);
    let out = ok(&["sweep", "run", s(&sample()), "--out", s(&results)]);
    assert!(out.contains("0 simulated, 24 already present"), "{out}");
    std::fs::remove_file(results.join("items/0007-c4cbdae6.json")).expect("rm");
    let out = ok(&[
        "sweep",
        "run",
        s(&sample()),
        "--out",
        s(&results),
        "--shard",
        "3/4",
    ]);
    assert!(
        out.contains("6 of 24 items: 1 simulated, 5 already present"),
        "{out}"
    );
    // only finished items and the plan: no temporary files left behind
    let files = item_files(&results);
    assert_eq!(files.len(), 24, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".json") && !f.starts_with('.'))
    );
}

/// A sweep file in `dir` over the sample base config.
fn sweep_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let base = repo().join("samples/sweep/base.yaml");
    let path = dir.join(name);
    std::fs::write(&path, format!("base: {}\n{body}", base.display())).expect("write");
    path
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let file = s(&sample()).to_owned();
    fails(
        &["sweep", "run", &file, "--out", s(&out), "--shard", "4/4"],
        "--shard 4/4: the shard index is out of range",
    );
    fails(
        &["sweep", "run", &file, "--out", s(&out), "--shard", "0/0"],
        "--shard 0/0: the shard count must be at least 1",
    );
    fails(
        &["sweep", "run", &file, "--out", s(&out), "--shard", "x"],
        "--shard x: expected I/N",
    );
    let env = run_env(
        &["sweep", "run", &file, "--out", s(&out)],
        &[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    );
    assert_eq!(env.status.code(), Some(2));
    assert!(text(&env.stderr).contains(
        "SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_COUNT=4: the shard index is out of range"
    ));
    fails(
        &["sweep", "run", &file, "--out", s(&out), "--shards", "4"],
        "--shards 4 needs JOB_COMPLETION_INDEX",
    );
    // as root a read-only directory is still writable: a path below a regular file is not
    let regular = dir.path().join("plain-file");
    std::fs::write(&regular, "x").expect("write");
    let below = regular.join("results");
    fails(
        &["sweep", "run", &file, "--out", s(&below)],
        "cannot create the results directory",
    );
    fails(
        &["sweep", "run", &file, "--out", "/proc/llm-perf-sweep"],
        "/proc/llm-perf-sweep: cannot create the results directory",
    );
    fails(
        &[
            "sweep",
            "submit",
            &file,
            "--slurm",
            "--out",
            s(&below),
            "--dry-run",
        ],
        "cannot create the results directory",
    );
    // sweep files
    let empty = sweep_file(dir.path(), "empty.yaml", "grid: {}\n");
    fails(
        &["sweep", "plan", s(&empty)],
        "empty.yaml: grid: empty grid",
    );
    fails(
        &["sweep", "run", s(&empty), "--out", s(&out)],
        "empty.yaml: grid: empty grid",
    );
    let unknown = sweep_file(
        dir.path(),
        "unknown.yaml",
        "grid: { workload.rate: [1.0] }\nseedz: [1]\n",
    );
    fails(
        &["sweep", "plan", s(&unknown)],
        "unknown.yaml: seedz: unknown key (expected one of name, description, base, grid, items, seeds)",
    );
    let typo = sweep_file(
        dir.path(),
        "typo.yaml",
        "grid: { cluster.engine.max_batch_siz: [8, 16] }\n",
    );
    fails(
        &["sweep", "plan", s(&typo)],
        "typo.yaml: grid: cluster.engine.max_batch_siz: unknown field `max_batch_siz`",
    );
    let list = sweep_file(dir.path(), "list.yaml", "grid: { workload.rate: [] }\n");
    fails(
        &["sweep", "plan", s(&list)],
        "list.yaml: grid.workload.rate: empty list of values",
    );
    let nobase = dir.path().join("nobase.yaml");
    std::fs::write(&nobase, "base: missing.yaml\nseeds: [1]\n").expect("write");
    fails(&["sweep", "plan", s(&nobase)], "nobase.yaml: base: ");
    fails(
        &["sweep", "plan", s(&dir.path().join("sweep.txt"))],
        "sweep.txt: unknown extension",
    );
    fails(
        &["sweep", "merge", s(dir.path())],
        "not a sweep results directory (no plan.json)",
    );
    fails(
        &[
            "sweep",
            "submit",
            &file,
            "--k8s",
            "--out",
            s(&out),
            "--gpu",
            "nvidia.com/gpu",
        ],
        "--k8s needs --image",
    );
    fails(
        &[
            "sweep",
            "submit",
            &file,
            "--k8s",
            "--out",
            s(&out),
            "--image",
            "i",
            "--gpu",
            "nvidia.com/gpu",
        ],
        "--gpu nvidia.com/gpu: expected NAME=COUNT",
    );
    fails(
        &[
            "sweep",
            "submit",
            &file,
            "--slurm",
            "--out",
            s(&out),
            "--tasks",
            "0",
            "--dry-run",
        ],
        "--tasks 0: must be at least 1",
    );
    fails(
        &[
            "sweep",
            "submit",
            &file,
            "--slurm",
            "--out",
            s(&out),
            "--partition",
            "a b",
            "--dry-run",
        ],
        "--partition: \"a b\": must be one word",
    );
    // a results directory belongs to one sweep
    let other = sweep_file(dir.path(), "other.yaml", "seeds: [1]\n");
    let taken = dir.path().join("taken");
    ok(&["sweep", "run", s(&other), "--out", s(&taken)]);
    fails(
        &["sweep", "run", &file, "--out", s(&taken)],
        "plan.json: holds another sweep's plan",
    );
    // a value the schema refuses while parsing names the item's key, not internal text
    let bad = sweep_file(
        dir.path(),
        "budget.yaml",
        "items:\n  - { cluster.engine.max_num_batched_tokens: 8, cluster.engine.max_batch_size: 64 }\n",
    );
    fails(
        &["sweep", "plan", s(&bad)],
        "budget.yaml: items[0]: inconsistent values: max_num_batched_tokens (8) must be >= max_batch_size (64)",
    );
    let e = text(&run(&["sweep", "plan", s(&bad)]).stderr);
    assert!(!e.contains("line 1 column"), "{e}");
}

#[test]
fn a_failed_item_is_recorded_reported_and_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    // the second set has no replica: the simulator refuses it
    let file = sweep_file(
        dir.path(),
        "mixed.yaml",
        "items:\n  - { workload.rate: 10.0 }\n  - { cluster.replicas: 0 }\nseeds: [5]\n",
    );
    let plan = ok(&["sweep", "plan", s(&file)]);
    assert!(
        plan.contains("1 item(s) will fail (invalid config)"),
        "{plan}"
    );
    let results = dir.path().join("r");
    let out = run(&["sweep", "run", s(&file), "--out", s(&results)]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 of 2 items: 1 simulated, 0 already present, 1 failed"),
        "{stdout}"
    );
    let err = text(&out.stderr);
    let failed_id = plan
        .lines()
        .find(|l| l.starts_with("0001-"))
        .and_then(|l| l.split_whitespace().next())
        .expect("item 1 in the plan")
        .to_owned();
    assert!(
        err.contains(&format!("1 item(s) failed, first {failed_id}:")),
        "{err}"
    );
    assert!(err.contains("cluster.replicas = 0"), "{err}");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.join(format!("items/{failed_id}.failed.json")))
            .expect("failure file"),
    )
    .expect("JSON");
    assert_eq!(record["id"], failed_id.as_str());
    assert_eq!(record["seed"], 5);
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e.contains("cluster.replicas = 0"))
    );
    let m = ok(&["sweep", "merge", s(&results), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&m).expect("JSON");
    assert_eq!(v["complete"], false);
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["failed"][0]["id"], failed_id.as_str());
    let strict = run(&["sweep", "merge", s(&results), "--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(text(&strict.stderr).contains("incomplete: 0 missing, 1 failed of 2 items (--strict)"));
    assert!(text(&strict.stdout).contains(&format!("failed (1):\n  {failed_id}: ")));
    // failed items are retried (and fail again); the finished one is skipped
    let again = run(&["sweep", "run", s(&file), "--out", s(&results)]);
    assert!(text(&again.stdout).contains("1 already present, 1 failed"));
}

/// `text` with the machine's paths replaced by placeholders.
fn placeholders(text: &str, dir: &Path) -> String {
    text.replace(s(&bin()), "{LLM_PERF}")
        .replace(s(dir), "{DIR}")
        .replace(s(&repo()), "{REPO}")
}

/// Compares with `tests/golden/NAME` (`UPDATE_GOLDEN=1` rewrites it).
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).expect("golden file");
    assert_eq!(
        actual, expected,
        "{name} differs (UPDATE_GOLDEN=1 rewrites it)"
    );
}

#[test]
fn slurm_dry_run_matches_the_golden_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = std::fs::canonicalize(dir.path())
        .expect("dir")
        .join("results");
    let out = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--slurm",
        "--out",
        s(&results),
        "--tasks",
        "4",
        "--time",
        "00:30:00",
        "--partition",
        "debug",
        "--account",
        "perf",
        "--gres",
        "gpu:1",
        "--dry-run",
    ]);
    assert_eq!(
        std::fs::read_to_string(results.join("sweep.sbatch")).expect("script"),
        out
    );
    assert!(results.join("logs").is_dir() && results.join("plan.json").is_file());
    golden("sweep-slurm.sbatch", &placeholders(&out, &results));
    // more tasks than items: one per item
    let out = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--slurm",
        "--out",
        s(&results),
        "--tasks",
        "100",
        "--dry-run",
    ]);
    assert!(
        out.contains("#SBATCH --array=0-23\n") && out.contains("\"${SLURM_ARRAY_TASK_ID}/24\""),
        "{out}"
    );
}

#[test]
fn k8s_dry_run_matches_the_golden_manifest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = std::fs::canonicalize(dir.path())
        .expect("dir")
        .join("results");
    let out = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--k8s",
        "--out",
        s(&results),
        "--tasks",
        "4",
        "--image",
        "registry.example/llm-perf:0.1",
        "--gpu",
        "nvidia.com/gpu=1",
        "--namespace",
        "perf",
        "--dry-run",
    ]);
    assert_eq!(
        std::fs::read_to_string(results.join("sweep-job.yaml")).expect("manifest"),
        out
    );
    golden("sweep-k8s.yaml", &placeholders(&out, &results));
    // without --dry-run: the command to run, never kubectl itself
    let out = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--k8s",
        "--out",
        s(&results),
        "--tasks",
        "4",
        "--image",
        "img",
        "--gpu",
        "huawei.com/Ascend910=1",
        "--pvc",
        "sweep-results",
    ]);
    assert_eq!(
        out,
        format!(
            "kubectl apply -f {}\n",
            results.join("sweep-job.yaml").display()
        )
    );
    let manifest = std::fs::read_to_string(results.join("sweep-job.yaml")).expect("manifest");
    assert!(
        manifest.contains("\"huawei.com/Ascend910\": \"1\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("claimName: \"sweep-results\""),
        "{manifest}"
    );
    // a pod runs the frozen plan from the volume: it gives the sweep's items
    let plan = results.join("plan.json");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["sweep", "plan", s(&plan), "--json"])).expect("JSON");
    assert_eq!(v["items"], 24);
    assert_eq!(v["rows"][23]["id"], "0023-2a1810a7");
    // what the two pods of a 2-completion Job run: the plan, the index from the environment
    for index in ["1", "0"] {
        ok_env(
            &[
                "sweep",
                "run",
                s(&plan),
                "--out",
                s(&results),
                "--shards",
                "2",
            ],
            &[("JOB_COMPLETION_INDEX", index)],
        );
    }
    assert_eq!(merged(&results), unsharded_merge());
}

/// Runs `bash DIR/sweep.sbatch` for every array index, as SLURM would (the `#SBATCH` lines
/// are comments to bash).
fn run_script_locally(results: &Path, tasks: usize) {
    for i in 0..tasks {
        let out = Command::new("bash")
            .arg(results.join("sweep.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", tasks.to_string())
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "task {i}: {}", text(&out.stderr));
    }
}

#[test]
fn only_missing_covers_exactly_the_missing_items() {
    let (csv, json) = unsharded_merge();
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("r");
    ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--slurm",
        "--out",
        s(&results),
        "--tasks",
        "4",
        "--dry-run",
    ]);
    run_script_locally(&results, 4);
    assert_eq!(item_files(&results).len(), 24);
    // two items and all of task 2's
    let mut gone = vec!["0000-caea78d9".to_owned(), "0005-62f2ed6e".to_owned()];
    for name in item_files(&results) {
        let index: usize = name[..4].parse().expect("index");
        if index % 4 == 2 {
            gone.push(name.trim_end_matches(".json").to_owned());
        }
    }
    for id in &gone {
        std::fs::remove_file(results.join(format!("items/{id}.json"))).expect("rm");
    }
    gone.sort();
    let script = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--slurm",
        "--out",
        s(&results),
        "--tasks",
        "3",
        "--only-missing",
        "--dry-run",
    ]);
    assert!(
        script.contains(
            "# llm-perf sweep `sim_grid`: the 8 missing or failed of 24 items in 3 tasks"
        ),
        "{script}"
    );
    let list = script
        .split_whitespace()
        .skip_while(|w| *w != "--items")
        .nth(1)
        .expect("--items LIST in the script");
    let listed: Vec<String> = std::fs::read_to_string(list)
        .expect("list")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, gone);
    run_script_locally(&results, 3);
    assert_eq!(merged(&results), (csv, json));
    let out = ok(&[
        "sweep",
        "submit",
        s(&sample()),
        "--slurm",
        "--out",
        s(&results),
        "--only-missing",
    ]);
    assert!(out.starts_with("nothing to submit: all 24 items"), "{out}");
}

/// Whether a SLURM controller answers here; why not otherwise.
fn slurm_up() -> Result<(), String> {
    let found = Command::new("sbatch").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        return Err("sbatch is not on PATH".to_owned());
    }
    match Command::new("sinfo").args(["-h", "-o", "%a"]).output() {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => Ok(()),
        Ok(o) => Err(format!("sinfo does not answer: {}", text(&o.stderr).trim())),
        Err(e) => Err(format!("sinfo: {e}")),
    }
}

/// Polls `squeue -h -j ID` until it lists nothing (the job has ended), at most `deadline`.
fn wait_for(job: &str, deadline: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .expect("squeue runs");
        let listed = text(&out.stdout);
        if out.status.success() && listed.trim().is_empty() {
            return start.elapsed();
        }
        if !out.status.success() && text(&out.stderr).contains("Invalid job id") {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "job {job} still queued after {deadline:?}: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_real_slurm_array_merges_like_one_run() {
    if let Err(why) = slurm_up() {
        assert!(
            std::env::var("LLM_PERF_REQUIRE_SLURM").as_deref() != Ok("1"),
            "LLM_PERF_REQUIRE_SLURM=1 but SLURM is not available: {why}"
        );
        eprintln!("skipped: {why} (.ci/run starts a single-node SLURM)");
        return;
    }
    let (csv, json) = unsharded_merge();
    // jobs run as the submitting user (root in CI): a temp dir of ours is writable for them
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("slurm");
    let submit = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "submit",
            SAMPLE,
            "--slurm",
            "--out",
            s(&results),
            "--tasks",
            "4",
        ];
        args.extend_from_slice(extra);
        let out = Command::new(bin())
            .args(&args)
            .current_dir(repo())
            .output()
            .expect("submit runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let id = text(&out.stdout).trim().to_owned();
        assert!(
            !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
            "job id {id:?}"
        );
        id
    };
    let started = Instant::now();
    let job = submit(&[]);
    let waited = wait_for(&job, Duration::from_secs(180));
    eprintln!(
        "SLURM array {job}: 24 items in 4 tasks, ended {waited:?} after submission ({:?} in all)",
        started.elapsed()
    );
    let logs: Vec<_> = std::fs::read_dir(results.join("logs"))
        .expect("logs")
        .collect();
    assert_eq!(logs.len(), 4, "one log per task");
    let log0 = std::fs::read_to_string(results.join(format!("logs/{job}_0.out"))).expect("log");
    assert!(
        log0.contains("shard 0/4: 6 of 24 items: 6 simulated"),
        "{log0}"
    );
    assert_eq!(merged(&results), (csv.clone(), json.clone()));

    // lose two items and one task's worth, then re-submit only those
    let mut gone = vec!["0001-f8532d4e".to_owned(), "0004-0b8cd8b6".to_owned()];
    for name in item_files(&results) {
        if name.ends_with(".json") && name[..4].parse::<usize>().is_ok_and(|i| i % 4 == 3) {
            gone.push(name.trim_end_matches(".json").to_owned());
        }
    }
    for id in &gone {
        std::fs::remove_file(results.join(format!("items/{id}.json"))).expect("rm");
    }
    let partial = ok(&["sweep", "merge", s(&results)]);
    assert!(partial.contains("16 of 24 items merged"), "{partial}");
    let job2 = submit(&["--only-missing"]);
    let waited = wait_for(&job2, Duration::from_secs(180));
    eprintln!(
        "SLURM array {job2}: the 8 missing items in 4 tasks, ended {waited:?} after submission"
    );
    let files = item_files(&results);
    assert_eq!(
        files.len(),
        24,
        "complete, no duplicates or leftovers: {files:?}"
    );
    let log = std::fs::read_to_string(results.join(format!("logs/{job2}_1.out"))).expect("log");
    assert!(
        log.contains("shard 1/4: 2 of listed 8 of 24 items: 2 simulated, 0 already present"),
        "{log}"
    );
    assert_eq!(merged(&results), (csv, json));
}

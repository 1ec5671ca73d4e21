//! `llm-perf tune --scheduler slurm`: a real-benchmark swarm (the `fake-engine` and
//! `fake-bench` of `npu-backends`, 4 particles × 3 iterations, then fine-tuning) whose
//! particles run as SLURM job arrays equals the local run with the same seed, also when the
//! driver is killed (SIGKILL) after iteration 2 and restarted; and the one-line errors of bad
//! cluster flags and directories, which need no SLURM.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_llm-perf")).expect("the binary exists")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A loopback port below the ephemeral range, from `offset` on (tests running at once take
/// different offsets: their engines are up at the same time).
fn free_port(offset: u16) -> u16 {
    let base = 21_000 + (std::process::id() % 1_000) as u16 * 9 + offset;
    (0..2_000)
        .map(|k| 20_000 + (base - 20_000 + k) % 12_000)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

/// The seed `config.toml` of the swarm: 4 particles, 3 iterations, the best row fine-tuned
/// in 2 steps; fast polling so an evaluation takes a fraction of a second.
fn seed_config(port: u16) -> String {
    let engine = common::npu_fake("fake-engine");
    let bench = common::npu_fake("fake-bench");
    format!(
        r#"
n_particles = 4
iters = 3
ttft_penalty = 1
tpot_penalty = 3
ttft_slo = 2.0
tpot_slo = 0.028
theory_guided_enable = false
max_fine_tune = 2

[data_storage]
pso_top_k = 1

[cbo]
enabled = false

[vllm]
binary = "{engine}"
[vllm.command]
host = "127.0.0.1"
port = "{port}"
model = "Qwen3-8B"
served_model_name = "qwen"
others = "--max-num-seqs $MAX_NUM_SEQS"
timeouts = {{ run_s = 60, poll_s = 0.05, stop_grace_s = 5 }}
[[vllm.target_field]]
name = "MAX_NUM_SEQS"
config_position = "env"
min = 32
max = 512
dtype = "int"
value = 64

[vllm_benchmark]
binary = "{bench}"
[vllm_benchmark.command]
host = "127.0.0.1"
port = "{port}"
model = "Qwen3-8B"
served_model_name = "qwen"
num_prompts = 20
others = "--max-concurrency $CONCURRENCY --request-rate $REQUESTRATE"
timeouts = {{ run_s = 60, poll_s = 0.05, stop_grace_s = 5 }}
[[vllm_benchmark.target_field]]
name = "CONCURRENCY"
config_position = "env"
min = 1
max = 100
dtype = "int"
value = 100
[[vllm_benchmark.target_field]]
name = "REQUESTRATE"
config_position = "env"
min = 1
max = 100
dtype = "float"
value = 10
"#,
        engine = engine.display(),
        bench = bench.display()
    )
}

/// `llm-perf tune config.toml --out OUT --json --seed 5 EXTRA…` in `dir`.
fn tune_cmd(dir: &Path, out: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["tune", "config.toml", "--out", out, "--json", "--seed", "5"])
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

fn succeeded(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// `v` without its wall-clock `duration_s` fields (fine-tuning runs report theirs).
fn without_durations(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "duration_s")
                .map(|(k, x)| (k.clone(), without_durations(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_durations).collect()),
        other => other.clone(),
    }
}

/// A directory with the seed config on its own port, and the local run's report and results.
struct Reference {
    dir: tempfile::TempDir,
    report: Value,
    results: Vec<u8>,
}

fn reference(port_offset: u16) -> Reference {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.toml"),
        seed_config(free_port(port_offset)),
    )
    .expect("write");
    let report = succeeded(&tune_cmd(dir.path(), "local", &[]).output().expect("runs"));
    // the swarm measured something and fine-tuned the best row
    assert!(report["best_cost"].as_f64().is_some_and(f64::is_finite));
    assert!(report["evaluations"].as_u64() >= Some(8), "{report}");
    assert!(
        !report["fine_tune"]["runs"]
            .as_array()
            .expect("runs")
            .is_empty()
    );
    let results = std::fs::read(dir.path().join("local/results.jsonl")).expect("results");
    assert_eq!(text(&results).lines().count(), 12);
    Reference {
        dir,
        report,
        results,
    }
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

/// `true` when SLURM is up; else says why and returns `false` (a failure under
/// `LLM_PERF_REQUIRE_SLURM=1`).
fn have_slurm() -> bool {
    match slurm_up() {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var("LLM_PERF_REQUIRE_SLURM").as_deref() != Ok("1"),
                "LLM_PERF_REQUIRE_SLURM=1 but SLURM is not available: {why}"
            );
            eprintln!("skipped: {why} (.ci/run starts a single-node SLURM)");
            false
        }
    }
}

/// The SLURM flags of the tests: one task at a time (every engine listens on the config's
/// port), a deadline well above the few seconds an iteration takes.
const SLURM: [&str; 6] = [
    "--scheduler",
    "slurm",
    "--max-running",
    "1",
    "--deadline",
    "300",
];

/// `tasks-*.json` files (one per submission) in `dir`.
fn task_lists(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tasks-"))
            .count()
    })
}

fn assert_same_run(reference: &Reference, out: &str, report: &Value) {
    let results =
        std::fs::read(reference.dir.path().join(out).join("results.jsonl")).expect("results");
    assert_eq!(
        text(&results),
        text(&reference.results),
        "results.jsonl differs from the local run's"
    );
    assert_eq!(report["best_config"], reference.report["best_config"]);
    assert_eq!(
        report["best_cost"].as_f64().map(f64::to_bits),
        reference.report["best_cost"].as_f64().map(f64::to_bits)
    );
    assert_eq!(
        without_durations(report),
        without_durations(&reference.report)
    );
}

#[test]
fn a_swarm_through_slurm_equals_the_local_run() {
    if !have_slurm() {
        return;
    }
    let reference = reference(0);
    let started = Instant::now();
    let out = tune_cmd(reference.dir.path(), "slurm", &SLURM)
        .output()
        .expect("runs");
    let report = succeeded(&out);
    eprintln!(
        "3 iterations of 4 particles and {} fine-tuning runs through SLURM in {:?}",
        report["fine_tune"]["runs"].as_array().map_or(0, Vec::len),
        started.elapsed()
    );
    assert_same_run(&reference, "slurm", &report);
    let shared = reference.dir.path().join("slurm/distributed");
    for it in 0..3 {
        let dir = shared.join(format!("iter-{it:04}"));
        assert_eq!(task_lists(&dir), 1, "one array job for iteration {it}");
        assert!(dir.join("submission.json").is_file());
    }
    assert!(shared.join("sweep.sbatch").is_file());
    // one log per task, each naming what it evaluated
    let logs: Vec<PathBuf> = std::fs::read_dir(shared.join("logs"))
        .expect("logs")
        .flatten()
        .map(|e| e.path())
        .collect();
    let evaluated = report["evaluations"].as_u64().unwrap_or(0) as usize
        + report["fine_tune"]["runs"].as_array().map_or(0, Vec::len);
    assert_eq!(logs.len(), evaluated, "{logs:?}");
    let log = std::fs::read_to_string(&logs[0]).expect("log");
    assert!(log.contains("evaluated in"), "{log}");
    let err = text(&out.stderr);
    assert!(err.contains("submitted iteration=2"), "{err}");
}

#[test]
fn a_driver_killed_after_iteration_2_resumes_to_the_same_run() {
    if !have_slurm() {
        return;
    }
    let reference = reference(50);
    let dir = reference.dir.path();
    let stderr = std::fs::File::create(dir.join("driver.err")).expect("log file");
    let mut driver = tune_cmd(dir, "killed", &SLURM)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the driver starts");
    // kill it (SIGKILL) once the checkpoint says two iterations are done and iteration 2's
    // array job is submitted: its tasks run on without the driver
    let checkpoint = dir.join("killed/checkpoint.json");
    let submitted = dir.join("killed/distributed/iter-0002/submission.json");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let iteration = std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["state"]["iteration"].as_u64());
        if iteration == Some(2) && submitted.is_file() {
            break;
        }
        assert!(
            driver.try_wait().expect("try_wait").is_none(),
            "the driver ended before iteration 2: {}",
            std::fs::read_to_string(dir.join("driver.err")).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "no checkpoint of iteration 2");
        std::thread::sleep(Duration::from_millis(20));
    }
    driver.kill().expect("SIGKILL");
    let status = driver.wait().expect("wait");
    assert!(!status.success(), "killed: {status}");
    let journaled = std::fs::read_to_string(dir.join("killed/results.jsonl"))
        .expect("results")
        .lines()
        .count();
    assert!((8..12).contains(&journaled), "{journaled} records");
    let old_job = std::fs::read_to_string(&submitted).expect("submission");

    // restarted: resumes from the checkpoint, reuses what the tasks wrote, finishes
    let out = tune_cmd(dir, "killed", &[SLURM.as_slice(), &["--resume"]].concat())
        .output()
        .expect("runs");
    let report = succeeded(&out);
    assert_same_run(&reference, "killed", &report);
    let shared = dir.join("killed/distributed");
    // nothing was submitted again: iteration 2's job, submitted by the killed driver, was
    // waited for (or had ended) and its results read
    for it in 0..3 {
        assert_eq!(task_lists(&shared.join(format!("iter-{it:04}"))), 1);
    }
    assert_eq!(
        std::fs::read_to_string(&submitted).expect("submission"),
        old_job
    );
    let err = text(&out.stderr);
    for it in 0..3 {
        assert!(
            !err.contains(&format!("distributed: submitted iteration={it} ")),
            "{err}"
        );
    }
    eprintln!(
        "restart: {}",
        err.lines()
            .filter(|l| l.contains("llm_perf::distributed"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

/// Runs `llm-perf ARGS` in `dir` with `env`; asserts exit code 2 and a one-line error
/// containing `needle`.
fn fails_in(dir: &Path, args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
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

#[test]
fn bad_cluster_flags_and_directories_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let config = common::repo_file("samples/pso/sim_tune.toml");
    let config = std::fs::canonicalize(config).expect("sample");
    let tune = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            "tune".to_owned(),
            s(&config).to_owned(),
            "--out".to_owned(),
            s(&d.join("out")).to_owned(),
        ];
        v.extend(extra.iter().map(|x| (*x).to_owned()));
        v
    };
    let check = |extra: &[&str], needle: &str| {
        let args = tune(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_in(d, &args, &[], needle);
    };
    check(
        &["--scheduler", "pbs"],
        "--scheduler pbs: unknown scheduler (expected slurm or k8s)",
    );
    check(
        &["--partition", "gpu"],
        "--partition is an option of distributed tuning: give --scheduler slurm|k8s",
    );
    check(
        &["--scheduler", "slurm", "--image", "img"],
        "--image is a Kubernetes option: it needs --scheduler k8s",
    );
    check(
        &["--scheduler", "k8s", "--gres", "gpu:1", "--image", "img"],
        "--gres is a SLURM option: it needs --scheduler slurm",
    );
    check(
        &["--scheduler", "k8s"],
        "--scheduler k8s needs --image: the container image that has llm-perf",
    );
    check(
        &["--scheduler", "slurm", "--max-running", "0"],
        "--max-running 0: must be at least 1",
    );
    check(
        &["--scheduler", "slurm", "--deadline", "0"],
        "--deadline 0: must be a positive number of seconds",
    );
    check(
        &[
            "--scheduler",
            "k8s",
            "--image",
            "i",
            "--gpu",
            "nvidia.com/gpu",
        ],
        "--gpu nvidia.com/gpu: expected NAME=COUNT",
    );
    // the shared directory cannot be created: a regular file where it goes
    let out = d.join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("distributed"), "x").expect("write");
    let args = tune(&["--scheduler", "slurm", "--resume"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_in(
        d,
        &args,
        &[],
        "distributed: cannot create the shared directory",
    );
    std::fs::remove_file(out.join("distributed")).expect("rm");
    // --out itself below a regular file
    let below = d.join("plain-file");
    std::fs::write(&below, "x").expect("write");
    let below_out = below.join("out");
    let args = [
        "tune",
        s(&config),
        "--out",
        s(&below_out),
        "--scheduler",
        "slurm",
    ];
    fails_in(d, &args, &[], "cannot create the output directory");
    // no sbatch on PATH: the first submission fails, nothing of iteration 0 is recorded
    let empty = d.join("empty-path");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let args = tune(&["--scheduler", "slurm"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_in(
        d,
        &args,
        &[("PATH", s(&empty))],
        "iteration 0: sbatch: not found on PATH",
    );
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).expect("results"),
        ""
    );
    // the task of a list, by an index the list does not have
    let list = out.join("distributed/iter-0000");
    let tasks = std::fs::read_dir(&list)
        .expect("iteration dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("tasks-"))
        .expect("the task list written before the submission failed");
    fails_in(
        d,
        &["tune-task", s(&tasks), "--index", "8"],
        &[],
        "--index 8: out of range:",
    );
    // and a valid one runs the simulator on its candidate, writing the result
    let ok = Command::new(bin())
        .args(["tune-task", s(&tasks), "--index", "3"])
        .current_dir(d)
        .output()
        .expect("runs");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).starts_with("task 3: iteration 0, particle 3 evaluated in"),
        "{}",
        text(&ok.stdout)
    );
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(list.join("result-0003.json")).expect("result"),
    )
    .expect("JSON");
    assert_eq!(result["format"], "llm-perf.tune-result");
    assert!(result["evaluation"]["index"]["output_throughput"].is_f64());
    // run twice (a duplicated task): nothing is run again
    let again = Command::new(bin())
        .args(["tune-task", s(&tasks), "--index", "3"])
        .output()
        .expect("runs");
    assert!(
        text(&again.stdout).contains("already had a result: nothing run"),
        "{}",
        text(&again.stdout)
    );
}

/// `kubectl` decodes `manifest` as a typed object offline (`set resources --local` parses it
/// into a batch/v1 Job: wrong field types and malformed quantities fail; unknown fields are
/// not checked). `kubectl apply --dry-run=client` needs an API server, even with
/// `--validate=false`.
fn kubectl_decodes(kubectl: &Path, manifest: &Path) -> Result<(), String> {
    let out = Command::new(kubectl)
        .args(["set", "resources", "--local", "-f"])
        .arg(manifest)
        .args(["--limits=cpu=1", "-o", "yaml"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(text(&out.stderr))
    }
}

#[test]
fn a_k8s_iteration_is_an_indexed_job_over_the_shared_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = std::fs::canonicalize(dir.path()).expect("dir");
    let config =
        std::fs::canonicalize(common::repo_file("samples/pso/sim_tune.toml")).expect("sample");
    let out = d.join("out");
    // no kubectl on PATH: the manifest of iteration 0 is written, applying it fails
    let empty = d.join("empty-path");
    std::fs::create_dir_all(&empty).expect("mkdir");
    fails_in(
        &d,
        &[
            "tune",
            s(&config),
            "--out",
            s(&out),
            "--scheduler",
            "k8s",
            "--image",
            "registry.example/llm-perf:0.1",
            "--gpu",
            "huawei.com/Ascend910=1",
            "--max-running",
            "2",
            "--namespace",
            "perf",
        ],
        &[("PATH", s(&empty))],
        "iteration 0: kubectl: not found on PATH",
    );
    let shared = out.join("distributed");
    let manifest_path = shared.join("sweep-job.yaml");
    let manifest = std::fs::read_to_string(&manifest_path).expect("the Job manifest");
    let tasks = std::fs::read_dir(shared.join("iter-0000"))
        .expect("iteration dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("tasks-"))
        .expect("task list");
    for needle in [
        "  name: llm-perf-tune-sim-tune-0-".to_owned(),
        "  namespace: \"perf\"\n".to_owned(),
        "  completionMode: Indexed\n  completions: 8\n  parallelism: 2\n".to_owned(),
        "          image: \"registry.example/llm-perf:0.1\"\n".to_owned(),
        format!(
            "exec llm-perf tune-task {} --index \\\"${{JOB_COMPLETION_INDEX}}\\\"\"",
            tasks.display()
        ),
        "              \"huawei.com/Ascend910\": \"1\"\n".to_owned(),
        format!("              mountPath: \"{}\"\n", shared.display()),
        format!("            path: \"{}\"\n", shared.display()),
    ] {
        assert!(manifest.contains(&needle), "no {needle:?} in:\n{manifest}");
    }
    let Some(kubectl) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubectl"))
            .find(|k| k.is_file())
    }) else {
        eprintln!("skipped the kubectl check: kubectl is not on PATH");
        return;
    };
    kubectl_decodes(&kubectl, &manifest_path).expect("kubectl decodes the tune Job");
    let broken = d.join("broken.yaml");
    std::fs::write(
        &broken,
        manifest.replace("  completions: 8", "  completions: \"eight\""),
    )
    .expect("write");
    let e = kubectl_decodes(&kubectl, &broken).expect_err("a string completions count");
    assert!(e.contains("completions"), "{e}");
    // the sweep's golden manifest, with paths filled in, decodes too
    let golden = std::fs::read_to_string(common::repo_file(
        "crates/llm-perf-cli/tests/golden/sweep-k8s.yaml",
    ))
    .expect("golden")
    .replace("{DIR}", "/shared/results")
    .replace("{REPO}", "/repo");
    let sweep = d.join("sweep-job.yaml");
    std::fs::write(&sweep, golden).expect("write");
    kubectl_decodes(&kubectl, &sweep).expect("kubectl decodes the sweep Job");
}

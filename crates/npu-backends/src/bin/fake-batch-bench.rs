//! A stand-in for `python -m sglang.bench_one_batch` and `vllm bench latency`, for profile
//! sweeps without accelerators.
//!
//! * SGLang mode (the default; a leading `-m sglang.bench_one_batch` is accepted):
//!   `--model-path M [--load-format F] [--tp-size T] [--pp-size P] --batch-size B… --input-len
//!   L… --output-len N… [--run-name R] [--result-filename F]`. Prints `bench_one_batch`'s
//!   lines (warm-up, `Benchmark ...`, per run `Prefill. latency: …`, `Decode.  median latency:
//!   …`, `Total. latency: …`) and, after the last run, appends one JSON line per run to the
//!   result file.
//! * vLLM mode (`bench latency …`): `--model M --batch-size B --input-len L --output-len N
//!   --num-iters I [--num-iters-warmup W] --output-json F [--load-format F]
//!   [--tensor-parallel-size T] [--pipeline-parallel-size P]`; writes `avg_latency`,
//!   `std_latency`, `latencies`, `percentiles`.
//!
//! Times follow a known law inside the profiler's linear feature family (seconds):
//! `prefill = a + b·bs·L + c·bs·L²`, decode step `= d + e·bs + f·bs·L`, with
//! `FAKE_LAW="a,b,c,d,e,f"` (default `8e-3,1.6e-5,1.3e-9,7e-3,8.5e-6,4.4e-8`), times a
//! deterministic noise factor `1 + FAKE_NOISE·u`, `u ∈ [−1, 1)` hashed from (bs, L, output
//! length, run, step) (default `FAKE_NOISE=0.002`). Nothing sleeps for these times.
//!
//! Failures, by environment:
//! * `FAKE_KV_TOKENS=K`: `bs·(L + output_len) > K` prints PyTorch's CUDA out-of-memory
//!   traceback on stderr and exits 1 (in the warm-up, before any run).
//! * `FAKE_POOL_TOKENS=K` (SGLang): `bs > K / (L + output_len)` prints `skipping (…) due to max
//!   batch size limit` and records nothing.
//! * `FAKE_CRASH_AT="bs:L[:run],…"`: a CUDA illegal-memory-access error, exit 1, before run
//!   `run` (default 0) of that point.
//! * `FAKE_SLOW_AT="bs:L,…"`: sleeps `FAKE_SLOW_S` seconds (default 30) before that point.
//! * `--tp-size` / `--tensor-parallel-size` above 1 starts `T − 1` worker processes
//!   (`sleep 300`) in its process group and leaves them behind, as crashed TP ranks do.
//! * `FAKE_BENCH_LOG=FILE`: appends `<mode> bs=… il=… ol=… runs=…` per invocation.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// The latency law.
#[derive(Clone, Copy)]
struct Law {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    f: f64,
    noise: f64,
}

impl Law {
    fn from_env() -> Result<Self, String> {
        let mut k = [8e-3, 1.6e-5, 1.3e-9, 7e-3, 8.5e-6, 4.4e-8];
        if let Ok(text) = std::env::var("FAKE_LAW") {
            let v: Vec<f64> = text
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("FAKE_LAW `{text}`: {e}"))?;
            if v.len() != 6 {
                return Err(format!("FAKE_LAW `{text}`: expected 6 numbers"));
            }
            k.copy_from_slice(&v);
        }
        let noise = match std::env::var("FAKE_NOISE") {
            Ok(t) => t.parse().map_err(|e| format!("FAKE_NOISE `{t}`: {e}"))?,
            Err(_) => 0.002,
        };
        Ok(Self {
            a: k[0],
            b: k[1],
            c: k[2],
            d: k[3],
            e: k[4],
            f: k[5],
            noise,
        })
    }

    fn prefill(&self, bs: u32, l: u32) -> f64 {
        let (bs, l) = (f64::from(bs), f64::from(l));
        self.a + self.b * bs * l + self.c * bs * l * l
    }

    fn step(&self, bs: u32, l: u32) -> f64 {
        let (bs, l) = (f64::from(bs), f64::from(l));
        self.d + self.e * bs + self.f * bs * l
    }

    /// `1 + noise·u`, `u ∈ [−1, 1)` from a SplitMix64 hash of the key.
    fn jitter(&self, key: [u32; 5]) -> f64 {
        let mut z = key.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |h, &k| {
            (h ^ u64::from(k)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        1.0 + self.noise * u
    }
}

/// One run: prefill, decode step times.
fn run_times(law: &Law, bs: u32, l: u32, ol: u32, run: u32) -> (f64, Vec<f64>) {
    let prefill = law.prefill(bs, l) * law.jitter([bs, l, ol, run, 0]);
    let steps = (1..ol)
        .map(|k| law.step(bs, l) * law.jitter([bs, l, ol, run, k]))
        .collect();
    (prefill, steps)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        f64::midpoint(v[m - 1], v[m])
    } else {
        v[m]
    }
}

/// `bs:L[:run]` entries of an env list.
fn env_points(name: &str) -> Vec<(u32, u32, Option<u32>)> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let mut it = item.trim().split(':').map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next()??, it.next().flatten()))
        })
        .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn append_log(line: &str) {
    if let Ok(path) = std::env::var("FAKE_BENCH_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

const OOM: &str = "Traceback (most recent call last):\n  \
File \"/usr/lib/python3/dist-packages/sglang/bench_one_batch.py\", line 512, in latency_test_run_once\n    \
next_token_ids, _, batch = model_runner.extend(reqs)\n\
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity \
of 79.15 GiB of which 1.23 GiB is free. Including non-PyTorch memory, this process has 77.91 GiB \
memory in use. Of the allocated memory 75.10 GiB is allocated by PyTorch, and 1.21 GiB is reserved \
by PyTorch but unallocated. If reserved but unallocated memory is large try setting \
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for \
Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)";

const CRASH: &str = "RuntimeError: CUDA error: an illegal memory access was encountered";

/// Failure checks shared by both modes, before a point's runs.
fn check_point(bs: u32, l: u32, ol: u32) -> Result<(), ExitCode> {
    if let Some(kv) = env_u64("FAKE_KV_TOKENS")
        && u64::from(bs) * (u64::from(l) + u64::from(ol)) > kv
    {
        eprintln!("{OOM}");
        return Err(ExitCode::from(1));
    }
    if env_points("FAKE_SLOW_AT")
        .iter()
        .any(|&(b, i, _)| (b, i) == (bs, l))
    {
        std::thread::sleep(Duration::from_secs(env_u64("FAKE_SLOW_S").unwrap_or(30)));
    }
    Ok(())
}

fn crash_before(bs: u32, l: u32, run: u32) -> bool {
    env_points("FAKE_CRASH_AT")
        .iter()
        .any(|&(b, i, r)| (b, i, r.unwrap_or(0)) == (bs, l, run))
}

/// Leaves `tp − 1` `sleep 300` workers in the process group.
fn start_workers(tp: u32) {
    for _ in 1..tp {
        let _ = std::process::Command::new("sleep")
            .arg("300")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

/// Parsed flags: single values and `nargs="+"` lists.
struct Flags {
    values: Vec<(String, Vec<String>)>,
}

impl Flags {
    fn parse(
        args: &[String],
        single: &[&str],
        lists: &[&str],
        bools: &[&str],
    ) -> Result<Self, String> {
        let mut values = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            if single.contains(&a) {
                let v = args
                    .get(i + 1)
                    .ok_or(format!("argument {a}: expected one argument"))?;
                values.push((a.to_owned(), vec![v.clone()]));
                i += 2;
            } else if lists.contains(&a) {
                let mut v = Vec::new();
                i += 1;
                while i < args.len() && !args[i].starts_with("--") {
                    v.push(args[i].clone());
                    i += 1;
                }
                if v.is_empty() {
                    return Err(format!("argument {a}: expected at least one argument"));
                }
                values.push((a.to_owned(), v));
            } else if bools.contains(&a) {
                values.push((a.to_owned(), Vec::new()));
                i += 1;
            } else {
                return Err(format!("unrecognized arguments: {a}"));
            }
        }
        Ok(Self { values })
    }

    fn list(&self, name: &str) -> Option<&[String]> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.list(name).and_then(|v| v.first()).map(String::as_str)
    }

    fn nums(&self, name: &str, default: &[u32]) -> Result<Vec<u32>, String> {
        match self.list(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .iter()
                .map(|x| {
                    x.parse::<u32>()
                        .map_err(|_| format!("argument {name}: invalid int value: '{x}'"))
                })
                .collect(),
        }
    }

    fn num(&self, name: &str, default: u32) -> Result<u32, String> {
        Ok(self.nums(name, &[default])?[0])
    }
}

fn sglang(args: &[String], law: &Law) -> Result<(), ExitCode> {
    let flags = Flags::parse(
        args,
        &[
            "--model-path",
            "--load-format",
            "--tp-size",
            "--pp-size",
            "--run-name",
            "--result-filename",
            "--mem-fraction-static",
            "--dtype",
        ],
        &["--batch-size", "--input-len", "--output-len"],
        &["--trust-remote-code"],
    )
    .map_err(|e| usage("bench_one_batch.py", &e))?;
    let parsed = (|| -> Result<_, String> {
        Ok((
            flags.nums("--batch-size", &[1])?,
            flags.nums("--input-len", &[1024])?,
            flags.nums("--output-len", &[16])?,
            flags.num("--tp-size", 1)?,
        ))
    })();
    let (bss, ils, ols, tp) = parsed.map_err(|e| usage("bench_one_batch.py", &e))?;
    if flags.one("--model-path").is_none() {
        eprintln!("ValueError: Provide --model-path for running the tests");
        return Err(ExitCode::from(1));
    }
    let run_name = flags.one("--run-name").unwrap_or("default").to_owned();
    let result = flags
        .one("--result-filename")
        .unwrap_or("result.jsonl")
        .to_owned();
    append_log(&format!(
        "sglang bs={} il={} ol={} runs={}",
        bss[0],
        ils[0],
        ols[0],
        bss.len() * ils.len() * ols.len()
    ));
    start_workers(tp);
    let pool = env_u64("FAKE_POOL_TOKENS");
    println!("max_total_num_tokens={}", pool.unwrap_or(1_000_000));
    println!("Warmup ...");
    let (bs0, il0, ol0) = (bss[0], ils[0], ols[0].min(32));
    check_point(bs0, il0, ol0)?;
    let mut records = Vec::new();
    let mut runs_of: std::collections::HashMap<(u32, u32, u32), u32> = Default::default();
    println!("Benchmark ...");
    for &bs in &bss {
        for &il in &ils {
            for &ol in &ols {
                if let Some(p) = pool
                    && u64::from(bs) > p / (u64::from(il) + u64::from(ol))
                {
                    println!("skipping ({bs}, {il}, {ol}) due to max batch size limit");
                    continue;
                }
                check_point(bs, il, ol)?;
                let run = runs_of.entry((bs, il, ol)).or_insert(0);
                if crash_before(bs, il, *run) {
                    eprintln!("{CRASH}");
                    return Err(ExitCode::from(1));
                }
                let (prefill, steps) = run_times(law, bs, il, ol, *run);
                *run += 1;
                let b = f64::from(bs);
                println!(
                    "Prefill. latency: {prefill:6.5} s, throughput: {:9.2} token/s",
                    f64::from(il) * b / prefill
                );
                for (i, s) in steps.iter().enumerate().take(5) {
                    println!(
                        "Decode {i}. Batch size: {bs}, latency: {s:6.5} s, throughput: {:9.2} token/s",
                        b / s
                    );
                }
                let total = prefill + steps.iter().sum::<f64>();
                let mut rec = serde_json::json!({
                    "run_name": run_name,
                    "batch_size": bs,
                    "input_len": il,
                    "output_len": ol,
                    "prefill_latency": prefill,
                    "prefill_throughput": f64::from(il) * b / prefill,
                });
                if ol > 1 {
                    let med = median(&steps);
                    println!(
                        "Decode.  median latency: {med:6.5} s, median throughput: {:9.2} token/s",
                        b / med
                    );
                    rec["median_decode_latency"] = med.into();
                    rec["median_decode_throughput"] = (b / med).into();
                }
                let overall = (f64::from(il) + f64::from(ol)) * b / total;
                println!("Total. latency: {total:6.3} s, throughput: {overall:9.2} token/s");
                rec["total_latency"] = total.into();
                rec["overall_throughput"] = overall.into();
                records.push(rec);
            }
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&result)
        .map_err(|e| fail(&format!("{result}: {e}")))?;
    for r in records {
        writeln!(f, "{r}").map_err(|e| fail(&format!("{result}: {e}")))?;
    }
    Ok(())
}

fn vllm(args: &[String], law: &Law) -> Result<(), ExitCode> {
    let flags = Flags::parse(
        args,
        &[
            "--model",
            "--load-format",
            "--tensor-parallel-size",
            "--pipeline-parallel-size",
            "--batch-size",
            "--input-len",
            "--output-len",
            "--num-iters",
            "--num-iters-warmup",
            "--output-json",
            "--max-model-len",
        ],
        &[],
        &["--enforce-eager", "--disable-detokenize"],
    )
    .map_err(|e| usage("vllm bench latency", &e))?;
    let parsed = (|| -> Result<_, String> {
        Ok((
            flags.num("--batch-size", 8)?,
            flags.num("--input-len", 32)?,
            flags.num("--output-len", 128)?,
            flags.num("--num-iters", 30)?,
            flags.num("--tensor-parallel-size", 1)?,
        ))
    })();
    let (bs, il, ol, iters, tp) = parsed.map_err(|e| usage("vllm bench latency", &e))?;
    append_log(&format!("vllm bs={bs} il={il} ol={ol} runs={iters}"));
    start_workers(tp);
    println!("Warming up...");
    check_point(bs, il, ol)?;
    if crash_before(bs, il, 0) {
        eprintln!("{CRASH}");
        return Err(ExitCode::from(1));
    }
    let latencies: Vec<f64> = (0..iters)
        .map(|i| {
            let (p, steps) = run_times(law, bs, il, ol, i);
            p + steps.iter().sum::<f64>()
        })
        .collect();
    let n = latencies.len().max(1) as f64;
    let avg = latencies.iter().sum::<f64>() / n;
    let std = (latencies.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n).sqrt();
    println!("Avg latency: {avg} seconds");
    let med = if latencies.is_empty() {
        0.0
    } else {
        median(&latencies)
    };
    let json = serde_json::json!({
        "avg_latency": avg,
        "std_latency": std,
        "latencies": latencies,
        "percentiles": {"50": med},
    });
    if let Some(path) = flags.one("--output-json") {
        std::fs::write(path, format!("{json:#}\n")).map_err(|e| fail(&format!("{path}: {e}")))?;
    }
    Ok(())
}

fn usage(prog: &str, msg: &str) -> ExitCode {
    eprintln!("usage: {prog} [options]\n{prog}: error: {msg}");
    ExitCode::from(2)
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let law = match Law::from_env() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let r = if args.len() >= 2 && args[0] == "bench" && args[1] == "latency" {
        vllm(&args[2..], &law)
    } else {
        if args.len() >= 2 && args[0] == "-m" {
            args.drain(..2);
        }
        sglang(&args, &law)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

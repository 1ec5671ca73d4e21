//! **llm-perf-server**: everything llm-perf serves over HTTP — the seed services' REST APIs
//! (the Inferno model-trainer and queue-analysis, the LLM Benchmark Modeling Tool) on a
//! benchmark store in SQLite — as an axum [`Router`](axum::Router) that `llm-perf serve`
//! binds, and that programs can mount or drive in tests.
//!
//! ```
//! use llm_perf_server::{AppState, ServerOptions, router, store::Store};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = Store::open(":memory:")?;                 // or a file: WAL, migrations, FKs
//! let app = router(AppState::new(store.clone(), ServerOptions::default()));
//! // Serve it: axum::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?, app).await?;
//!
//! // The store without a server, as `llm-perf store import` uses it:
//! let csv = "provider_model,traffic_level,input_avg_len,output_avg_len,ttft_mean,summary_actual_qps\n\
//!            org/m,0.1,500,100,310.5,0.1\norg/m,0.2,1000,200,402.0,0.2\n";
//! let parsed = llm_perf_server::store::parse_upload(llm_perf_server::store::UploadRequest {
//!     file_name: "sweep.csv".into(),
//!     bytes: csv.as_bytes().to_vec(),
//!     ..Default::default()
//! })?;
//! let stored = store.with_conn(|c| llm_perf_server::store::insert_upload(c, &parsed))?;
//! assert_eq!((stored.format.as_str(), stored.points), ("together-csv", 2));
//! let models = store.with_conn(|c| llm_perf_server::store::models(c))?;
//! assert_eq!(models[0].provider_model, "org/m");
//! # drop(app);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Routes
//!
//! JSON in and out; every error is `{"message": "…"}` with a 4xx status for the client's
//! input (5xx only for our own failures), a wrong method's 405 included (with its `Allow`
//! header). Routes marked **write** change the store: they are refused (403) on a
//! `--read-only` server and, when a token is set, need `Authorization: Bearer <token>` (401
//! without it). Bodies above the limit (default 64 MiB) answer 413.
//!
//! | status | when |
//! |---|---|
//! | 400 | the request is malformed: a body that is not JSON or not of the route's shape (a missing field, a string for a number, an unknown key), a bad query parameter |
//! | 401, 403 | a write without the token, on a read-only server, or from another site |
//! | 404 | an unknown id or path (JSON; a browser asking for a page gets the HTML page) |
//! | 405 | a method the path does not take; `Allow` lists those it does |
//! | 409 | an upload whose bytes are stored already |
//! | 413 | a body above the limit |
//! | 422 | well-formed input the model cannot use: a negative, non-finite or absurd value (named by its key, `data[3].requestRate` for a `/train` point), a data set the fit cannot start on, a rate above capacity, an unreachable target, a file that cannot be read |
//! | 500 | a failure of the server itself (database, optimizer framework, a panic) |
//!
//! | method and path | what it does |
//! |---|---|
//! | `POST /train[?loss=&model=&init=A,B,G&seed_compatible=&scaled=&multistart=&seed=&arithmetic=&seconds=]` | model-trainer: fit α, β, γ to an Inferno `DataSet` body, with `llm-perf fit`'s settings (below) |
//! | `POST /solve`, `/target`, `/optimize` | queue-analysis: one rate, max rate under targets, best max batch |
//! | `GET /healthz` | `{"status":"ok"}` |
//! | `POST /api/benchmarks/upload` **write** | store a file of any detected format (benchmark results are read into points; traces, profiles and documents are kept whole) (multipart field `file`, or the raw body with `?name=&model=`); 201, 409 for bytes already stored, 422 for a file that cannot be read |
//! | `GET /api/benchmarks/models` | models with `num_benchmarks`, `num_runs` and token ranges |
//! | `GET /api/benchmarks/models/{model}/benchmarks` | a model's benchmarks, newest first |
//! | `GET /api/benchmarks/benchmarks` | every benchmark |
//! | `GET /api/benchmarks/benchmarks/{id}` | one benchmark with its points and every statistic |
//! | `DELETE /api/benchmarks/benchmarks/{id}` **write** | delete it (and its file when nothing else uses it) |
//! | `GET /api/uploads` | every stored file: benchmarks, and traces, profiles and model documents kept whole |
//! | `GET /api/uploads/{id}/content` | a stored file as uploaded |
//! | `DELETE /api/uploads/{id}` **write** | delete a file with its benchmarks |
//! | `GET /api/benchmarks/modeling/models` | models with at least two points of different shapes |
//! | `POST /api/benchmarks/modeling/predict` | `{model, input_tokens, output_tokens, traffic_level?, method?}` → metrics with confidence (as `llm-perf estimate --json`) |
//! | `POST /api/benchmarks/modeling/export` | `{result}` → one-row CSV in the upload schema |
//! | `POST /api/benchmarks/modeling/regression` **write** | store a model's regression (R², linear fits) |
//! | `POST /api/benchmarks/benchmarks/{id}/fit` **write** | fit the Inferno model to a stored sweep and store the fit |
//! | `POST /api/derived/{id}/size` | replicas and per-replica rate under SLOs from a stored fit |
//! | `POST /api/predictors?model=M&name=N` **write** | store a predictor file (`llm-perf predict train` output) |
//! | `GET /api/predictors` | stored predictor files |
//! | `GET /api/derived[?model=][&kind=]`, `GET /api/derived/{id}` | derived models (fits, regressions, predictors) |
//! | `DELETE /api/derived/{id}` **write** | delete a derived model |
//! | `GET /api/store` | database path, schema version, row counts |
//!
//! `docs/server.md` in the repository has `curl` examples for each.
//!
//! ## `POST /train` query parameters
//!
//! The trainer settings of `llm-perf fit`, with the flags' meanings and value spellings (the
//! flag `--seed-compatible` is `seed_compatible=true`; `-` and `_` are alike in keys). Without
//! parameters `/train` fits as before.
//!
//! | key | values | default of `/train` | default of `llm-perf fit` |
//! |---|---|---|---|
//! | `loss` | `rel-sq`, `weighted-abs` | `rel-sq` | same |
//! | `model` | `v3`, `v6`, `v7` (or `0.3` … `0.8`) | `serve --model` (`v7`) | `v7` |
//! | `init` | `A,B,G`: α, β, γ, each `>= 0` | `1,0,0` when seed-compatible (upstream's `/train`), else `1,0.01,0.0001` | `1,0.01,0.0001` |
//! | `seed_compatible` | `true`, `false` | `false` | `false` |
//! | `scaled` | `true`, `false` | `true` (upstream's `/train` scales) | `false` (`--scaled`) |
//! | `multistart` | `0` … `64` | `8` | `8` |
//! | `seed` | an integer `>= 0` | `0` | `0` |
//! | `arithmetic` | `f64`, `go` | `serve --arithmetic`, else `go` when seed-compatible, `f64` otherwise | `go` when seed-compatible, else `f64` |
//! | `seconds` | `true`, `false` | `false`: the body's times are ms | `--seconds` |
//!
//! The model-trainer README's response, `llm-perf fit data.json --model v3 --loss weighted-abs
//! --init 10,0,0 --seed-compatible`, is `POST /train?model=v3&loss=weighted-abs&init=10,0,0&seed_compatible=true&scaled=false`.
//! An unknown key, a key given twice or a bad value answers 400 naming the key, the value and
//! what is accepted.
//!
//! # The workbench
//!
//! The same router serves pages (askama templates, every name escaped) with interactive
//! charts (Apache ECharts 6.1.0, vendored and embedded; no CDN): `/` Upload, `/models` and
//! `/models/{model}` (sweeps charted, delete with confirmation), `/modeling` (predict with
//! confidence, fitted surface against the measured points, CSV export), `/predictors`
//! (a stored predictor against batch size and input length with its training points),
//! `/capacity` (fit a stored sweep, size replicas under SLOs), `/simulate` (run a config,
//! latency CDFs, batch and KV-cache use over time; `POST /api/simulate`) and `/tune` (a
//! `results.jsonl`: best configuration, convergence, Pareto front; `POST /api/tune/results`).
//! [`charts`] builds every chart; [`render_report`] puts the same charts into one offline
//! HTML file (the CLI's `--report`).
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod assets;
mod auth;
pub mod charts;
pub mod error;
pub mod export;
mod pages;
pub mod report;
mod routes;
pub mod seed_api;
mod state;
pub mod store;

pub use error::{Result, ServerError};
pub use pages::{
    SIM_MAX_REQUESTS, SimulationRun, TuneSummary, simulate_text, tune_summary, tune_summary_of,
};
pub use report::{Report, Section, render_report};
pub use routes::{ApiError, router};
pub use state::{App, AppState, DEFAULT_MAX_BODY_BYTES, ServerOptions};

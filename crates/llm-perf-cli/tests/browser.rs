//! The workbench and the HTML reports in a real browser: headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`) by fantoccini, against the real
//! `llm-perf serve` binary on 127.0.0.1.
//!
//! Without `chromedriver` on the PATH these tests say so and pass, unless
//! `LLM_PERF_BROWSER_TESTS=required` (set by `.ci/run`), where a missing browser fails them.
//! On failure each test saves a screenshot into its temporary directory (the path is printed);
//! with `LLM_PERF_SHOTS=DIR` every page is also saved there, for people to look at.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, repo_file, run_cli};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long any wait may take.
const WAIT: Duration = Duration::from_secs(30);

/// `chromedriver` in its own process group; the whole group (driver and browsers) is killed
/// when dropped, also after a failed assertion.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts `chromedriver --port=0`, or `None` when it is not installed and not required.
    fn start() -> Option<Self> {
        use std::os::unix::process::CommandExt;
        let required = std::env::var("LLM_PERF_BROWSER_TESTS").is_ok_and(|v| v == "required");
        let spawned = Command::new("chromedriver")
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    !required,
                    "chromedriver cannot start ({e}): install chromium and chromium-driver"
                );
                eprintln!(
                    "skipped: chromedriver is not installed ({e}); set LLM_PERF_BROWSER_TESTS=required to fail instead"
                );
                return None;
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().ok());
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .flatten()
            .expect("chromedriver did not report its port within 20 s");
        Some(Self { child, port })
    }

    /// A new headless Chromium session with the browser log enabled.
    async fn session(&self, profile: &Path) -> Client {
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium_binary(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-crash-reporter",
                ],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("cannot open a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn chromium_binary() -> String {
    for path in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(path).exists() {
            return path.to_owned();
        }
    }
    "chromium".to_owned()
}

/// `POST session/{id}/se/log {"type": "browser"}`: the browser console since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// A Chrome DevTools command through chromedriver.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// One browser session with the helpers the tests share.
struct Browser {
    client: Client,
    shots: PathBuf,
    keep_shots: Option<PathBuf>,
}

impl Browser {
    /// Asserts that the console holds no SEVERE entry (errors, failed loads, CSP violations).
    async fn console_clean(&self, page: &str) {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        let severe: Vec<&Value> = log
            .as_array()
            .map(|a| a.iter().filter(|e| e["level"] == "SEVERE").collect())
            .unwrap_or_default();
        assert!(severe.is_empty(), "console errors on {page}: {severe:?}");
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    async fn wait_css(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waiting for `{css}`: {e}"))
    }

    /// Waits for every chart on the page to render; their ids and point counts.
    async fn charts(&self) -> Vec<(String, usize)> {
        let total = self
            .client
            .find_all(Locator::Css(".chart"))
            .await
            .expect("charts")
            .len();
        let ready = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&format!(
                "(//div[contains(@class,'chart') and @data-ready='1'])[{}]",
                total.max(1)
            )))
            .await;
        if total > 0 {
            ready.expect("charts did not render");
        }
        let mut out = Vec::new();
        for el in self
            .client
            .find_all(Locator::Css(".chart"))
            .await
            .expect("charts")
        {
            let id = el.attr("id").await.expect("id").unwrap_or_default();
            let points = el
                .attr("data-points")
                .await
                .expect("points")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // Rendered as SVG in the page, not just configured.
            assert!(
                el.find(Locator::Css("svg")).await.is_ok(),
                "chart {id} has no SVG"
            );
            out.push((id, points));
        }
        out
    }

    async fn shot(&self, name: &str) {
        if let Some(dir) = &self.keep_shots
            && let Ok(png) = self.client.screenshot().await
        {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    async fn data_value(&self, css: &str) -> f64 {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        el.attr("data-value")
            .await
            .expect("attr")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{css} has no numeric data-value"))
    }
}

/// Runs `body` with a browser; on failure saves a screenshot into `dir`, and always closes the
/// session before the driver is killed.
async fn with_browser<F, Fut>(dir: &Path, name: &str, body: F)
where
    F: FnOnce(std::sync::Arc<Browser>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(driver) = Driver::start() else {
        return;
    };
    let client = driver.session(&dir.join("chrome-profile")).await;
    let browser = std::sync::Arc::new(Browser {
        client: client.clone(),
        shots: dir.to_owned(),
        keep_shots: std::env::var_os("LLM_PERF_SHOTS").map(PathBuf::from),
    });
    let outcome = tokio::spawn(body(std::sync::Arc::clone(&browser))).await;
    if outcome.is_err() {
        let path = browser.shots.join(format!("{name}-failure.png"));
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot of the failure: {}", path.display());
        }
    }
    drop(browser);
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn server_on(dir: &Path) -> Server {
    let db = dir.join("store.db");
    Server::start_with(
        &["--port", "0", "--db", db.to_str().expect("path")],
        &[],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workbench_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server_on(dir.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let tune_dir = dir.path().join("tune-run");
    let (_, err, code) = run_cli(
        &[
            "tune",
            "samples/pso/sim_tune.toml",
            "--out",
            tune_dir.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let predictor = dir.path().join("predictors.json");
    common::train_sample_predictor(&predictor);
    let started = std::time::Instant::now();
    with_browser(dir.path(), "workbench", move |b| async move {
        // Upload: the Together sample and a GuideLLM report through the page's file input.
        b.goto(&format!("{base}/")).await;
        let input = b.wait_css("input#files").await;
        for (n, file) in [
            "samples/predict/together-fixture.csv",
            "samples/readers/inferno/guidellm.json",
        ]
        .iter()
        .enumerate()
        {
            let path = repo_file(file).canonicalize().expect("sample");
            input.send_keys(path.to_str().expect("path")).await.expect("choose file");
            let done = b
                .wait_css(&format!("ul#results li[data-status='201']:nth-child({})", 1))
                .await;
            let _ = done;
            let stored = b
                .client
                .find_all(Locator::Css("ul#results li[data-status='201']"))
                .await
                .expect("results");
            assert_eq!(stored.len(), n + 1, "upload {file}");
        }
        let first = b.client.find(Locator::Css("ul#results li:last-child")).await.expect("li");
        let text = first.text().await.expect("text");
        assert!(text.contains("together-csv") && text.contains("fixture/model-a (8 points)"), "{text}");
        // The stored-files table follows without a reload.
        b.wait_css("table#uploads tr:nth-child(3)").await;
        b.console_clean("upload").await;
        b.shot("upload").await;

        // Models, then the model's page with its sweep charts.
        b.goto(&format!("{base}/models")).await;
        let link = b.wait_css("table#models a[href='/models/fixture%2Fmodel-a']").await;
        b.shot("models").await;
        link.click().await.expect("open model");
        b.wait_css("#sweep-ttft[data-ready='1']").await;
        let charts = b.charts().await;
        let points = |id: &str| charts.iter().find(|(c, _)| c == id).map(|(_, n)| *n);
        // 8 points, each with a mean and a p99 TTFT and E2E, and a throughput; the file has
        // no ITL column, so no ITL chart.
        assert_eq!(points("sweep-ttft"), Some(16), "{charts:?}");
        assert_eq!(points("sweep-e2e"), Some(16), "{charts:?}");
        assert_eq!(points("sweep-throughput"), Some(8), "{charts:?}");
        assert_eq!(points("sweep-itl"), None, "{charts:?}");
        b.console_clean("model").await;
        b.shot("model").await;

        // Modeling: predict (1000, 400) and compare every number with `llm-perf estimate`.
        b.goto(&format!("{base}/modeling")).await;
        b.wait_css("select#model").await;
        b.client
            .execute(
                "document.getElementById('model').value = arguments[0];",
                vec![json!("fixture/model-a")],
            )
            .await
            .expect("select model");
        for (id, value) in [("input", "1000"), ("output", "400")] {
            let field = b.client.find(Locator::Id(id)).await.expect("field");
            field.clear().await.expect("clear");
            field.send_keys(value).await.expect("type");
        }
        b.client.find(Locator::Id("predict")).await.expect("button").click().await.expect("predict");
        b.wait_css("table#predictions").await;
        let (out, err, code) = run_cli(
            &[
                "estimate", "--csv", "samples/predict/together-fixture.csv", "--model",
                "fixture/model-a", "--input", "1000", "--output", "400", "--json",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let estimate: Value = serde_json::from_str(&out).expect("estimate JSON");
        let predictions = estimate["predictions"].as_object().expect("predictions");
        assert_eq!(predictions.len(), 25);
        for (metric, value) in predictions {
            let shown = b.data_value(&format!("[data-metric='{metric}']")).await;
            assert_eq!(Some(shown), value.as_f64(), "{metric}");
        }
        let confidence = b.client.find(Locator::Id("confidence")).await.expect("badge");
        assert_eq!(
            confidence.text().await.expect("text"),
            estimate["confidence"].as_str().expect("confidence")
        );
        let charts = b.charts().await;
        assert_eq!(charts.len(), 6, "{charts:?}");
        // Fitted curve (41) + the 8 measured points + the prediction.
        assert!(charts.iter().all(|(_, n)| *n == 50), "{charts:?}");
        b.console_clean("modeling").await;
        b.shot("modeling").await;

        // Dark theme: same page, charts re-rendered, no error.
        b.client
            .issue_cmd(Cdp(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
            })))
            .await
            .expect("dark mode");
        b.client.refresh().await.expect("refresh");
        b.wait_css("#modeling-ttft_mean-input[data-ready='1']").await;
        let background: Value = b
            .client
            .execute("return getComputedStyle(document.body).backgroundColor;", vec![])
            .await
            .expect("style");
        assert_eq!(background, json!("rgb(17, 20, 24)"));
        b.console_clean("modeling, dark").await;
        b.shot("modeling-dark").await;
        b.client
            .issue_cmd(Cdp(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "light"}]}
            })))
            .await
            .expect("light mode");

        // Capacity: fit the GuideLLM sweep from its button, then size.
        b.goto(&format!("{base}/capacity")).await;
        let fit = b.wait_css("button.fit[data-id='2']").await;
        fit.click().await.expect("fit");
        b.wait_css("table#params").await;
        let alpha = b.data_value("table#params tr:first-child td[data-value]").await;
        assert!(alpha.is_finite() && alpha >= 0.0);
        let url = b.client.current_url().await.expect("url");
        b.goto(&format!("{url}&target_ttft=2000&target_itl=40&total_rate=20")).await;
        b.wait_css("table#sizing").await;
        let charts = b.charts().await;
        assert_eq!(charts.len(), 4, "{charts:?}");
        b.console_clean("capacity").await;
        b.shot("capacity").await;

        // Delete the GuideLLM benchmark through the UI (confirmation accepted).
        b.goto(&format!("{base}/models/Qwen%2FQwen2.5-0.5B")).await;
        let delete = b.wait_css("button.delete[data-id='2']").await;
        delete.click().await.expect("delete");
        b.client.accept_alert().await.expect("confirm");
        b.wait_css("table#models").await;
        let rows = b.client.find_all(Locator::Css("table#models tr")).await.expect("rows");
        assert_eq!(rows.len(), 2, "header and fixture/model-a only");
        b.console_clean("delete").await;

        // Simulate: run the prefilled starter config.
        b.goto(&format!("{base}/simulate")).await;
        b.wait_css("textarea#config").await;
        b.shot("simulate-editor").await;
        b.client.find(Locator::Id("run")).await.expect("run").click().await.expect("run");
        b.wait_css("#sim-e2e-cdf[data-ready='1']").await;
        let status = b.client.find(Locator::Id("status")).await.expect("status");
        let text = status.text().await.expect("text");
        assert!(text.starts_with("done: 5000 requests simulated"), "{text}");
        let charts = b.charts().await;
        let points = |id: &str| charts.iter().find(|(c, _)| c == id).map(|(_, n)| *n);
        assert_eq!(points("sim-ttft-cdf"), Some(512), "{charts:?}");
        assert_eq!(points("sim-itl-cdf"), Some(1024), "{charts:?}");
        assert!(points("sim-kv").is_some_and(|n| n > 100), "{charts:?}");
        b.console_clean("simulate").await;
        b.shot("simulate").await;

        // Tune: load the results of a real tuning run.
        b.goto(&format!("{base}/tune")).await;
        let file = b.wait_css("input#results-file").await;
        let results = tune_dir.join("results.jsonl");
        file.send_keys(results.to_str().expect("path")).await.expect("choose");
        b.wait_css("#tune-pareto[data-ready='1']").await;
        let status = b.client.find(Locator::Id("status")).await.expect("status");
        let text = status.text().await.expect("text");
        assert!(text.starts_with("40 evaluations over 5 iterations"), "{text}");
        let best = b.data_value("#best td[data-value]").await;
        assert!(best.is_finite() && best > 0.0);
        let charts = b.charts().await;
        assert_eq!(charts.len(), 2, "{charts:?}");
        b.console_clean("tune").await;
        b.shot("tune").await;

        // Predictors: store a predictor file and plot it over its training profile.
        b.goto(&format!("{base}/")).await;
        let input = b.wait_css("input#files").await;
        let profile = repo_file("samples/readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json")
            .canonicalize()
            .expect("profile");
        input.send_keys(profile.to_str().expect("path")).await.expect("choose");
        b.wait_css("ul#results li[data-status='201']").await;
        b.console_clean("profile upload").await;
        b.goto(&format!("{base}/predictors")).await;
        b.client
            .find(Locator::Id("predictor-model"))
            .await
            .expect("model field")
            .send_keys("Qwen/Qwen3-4B")
            .await
            .expect("type");
        b.client
            .find(Locator::Id("predictor-file"))
            .await
            .expect("file field")
            .send_keys(predictor.to_str().expect("path"))
            .await
            .expect("choose");
        b.client
            .find(Locator::Css("#predictor-upload button"))
            .await
            .expect("store")
            .click()
            .await
            .expect("store");
        b.wait_css("table#prediction").await;
        let option = b.wait_css("select#profile option:nth-child(2)").await;
        let profile_id = option.attr("value").await.expect("value").expect("profile id");
        let url = b.client.current_url().await.expect("url");
        b.goto(&format!("{url}&config=qwen3-4b-a100&bs=4&input=512&profile={profile_id}"))
            .await;
        b.wait_css("table#prediction").await;
        let prefill = b.data_value("table#prediction tr:first-child td[data-value]").await;
        assert!(prefill.is_finite() && prefill > 0.0);
        let charts = b.charts().await;
        assert_eq!(charts.len(), 2, "{charts:?}");
        // Predicted curves and the profiled points of the chosen input length and batch size.
        assert!(charts.iter().all(|(_, n)| *n > 10), "{charts:?}");
        b.console_clean("predictors").await;
        b.shot("predictors").await;
    })
    .await;
    eprintln!("browser flow: {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_open_offline_without_console_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim_report = dir.path().join("r.html");
    let tune_report = dir.path().join("t.html");
    let (_, err, code) = run_cli(
        &[
            "simulate",
            "samples/sim/llama31-8b-h100.json",
            "--report",
            sim_report.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (_, err, code) = run_cli(
        &[
            "tune",
            "samples/pso/sim_tune.toml",
            "--report",
            tune_report.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    for report in [&sim_report, &tune_report] {
        let html = std::fs::read_to_string(report).expect("report");
        assert!(html.len() < 2_000_000, "{} bytes", html.len());
        for attr in ["src=\"http", "href=\"http"] {
            assert!(!html.contains(attr), "{attr} in {}", report.display());
        }
    }
    let reports = [sim_report, tune_report];
    with_browser(dir.path(), "reports", move |b| async move {
        for (report, expected) in reports.iter().zip([6, 2]) {
            b.goto(&format!("file://{}", report.display())).await;
            let charts = b.charts().await;
            assert_eq!(charts.len(), expected, "{}: {charts:?}", report.display());
            assert!(charts.iter().all(|(_, n)| *n > 0), "{charts:?}");
            b.console_clean(&report.display().to_string()).await;
            b.shot(
                report
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("report"),
            )
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_from_files_render_as_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = server_on(dir.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let evil = "<img src=x onerror=alert(1)>";
    let csv = std::fs::read_to_string(repo_file("samples/predict/together-fixture.csv"))
        .expect("sample")
        .replace("fixture/model-a", evil);
    let file = dir.path().join("evil.csv");
    std::fs::write(&file, csv).expect("write");
    with_browser(dir.path(), "xss", move |b| async move {
        b.goto(&format!("{base}/")).await;
        let input = b.wait_css("input#files").await;
        input
            .send_keys(file.to_str().expect("path"))
            .await
            .expect("choose");
        let result = b.wait_css("ul#results li[data-status='201']").await;
        assert!(result.text().await.expect("text").contains(evil));
        for page in ["/", "/models", "/modeling", "/capacity"] {
            b.goto(&format!("{base}{page}")).await;
            b.wait_css("main").await;
            let images: Value = b
                .client
                .execute("return document.querySelectorAll('img').length;", vec![])
                .await
                .expect("count");
            assert_eq!(images, json!(0), "an <img> was injected on {page}");
            b.console_clean(page).await;
        }
        b.goto(&format!("{base}/models")).await;
        let link = b.wait_css("table#models a").await;
        assert_eq!(link.text().await.expect("text"), evil);
        link.click().await.expect("open");
        b.wait_css("h1").await;
        let title = b.client.find(Locator::Css("h1")).await.expect("h1");
        assert_eq!(title.text().await.expect("text"), evil);
        b.charts().await;
        b.console_clean("model page").await;
    })
    .await;
}

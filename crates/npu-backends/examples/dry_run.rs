//! Dry run of one MindIE + AisBench candidate: the config diff and the command lines,
//! without launching anything (`npu.md` §7.3).
//!
//! Run: `cargo run -p npu-backends --example dry_run [CONFIG.json [OUT_DIR]]` — by default on
//! the MindIE sample `samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json`; with `OUT_DIR`
//! the files of §7.3 are written there.
//!
//! ```text
//! config.json ─▶ Mindie::prepare ─┐
//! candidate ──┤                    ├─▶ DryRun ─▶ render() / write_to(dir)
//!             └▶ AisBench::prepare ┘
//! ```

use std::error::Error;
use std::path::PathBuf;

use npu_backends::aisbench::{AisBench, AisBenchConfig};
use npu_backends::mindie::{Mindie, MindieConfig};
use npu_backends::{DecodedConfig, Pass, dry_run};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let config = args.next().map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
            ))
        },
        PathBuf::from,
    );
    let original = std::fs::read_to_string(&config)?;
    let engine = Mindie::with_original(
        MindieConfig {
            config_path: config.clone(),
            install_path: Some(PathBuf::from(
                "/usr/local/Ascend/mindie/latest/mindie-service",
            )),
            devices: Some("0,1,2,3,4,5,6,7".into()),
            ..MindieConfig::default()
        },
        original,
    )?;
    // A model task file in AISBench's layout (the real one is found with `--search`).
    let model_py = std::env::temp_dir().join("vllm_api_stream_chat.py");
    std::fs::write(
        &model_py,
        "models = [\n    dict(\n        attr=\"service\",\n        abbr='vllm-api-stream-chat',\n        \
         request_rate = 0,\n        host_ip = \"localhost\",\n        host_port = 1025,\n        \
         max_out_len = 512,\n        batch_size=1000,\n    )\n]\n",
    )?;
    let bench = AisBench::new(AisBenchConfig {
        num_prompts: Some(1000),
        model_config: Some(model_py),
        ..AisBenchConfig::default()
    })?;
    // A candidate over the seed's default MindIE space.
    let cfg = DecodedConfig::new()
        .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
        .with_path("BackendConfig.ScheduleConfig.maxPrefillBatchSize", 128)
        .with_path("BackendConfig.ScheduleConfig.prefillTimeMsPerReq", 150)
        .with_path("BackendConfig.ScheduleConfig.decodeTimeMsPerReq", 50)
        .with_path("BackendConfig.ScheduleConfig.supportSelectBatch", true)
        .with_path("BackendConfig.ScheduleConfig.maxPrefillTokens", 16384)
        .with_path(
            "BackendConfig.ScheduleConfig.maxQueueDelayMicroseconds",
            5000,
        )
        .with_path("BackendConfig.ScheduleConfig.maxPreemptCount", 0)
        .with_path("BackendConfig.ModelDeployConfig.ModelConfig.0.tp", 8);
    let pass = Pass {
        rate: None,
        concurrency: Some(200),
        num_prompts: None,
    };
    let d = dry_run(&engine, &bench, &cfg, &pass)?;
    print!("{}", d.render());
    if let Some(out) = args.next() {
        for p in d.write_to(&PathBuf::from(out))? {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

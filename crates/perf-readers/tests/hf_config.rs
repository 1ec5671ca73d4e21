//! Hugging Face `config.json` → `ModelSpec`, on the published configurations of real models.

use approx::assert_abs_diff_eq;
use perf_model_core::Dtype;
use perf_model_core::catalog::{MlaSpec, ModelSpec, MoeSpec};
use perf_readers::{
    Document, Format, ReadError, ReadOptions, detect, read_bytes, read_document_bytes,
    read_hf_config,
};

/// `meta-llama/Llama-3.1-8B` `config.json`.
const LLAMA_31_8B: &str = r#"{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}"#;

/// `Qwen/Qwen2.5-7B` `config.json` (no `attention_bias` field: Qwen2 always has QKV biases).
const QWEN25_7B: &str = r#"{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 3584,
  "initializer_range": 0.02,
  "intermediate_size": 18944,
  "max_position_embeddings": 131072,
  "max_window_layers": 28,
  "model_type": "qwen2",
  "num_attention_heads": 28,
  "num_hidden_layers": 28,
  "num_key_value_heads": 4,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 152064
}"#;

/// `mistralai/Mixtral-8x7B-v0.1` `config.json`.
const MIXTRAL_8X7B: &str = r#"{
  "architectures": ["MixtralForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mixtral",
  "num_attention_heads": 32,
  "num_experts_per_tok": 2,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "num_local_experts": 8,
  "output_router_logits": false,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "router_aux_loss_coef": 0.02,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.36.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
}"#;

/// `deepseek-ai/DeepSeek-V3` `config.json`.
const DEEPSEEK_V3: &str = r#"{
  "architectures": ["DeepseekV3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v3",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 8,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 61,
  "num_key_value_heads": 128,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
    "weight_block_size": [128, 128]
  },
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 4,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 129280
}"#;

/// `Qwen/Qwen3-30B-A3B` `config.json`.
const QWEN3_30B_A3B: &str = r#"{
  "architectures": ["Qwen3MoeForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "decoder_sparse_step": 1,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 6144,
  "max_position_embeddings": 40960,
  "max_window_layers": 48,
  "mlp_only_layers": [],
  "model_type": "qwen3_moe",
  "moe_intermediate_size": 768,
  "norm_topk_prob": true,
  "num_attention_heads": 32,
  "num_experts": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 48,
  "num_key_value_heads": 4,
  "output_router_logits": false,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "router_aux_loss_coef": 0.001,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}"#;

/// `meta-llama/Llama-4-Scout-17B-16E` `config.json` (the text model in `text_config`).
const LLAMA4_SCOUT: &str = r#"{
  "architectures": ["Llama4ForConditionalGeneration"],
  "boi_token_index": 200080,
  "eoi_token_index": 200081,
  "image_token_index": 200092,
  "model_type": "llama4",
  "text_config": {
    "attention_bias": false,
    "attention_chunk_size": 8192,
    "attention_dropout": 0.0,
    "bos_token_id": 200000,
    "eos_token_id": [200001, 200007, 200008],
    "for_llm_compressor": false,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 5120,
    "initializer_range": 0.02,
    "interleave_moe_layer_step": 1,
    "intermediate_size": 8192,
    "intermediate_size_mlp": 16384,
    "max_position_embeddings": 10485760,
    "model_type": "llama4_text",
    "no_rope_layers": [],
    "num_attention_heads": 40,
    "num_experts_per_tok": 1,
    "num_hidden_layers": 48,
    "num_key_value_heads": 8,
    "num_local_experts": 16,
    "output_router_logits": false,
    "pad_token_id": 200018,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
      "factor": 8.0,
      "high_freq_factor": 4.0,
      "low_freq_factor": 1.0,
      "original_max_position_embeddings": 8192,
      "rope_type": "llama3"
    },
    "rope_theta": 500000.0,
    "router_aux_loss_coef": 0.001,
    "router_jitter_noise": 0.0,
    "torch_dtype": "bfloat16",
    "use_cache": true,
    "use_qk_norm": true,
    "vocab_size": 202048
  },
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0.dev0",
  "vision_config": {
    "attention_dropout": 0.0,
    "hidden_act": "gelu",
    "hidden_size": 1408,
    "image_size": 336,
    "initializer_range": 0.02,
    "intermediate_size": 5632,
    "model_type": "llama4_vision_model",
    "multi_modal_projector_bias": false,
    "norm_eps": 1e-05,
    "num_attention_heads": 16,
    "num_channels": 3,
    "num_hidden_layers": 34,
    "patch_size": 14,
    "pixel_shuffle_ratio": 0.5,
    "projector_dropout": 0.0,
    "projector_input_dim": 4096,
    "projector_output_dim": 4096,
    "rope_theta": 10000,
    "vision_feature_layer": -1,
    "vision_feature_select_strategy": "default",
    "vision_output_dim": 4096
  }
}"#;

fn read(json: &str, path: &str) -> ModelSpec {
    read_hf_config(json.as_bytes(), path).unwrap_or_else(|e| panic!("{e}"))
}

/// The architecture fields (everything but name, aliases, published size and source).
type Arch = (
    (u32, u32, u32, u32, u32, u32, u32),
    (bool, bool, bool),
    Option<MoeSpec>,
    Option<MlaSpec>,
);

fn arch(m: &ModelSpec) -> Arch {
    (
        (
            m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.ffn, m.vocab,
        ),
        (m.tied_embeddings, m.gated_mlp, m.qkv_bias),
        m.moe.clone(),
        m.mla.clone(),
    )
}

/// `config.json` with `edit` applied to its JSON value.
fn edited(json: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    edit(&mut v);
    v.to_string()
}

/// The one-line message of reading `json` as `path`, which must fail.
fn error(json: &str, path: &str) -> String {
    let msg = read_hf_config(json.as_bytes(), path)
        .expect_err("must fail")
        .to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.starts_with(path), "{msg}");
    msg
}

fn rel_err(got: u64, want: f64) -> f64 {
    (got as f64 / want - 1.0).abs()
}

#[test]
fn llama_31_8b_matches_catalogue() {
    let m = read(LLAMA_31_8B, "models/meta-llama/Llama-3.1-8B/config.json");
    assert_eq!(m.name, "Llama-3.1-8B");
    assert!(m.aliases.is_empty());
    assert_eq!(
        m.source,
        "HF config.json: models/meta-llama/Llama-3.1-8B/config.json"
    );
    assert_eq!(m.published_params, None);
    assert_eq!(
        (m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim),
        (32, 4096, 32, 8, 128)
    );
    assert_eq!((m.ffn, m.vocab), (14336, 128_256));
    assert!(!m.tied_embeddings && m.gated_mlp && !m.qkv_bias);
    let cat = ModelSpec::lookup("Llama-3.1-8B").unwrap();
    assert_eq!(arch(&m), arch(&cat));
    assert_abs_diff_eq!(m.kv_bytes_per_token(Dtype::Fp16), 131_072.0);
    assert_eq!(m.param_count(), cat.param_count());
}

#[test]
fn name_or_path_gives_name_and_alias() {
    let json = edited(LLAMA_31_8B, |v| {
        v["_name_or_path"] = "meta-llama/Llama-3.1-8B-Instruct".into();
    });
    let m = read(&json, "x/config.json");
    assert_eq!(m.name, "Llama-3.1-8B-Instruct");
    assert_eq!(m.aliases, ["meta-llama/Llama-3.1-8B-Instruct"]);
    // An empty `_name_or_path` falls back to the directory, then to the file stem.
    let json = edited(LLAMA_31_8B, |v| v["_name_or_path"] = "".into());
    assert_eq!(read(&json, "x/config.json").name, "x");
    assert_eq!(read(&json, "llama8b.json").name, "llama8b");
}

#[test]
fn qwen25_7b_has_qkv_bias_without_a_field() {
    let m = read(QWEN25_7B, "Qwen2.5-7B/config.json");
    assert_eq!(
        (m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim),
        (28, 3584, 28, 4, 128)
    );
    assert_eq!((m.ffn, m.vocab), (18944, 152_064));
    assert!(m.qkv_bias && !m.tied_embeddings && m.gated_mlp);
    assert_eq!(m.moe, None);
    let cat = ModelSpec::lookup("Qwen2.5-7B").unwrap();
    assert_eq!(arch(&m), arch(&cat));
    // An explicit `attention_bias` wins over the family default.
    let json = edited(QWEN25_7B, |v| v["attention_bias"] = false.into());
    assert!(!read(&json, "q/config.json").qkv_bias);
}

#[test]
fn mixtral_8x7b_matches_catalogue() {
    let m = read(MIXTRAL_8X7B, "Mixtral-8x7B-v0.1/config.json");
    assert_eq!(
        m.moe,
        Some(MoeSpec {
            experts: 8,
            active: 2,
            expert_ffn: 14336,
            shared_experts: 0,
            dense_layers: 0,
            dense_ffn: 0,
        })
    );
    assert_eq!(m.ffn, 14336);
    let cat = ModelSpec::lookup("Mixtral-8x7B").unwrap();
    assert_eq!(arch(&m), arch(&cat));
    assert!(
        rel_err(m.param_count(), 46.7e9) < 0.01,
        "{}",
        m.param_count()
    );
}

#[test]
fn deepseek_v3_matches_catalogue() {
    let m = read(DEEPSEEK_V3, "DeepSeek-V3/config.json");
    assert_eq!(
        m.moe,
        Some(MoeSpec {
            experts: 256,
            active: 8,
            expert_ffn: 2048,
            shared_experts: 1,
            dense_layers: 3,
            dense_ffn: 18432,
        })
    );
    assert_eq!(
        m.mla,
        Some(MlaSpec {
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
        })
    );
    assert_eq!(
        (m.layers, m.hidden, m.heads, m.vocab),
        (61, 7168, 128, 129_280)
    );
    let cat = ModelSpec::lookup("DeepSeek-V3").unwrap();
    assert_eq!(arch(&m), arch(&cat));
    let n = m.param_count();
    assert!(rel_err(n, 671e9) < 0.01, "{n}");
    // MLA caches the latent and the rotary key: 61 · (512 + 64) values per token.
    assert_abs_diff_eq!(m.kv_bytes_per_token(Dtype::Fp16), 70_272.0);
    // DeepSeek-V2-Lite style: no query compression.
    let lite = edited(DEEPSEEK_V3, |v| v["q_lora_rank"] = serde_json::Value::Null);
    assert_eq!(read(&lite, "l/config.json").mla.unwrap().q_lora_rank, None);
}

#[test]
fn qwen3_30b_a3b_param_count() {
    let m = read(QWEN3_30B_A3B, "Qwen3-30B-A3B/config.json");
    assert_eq!(
        (m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim),
        (48, 2048, 32, 4, 128)
    );
    assert_eq!(
        m.moe,
        Some(MoeSpec {
            experts: 128,
            active: 8,
            expert_ffn: 768,
            shared_experts: 0,
            dense_layers: 0,
            dense_ffn: 0,
        })
    );
    assert_eq!((m.ffn, m.vocab), (6144, 151_936));
    assert!(!m.qkv_bias && !m.tied_embeddings);
    let n = m.param_count();
    assert!(rel_err(n, 30.5e9) < 0.02, "{n}");
    assert!(rel_err(m.active_param_count(), 3.3e9) < 0.05);
}

#[test]
fn qwen2_moe_shared_expert_is_a_multiple_of_the_expert_width() {
    // Qwen1.5-MoE-A2.7B: shared expert 5632 = 4 × 1408.
    let json = edited(QWEN3_30B_A3B, |v| {
        v["model_type"] = "qwen2_moe".into();
        v["moe_intermediate_size"] = 1408.into();
        v["shared_expert_intermediate_size"] = 5632.into();
    });
    let m = read(&json, "q/config.json");
    let moe = m.moe.unwrap();
    assert_eq!((moe.expert_ffn, moe.shared_experts), (1408, 4));
    // Explicit `attention_bias: false` in the fixture wins over the qwen2_moe default.
    assert!(!m.qkv_bias);
    let bad = edited(&json, |v| {
        v["shared_expert_intermediate_size"] = 5000.into()
    });
    let msg = error(&bad, "q/config.json");
    assert!(msg.contains("$.shared_expert_intermediate_size"), "{msg}");
}

#[test]
fn llama4_scout_reads_text_config() {
    let m = read(LLAMA4_SCOUT, "Llama-4-Scout-17B-16E/config.json");
    assert_eq!(
        (m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim),
        (48, 5120, 40, 8, 128)
    );
    assert_eq!((m.ffn, m.vocab), (16384, 202_048));
    assert_eq!(
        m.moe,
        Some(MoeSpec {
            experts: 16,
            active: 1,
            expert_ffn: 8192,
            shared_experts: 1,
            dense_layers: 0,
            dense_ffn: 0,
        })
    );
    // `tie_word_embeddings` is only at the top level.
    assert!(!m.tied_embeddings && !m.qkv_bias && m.gated_mlp);
    let n = m.param_count();
    assert!(rel_err(n, 109e9) < 0.03, "{n}");
    assert!(rel_err(m.active_param_count(), 17e9) < 0.03);
}

#[test]
fn gemma_ties_embeddings_by_default() {
    // google/gemma-2-9b without its `tie_word_embeddings` line.
    let gemma2 = r#"{"model_type": "gemma2", "hidden_size": 3584, "num_hidden_layers": 42,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256,
        "intermediate_size": 14336, "vocab_size": 256000}"#;
    let m = read(gemma2, "gemma-2-9b/config.json");
    assert!(m.tied_embeddings && m.gated_mlp && !m.qkv_bias);
    assert_eq!(m.head_dim, 256);
    let llama = edited(LLAMA_31_8B, |v| {
        v.as_object_mut().unwrap().remove("tie_word_embeddings");
    });
    assert!(!read(&llama, "l/config.json").tied_embeddings);
}

#[test]
fn unknown_model_type_names_field_and_value() {
    let json = edited(LLAMA_31_8B, |v| v["model_type"] = "bert".into());
    let msg = error(&json, "c.json");
    assert!(msg.contains("model_type"), "{msg}");
    assert!(msg.contains("\"bert\""), "{msg}");
    assert!(msg.contains("llama, mistral, mixtral"), "{msg}");
    let missing = edited(LLAMA_31_8B, |v| {
        v.as_object_mut().unwrap().remove("model_type");
    });
    let msg = error(&missing, "c.json");
    assert!(
        msg.contains("$.model_type") && msg.contains("missing"),
        "{msg}"
    );
}

#[test]
fn missing_hidden_size_is_named() {
    let json = edited(LLAMA_31_8B, |v| {
        v.as_object_mut().unwrap().remove("hidden_size");
    });
    let msg = error(&json, "c.json");
    assert_eq!(
        msg,
        "c.json: $.hidden_size: missing required field hidden_size (found: nothing)"
    );
}

#[test]
fn maverick_interleaving_is_rejected() {
    let json = edited(LLAMA4_SCOUT, |v| {
        v["text_config"]["interleave_moe_layer_step"] = 2.into();
    });
    let msg = error(&json, "maverick/config.json");
    assert!(
        msg.contains("$.text_config.interleave_moe_layer_step"),
        "{msg}"
    );
    assert!(msg.contains("(found: 2)"), "{msg}");
}

#[test]
fn sparse_step_is_rejected() {
    let json = edited(QWEN3_30B_A3B, |v| v["decoder_sparse_step"] = 2.into());
    let msg = error(&json, "c.json");
    assert!(msg.contains("$.decoder_sparse_step"), "{msg}");
    assert!(msg.contains("must be 1"), "{msg}");
    let json = edited(QWEN3_30B_A3B, |v| {
        v["mlp_only_layers"] = serde_json::json!([0])
    });
    assert!(error(&json, "c.json").contains("$.mlp_only_layers"));
    let json = edited(DEEPSEEK_V3, |v| v["moe_layer_freq"] = 2.into());
    assert!(error(&json, "c.json").contains("$.moe_layer_freq"));
}

#[test]
fn non_integer_numbers_are_rejected() {
    let json = edited(LLAMA_31_8B, |v| v["num_hidden_layers"] = "32".into());
    let msg = error(&json, "c.json");
    assert!(msg.contains("$.num_hidden_layers"), "{msg}");
    assert!(msg.contains("(found: \"32\")"), "{msg}");
    for bad in [
        serde_json::json!(32.5),
        serde_json::json!(32.0),
        serde_json::json!(-1),
        serde_json::json!(5_000_000_000_u64),
    ] {
        let json = edited(LLAMA_31_8B, |v| v["vocab_size"] = bad);
        assert!(error(&json, "c.json").contains("$.vocab_size"));
    }
    let json = edited(LLAMA_31_8B, |v| v["tie_word_embeddings"] = "no".into());
    assert!(error(&json, "c.json").contains("$.tie_word_embeddings"));
}

#[test]
fn head_dim_must_divide_without_a_field() {
    let json = edited(LLAMA_31_8B, |v| v["num_attention_heads"] = 30.into());
    let msg = error(&json, "c.json");
    assert!(msg.contains("head_dim") && msg.contains("4096"), "{msg}");
}

#[test]
fn text_errors_are_the_usual_ones() {
    assert!(matches!(
        read_hf_config(b"  ", "c.json"),
        Err(ReadError::Empty { .. })
    ));
    assert!(matches!(
        read_hf_config(b"\xFF\xFE{\0}\0", "c.json"),
        Err(ReadError::Utf16 { .. })
    ));
    assert!(matches!(
        read_hf_config(b"{\"model_type\": ", "c.json"),
        Err(ReadError::Json { .. })
    ));
}

#[test]
fn detected_as_model_config_document() {
    for json in [
        LLAMA_31_8B,
        QWEN25_7B,
        DEEPSEEK_V3,
        QWEN3_30B_A3B,
        LLAMA4_SCOUT,
    ] {
        assert_eq!(
            detect(json.as_bytes(), Some("config.json".as_ref())),
            Format::HfModelConfig
        );
    }
    assert_eq!(Format::HfModelConfig.name(), "hf-model-config");
    assert!(Format::HfModelConfig.is_document());
    let err = read_bytes(
        MIXTRAL_8X7B.as_bytes(),
        "config.json",
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::NotBenchmark {
                format: Format::HfModelConfig,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "config.json: hf-model-config is a model configuration, not benchmark points; read it \
         as a model document"
    );
    let (format, doc) = read_document_bytes(MIXTRAL_8X7B.as_bytes(), "m/config.json").unwrap();
    assert_eq!(format, Format::HfModelConfig);
    let Document::ModelConfig(spec) = doc else {
        panic!("{doc:?}")
    };
    assert_eq!(spec.name, "m");
    assert_eq!(spec.moe.map(|m| m.experts), Some(8));
    // A model configuration nested in another document is not one.
    let nested = format!(r#"{{"metadata": {LLAMA_31_8B}, "results": []}}"#);
    assert_ne!(detect(nested.as_bytes(), None), Format::HfModelConfig);
}

//! The model catalogue's data: HF `config.json` values of each entry.

use super::model::{MlaSpec, ModelSpec, MoeSpec};

/// Shape of a dense entry, to keep the table below compact.
struct Dense {
    name: &'static str,
    aliases: &'static [&'static str],
    layers: u32,
    hidden: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    ffn: u32,
    vocab: u32,
    tied: bool,
    qkv_bias: bool,
    gated: bool,
    published: f64,
    source: &'static str,
}

impl Dense {
    fn build(self) -> ModelSpec {
        ModelSpec {
            name: self.name.to_owned(),
            aliases: self.aliases.iter().map(|s| (*s).to_owned()).collect(),
            layers: self.layers,
            hidden: self.hidden,
            heads: self.heads,
            kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            ffn: self.ffn,
            vocab: self.vocab,
            tied_embeddings: self.tied,
            gated_mlp: self.gated,
            qkv_bias: self.qkv_bias,
            moe: None,
            mla: None,
            published_params: Some(self.published),
            source: self.source.to_owned(),
        }
    }
}

/// Builds every catalogue entry (called once, behind a `LazyLock`).
#[allow(clippy::too_many_lines)]
pub(crate) fn build() -> Vec<ModelSpec> {
    let llama2 = |name, aliases, layers, hidden, heads, kv, ffn, published, repo| {
        Dense {
            name,
            aliases,
            layers,
            hidden,
            heads,
            kv_heads: kv,
            head_dim: 128,
            ffn,
            vocab: 32_000,
            tied: false,
            qkv_bias: false,
            gated: true,
            published,
            source: repo,
        }
        .build()
    };
    let llama3 = |name, aliases, layers, hidden, heads, ffn, published, repo| {
        Dense {
            name,
            aliases,
            layers,
            hidden,
            heads,
            kv_heads: 8,
            head_dim: 128,
            ffn,
            vocab: 128_256,
            tied: false,
            qkv_bias: false,
            gated: true,
            published,
            source: repo,
        }
        .build()
    };
    let qwen25 = |name, aliases, layers, hidden, heads, kv, ffn, published, repo| {
        Dense {
            name,
            aliases,
            layers,
            hidden,
            heads,
            kv_heads: kv,
            head_dim: 128,
            ffn,
            vocab: 152_064,
            tied: false,
            qkv_bias: true,
            gated: true,
            published,
            source: repo,
        }
        .build()
    };
    let qwen3 = |name, aliases, layers, hidden, heads, ffn, tied, published, repo| {
        Dense {
            name,
            aliases,
            layers,
            hidden,
            heads,
            kv_heads: 8,
            head_dim: 128,
            ffn,
            vocab: 151_936,
            tied,
            qkv_bias: false,
            gated: true,
            published,
            source: repo,
        }
        .build()
    };
    let mut v: Vec<ModelSpec> = [
        llama2(
            "Llama-2-7B",
            &["meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-chat-hf", "llama2-7b"],
            32,
            4096,
            32,
            32,
            11_008,
            6.74e9,
            "HF config.json of meta-llama/Llama-2-7b-hf; Touvron et al. 2023, arXiv 2307.09288 (6.74B)",
        ),
        llama2(
            "Llama-2-13B",
            &["meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-13b-chat-hf", "llama2-13b"],
            40,
            5120,
            40,
            40,
            13_824,
            13.0e9,
            "HF config.json of meta-llama/Llama-2-13b-hf; arXiv 2307.09288 (13.0B)",
        ),
        llama2(
            "Llama-2-70B",
            &["meta-llama/Llama-2-70b-hf", "meta-llama/Llama-2-70b-chat-hf", "llama2-70b"],
            80,
            8192,
            64,
            8,
            28_672,
            69.0e9,
            "HF config.json of meta-llama/Llama-2-70b-hf; arXiv 2307.09288 (69.0B)",
        ),
        llama3(
            "Llama-3-8B",
            &["meta-llama/Meta-Llama-3-8B", "Meta-Llama-3-8B-Instruct", "llama3-8b"],
            32,
            4096,
            32,
            14_336,
            8.03e9,
            "HF config.json of meta-llama/Meta-Llama-3-8B (model card: 8.03B)",
        ),
        llama3(
            "Llama-3-70B",
            &["meta-llama/Meta-Llama-3-70B", "Meta-Llama-3-70B-Instruct", "llama3-70b"],
            80,
            8192,
            64,
            28_672,
            70.6e9,
            "HF config.json of meta-llama/Meta-Llama-3-70B (model card: 70.6B)",
        ),
        llama3(
            "Llama-3.1-8B",
            &["meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B", "llama3.1-8b"],
            32,
            4096,
            32,
            14_336,
            8.03e9,
            "HF config.json of meta-llama/Llama-3.1-8B (model card: 8.03B)",
        ),
        llama3(
            "Llama-3.1-70B",
            &["meta-llama/Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-70B", "llama3.1-70b"],
            80,
            8192,
            64,
            28_672,
            70.6e9,
            "HF config.json of meta-llama/Llama-3.1-70B (model card: 70.6B)",
        ),
        Dense {
            name: "Mistral-7B",
            aliases: &[
                "mistralai/Mistral-7B-v0.3",
                "mistralai/Mistral-7B-Instruct-v0.3",
                "Mistral-7B-v0.1",
                "Mistral-7B-v0.2",
            ],
            layers: 32,
            hidden: 4096,
            heads: 32,
            kv_heads: 8,
            head_dim: 128,
            ffn: 14_336,
            vocab: 32_768,
            tied: false,
            qkv_bias: false,
            gated: true,
            published: 7.25e9,
            source: "HF config.json of mistralai/Mistral-7B-v0.3 (vocab 32768; v0.1 has 32000); \
                     model card size 7.25B",
        }
        .build(),
        qwen25(
            "Qwen2.5-7B",
            &["Qwen/Qwen2.5-7B", "qwen2.5-7b-instruct"],
            28,
            3584,
            28,
            4,
            18_944,
            7.62e9,
            "HF config.json of Qwen/Qwen2.5-7B (QKV biases, untied); model card 7.61B/7.62B",
        ),
        qwen25(
            "Qwen2.5-14B",
            &["Qwen/Qwen2.5-14B"],
            48,
            5120,
            40,
            8,
            13_824,
            14.7e9,
            "HF config.json of Qwen/Qwen2.5-14B (QKV biases, untied); model card 14.7B",
        ),
        qwen25(
            "Qwen2.5-72B",
            &["Qwen/Qwen2.5-72B"],
            80,
            8192,
            64,
            8,
            29_568,
            72.7e9,
            "HF config.json of Qwen/Qwen2.5-72B (QKV biases, untied); model card 72.7B",
        ),
        qwen3(
            "Qwen3-4B",
            &["Qwen/Qwen3-4B", "Qwen/Qwen3-4B-Base"],
            36,
            2560,
            32,
            9728,
            true,
            4.02e9,
            "HF config.json of Qwen/Qwen3-4B (head_dim 128, tied); model card 4.0B (4.02B)",
        ),
        qwen3(
            "Qwen3-8B",
            &["Qwen/Qwen3-8B", "Qwen/Qwen3-8B-Base"],
            36,
            4096,
            32,
            12_288,
            false,
            8.19e9,
            "HF config.json of Qwen/Qwen3-8B (head_dim 128, untied); model card 8.2B (8.19B)",
        ),
        qwen3(
            "Qwen3-32B",
            &["Qwen/Qwen3-32B"],
            64,
            5120,
            64,
            25_600,
            false,
            32.8e9,
            "HF config.json of Qwen/Qwen3-32B (head_dim 128, untied); model card 32.8B",
        ),
        Dense {
            name: "GPT-3-175B",
            aliases: &["gpt3-175b", "gpt-3", "davinci"],
            layers: 96,
            hidden: 12_288,
            heads: 96,
            kv_heads: 96,
            head_dim: 128,
            ffn: 49_152,
            vocab: 50_257,
            tied: true,
            qkv_bias: false,
            gated: false,
            published: 175.0e9,
            source: "Brown et al. 2020, arXiv 2005.14165, Table 2.1 (GELU MLP 4·d, tied \
                     embeddings); biases and position embeddings ignored",
        }
        .build(),
    ]
    .into();
    v.push(ModelSpec {
        name: "Mixtral-8x7B".to_owned(),
        aliases: vec![
            "mistralai/Mixtral-8x7B-v0.1".to_owned(),
            "mistralai/Mixtral-8x7B-Instruct-v0.1".to_owned(),
        ],
        layers: 32,
        hidden: 4096,
        heads: 32,
        kv_heads: 8,
        head_dim: 128,
        ffn: 14_336,
        vocab: 32_000,
        tied_embeddings: false,
        gated_mlp: true,
        qkv_bias: false,
        moe: Some(MoeSpec {
            experts: 8,
            active: 2,
            expert_ffn: 14_336,
            shared_experts: 0,
            dense_layers: 0,
            dense_ffn: 0,
        }),
        mla: None,
        published_params: Some(46.7e9),
        source: "HF config.json of mistralai/Mixtral-8x7B-v0.1; Jiang et al. 2024, \
                 arXiv 2401.04088 (46.7B total, 12.9B active)"
            .to_owned(),
    });
    v.push(ModelSpec {
        name: "DeepSeek-V3".to_owned(),
        aliases: vec![
            "deepseek-ai/DeepSeek-V3".to_owned(),
            "deepseek-ai/DeepSeek-V3-Base".to_owned(),
            "deepseek-ai/DeepSeek-V3-0324".to_owned(),
            "deepseek-ai/DeepSeek-R1".to_owned(),
        ],
        layers: 61,
        hidden: 7168,
        heads: 128,
        kv_heads: 128,
        head_dim: 128,
        ffn: 18_432,
        vocab: 129_280,
        tied_embeddings: false,
        gated_mlp: true,
        qkv_bias: false,
        moe: Some(MoeSpec {
            experts: 256,
            active: 8,
            expert_ffn: 2048,
            shared_experts: 1,
            dense_layers: 3,
            dense_ffn: 18_432,
        }),
        mla: Some(MlaSpec {
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
        }),
        published_params: Some(671.0e9),
        source: "HF config.json of deepseek-ai/DeepSeek-V3; DeepSeek-AI 2024, arXiv 2412.19437 \
                 (671B total without the 14B MTP module, 37B active)"
            .to_owned(),
    });
    v
}

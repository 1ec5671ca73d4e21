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
        llama2(
            "CodeLlama-34B",
            &[
                "codellama/CodeLlama-34b-hf",
                "codellama/CodeLlama-34b-Instruct-hf",
                "codellama-34b",
                "code-llama-34b",
            ],
            48,
            8192,
            64,
            8,
            22_016,
            34.0e9,
            "HF config.json of codellama/CodeLlama-34b-hf (= -Instruct-hf: 8 KV heads, vocab 32000 \
             unlike the 32016 of the 7B/13B, untied); Roziere et al. 2023, arXiv 2308.12950 (34B)",
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
        Dense {
            name: "Mistral-Nemo-12B",
            aliases: &[
                "mistralai/Mistral-Nemo-Base-2407",
                "mistralai/Mistral-Nemo-Instruct-2407",
                "nvidia/Mistral-NeMo-12B-Instruct",
                "Mistral-Nemo",
            ],
            layers: 40,
            hidden: 5120,
            heads: 32,
            kv_heads: 8,
            head_dim: 128,
            ffn: 14_336,
            vocab: 131_072,
            tied: false,
            qkv_bias: false,
            gated: true,
            published: 12.2e9,
            source: "HF config.json of mistralai/Mistral-Nemo-Base-2407 (= Instruct-2407: head_dim \
                     128 though hidden/heads = 160, vocab 131072, untied; the card's 'hidden dim \
                     14,436' is a typo for intermediate_size 14336); Mistral's card and blog say \
                     12B, 12.2B is the Hugging Face Hub's tensor count, used because the rounded \
                     12B lies 2 % under the exact 12.25B",
        }
        .build(),
        qwen25(
            "Qwen2.5-7B",
            &["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b-instruct"],
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
            name: "Yi-34B",
            aliases: &["01-ai/Yi-34B", "01-ai/Yi-34B-Chat", "01-ai/Yi-1.5-34B"],
            layers: 60,
            hidden: 7168,
            heads: 56,
            kv_heads: 8,
            head_dim: 128,
            ffn: 20_480,
            vocab: 64_000,
            tied: false,
            qkv_bias: false,
            gated: true,
            published: 34.0e9,
            source: "HF config.json of 01-ai/Yi-34B (Llama layout, GQA 56/8, head_dim 7168/56 = \
                     128, vocab 64000, untied; Yi-1.5-34B has the same shape); Young et al. 2024, \
                     arXiv 2403.04652 (34B)",
        }
        .build(),
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
        name: "Qwen3-30B-A3B".to_owned(),
        aliases: vec![
            "Qwen/Qwen3-30B-A3B".to_owned(),
            "Qwen/Qwen3-30B-A3B-Base".to_owned(),
            "Qwen/Qwen3-30B-A3B-Instruct-2507".to_owned(),
        ],
        layers: 48,
        hidden: 2048,
        heads: 32,
        kv_heads: 4,
        head_dim: 128,
        // `intermediate_size` of the config; unused, every layer is MoE (`decoder_sparse_step` 1).
        ffn: 6144,
        vocab: 151_936,
        tied_embeddings: false,
        gated_mlp: true,
        qkv_bias: false,
        moe: Some(MoeSpec {
            experts: 128,
            active: 8,
            expert_ffn: 768,
            shared_experts: 0,
            dense_layers: 0,
            dense_ffn: 0,
        }),
        mla: None,
        published_params: Some(30.5e9),
        source: "HF config.json of Qwen/Qwen3-30B-A3B (qwen3_moe: 128 experts, 8 active, \
                 moe_intermediate_size 768, no shared expert, mlp_only_layers empty, head_dim 128, \
                 4 KV heads, untied); model card 30.5B total, 3.3B active"
            .to_owned(),
    });
    v.push(ModelSpec {
        name: "Llama-4-Scout-17B-16E".to_owned(),
        aliases: vec![
            "meta-llama/Llama-4-Scout-17B-16E".to_owned(),
            "meta-llama/Llama-4-Scout-17B-16E-Instruct".to_owned(),
            "Llama-4-Scout".to_owned(),
        ],
        layers: 48,
        hidden: 5120,
        heads: 40,
        kv_heads: 8,
        head_dim: 128,
        // `intermediate_size_mlp`, the dense MLP width; unused, every layer is MoE
        // (`interleave_moe_layer_step` 1).
        ffn: 16_384,
        vocab: 202_048,
        tied_embeddings: false,
        gated_mlp: true,
        qkv_bias: false,
        // Every layer: 16 routed experts (1 per token) plus one always-on shared expert, all of
        // width `intermediate_size` 8192; `dense_layers` 0, so `dense_ffn` is not used.
        moe: Some(MoeSpec {
            experts: 16,
            active: 1,
            expert_ffn: 8192,
            shared_experts: 1,
            dense_layers: 0,
            dense_ffn: 0,
        }),
        mla: None,
        published_params: Some(109.0e9),
        source: "text_config of the HF config.json of meta-llama/Llama-4-Scout-17B-16E-Instruct \
                 (= transformers' Llama4TextConfig defaults: 16 experts, 1 active, \
                 intermediate_size 8192 per expert plus one shared expert of that width, \
                 intermediate_size_mlp 16384 unused as every layer is MoE, vocab 202048, untied); \
                 Meta model card 17B active, 109B total including the vision encoder, which is \
                 not modelled (text-only count 107.8B)"
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

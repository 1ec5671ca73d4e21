//! Cross-crate tests, run through the `llm-perf` facade as an embedding program would.

mod cost_models;
mod facade;
mod fidelity;
mod pipeline;

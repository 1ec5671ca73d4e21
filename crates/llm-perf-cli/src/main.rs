//! The `llm-perf` command.
fn main() {}

//! Quickstart (filled in with the analyzer).
fn main() {}

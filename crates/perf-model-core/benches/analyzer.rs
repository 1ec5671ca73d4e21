//! Analyzer benchmark (filled in with the Inferno analyzer).
fn main() {}

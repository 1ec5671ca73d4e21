//! Shared vocabulary and closed-form models of LLM serving performance.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod catalog;
pub mod dtype;
pub mod error;
pub mod inferno;
pub mod roofline;
pub mod step;
pub mod validate;

pub use dtype::Dtype;
pub use error::{Error, Result};
pub use step::{BatchShape, StepTimeModel};

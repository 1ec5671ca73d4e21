//! Files that are neither benchmarks, traces nor profiles: model problems, answers, fitted
//! parameters, golden values and model configurations, read through one entry point.

use std::path::Path;

use crate::detect::{Format, detect};
use crate::error::{ReadError, Result};
use crate::hf_config::read_hf_config;
use crate::inferno_golden::{GoldenPrimitive, read_golden_primitives};
use crate::inferno_rest::{
    AnalyzerProblem, AnalyzerSolution, read_analyzer_problem, read_analyzer_solution,
};
use crate::text;
use crate::trained_physics::{TrainedPhysics, read_trained_physics};
use crate::trainer_result::{TrainerResult, read_trainer_result};

/// A model document read by [`read_document_any`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub enum Document {
    /// An Inferno queue-analysis REST problem ([`read_analyzer_problem`]).
    AnalyzerProblem(AnalyzerProblem),
    /// An Inferno queue-analysis answer ([`read_analyzer_solution`]).
    AnalyzerSolution(AnalyzerSolution),
    /// Golden service-time primitives of the Inferno queue model ([`read_golden_primitives`]).
    GoldenPrimitives(Vec<GoldenPrimitive>),
    /// Fitted Inferno parameters from the model-trainer ([`read_trainer_result`]).
    TrainerResult(TrainerResult),
    /// BLIS trained-physics coefficients ([`read_trained_physics`]).
    TrainedPhysics(TrainedPhysics),
    /// A model architecture from a Hugging Face `config.json` ([`read_hf_config`]).
    ModelConfig(Box<perf_model_core::catalog::ModelSpec>),
}

/// Reads the model document at `path`, detecting its format from the content.
///
/// # Examples
/// ```no_run
/// use perf_readers::{Document, read_document_any};
/// let (_, doc) = read_document_any("examples/problem-data.json")?;
/// if let Document::AnalyzerProblem(p) = doc {
///     assert_eq!(p.max_batch_size, Some(48.0));
/// }
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::IsDirectory`], [`ReadError::Io`], and everything [`read_document_bytes`] returns.
pub fn read_document_any(path: impl AsRef<Path>) -> Result<(Format, Document)> {
    let (bytes, shown) = text::read_file(path.as_ref())?;
    read_document_bytes(&bytes, &shown)
}

/// Detects the format of `bytes` and reads them as a model document.
///
/// # Errors
/// The text errors of [`read_bytes`](crate::read_bytes); [`ReadError::UnknownFormat`] for a
/// file that is not a model document; the document reader's errors.
pub fn read_document_bytes(bytes: &[u8], path: &str) -> Result<(Format, Document)> {
    let text = text::decode(bytes, path)?;
    let format = detect(text.as_bytes(), Some(Path::new(path)));
    let doc = match format {
        Format::InfernoProblem => Document::AnalyzerProblem(read_analyzer_problem(bytes, path)?),
        Format::InfernoSolution => Document::AnalyzerSolution(read_analyzer_solution(bytes, path)?),
        Format::InfernoGoldenPrimitives => {
            Document::GoldenPrimitives(read_golden_primitives(bytes, path)?)
        }
        Format::InfernoTrainerResult => Document::TrainerResult(read_trainer_result(bytes, path)?),
        Format::TrainedPhysics => Document::TrainedPhysics(read_trained_physics(bytes, path)?),
        Format::HfModelConfig => Document::ModelConfig(Box::new(read_hf_config(bytes, path)?)),
        _ => {
            return Err(ReadError::UnknownFormat {
                path: path.to_owned(),
                reason: format!("not a model document (detected: {format})"),
            });
        }
    };
    Ok((format, doc))
}

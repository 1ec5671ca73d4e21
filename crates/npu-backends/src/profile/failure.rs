//! Why a sweep point (or one of its runs) produced no measurement.

/// The reason recorded in `failed_configs[].reason` or `partial_success_reason`.
///
/// The texts are the LLM profiler's: `oom`, `skipped_due_to_limits`, `runtime_error: …`,
/// `exception: …`, plus `timeout` for a run that outlived its time limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// The output matched an out-of-memory message (CUDA, ROCm or Ascend NPU); see [`is_oom`].
    Oom,
    /// The engine refused the point for its memory pool (SGLang: `skipping (…) due to max
    /// batch size limit`).
    SkippedDueToLimits,
    /// The run exceeded its time limit and was stopped.
    Timeout,
    /// The engine exited with a failure status; the text is the last line of its output.
    RuntimeError(String),
    /// The engine succeeded but its result was missing or unusable; the text says why.
    Exception(String),
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oom => f.write_str("oom"),
            Self::SkippedDueToLimits => f.write_str("skipped_due_to_limits"),
            Self::Timeout => f.write_str("timeout"),
            Self::RuntimeError(m) => write!(f, "runtime_error: {m}"),
            Self::Exception(m) => write!(f, "exception: {m}"),
        }
    }
}

/// Lower-case markers of an out-of-memory failure:
/// * PyTorch / CUDA: `torch.OutOfMemoryError: CUDA out of memory. Tried to allocate …`,
///   `RuntimeError: CUDA error: out of memory`, `cudaErrorMemoryAllocation`;
/// * ROCm: `HIP out of memory`, `hipErrorOutOfMemory`;
/// * Ascend (torch_npu / CANN): `NPU out of memory. Tried to allocate …`,
///   `ACL_ERROR_RT_MEMORY_ALLOCATION`, `FAIL_TO_ALLOCATE_MEMORY`;
/// * vLLM's KV-cache check: `… is larger than the available KV cache memory`.
const OOM_MARKERS: &[&str] = &[
    "out of memory",
    "outofmemoryerror",
    "erroroutofmemory",
    "cudaerrormemoryallocation",
    "acl_error_rt_memory_allocation",
    "fail_to_allocate_memory",
    "available kv cache memory",
];

/// Whether `text` (captured output) reports running out of device memory.
///
/// ```
/// use npu_backends::profile::is_oom;
/// assert!(is_oom("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"));
/// assert!(is_oom("RuntimeError: NPU out of memory. Tried to allocate 1.50 GiB"));
/// assert!(!is_oom("RuntimeError: CUDA error: an illegal memory access was encountered"));
/// ```
#[must_use]
pub fn is_oom(text: &str) -> bool {
    let lower = text.to_lowercase();
    OOM_MARKERS.iter().any(|m| lower.contains(m))
}

/// The last non-empty line of `text`, trimmed and cut to 300 characters.
#[must_use]
pub fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Classifies a failed exit from the captured output: [`FailureReason::Oom`] when it matches
/// [`is_oom`], else [`FailureReason::RuntimeError`] with the last output line (or the exit
/// status when the output is empty).
#[must_use]
pub fn classify_exit(output: &str, status: &str) -> FailureReason {
    if is_oom(output) {
        return FailureReason::Oom;
    }
    let line = last_line(output);
    FailureReason::RuntimeError(if line.is_empty() {
        format!("exited with {status} and no output")
    } else {
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_profilers() {
        assert_eq!(FailureReason::Oom.to_string(), "oom");
        assert_eq!(
            FailureReason::SkippedDueToLimits.to_string(),
            "skipped_due_to_limits"
        );
        assert_eq!(FailureReason::Timeout.to_string(), "timeout");
        assert_eq!(
            FailureReason::RuntimeError("boom".into()).to_string(),
            "runtime_error: boom"
        );
        assert_eq!(
            FailureReason::Exception("no result".into()).to_string(),
            "exception: no result"
        );
    }

    #[test]
    fn exits_are_classified() {
        let log = "Traceback (most recent call last):\n  File \"x.py\"\n\
                   torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB.\n";
        assert_eq!(classify_exit(log, "exit status: 1"), FailureReason::Oom);
        assert_eq!(
            classify_exit(
                "loading\nRuntimeError: CUDA error: misaligned address\n\n",
                "1"
            ),
            FailureReason::RuntimeError("RuntimeError: CUDA error: misaligned address".into())
        );
        assert_eq!(
            classify_exit("", "signal: 9 (SIGKILL)").to_string(),
            "runtime_error: exited with signal: 9 (SIGKILL) and no output"
        );
        assert!(is_oom("E39999: ... ACL_ERROR_RT_MEMORY_ALLOCATION"));
        assert_eq!(last_line(&"x".repeat(400)).chars().count(), 301);
    }
}

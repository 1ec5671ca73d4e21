//! SLURM: a job array written as an `sbatch` script, submitted with `sbatch --parsable`,
//! watched with `squeue`.

use std::fmt::Write as _;
use std::path::Path;

use super::error::SweepError;
use super::scheduler::{
    ArrayJob, JobState, Scheduler, Submission, one_word, run_command, shell_command,
};
use crate::Result;

/// SLURM job options (`#SBATCH` directives); `None` leaves a directive out, so the cluster's
/// default applies.
///
/// # Examples
/// ```
/// use llm_perf::sweep::{ArrayJob, Scheduler, Slurm, TaskArg};
/// let slurm = Slurm { partition: Some("gpu".into()), gres: Some("gpu:1".into()), ..Slurm::default() };
/// let job = ArrayJob {
///     name: "llm-perf-sweep-demo".into(),
///     comment: "demo".into(),
///     tasks: 4,
///     program: "/opt/bin/llm-perf".into(),
///     args: vec![TaskArg::Text("--shard".into()),
///                TaskArg::TaskIndex { prefix: String::new(), suffix: "/4".into() }],
///     dir: "/shared/out".into(),
///     parallel: None,
/// };
/// let script = slurm.render(&job)?;
/// assert!(script.contains("#SBATCH --array=0-3\n"));
/// assert!(script.contains("#SBATCH --gres=gpu:1\n"));
/// assert!(script.contains("#SBATCH --output=/shared/out/logs/%A_%a.out\n"));
/// assert!(script.ends_with("exec /opt/bin/llm-perf --shard \"${SLURM_ARRAY_TASK_ID}/4\"\n"));
/// # Ok::<(), llm_perf::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slurm {
    /// `--time` limit per task (`01:00:00`, `2-00:00:00`, minutes).
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--gres` (`gpu:1`, `npu:8`).
    pub gres: Option<String>,
    /// The `sbatch` command (default `sbatch`, found on PATH).
    pub sbatch: String,
    /// The `squeue` command (default `squeue`).
    pub squeue: String,
    /// The `scancel` command (default `scancel`), for [`Scheduler::cancel`].
    pub scancel: String,
}

impl Default for Slurm {
    fn default() -> Self {
        Self {
            time: None,
            partition: None,
            account: None,
            gres: None,
            sbatch: "sbatch".to_owned(),
            squeue: "squeue".to_owned(),
            scancel: "scancel".to_owned(),
        }
    }
}

impl Scheduler for Slurm {
    fn job_file(&self) -> &'static str {
        "sweep.sbatch"
    }

    fn render(&self, job: &ArrayJob) -> Result<String> {
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "# {}", job.comment.replace('\n', " "));
        let name: String = job
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let _ = writeln!(s, "#SBATCH --job-name={name}");
        let throttle = job
            .parallel
            .filter(|&p| p < job.tasks)
            .map_or_else(String::new, |p| format!("%{}", p.max(1)));
        let _ = writeln!(
            s,
            "#SBATCH --array=0-{}{throttle}",
            job.tasks.saturating_sub(1)
        );
        for (flag, value) in [
            ("--time", &self.time),
            ("--partition", &self.partition),
            ("--account", &self.account),
            ("--gres", &self.gres),
        ] {
            if let Some(v) = value {
                one_word(flag, v)?;
                let _ = writeln!(s, "#SBATCH {flag}={v}");
            }
        }
        let logs = job.dir.join("logs").join("%A_%a.out");
        let logs = logs.display().to_string();
        one_word("--out (in an #SBATCH --output line)", &logs)?;
        let _ = writeln!(s, "#SBATCH --output={logs}");
        s.push_str("set -eu\n");
        let _ = writeln!(s, "exec {}", shell_command(job, "SLURM_ARRAY_TASK_ID"));
        Ok(s)
    }

    fn submit(&self, path: &Path) -> Result<Submission> {
        let file = path.display().to_string();
        let out = run_command(&self.sbatch, &["--parsable", &file])?;
        // `--parsable` prints `jobid` or `jobid;cluster`
        let id = out.trim().split(';').next().unwrap_or("").trim().to_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SweepError::Scheduler {
                what: self.sbatch.clone(),
                message: format!("unexpected output {:?} (expected a job id)", out.trim()),
            }
            .into());
        }
        Ok(Submission { id })
    }

    /// `squeue -h -j ID`: the job has ended when it lists nothing (or no longer knows the id).
    fn state(&self, job: &Submission) -> Result<JobState> {
        match run_command(&self.squeue, &["-h", "-j", &job.id, "-o", "%i %T"]) {
            Ok(out) => {
                let tasks = out.lines().filter(|l| !l.trim().is_empty()).count();
                Ok(if tasks == 0 {
                    JobState::Ended
                } else {
                    JobState::Active { tasks }
                })
            }
            // once the controller has purged the job (MinJobAge), squeue refuses its id
            Err(crate::Error::Sweep(SweepError::Scheduler { message, .. }))
                if message.contains("Invalid job id") =>
            {
                Ok(JobState::Ended)
            }
            Err(e) => Err(e),
        }
    }

    /// `scancel ID`: every task of the array still pending or running.
    fn cancel(&self, job: &Submission) -> Result<()> {
        run_command(&self.scancel, &[&job.id]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::TaskArg;

    #[test]
    fn a_throttled_array_says_how_many_run_at_once() {
        let mut job = ArrayJob {
            name: "t".into(),
            comment: String::new(),
            tasks: 4,
            program: "llm-perf".into(),
            args: vec![TaskArg::Text("x".into())],
            dir: "/r".into(),
            parallel: Some(1),
        };
        let slurm = Slurm::default();
        assert!(
            slurm
                .render(&job)
                .unwrap()
                .contains("#SBATCH --array=0-3%1\n")
        );
        // no throttle when every task may run at once anyway
        job.parallel = Some(4);
        assert!(
            slurm
                .render(&job)
                .unwrap()
                .contains("#SBATCH --array=0-3\n")
        );
    }
}

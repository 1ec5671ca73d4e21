//! Kubernetes: an Indexed Job (`completionMode: Indexed`; each pod reads its index from
//! `JOB_COMPLETION_INDEX`) with the results directory mounted at the same path in every pod.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::error::SweepError;
use super::scheduler::{ArrayJob, JobState, Scheduler, Submission, run_command, shell_command};
use crate::Result;

/// Where the results directory comes from in the pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Volume {
    /// The node's directory at the same path (`hostPath`, `DirectoryOrCreate`): a single
    /// node, or a filesystem every node mounts there.
    HostPath,
    /// A PersistentVolumeClaim by name (ReadWriteMany for several nodes), mounted at the
    /// results directory's path.
    Claim(String),
}

/// Kubernetes Job options.
///
/// # Examples
/// ```
/// use llm_perf::sweep::{ArrayJob, Kubernetes, Scheduler, TaskArg, Volume};
/// let k8s = Kubernetes {
///     image: "registry.example/llm-perf:0.1".into(),
///     accelerators: vec![("huawei.com/Ascend910".into(), 1)],
///     ..Kubernetes::default()
/// };
/// let job = ArrayJob {
///     name: "llm-perf-sweep-Demo_1".into(),
///     comment: "demo".into(),
///     tasks: 3,
///     program: "llm-perf".into(),
///     args: vec![TaskArg::TaskIndex { prefix: String::new(), suffix: "/3".into() }],
///     dir: "/shared/out".into(),
///     parallel: None,
/// };
/// let manifest = k8s.render(&job)?;
/// assert!(manifest.contains("  name: llm-perf-sweep-demo-1\n"));
/// assert!(manifest.contains("  completionMode: Indexed\n  completions: 3\n  parallelism: 3\n"));
/// assert!(manifest.contains("\"huawei.com/Ascend910\": \"1\""));
/// assert!(manifest.contains(r#"exec llm-perf \"${JOB_COMPLETION_INDEX}/3\""#));
/// # Ok::<(), llm_perf::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kubernetes {
    /// The container image, with `llm-perf` on its PATH (or at [`ArrayJob::program`]).
    pub image: String,
    /// The namespace (`None`: kubectl's current one).
    pub namespace: Option<String>,
    /// The results directory's volume.
    pub volume: Volume,
    /// CPU request and limit per pod (`"1"`, `"500m"`).
    pub cpu: String,
    /// Memory request and limit per pod (`"2Gi"`).
    pub memory: String,
    /// Extended resources per pod, limits: `("nvidia.com/gpu", 1)`,
    /// `("huawei.com/Ascend910", 1)`.
    pub accelerators: Vec<(String, u32)>,
    /// Pod failures tolerated before the Job fails (`backoffLimit`).
    pub backoff_limit: u32,
    /// The `kubectl` command (default `kubectl`), for [`Scheduler::submit`] and
    /// [`Scheduler::state`].
    pub kubectl: String,
}

impl Default for Kubernetes {
    fn default() -> Self {
        Self {
            image: String::new(),
            namespace: None,
            volume: Volume::HostPath,
            cpu: "1".to_owned(),
            memory: "2Gi".to_owned(),
            accelerators: Vec::new(),
            backoff_limit: 6,
            kubectl: "kubectl".to_owned(),
        }
    }
}

/// A name Kubernetes accepts for a Job (RFC 1123 label: lower-case letters, digits and `-`,
/// starting and ending with a letter or digit, at most 63 characters; the Job controller adds
/// an index suffix to pod names, so keep it shorter than that).
#[must_use]
pub fn dns_label(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.trim_matches('-').chars().take(52).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "llm-perf-sweep".to_owned()
    } else {
        out
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

impl Scheduler for Kubernetes {
    fn job_file(&self) -> &'static str {
        "sweep-job.yaml"
    }

    fn render(&self, job: &ArrayJob) -> Result<String> {
        let bad = |what: &str, message: &str| SweepError::Scheduler {
            what: what.to_owned(),
            message: message.to_owned(),
        };
        if self.image.trim().is_empty() {
            return Err(bad("--image", "give the container image that has llm-perf").into());
        }
        let name = dns_label(&job.name);
        let dir = job.dir.display().to_string();
        let mut y = String::new();
        let _ = writeln!(y, "# {}", job.comment.replace('\n', " "));
        let _ = writeln!(y, "apiVersion: batch/v1");
        let _ = writeln!(y, "kind: Job");
        let _ = writeln!(y, "metadata:");
        let _ = writeln!(y, "  name: {name}");
        if let Some(ns) = &self.namespace {
            let _ = writeln!(y, "  namespace: {}", q(ns));
        }
        let _ = writeln!(y, "  labels:");
        let _ = writeln!(y, "    app.kubernetes.io/name: llm-perf-sweep");
        let _ = writeln!(y, "spec:");
        let _ = writeln!(y, "  completionMode: Indexed");
        let _ = writeln!(y, "  completions: {}", job.tasks);
        let parallelism = job.parallel.map_or(job.tasks, |p| p.clamp(1, job.tasks));
        let _ = writeln!(y, "  parallelism: {parallelism}");
        let _ = writeln!(y, "  backoffLimit: {}", self.backoff_limit);
        let _ = writeln!(y, "  template:");
        let _ = writeln!(y, "    metadata:");
        let _ = writeln!(y, "      labels:");
        let _ = writeln!(y, "        app.kubernetes.io/name: llm-perf-sweep");
        let _ = writeln!(y, "    spec:");
        let _ = writeln!(y, "      restartPolicy: Never");
        let _ = writeln!(y, "      containers:");
        let _ = writeln!(y, "        - name: sweep");
        let _ = writeln!(y, "          image: {}", q(&self.image));
        let _ = writeln!(y, "          command:");
        let _ = writeln!(y, "            - \"/bin/sh\"");
        let _ = writeln!(y, "            - \"-c\"");
        let line = format!("exec {}", shell_command(job, "JOB_COMPLETION_INDEX"));
        let _ = writeln!(y, "            - {}", q(&line));
        let _ = writeln!(y, "          resources:");
        let _ = writeln!(y, "            requests:");
        let _ = writeln!(y, "              cpu: {}", q(&self.cpu));
        let _ = writeln!(y, "              memory: {}", q(&self.memory));
        let _ = writeln!(y, "            limits:");
        let _ = writeln!(y, "              cpu: {}", q(&self.cpu));
        let _ = writeln!(y, "              memory: {}", q(&self.memory));
        for (resource, count) in &self.accelerators {
            if resource.trim().is_empty() || resource.contains(char::is_whitespace) {
                return Err(bad("--gpu", "the resource name must be one word").into());
            }
            let _ = writeln!(y, "              {}: \"{count}\"", q(resource));
        }
        let _ = writeln!(y, "          volumeMounts:");
        let _ = writeln!(y, "            - name: results");
        let _ = writeln!(y, "              mountPath: {}", q(&dir));
        let _ = writeln!(y, "      volumes:");
        let _ = writeln!(y, "        - name: results");
        match &self.volume {
            Volume::HostPath => {
                let _ = writeln!(y, "          hostPath:");
                let _ = writeln!(y, "            path: {}", q(&dir));
                let _ = writeln!(y, "            type: DirectoryOrCreate");
            }
            Volume::Claim(claim) => {
                let _ = writeln!(y, "          persistentVolumeClaim:");
                let _ = writeln!(y, "            claimName: {}", q(claim));
            }
        }
        Ok(y)
    }

    /// `kubectl apply -f FILE`; the submission's id is the Job's name.
    fn submit(&self, path: &Path) -> Result<Submission> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SweepError::store(path, e))?;
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("  name: "))
            .map(str::to_owned)
            .ok_or_else(|| SweepError::store(path, "no `metadata.name` line"))?;
        let mut args = vec!["apply", "-f", file.as_str()];
        if let Some(ns) = &self.namespace {
            args.extend(["-n", ns.as_str()]);
        }
        run_command(&self.kubectl, &args)?;
        Ok(Submission { id: name })
    }

    /// `kubectl get job NAME -o json`, read by [`job_state`].
    fn state(&self, job: &Submission) -> Result<JobState> {
        let mut args = vec!["get", "job", job.id.as_str(), "-o", "json"];
        if let Some(ns) = &self.namespace {
            args.extend(["-n", ns.as_str()]);
        }
        let out = run_command(&self.kubectl, &args)?;
        job_state(&out)
    }

    /// `kubectl delete job NAME --wait=false` (its pods go with it).
    fn cancel(&self, job: &Submission) -> Result<()> {
        let mut args = vec!["delete", "job", job.id.as_str(), "--wait=false"];
        if let Some(ns) = &self.namespace {
            args.extend(["-n", ns.as_str()]);
        }
        run_command(&self.kubectl, &args).map(|_| ())
    }
}

/// Where a Job stands, from `kubectl get job NAME -o json`: ended when its status has a
/// `Complete` or `Failed` condition that is `"True"`, else active with `status.active` pods.
///
/// # Examples
/// ```
/// use llm_perf::sweep::{JobState, job_state};
/// let running = r#"{"status": {"active": 3, "completedIndexes": "0"}}"#;
/// assert_eq!(job_state(running)?, JobState::Active { tasks: 3 });
/// let done = r#"{"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 4}}"#;
/// assert_eq!(job_state(done)?, JobState::Ended);
/// # Ok::<(), llm_perf::Error>(())
/// ```
///
/// # Errors
/// [`SweepError::Scheduler`] when the text is not a Job as JSON.
pub fn job_state(json: &str) -> Result<JobState> {
    let v: Value = serde_json::from_str(json).map_err(|e| SweepError::Scheduler {
        what: "kubectl get job".to_owned(),
        message: format!("not JSON: {e}"),
    })?;
    let status = v.get("status").ok_or_else(|| SweepError::Scheduler {
        what: "kubectl get job".to_owned(),
        message: "no `status` in the Job".to_owned(),
    })?;
    let ended = status
        .get("conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                matches!(
                    c.get("type").and_then(Value::as_str),
                    Some("Complete" | "Failed")
                ) && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    if ended {
        return Ok(JobState::Ended);
    }
    let active = status.get("active").and_then(Value::as_u64).unwrap_or(0);
    Ok(JobState::Active {
        tasks: usize::try_from(active).unwrap_or(usize::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(
            dns_label("llm-perf-sweep-Sim_Grid"),
            "llm-perf-sweep-sim-grid"
        );
        assert_eq!(dns_label("--__--"), "llm-perf-sweep");
        assert!(dns_label(&"x".repeat(100)).len() <= 52);
    }

    #[test]
    fn the_manifest_is_yaml_with_the_job_fields() {
        let k = Kubernetes {
            image: "img:1".into(),
            volume: Volume::Claim("results-pvc".into()),
            accelerators: vec![("nvidia.com/gpu".into(), 2)],
            ..Kubernetes::default()
        };
        let job = ArrayJob {
            name: "n".into(),
            comment: "c".into(),
            tasks: 5,
            program: "llm-perf".into(),
            args: vec![super::super::TaskArg::Text("a b".into())],
            dir: "/r d".into(),
            parallel: Some(2),
        };
        let text = k.render(&job).unwrap();
        let v: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let spec = &v["spec"];
        assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
        assert_eq!(spec["completions"].as_u64(), Some(5));
        assert_eq!(spec["parallelism"].as_u64(), Some(2));
        let c = &spec["template"]["spec"]["containers"][0];
        assert_eq!(c["command"][2].as_str(), Some("exec llm-perf 'a b'"));
        assert_eq!(
            c["resources"]["limits"]["nvidia.com/gpu"].as_str(),
            Some("2")
        );
        assert_eq!(c["volumeMounts"][0]["mountPath"].as_str(), Some("/r d"));
        assert_eq!(
            spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str(),
            Some("results-pvc")
        );
        let none = Kubernetes::default().render(&job).unwrap_err().to_string();
        assert!(none.starts_with("--image:"), "{none}");
    }

    #[test]
    fn failed_jobs_have_ended_too() {
        let failed = r#"{"status": {"conditions": [{"type": "Failed", "status": "True"}]}}"#;
        assert_eq!(job_state(failed).unwrap(), JobState::Ended);
        let suspended = r#"{"status": {"conditions": [{"type": "Complete", "status": "False"}]}}"#;
        assert_eq!(job_state(suspended).unwrap(), JobState::Active { tasks: 0 });
        assert!(job_state("{}").is_err());
    }
}

//! One serving replica as the event loop sees it: its engine ([`crate::engine::Engine`]) plus
//! the loop's own state (step in flight, pending wake-up, counters for the summary).

use perf_model_core::BatchShape;

use crate::engine::{Engine, EngineSnapshot};

/// Per-replica counters for the summary.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplicaCounters {
    pub steps: u64,
    pub busy_ns: u64,
    pub batch_sum: u64,
    pub tokens_sum: u64,
    /// Σ used_blocks · step duration (block·ns).
    pub kv_block_ns: u128,
    pub kv_max_used: u64,
    pub completed: u64,
    pub routed: u64,
}

/// One step as `steps.csv` reports it (specs/simulator.md §7.3), taken when it was scheduled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StepRecord {
    /// Step number within the replica, from 0.
    pub index: u64,
    pub start_ns: u64,
    pub shape: BatchShape,
    pub kv_blocks_used: u64,
    /// Waiting and running requests once the step was scheduled.
    pub waiting: usize,
    pub running: usize,
    /// Requests preempted while scheduling it.
    pub preempted: u64,
}

/// A replica: its engine, the step in flight and the summary counters.
pub(crate) struct Replica {
    pub engine: Box<dyn Engine>,
    pub busy: bool,
    pub wake_pending: bool,
    /// Start of the step in flight (or of the last one), ns.
    pub step_start: u64,
    pub counters: ReplicaCounters,
    /// The step in flight (or the last one).
    pub last_step: StepRecord,
    /// The engine's preemption count when the last step was accounted.
    preemptions_seen: u64,
    /// Its replica's pipeline (index into the event loop's pipelines) when it is one of a
    /// pipelined replica's engines; `NO_PIPELINE` otherwise.
    pub pipeline: u32,
}

/// [`Replica::pipeline`] of an engine that is a whole replica.
pub(crate) const NO_PIPELINE: u32 = u32::MAX;

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("engine", &self.engine.name())
            .field("busy", &self.busy)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Replica {
    pub fn new(engine: Box<dyn Engine>) -> Self {
        Self {
            engine,
            busy: false,
            wake_pending: false,
            step_start: 0,
            counters: ReplicaCounters::default(),
            last_step: StepRecord::default(),
            preemptions_seen: 0,
            pipeline: NO_PIPELINE,
        }
    }

    /// Accounts the step `[start, start + dt)` that computes `shape`, with the engine's
    /// counts `e` once the step was built, and records it in [`Replica::last_step`].
    pub fn account(&mut self, shape: &BatchShape, e: &EngineSnapshot, start: u64, dt: u64) {
        let (used, preemptions) = (e.kv.used, e.preemptions);
        self.step_start = start;
        self.last_step = StepRecord {
            index: self.counters.steps,
            start_ns: start,
            shape: *shape,
            kv_blocks_used: used,
            waiting: e.waiting,
            running: e.running,
            preempted: preemptions - self.preemptions_seen,
        };
        self.preemptions_seen = preemptions;
        let c = &mut self.counters;
        c.steps += 1;
        c.busy_ns = c.busy_ns.saturating_add(dt);
        c.batch_sum += u64::from(shape.num_seqs());
        c.tokens_sum += shape.total_tokens();
        c.kv_block_ns += u128::from(used) * u128::from(dt);
        c.kv_max_used = c.kv_max_used.max(used);
    }
}

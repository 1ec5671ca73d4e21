//! What the seed loader did with each key: a default applied, a key ignored, a unit converted,
//! a value mapped onto a different but equivalent concept.

use std::fmt;

/// The kind of a [`Decision`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecisionKind {
    /// A missing key got the seed's default.
    DefaultApplied,
    /// A key was accepted but has no effect on the simulation.
    Ignored,
    /// A value was converted to another unit.
    UnitConverted,
    /// A value was mapped onto the simulator's equivalent concept (or approximated by it).
    Mapped,
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DefaultApplied => "default applied",
            Self::Ignored => "ignored",
            Self::UnitConverted => "unit converted",
            Self::Mapped => "mapped",
        })
    }
}

/// One decision of the seed loader about one key of the seed configuration.
///
/// Displays as one line: `seed config: <kind>: <path>: <detail>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// What was done.
    pub kind: DecisionKind,
    /// Path of the key in the seed configuration, e.g. `hardware_profile.compute_devices[0].memory_gbps`.
    pub path: String,
    /// What the value became, or why it has no effect.
    pub detail: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed config: {}: {}: {}",
            self.kind, self.path, self.detail
        )
    }
}

/// The decisions of one load, in the order they were taken.
#[derive(Debug, Default)]
pub(crate) struct Log(pub(crate) Vec<Decision>);

impl Log {
    fn push(&mut self, kind: DecisionKind, path: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Decision {
            kind,
            path: path.into(),
            detail: detail.into(),
        });
    }

    pub(crate) fn default_applied(&mut self, path: impl Into<String>, detail: impl Into<String>) {
        self.push(DecisionKind::DefaultApplied, path, detail);
    }

    pub(crate) fn ignored(&mut self, path: impl Into<String>, detail: impl Into<String>) {
        self.push(DecisionKind::Ignored, path, detail);
    }

    pub(crate) fn converted(&mut self, path: impl Into<String>, detail: impl Into<String>) {
        self.push(DecisionKind::UnitConverted, path, detail);
    }

    pub(crate) fn mapped(&mut self, path: impl Into<String>, detail: impl Into<String>) {
        self.push(DecisionKind::Mapped, path, detail);
    }
}

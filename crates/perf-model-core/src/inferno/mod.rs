//! The Inferno queueing analyzer (in progress).

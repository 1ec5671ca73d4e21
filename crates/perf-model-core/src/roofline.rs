//! Roofline step-time model (in progress).

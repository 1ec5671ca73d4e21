//! Model and accelerator catalogues (in progress).

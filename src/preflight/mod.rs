//! preflight (to be written).

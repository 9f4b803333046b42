//! compose (to be written).

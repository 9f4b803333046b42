//! approval (to be written).

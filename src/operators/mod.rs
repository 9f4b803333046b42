//! operators (to be written).

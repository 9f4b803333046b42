//! The campaign file (TOML) (to be written).

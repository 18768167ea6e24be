//! pool (under construction)

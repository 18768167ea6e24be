//! Parameter-space studies (under construction).

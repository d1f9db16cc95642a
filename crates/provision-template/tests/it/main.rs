//! Integration tests of provision-template: one binary, one module per area.

// Tests may unwrap; clippy's allow-unwrap-in-tests does not reach helper functions here.
#![allow(clippy::unwrap_used)]

mod answers;
mod catalog;
mod check;
mod hostile;
mod ms;
mod render;
mod support;

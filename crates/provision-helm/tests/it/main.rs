//! Integration tests of `provision-helm`: the base chart under the real Helm engine.

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod chart;
mod package;

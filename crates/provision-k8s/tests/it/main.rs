//! Integration tests of provision-k8s, one binary (see STYLE.md).

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

mod workspace;

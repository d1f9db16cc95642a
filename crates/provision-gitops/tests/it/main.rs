//! Integration tests of provision-gitops, one binary (see STYLE.md).

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

mod flux;
mod schema;

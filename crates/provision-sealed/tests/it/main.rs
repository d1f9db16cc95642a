//! Integration tests of provision-sealed, one binary (see STYLE.md).

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

mod schema;
mod sealed;

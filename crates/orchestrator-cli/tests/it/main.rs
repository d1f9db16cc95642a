//! End-to-end tests through the `orchestrator` binary, with the real `git` CLI reading back
//! what it wrote.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failures by design

mod chart;
mod controller;
mod crash;
mod create;
mod help;
mod image;
mod kinds;
mod secret;
mod support;
mod tokens;
mod upgrade;
mod workspace_api;

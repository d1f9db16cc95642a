//! The `orchestrator` binary as users run it, with the real `git` CLI reading back what it
//! wrote.

mod chart;
mod controller;
mod crash;
mod create;
mod help;
mod image;
mod kinds;
mod monorepo;
mod runs;
mod secret;
pub mod support;
mod texts;
mod tokens;
mod undo;
mod upgrade;
mod workspace_api;

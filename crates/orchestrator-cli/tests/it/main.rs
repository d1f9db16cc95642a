//! End-to-end tests through the `orchestrator` binary, with the real `git` CLI reading back
//! what it wrote.

mod crash;
mod help;
mod create;
mod kinds;
mod support;

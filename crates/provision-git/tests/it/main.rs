//! Integration tests of `provision-git`: what the adapter writes is read back with the real
//! `git` CLI, an independent implementation, in throwaway directories; and the `GitHost`
//! contract (`contract`), which the adapter and the in-memory fake the layers above test with
//! must both keep.

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod branches;
mod commits;
mod contract;
mod merges;
mod repos;
mod support;

//! Integration tests of `provision-git`: what the adapter writes is read back with the real
//! `git` CLI, an independent implementation, in throwaway directories.

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod branches;
mod commits;
mod merges;
mod repos;
mod support;

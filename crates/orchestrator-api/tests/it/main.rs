//! The API driven through `router(...)` without a socket: bad inputs, happy paths, server-side
//! failures, the OpenAPI document and a fuzz-style sweep of random bodies; and the real
//! binary killed mid-run and restarted, and serving workspaces on a cluster.

mod bad_input;
mod cluster;
mod failures;
mod fuzz;
mod happy;
mod openapi;
mod process;
mod restart;
mod support;
mod workspaces;

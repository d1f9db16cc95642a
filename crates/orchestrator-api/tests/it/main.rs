//! The API driven through `router(...)` without a socket: bad inputs, happy paths, server-side
//! failures, the OpenAPI document and a fuzz-style sweep of random bodies; and the real
//! binary killed mid-run and restarted.

mod bad_input;
mod failures;
mod fuzz;
mod happy;
mod openapi;
mod restart;
mod support;
mod workspaces;

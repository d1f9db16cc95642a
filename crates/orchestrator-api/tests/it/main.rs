//! The API driven through `router(...)` without a socket: bad inputs, happy paths, the chart
//! repository, server-side failures, runs that have not finished and their retries, the OpenAPI document, a fuzz-style
//! sweep of random bodies and the request limits. The binary as a process is tested end to
//! end, in the top-level `tests/`.

mod access;
mod bad_input;
mod charts;
mod failures;
mod fuzz;
mod happy;
mod limits;
mod openapi;
mod runs;
mod support;
mod workspaces;

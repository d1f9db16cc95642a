//! End-to-end tests across crates (the tests are in `it/`): adapters that must agree with each
//! other, and the binaries driven as users drive them. Nothing here ships.

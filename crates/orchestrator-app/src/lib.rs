//! The orchestrator application: the use cases both frontends (CLI and API) call, cut by
//! capability, each holding only the ports it uses and answering its own error:
//!
//! - [`provisioning`]: create-service, and the runs it and upgrades make (resume, retry, show);
//!   [`provisioning::Planner`] checks and plans without a store;
//! - [`upgrades`]: bringing services to the newest version of their blueprints;
//! - [`edits`]: single commits on `main` of repositories people own (image tags, sealed
//!   secrets, chart publishing);
//! - [`workspaces`]: developers' boxes on a cluster;
//! - [`auth`]: API tokens and the callers they prove;
//! - [`monorepo`]: a monorepo's project (`init`) and the services a user works on (context).
//!
//! [`runtime::Runtime`] builds what the configuration names and is the one start-up path of
//! both binaries. Every error is classified once ([`error::ErrorKind`]); frontends map the
//! kind, never the variant. Frontends parse and print; every rule lives here or below.

pub mod auth;
pub(crate) mod backoff;
pub mod catalog;
pub mod config;
pub mod diff;
pub mod edits;
pub mod error;
pub mod fault;
pub mod mail;
pub mod metrics;
pub mod monorepo;
pub mod provisioning;
pub mod runs;
pub mod runtime;
pub mod upgrades;
pub mod workspaces;

pub use config::Config;
pub use error::{Classified, ErrorKind, Failure};
pub use runtime::{ClusterUse, Runtime, Start};

#[cfg(test)]
mod tests;

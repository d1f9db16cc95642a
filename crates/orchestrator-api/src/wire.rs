//! The JSON this API speaks, in one place: requests and answers of every route, and the
//! problem of every error. The command line's remote mode reads and writes the same types, so
//! the two cannot drift apart.

pub use crate::problem::{FieldProblem, Problem};
pub use crate::routes::{CreateRepoRequest, ImageRequest, Status, UpgradeRequest};
pub use crate::workspaces::{SeedDelete, SeedRequest, SeedSpecification, WorkspaceResponse};
pub use orchestrator_app::catalog::{KindView, ParameterView};
pub use orchestrator_app::edits::ImageReport;
pub use orchestrator_app::provisioning::report::{ServiceReport, ServiceView};
pub use orchestrator_app::provisioning::request::CreateServiceInput;
pub use orchestrator_app::runs::{RunSummary, RunView};
pub use orchestrator_app::upgrades::report::UpgradeReport;
pub use orchestrator_app::workspaces::{AmountInput, WorkspaceInput};

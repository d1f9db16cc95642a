//! Printing results as text for people or as JSON for programs (`--output json`).

use crate::failure::CliFailure;
use orchestrator_api::wire::WorkspaceResponse;
use orchestrator_app::auth::tokens::TokenView;
use orchestrator_app::catalog::KindView;
use orchestrator_app::diff::ChangeKind;
use orchestrator_app::edits::Scope;
use orchestrator_app::edits::{ChartReport, ImageReport, SecretReport};
use orchestrator_app::monorepo::{ContextView, InitReport, ProjectView};
use orchestrator_app::provisioning::report::{ServiceReport, ServiceView};
use orchestrator_app::provisioning::undo::UndoReport;
use orchestrator_app::runs::{RunSummary, RunView};
use orchestrator_app::upgrades::UpgradeMode;
use orchestrator_app::upgrades::report::{UpgradeOutcome, UpgradeReport};
use provision_core::ports::{FileChange, RunState};
use provision_template::Diagnostic;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub struct Printer {
    json: bool,
    /// `-q`: a report whose outcome is success prints nothing (JSON is printed all the same:
    /// a program asked for it).
    quiet: bool,
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth reporting.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

impl Printer {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    fn json(&self, value: &impl Serialize) {
        let text = serde_json::to_string_pretty(value).expect("views serialize");
        out(&format!("{text}\n"));
    }

    pub fn service_report(&self, r: &ServiceReport) {
        if self.json {
            return self.json(r);
        }
        let failed = r.run.as_ref().is_some_and(|run| run.state != RunState::Succeeded);
        if self.quiet && !failed {
            return;
        }
        let mut s = String::new();
        if r.dry_run {
            s.push_str(&format!(
                "Dry run: nothing was written. Creating {} (kind {} {}) would:\n",
                r.service, r.kind, r.blueprint_version
            ));
            for (i, step) in r.plan.iter().enumerate() {
                s.push_str(&format!("  {i}. {step}\n"));
            }
        } else if let Some(run) = &r.run {
            let verb = match run.state {
                RunState::Succeeded if r.replayed => "Already created",
                RunState::Succeeded => "Created",
                _ => "Failed to create",
            };
            s.push_str(&format!(
                "{verb} service {} (kind {} {}) in run {}\n",
                r.service, r.kind, r.blueprint_version, run.id
            ));
            if let Some(error) = &run.error {
                s.push_str(&format!(
                    "error: {error}\nSee `orchestrator runs show {}`; `orchestrator runs retry {}` resumes it.\n",
                    run.id, run.id
                ));
            }
        }
        s.push('\n');
        let width = r.repos.iter().map(|repo| repo.name.len()).max().unwrap_or(0);
        for repo in &r.repos {
            let role = format!("{:?}", repo.role).to_lowercase();
            s.push_str(&format!(
                "  {role:<7} {:<width$}  {}  ({} files)\n",
                repo.name,
                repo.clone_url,
                repo.files.len()
            ));
        }
        for repo in &r.repos {
            s.push_str(&format!("\n{} ({}):\n", repo.name, repo.branch));
            if repo.changes.is_empty() {
                for f in &repo.files {
                    s.push_str(&format!("  {f}\n"));
                }
            }
            for c in &repo.changes {
                let change = match c.change {
                    ChangeKind::New => "new",
                    ChangeKind::Changed => "changed",
                    ChangeKind::Unchanged => "unchanged",
                };
                s.push_str(&format!("  {change:<9} {}\n", c.path));
            }
        }
        // A dry run ends with what it would write: each repository's changes as unified diffs.
        for repo in &r.repos {
            let diffs: Vec<&str> = repo.changes.iter().filter_map(|c| c.diff.as_deref()).collect();
            if !diffs.is_empty() {
                s.push_str(&format!("\n# {} ({})\n", repo.name, repo.branch));
                s.push_str(&diffs.concat());
            }
        }
        if !r.dry_run
            && let Some(service) = r.repos.first()
        {
            s.push_str(&format!("\nClone it: git clone {}\n", service.clone_url));
        }
        out(&s);
        // After the report, where people look last; programs read them in the JSON.
        for warning in &r.warnings {
            eprintln!("warning: {}", warning.message);
        }
    }

    pub fn kinds(&self, kinds: &[KindView]) {
        if self.json {
            return self.json(&kinds);
        }
        let mut s = String::new();
        for k in kinds {
            s.push_str(&format!("{} {}  {}\n", k.name, k.version, k.description));
            for p in &k.parameters {
                let default = p.default.as_ref().map(|d| format!(" (default {d})")).unwrap_or_default();
                let required = if p.required { " required" } else { "" };
                s.push_str(&format!("  --set {}=<{}>{required}{default}  {}\n", p.name, p.kind, p.description));
                for c in &p.constraints {
                    s.push_str(&format!("      {c}\n"));
                }
            }
        }
        out(&s);
    }

    pub fn diagnostics(&self, dir: &Path, diagnostics: &[Diagnostic]) {
        if self.json {
            let list: Vec<_> = diagnostics
                .iter()
                .map(
                    |d| serde_json::json!({"file": d.file.display().to_string(), "line": d.line, "message": d.message}),
                )
                .collect();
            return self.json(&serde_json::json!({"blueprint": dir.display().to_string(), "ok": diagnostics.is_empty(), "problems": list}));
        }
        if diagnostics.is_empty() {
            out(&format!("{}: ok\n", dir.display()));
            return;
        }
        let mut s = String::new();
        for d in diagnostics {
            s.push_str(&format!("{d}\n"));
        }
        s.push_str(&format!("{} problem(s) in {}\n", diagnostics.len(), dir.display()));
        out(&s);
    }

    pub fn runs(&self, runs: &[RunSummary]) {
        if self.json {
            return self.json(&runs);
        }
        if runs.is_empty() {
            return out("No runs yet.\n");
        }
        let mut s = String::new();
        for r in runs {
            let service = r.service.as_deref().unwrap_or("-");
            s.push_str(&format!(
                "{}  {:<9}  {:<14}  {service}  {}\n",
                r.id,
                r.state.as_str(),
                r.operation.as_str(),
                r.created_at
            ));
        }
        out(&s);
    }

    pub fn chart_report(&self, r: &ChartReport) {
        if self.json {
            return self.json(r);
        }
        out(&if r.published {
            format!(
                "Published {} {} to {} ({}, sha256 {}, commit {})\n",
                r.chart, r.version, r.repo, r.url, r.digest, r.commit
            )
        } else {
            format!(
                "{} {} is published in {} already, with this very archive; nothing committed\n",
                r.chart, r.version, r.repo
            )
        });
    }

    pub fn image_report(&self, r: &ImageReport) {
        if self.json {
            return self.json(r);
        }
        let scope = r.env.as_deref().map_or_else(|| "every environment".to_owned(), str::to_owned);
        if r.dry_run {
            return out(&match &r.diff {
                Some(diff) => format!(
                    "Dry run: nothing was committed. Setting {} image to {} for {scope} would change {} {}:\n\n{diff}",
                    r.service, r.tag, r.repo, r.file
                ),
                None => format!(
                    "Dry run: {} image is {} for {scope} already ({} {}); nothing would change\n",
                    r.service, r.tag, r.repo, r.file
                ),
            });
        }
        out(&if r.changed {
            format!("{} image set to {} for {scope} in {} {} (commit {})\n", r.service, r.tag, r.repo, r.file, r.commit)
        } else {
            format!("{} image is {} for {scope} already ({} {}); nothing committed\n", r.service, r.tag, r.repo, r.file)
        });
    }

    pub fn secret_report(&self, r: &SecretReport) {
        if self.json {
            return self.json(r);
        }
        let bound = match r.scope {
            Scope::Strict => format!("only as {}/{}", r.namespace, r.name),
            Scope::NamespaceWide => format!("as any secret in {}", r.namespace),
            Scope::ClusterWide => "anywhere in the cluster".to_owned(),
        };
        let expires = r.certificate_expires.as_deref().map(|t| format!(", expires {t}")).unwrap_or_default();
        let mut s = match &r.commit {
            Some(commit) => format!(
                "Sealed {} into secret {} of {} in {} ({}: unsealed {bound})\n  {} {} (commit {commit})\n",
                r.keys.join(", "),
                r.name,
                r.service,
                r.env,
                r.scope,
                r.repo,
                r.file
            ),
            None => format!(
                "Dry run: nothing was committed. Sealing {} for {} in {} ({}: unsealed {bound}) gives:\n\n{}\n",
                r.keys.join(", "),
                r.service,
                r.env,
                r.scope,
                r.sealed_secret
            ),
        };
        s.push_str(&format!("  certificate: {}{expires}\n", r.certificate));
        out(&s);
    }

    pub fn workspace(&self, w: &WorkspaceResponse) {
        if self.json {
            return self.json(w);
        }
        let mut s = format!(
            "{}  {}  {}  cpu {} memory {} storage {}\n",
            w.name,
            w.owner,
            w.phase.as_str(),
            w.cpu,
            w.memory,
            w.storage
        );
        if let Some(command) = &w.access_command {
            s.push_str(&format!("  {command}\n"));
        }
        if let Some(message) = &w.message {
            s.push_str(&format!("  {message}\n"));
        }
        out(&s);
    }

    pub fn workspaces(&self, all: &[WorkspaceResponse]) {
        if self.json {
            return self.json(&all);
        }
        for w in all {
            self.workspace(w);
        }
    }

    /// A new token: the only time it is shown.
    pub fn token_issued(&self, token: &str, record: &provision_core::ports::TokenRecord) {
        if self.json {
            return self.json(&serde_json::json!({
                "token": token, "id": record.id, "email": record.email, "role": record.role,
            }));
        }
        eprintln!("Token {} for {} ({}); it is shown only now:", record.id, record.email, record.role);
        out(&format!("{token}\n"));
    }

    pub fn tokens(&self, tokens: &[TokenView]) {
        if self.json {
            return self.json(&tokens);
        }
        let rows = tokens.iter().map(|t| {
            let state = if t.revoked_at.is_some() {
                "revoked"
            } else if t.confirmed {
                "confirmed"
            } else {
                "unused"
            };
            let source = match t.source {
                orchestrator_app::auth::tokens::TokenSource::Store => "store",
                orchestrator_app::auth::tokens::TokenSource::File => "file",
            };
            let last_used = t.last_used_at.map_or_else(|| "-".to_owned(), |at| at.to_string());
            [t.id.clone(), t.email.clone(), t.role.to_string(), source.to_owned(), state.to_owned(), last_used]
        });
        out(&table(["ID", "EMAIL", "ROLE", "SOURCE", "STATE", "LAST USED"], rows));
    }

    pub fn revoked(&self, live: bool) {
        if self.json {
            return self.json(&serde_json::json!({ "revoked": live }));
        }
        out(if live { "revoked\n" } else { "it was revoked already\n" });
    }

    pub fn upgrade_report(&self, r: &UpgradeReport) {
        if self.json {
            return self.json(r);
        }
        out(&upgrade_text(r));
    }

    pub fn undo_report(&self, r: &UndoReport) {
        if self.json {
            return self.json(r);
        }
        let succeeded = r.run.as_ref().is_none_or(|v| v.run.state == RunState::Succeeded);
        if self.quiet && succeeded {
            return;
        }
        let mut s = match (&r.run, r.dry_run, r.replayed) {
            (_, true, _) => format!("Dry run: nothing was changed. Undoing run {} of {} would:\n", r.target, r.service),
            (Some(v), _, true) => format!(
                "Run {} of {} was undone before, by run {} ({}):\n",
                r.target,
                r.service,
                v.run.id,
                v.run.state.as_str()
            ),
            (Some(v), _, false) => {
                format!("Undo of run {} of {}: run {} {}\n", r.target, r.service, v.run.id, v.run.state.as_str())
            }
            (None, false, _) => String::new(),
        };
        let verb = |done: &str, would: &str| if r.dry_run { would.to_owned() } else { done.to_owned() };
        if let Some(u) = &r.unregistered {
            s.push_str(&format!(
                "  {} {} file(s) of {} from {}:\n",
                verb("removed", "remove"),
                u.files.len(),
                r.service,
                u.repo
            ));
            for file in &u.files {
                s.push_str(&format!("    {file}\n"));
            }
        }
        for repo in &r.deleted {
            let forced = if r.forced { " (forced)" } else { "" };
            s.push_str(&format!("  {} repository {repo}{forced}\n", verb("deleted", "delete")));
        }
        if r.forgotten {
            s.push_str(&format!("  {} {} from the inventory\n", verb("forgot", "forget"), r.service));
        }
        if r.unregistered.is_none() && r.deleted.is_empty() && !r.forgotten {
            s.push_str("  nothing: the run left nothing that is still there\n");
        }
        if let Some(v) = r.run.as_ref().filter(|v| v.run.state != RunState::Succeeded) {
            if let Some(e) = &v.run.error {
                s.push_str(&format!("error: {e}\n"));
            }
            s.push_str(&format!(
                "See `orchestrator runs show {0}`; `orchestrator runs retry {0}` resumes it.\n",
                v.run.id
            ));
        }
        out(&s);
    }

    pub fn run(&self, r: &RunView) {
        if self.json {
            return self.json(r);
        }
        let run = &r.run;
        let mut s = format!("run {}: {} {}\n", run.id, run.operation, run.service.as_deref().unwrap_or(""));
        s.push_str(&format!(
            "state: {}\ncreated: {}\nupdated: {}\n",
            run.state.as_str(),
            run.created_at,
            run.updated_at
        ));
        if let Some(e) = &run.error {
            s.push_str(&format!("error: {e}\n"));
        }
        s.push_str("steps:\n");
        for step in &r.steps {
            let detail = step.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            let attempts = if step.attempts > 1 { format!(" ({} attempts)", step.attempts) } else { String::new() };
            s.push_str(&format!("  {}. [{}] {}{detail}{attempts}\n", step.index, step.state.as_str(), step.name));
            if let Some(e) = &step.error {
                s.push_str(&format!("       error: {e}\n"));
            }
        }
        if let Some(upgrade) = &r.upgrade {
            s.push_str("report:\n");
            s.push_str(&upgrade_text(upgrade));
        }
        out(&s);
    }

    pub fn services(&self, services: &[ServiceView]) {
        if self.json {
            return self.json(&services);
        }
        if services.is_empty() {
            return out("No services yet.\n");
        }
        let mut s = String::new();
        for v in services {
            s.push_str(&format!(
                "{}  {} {}  {}  {}\n",
                v.name,
                v.kind,
                v.blueprint_version,
                v.state.as_str(),
                v.description
            ));
        }
        out(&s);
    }

    pub fn service(&self, v: &ServiceView) {
        if self.json {
            return self.json(v);
        }
        let mut s = format!("{} ({} {}), {}\n", v.name, v.kind, v.blueprint_version, v.state.as_str());
        if !v.description.is_empty() {
            s.push_str(&format!("  {}\n", v.description));
        }
        s.push_str(&format!("  created {} by run {}\n", v.created_at, v.run));
        for r in &v.repos {
            s.push_str(&format!("  {:<7} {}  {}\n", format!("{:?}", r.role).to_lowercase(), r.name, r.clone_url));
        }
        out(&s);
    }

    pub fn init_report(&self, r: &InitReport) {
        if self.json {
            return self.json(r);
        }
        if self.quiet {
            return;
        }
        let mut s = format!(
            "Created project {} in {} (blueprint {} {}), commit {} on main and orchestrator/template\n",
            r.project.name,
            r.project.root.display(),
            r.project.blueprint,
            r.project.version,
            &r.commit[..r.commit.len().min(12)]
        );
        for file in &r.files {
            s.push_str(&format!("  {file}\n"));
        }
        out(&s);
    }

    pub fn project(&self, p: &ProjectView) {
        if self.json {
            return self.json(p);
        }
        let mut s = format!("Project {} ({})\n", p.name, p.root.display());
        s.push_str(&format!("  Go module:  {}\n", p.go_module));
        s.push_str(&format!("  blueprint:  {} {}\n", p.blueprint, p.version));
        s.push_str(&format!("  builder:    {}\n", p.builder_image));
        s.push_str(&format!("  registry:   {}\n", p.registry));
        s.push_str(&format!("  target:     {}\n", p.default_target.as_str()));
        if p.services.is_empty() {
            s.push_str("  services:   none yet\n");
        } else {
            s.push_str("  services:\n");
            for svc in &p.services {
                s.push_str(&format!("    {}  ({}, {})\n", svc.name, svc.kind, svc.path));
            }
        }
        if p.plugins.is_empty() {
            s.push_str("  plugins:    none\n");
        } else {
            s.push_str("  plugins:\n");
            for plugin in &p.plugins {
                s.push_str(&format!("    {}\n", plugin.image));
            }
        }
        let context = if p.context.is_empty() { "every service".to_owned() } else { p.context.join(", ") };
        s.push_str(&format!("  context:    {context}\n"));
        out(&s);
    }

    pub fn context(&self, c: &ContextView) {
        if self.json {
            return self.json(c);
        }
        let text = if c.saved.is_empty() {
            if c.services.is_empty() {
                "every service (the project has none yet)\n".to_owned()
            } else {
                format!("every service: {}\n", c.services.join(" "))
            }
        } else {
            format!("{}\n", c.services.join(" "))
        };
        out(&text);
    }

    /// Reports a failure on stderr (as JSON with `--output json`: the kind, the problem type
    /// the API would answer, the message and every field problem) and answers its exit code.
    pub fn error(&self, e: &CliFailure) -> ExitCode {
        let mut stderr = std::io::stderr().lock();
        if self.json {
            let body = serde_json::json!({
                "error": e.message,
                "kind": e.kind,
                "type": e.problem_type,
                "problems": e.problems,
            });
            let _ = writeln!(stderr, "{body}");
        } else {
            // The message lists the field problems already.
            let _ = writeln!(stderr, "error: {}", e.message);
        }
        e.exit_code()
    }
}

/// An upgrade report for people: per service, per repository, what happened or would.
/// Rows under a header, each column as wide as its widest cell, two spaces apart.
fn table<const N: usize>(header: [&str; N], rows: impl Iterator<Item = [String; N]>) -> String {
    let rows: Vec<[String; N]> = std::iter::once(header.map(str::to_owned)).chain(rows).collect();
    let mut widths = [0; N];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn upgrade_text(r: &UpgradeReport) -> String {
    let mut s = String::new();
    if r.mode == UpgradeMode::DryRun {
        s.push_str("Dry run: nothing was written.\n");
    }
    if r.services.is_empty() {
        s.push_str("No services to upgrade.\n");
    }
    for service in &r.services {
        let version = service.to_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        s.push_str(&format!("{} ({}{version})\n", service.service, service.kind));
        if let Some(error) = &service.error {
            s.push_str(&format!("  failed: {error}\n"));
        }
        for repo in &service.repos {
            let versions = format!("{} → {}", repo.from_version, repo.to_version);
            let what = match repo.outcome {
                UpgradeOutcome::UpToDate => "up to date".to_owned(),
                UpgradeOutcome::Upgraded => format!("upgraded {versions}"),
                UpgradeOutcome::Conflicts => format!(
                    "conflicts {versions}, committed on {} (main unchanged)",
                    repo.branch.as_deref().unwrap_or("its upgrade branch")
                ),
                UpgradeOutcome::Failed => format!("failed: {}", repo.error.as_deref().unwrap_or("unknown")),
                // The template branch holds the newest render, main does not hold it yet
                // (an upgrade's conflicts wait on their branch): not "behind 1.2.0 → 1.2.0".
                UpgradeOutcome::Behind if repo.from_version == repo.to_version => format!(
                    "behind: {} is not merged into main yet{}",
                    repo.to_version,
                    if repo.conflicts.is_empty() { "" } else { ", would conflict" }
                ),
                UpgradeOutcome::Behind if repo.conflicts.is_empty() => format!("behind {versions}"),
                UpgradeOutcome::Behind => format!("behind {versions}, would conflict"),
            };
            s.push_str(&format!("  {:<24} {what}\n", repo.repo));
            for change in &repo.changes {
                let what = match change.change {
                    FileChange::Added => "added",
                    FileChange::Modified => "modified",
                    FileChange::Removed => "removed",
                };
                s.push_str(&format!("      {what:<9} {}\n", change.path));
            }
            for conflict in &repo.conflicts {
                s.push_str(&format!("      conflict  {} ({})\n", conflict.path, conflict.kind.as_str()));
            }
            if r.mode == UpgradeMode::DryRun {
                for change in &repo.changes {
                    s.push('\n');
                    s.push_str(&change.diff);
                }
                if !repo.changes.is_empty() {
                    s.push('\n');
                }
            }
        }
    }
    if let Some(run) = &r.run {
        s.push_str(&format!("run {}: {}\n", run.id, run.state.as_str()));
    }
    s
}

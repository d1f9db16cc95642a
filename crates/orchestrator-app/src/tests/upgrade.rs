//! Upgrades on the in-memory ports, with blueprint versions written to temporary directories.

use super::*;
use crate::upgrades::report::UpgradeOutcome;
use crate::upgrades::{UpgradeMode, UpgradeOptions, UpgradeTarget};
use provision_core::ports::CommitRequest;
use provision_core::{BranchName, FileEntry, FileSet, RepoName, RepoPath, TreeMode};

const V1: &str = r#"name = "tiny"
version = "1.0.0"
description = "A small service"

[deploy]
port = 8080
health_path = "/healthz"
ready_path = "/readyz"

[[parameters]]
name = "greeting"
type = "string"
default = "hello"
"#;

/// v2: `greeting` became `salutation`, `colour` is new, `old.txt` is gone, `new.txt` came,
/// `main.txt`'s last line changed.
const V2: &str = r#"name = "tiny"
version = "2.0.0"
description = "A small service"

[deploy]
port = 8080
health_path = "/healthz"
ready_path = "/readyz"

[[parameters]]
name = "salutation"
type = "string"
default = "hello"

[[parameters]]
name = "colour"
type = "choice"
choices = ["red", "blue"]
default = "blue"

[[migrations]]
version = "2.0.0"
rename_answers = { greeting = "salutation" }
"#;

fn lines(n: usize, last: &str) -> String {
    (1..n).map(|i| format!("line {i}\n")).chain([format!("{last}\n")]).collect()
}

fn v1_files() -> Vec<(&'static str, String)> {
    vec![
        ("blueprint.toml", V1.into()),
        ("app/main.txt.jinja", lines(12, "end of v1")),
        ("app/greeting.txt.jinja", "{{ greeting }}, {{ name }}\n".into()),
        ("app/old.txt", "dropped in v2\n".into()),
    ]
}

fn v2_files() -> Vec<(&'static str, String)> {
    vec![
        ("blueprint.toml", V2.into()),
        ("app/main.txt.jinja", lines(12, "end of v2")),
        ("app/greeting.txt.jinja", "{{ salutation }}, {{ name }} ({{ colour }})\n".into()),
        ("app/new.txt", "new in v2\n".into()),
    ]
}

/// A blueprint directory holding `files`.
fn blueprint_dir(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

impl Fixture {
    /// An app whose only configured blueprint directory is `dir`.
    fn app_with(&self, dir: &tempfile::TempDir) -> Runtime {
        let mut config = self.config.clone();
        config.blueprint_dirs = vec![dir.path().to_owned()];
        Runtime::with_ports(config, self.ports())
    }
}

fn tiny(name: &str) -> CreateServiceInput {
    CreateServiceInput { kind: "tiny".into(), name: name.into(), description: "d".into(), ..Default::default() }
}

async fn edit_main(git: &MemoryGitHost, repo: &str, path: &str, content: &str) {
    let repo = RepoName::parse(repo).unwrap();
    let main = BranchName::main();
    let tip = git.branch_tip(&repo, &main).await.unwrap();
    let files: FileSet =
        [(RepoPath::parse(path).unwrap(), FileEntry::new(content.as_bytes().to_vec()))].into_iter().collect();
    let request = CommitRequest {
        branch: &main,
        parent: tip.as_ref(),
        files: &files,
        mode: TreeMode::Overlay,
        message: "local edit",
        skip_unchanged: false,
    };
    git.commit(&repo, request).await.unwrap();
}

fn one(name: &str) -> UpgradeTarget {
    UpgradeTarget::Service(name.into())
}

#[tokio::test]
async fn an_upgrade_merges_the_new_version_and_a_second_one_finds_nothing_to_do() {
    let f = Fixture::new();
    let v1 = blueprint_dir(&v1_files());
    let created = f.app_with(&v1).provisioning.create_service(&tiny("demo"), &CreateOptions::default()).await.unwrap();
    assert!(created.succeeded());
    // A file of the team's own (line-level merges are the git adapter's, tested there).
    edit_main(&f.git, "demo", "NOTES.md", "ours\n").await;

    let v2 = blueprint_dir(&v2_files());
    let app = f.app_with(&v2);
    let report = app.upgrades.upgrade(&one("demo"), &UpgradeOptions::default()).await.unwrap();

    assert!(report.clean(), "{report:#?}");
    let outcomes: Vec<_> =
        report.services[0].repos.iter().map(|r| (r.repo.as_str(), r.outcome, r.from_version.as_str())).collect();
    assert_eq!(
        outcomes,
        [("demo", UpgradeOutcome::Upgraded, "1.0.0"), ("demo-infra", UpgradeOutcome::Upgraded, "1.0.0")]
    );
    assert_eq!(file(&f.git, "demo", "main", "main.txt"), lines(12, "end of v2"), "the template's change arrives");
    assert_eq!(file(&f.git, "demo", "main", "NOTES.md"), "ours\n", "the local file stays");
    assert_eq!(
        file(&f.git, "demo", "main", "greeting.txt"),
        "hello, demo (blue)\n",
        "the renamed answer and the new default"
    );
    assert_eq!(file(&f.git, "demo", "main", "new.txt"), "new in v2\n");
    assert!(f.git.history("demo", "main")[0].starts_with("Upgrade blueprint tiny 1.0.0 → 2.0.0"));
    let main = f.git.read_tree(&RepoName::parse("demo").unwrap(), &BranchName::main()).await.unwrap().unwrap();
    assert!(main.get("old.txt").is_none(), "a file the template removed goes");
    let answers = file(&f.git, "demo", "orchestrator/template", ".orchestrator/answers.toml");
    for expected in ["version = \"2.0.0\"", "salutation = \"hello\"", "colour = \"blue\""] {
        assert!(answers.contains(expected), "{expected} in {answers}");
    }
    assert!(!answers.contains("greeting"), "{answers}");

    assert_eq!(app.provisioning.service("demo").await.unwrap().blueprint_version, "2.0.0", "the inventory knows");
    // The run's report is in the run.
    let view = app.provisioning.run(&report.run.as_ref().unwrap().id).await.unwrap();
    assert_eq!(view.upgrade.unwrap().services[0].repos[0].outcome, UpgradeOutcome::Upgraded);

    let commits = f.git.history("demo", "main").len();
    let again = app.upgrades.upgrade(&one("demo"), &UpgradeOptions::default()).await.unwrap();
    assert!(again.current() && again.run.is_none(), "nothing behind, no run: {again:#?}");
    assert_eq!(f.git.history("demo", "main").len(), commits, "upgrading twice is a no-op");
    assert_eq!(f.git.history("demo", "orchestrator/template").len(), 2);
}

#[tokio::test]
async fn checks_and_dry_runs_tell_what_is_behind_and_write_nothing() {
    let f = Fixture::new();
    let v1 = blueprint_dir(&v1_files());
    f.app_with(&v1).provisioning.create_service(&tiny("demo"), &CreateOptions::default()).await.unwrap();
    let check = UpgradeOptions { mode: UpgradeMode::Check, ..Default::default() };
    let current = f.app_with(&v1).upgrades.upgrade(&UpgradeTarget::All, &check).await.unwrap();
    assert!(current.current() && current.run.is_none(), "{current:#?}");

    let v2 = blueprint_dir(&v2_files());
    let runs_before = f.store.runs(100).await.unwrap().len();
    let behind = f.app_with(&v2).upgrades.upgrade(&UpgradeTarget::All, &check).await.unwrap();
    assert!(!behind.current());
    let repo = &behind.services[0].repos[0];
    assert_eq!(repo.outcome, UpgradeOutcome::Behind);
    use provision_core::ports::FileChange;
    let changes: Vec<(&str, FileChange)> = repo.changes.iter().map(|c| (c.path.as_str(), c.change)).collect();
    assert!(
        changes.contains(&("new.txt", FileChange::Added)) && changes.contains(&("old.txt", FileChange::Removed)),
        "{changes:?}"
    );
    let dry = UpgradeOptions { mode: UpgradeMode::DryRun, ..Default::default() };
    let preview = f.app_with(&v2).upgrades.upgrade(&one("demo"), &dry).await.unwrap();
    assert_eq!(preview.mode, UpgradeMode::DryRun);
    assert_eq!(preview.services[0].repos[0].changes, repo.changes);
    assert_eq!(f.git.history("demo", "orchestrator/template").len(), 1, "nothing written");
    assert_eq!(f.store.runs(100).await.unwrap().len(), runs_before, "no run recorded");
}

#[tokio::test]
async fn set_overrides_answers_after_checking_them() {
    let f = Fixture::new();
    let v2 = blueprint_dir(&v2_files());
    let app = f.app_with(&v2);
    app.provisioning.create_service(&tiny("demo"), &CreateOptions::default()).await.unwrap();
    let bad = UpgradeOptions { set: [("colour".to_owned(), "green".into())].into(), ..Default::default() };
    let Err(crate::upgrades::Error::Invalid(invalid)) = app.upgrades.upgrade(&one("demo"), &bad).await else {
        panic!("green is not a choice")
    };
    assert_eq!(invalid.problems()[0].field, "parameters.colour");

    let red = UpgradeOptions { set: [("colour".to_owned(), "red".into())].into(), ..Default::default() };
    let report = app.upgrades.upgrade(&one("demo"), &red).await.unwrap();
    assert!(report.clean(), "{report:#?}");
    assert_eq!(file(&f.git, "demo", "main", "greeting.txt"), "hello, demo (red)\n");
    let answers = file(&f.git, "demo", "orchestrator/template", ".orchestrator/answers.toml");
    assert!(answers.contains("colour = \"red\""), "{answers}");
    // Recorded: the next upgrade keeps red.
    assert!(app.upgrades.upgrade(&one("demo"), &UpgradeOptions::default()).await.unwrap().current());

    // An older blueprint version does not downgrade.
    let v1 = blueprint_dir(&v1_files());
    let older = f.app_with(&v1).upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    let error = older.services[0].error.as_deref().unwrap();
    assert!(error.contains("is at version 2.0.0 of blueprint tiny, newer than the configured 1.0.0"), "{error}");
    assert!(older.run.is_none());
}

#[tokio::test]
async fn upgrading_all_reports_each_repository_and_a_conflict_leaves_main_alone() {
    let f = Fixture::new();
    let v1 = blueprint_dir(&v1_files());
    for name in ["calm", "edgy"] {
        f.app_with(&v1).provisioning.create_service(&tiny(name), &CreateOptions::default()).await.unwrap();
    }
    // The very line the template changes.
    edit_main(&f.git, "edgy", "main.txt", &lines(12, "end, ours")).await;
    let edgy_main = f.git.history("edgy", "main");

    let v2 = blueprint_dir(&v2_files());
    // One of three is current already: it gets no steps, and the others' steps are theirs.
    f.app_with(&v1).provisioning.create_service(&tiny("ahead"), &CreateOptions::default()).await.unwrap();
    assert!(f.app_with(&v2).upgrades.upgrade(&one("ahead"), &UpgradeOptions::default()).await.unwrap().clean());
    let report = f.app_with(&v2).upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    assert!(!report.clean());
    let by_repo: Vec<_> = report.services.iter().flat_map(|s| &s.repos).map(|r| (r.repo.as_str(), r.outcome)).collect();
    assert_eq!(
        by_repo,
        [
            ("ahead", UpgradeOutcome::UpToDate),
            ("ahead-infra", UpgradeOutcome::UpToDate),
            ("calm", UpgradeOutcome::Upgraded),
            ("calm-infra", UpgradeOutcome::Upgraded),
            ("edgy", UpgradeOutcome::Conflicts),
            ("edgy-infra", UpgradeOutcome::Upgraded),
        ]
    );
    let edgy = &report.services[2].repos[0];
    assert_eq!(edgy.branch.as_deref(), Some("orchestrator/upgrade-2.0.0"));
    let conflicts: Vec<_> = edgy.conflicts.iter().map(|c| (c.path.as_str(), c.kind.as_str())).collect();
    assert_eq!(conflicts, [("main.txt", "content")]);
    assert_eq!(f.git.history("edgy", "main"), edgy_main, "main is untouched");
    let versions: Vec<_> =
        f.app_with(&v2).provisioning.services().await.unwrap().into_iter().map(|s| s.blueprint_version).collect();
    assert_eq!(versions, ["2.0.0", "2.0.0", "1.0.0"], "a service with conflicts is not at the new version yet");
    // Asking again reports the same conflict without a new merge.
    let again = f.app_with(&v2).upgrades.upgrade(&one("edgy"), &UpgradeOptions::default()).await.unwrap();
    assert_eq!(again.services[0].repos[0].outcome, UpgradeOutcome::Conflicts);
    assert_eq!(f.git.history("edgy", "orchestrator/upgrade-2.0.0").len(), edgy_main.len() + 1);
}

/// v3: `main.txt` as in v2, `new.txt` changed, `notes/old-name.txt` moved to `docs/name.txt`.
fn v3_files() -> Vec<(&'static str, String)> {
    let manifest = V2.replace("version = \"2.0.0\"", "version = \"3.0.0\"")
        + "\n[[migrations]]\nversion = \"3.0.0\"\nrename_files = { \"notes/old-name.txt\" = \"docs/name.txt\" }\n";
    vec![
        ("blueprint.toml", manifest),
        ("app/main.txt.jinja", lines(12, "end of v2")),
        ("app/greeting.txt.jinja", "{{ salutation }}, {{ name }} ({{ colour }})\n".into()),
        ("app/new.txt", "new in v2, changed in v3\n".into()),
        ("app/docs/name.txt", "a note\n".into()),
    ]
}

#[tokio::test]
async fn each_upgrade_merges_from_the_last_render_main_holds_and_migrations_move_local_edits() {
    let f = Fixture::new();
    let mut v2 = v2_files();
    v2.push(("app/notes/old-name.txt", "a note\n".into()));
    let v2 = blueprint_dir(&v2);
    let v1 = blueprint_dir(&v1_files());
    f.app_with(&v1).provisioning.create_service(&tiny("demo"), &CreateOptions::default()).await.unwrap();
    assert!(f.app_with(&v2).upgrades.upgrade(&one("demo"), &UpgradeOptions::default()).await.unwrap().clean());
    // After v2: the team edits a file v1 → v2 changed, and the note v3 will move.
    edit_main(&f.git, "demo", "main.txt", "ours entirely\n").await;
    edit_main(&f.git, "demo", "notes/old-name.txt", "a note, edited here\n").await;

    // v1 is gone from the catalog: only the template branch knows it. Were the base v1's
    // render, main.txt would conflict (v1, ours and v3 all differ); from v2's it is ours.
    let v3 = blueprint_dir(&v3_files());
    let report = f.app_with(&v3).upgrades.upgrade(&one("demo"), &UpgradeOptions::default()).await.unwrap();
    assert!(report.clean(), "{report:#?}");
    assert_eq!(report.services[0].repos[0].from_version, "2.0.0");
    assert_eq!(file(&f.git, "demo", "main", "main.txt"), "ours entirely\n");
    assert_eq!(file(&f.git, "demo", "main", "new.txt"), "new in v2, changed in v3\n");
    assert_eq!(file(&f.git, "demo", "main", "docs/name.txt"), "a note, edited here\n", "the edit moved with the file");
    let main = f.git.read_tree(&RepoName::parse("demo").unwrap(), &BranchName::main()).await.unwrap().unwrap();
    assert!(main.get("notes/old-name.txt").is_none());
    assert!(f.git.history("demo", "main")[0].starts_with("Upgrade blueprint tiny 2.0.0 → 3.0.0"));
}

#[tokio::test]
async fn after_git_remote_url_changes_an_upgrade_rewrites_the_registrations_in_one_commit() {
    let mut f = Fixture::new();
    for name in ["one", "two"] {
        assert!(
            f.app().provisioning.create_service(&input(name), &CreateOptions::default()).await.unwrap().succeeded()
        );
    }
    let gitops = "argo-gitdir-services";
    let app_qa = "services/one/application-qa.yaml";
    assert!(file(&f.git, gitops, "main", app_qa).contains("memory://one-infra"));
    // A file of the platform team's own, and a registration they removed by hand.
    edit_main(&f.git, gitops, "README.md", "ours: memory://one-infra\n").await;
    let repo = RepoName::parse(gitops).unwrap();
    let main = BranchName::main();
    let tip = f.git.branch_tip(&repo, &main).await.unwrap();
    let mut tree = f.git.read_tree(&repo, &main).await.unwrap().unwrap();
    tree.remove(&RepoPath::parse("services/two/application-staging.yaml").unwrap());
    let request = CommitRequest {
        branch: &main,
        parent: tip.as_ref(),
        files: &tree,
        mode: TreeMode::Replace,
        message: "unregister two from staging",
        skip_unchanged: false,
    };
    f.git.commit(&repo, request).await.unwrap();
    let before = f.git.history(gitops, "main").len();

    // Nothing changed: nothing to rewrite.
    let report = f.app().upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    assert!(report.run.is_none(), "{report:#?}");

    f.config.layout.remote_url = Some("https://git.example.com/platform".into());
    let report = f.app().upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    assert!(report.clean(), "{report:#?}");
    let run = report.run.as_ref().expect("a run rewrote them");
    let history = f.git.history(gitops, "main");
    assert_eq!(history.len(), before + 1, "one commit: {history:?}");
    assert!(history[0].starts_with("Rewrite "), "{history:?}");
    assert!(history[0].contains(&format!("Provision-Run: {}/", run.id)), "journaled as the run's step: {history:?}");
    for (service, env) in [("one", "qa"), ("one", "staging"), ("two", "qa")] {
        let app = file(&f.git, gitops, "main", &format!("services/{service}/application-{env}.yaml"));
        assert!(app.contains(&format!("https://git.example.com/platform/{service}-infra.git")), "{app}");
        assert!(!app.contains("memory://"), "{app}");
    }
    assert_eq!(file(&f.git, gitops, "main", "README.md"), "ours: memory://one-infra\n", "other files stay");
    let tree = f.git.read_tree(&repo, &main).await.unwrap().unwrap();
    assert!(tree.get("services/two/application-staging.yaml").is_none(), "a removed registration stays removed");

    // Done once: the next upgrade finds nothing to do.
    let again = f.app().upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    assert!(again.run.is_none(), "{again:#?}");
    assert_eq!(f.git.history(gitops, "main").len(), before + 1);
}

/// An infra repository's files as the generator wrote them before the infra repository was a
/// chart of its own: no `templates/NOTES.txt`, the base chart's values at the top level.
fn previous_generator(files: &FileSet) -> FileSet {
    files
        .iter()
        .filter(|(path, _)| path.as_str() != "templates/NOTES.txt")
        .map(|(path, entry)| {
            if !path.as_str().starts_with("values") {
                return (path.clone(), entry.clone());
            }
            let text = String::from_utf8(entry.content.to_vec()).unwrap();
            let old: String = text
                .lines()
                .filter(|l| {
                    !l.starts_with("# The values of the base chart")
                        && !l.starts_with("# dependency under")
                        && *l != "ms-base-chart:"
                })
                .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
                .collect();
            (path.clone(), FileEntry::new(old.into_bytes()))
        })
        .collect()
}

/// Makes `repo` as if the previous generator had made it: its pristine render committed on the
/// template branch and merged into main (main's own edits, if any, kept).
async fn rendered_by_the_previous_generator(git: &MemoryGitHost, repo: &str) {
    let repo = RepoName::parse(repo).unwrap();
    let template = BranchName::parse("orchestrator/template").unwrap();
    let files = git.read_tree(&repo, &template).await.unwrap().unwrap();
    let tip = git.branch_tip(&repo, &template).await.unwrap();
    let request = CommitRequest {
        branch: &template,
        parent: tip.as_ref(),
        files: &previous_generator(&files),
        mode: TreeMode::Replace,
        message: "the previous generator's render",
        skip_unchanged: false,
    };
    git.commit(&repo, request).await.unwrap();
    let request = provision_core::ports::MergeRequest {
        into: &BranchName::main(),
        from: &template,
        conflict_branch: &BranchName::parse("conflicts").unwrap(),
        message: "Merge the previous generator's render",
        renames: &[],
    };
    assert_eq!(git.merge(&repo, &request).await.unwrap(), provision_core::ports::MergeState::Merged);
}

#[tokio::test]
async fn an_infra_repository_of_the_previous_generator_upgrades_cleanly_to_the_infra_chart() {
    let f = Fixture::new();
    let v1 = blueprint_dir(&v1_files());
    let app = f.app_with(&v1);
    for name in ["calm", "bumped"] {
        app.provisioning.create_service(&tiny(name), &CreateOptions::default()).await.unwrap();
    }
    let new_values = file(&f.git, "calm-infra", "main", "values.yaml");
    for repo in ["calm-infra", "bumped-infra"] {
        rendered_by_the_previous_generator(&f.git, repo).await;
    }
    // And their registrations, which read values at the top level, as that generator wrote them.
    let gitops = RepoName::parse("argo-gitdir-services").unwrap();
    let registration = |name: &str| format!("services/{name}/application-qa.yaml");
    let new_registration = file(&f.git, "argo-gitdir-services", "main", &registration("calm"));
    let old = |name: &str| {
        (RepoPath::parse(&registration(name)).unwrap(), FileEntry::new(b"# the previous generator's\n".to_vec()))
    };
    let main = BranchName::main();
    let tip = f.git.branch_tip(&gitops, &main).await.unwrap();
    let files: FileSet = [old("calm"), old("bumped")].into_iter().collect();
    let request = CommitRequest {
        branch: &main,
        parent: tip.as_ref(),
        files: &files,
        mode: TreeMode::Overlay,
        message: "the previous generator's registrations",
        skip_unchanged: false,
    };
    f.git.commit(&gitops, request).await.unwrap();
    let old_values = file(&f.git, "calm-infra", "main", "values.yaml");
    assert!(old_values.contains("\nimage:\n  repository: ") && !old_values.contains("ms-base-chart:"), "{old_values}");
    // Edits on the layout before keep working there.
    let bumped = app.edits.bump_image("bumped", "v1", Some("qa"), false).await.unwrap();
    assert!(bumped.changed);
    let old_qa = file(&f.git, "bumped-infra", "main", "values-qa.yaml");
    assert!(old_qa.ends_with("\nimage:\n  tag: \"v1\"\n") && !old_qa.contains("ms-base-chart"), "{old_qa}");
    let bumped_main = f.git.history("bumped-infra", "main");

    let report = app.upgrades.upgrade(&UpgradeTarget::All, &UpgradeOptions::default()).await.unwrap();
    let outcomes: Vec<_> =
        report.services.iter().flat_map(|s| &s.repos).map(|r| (r.repo.as_str(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("bumped", UpgradeOutcome::UpToDate),
            ("bumped-infra", UpgradeOutcome::Conflicts),
            ("calm", UpgradeOutcome::UpToDate),
            ("calm-infra", UpgradeOutcome::Upgraded),
        ]
    );
    // Untouched values arrive in the new layout; the chart gets its NOTES.txt.
    assert_eq!(file(&f.git, "calm-infra", "main", "values.yaml"), new_values);
    assert!(file(&f.git, "calm-infra", "main", "templates/NOTES.txt").contains("index .Values \"ms-base-chart\""));
    assert!(f.git.history("calm-infra", "main")[0].starts_with("Upgrade blueprint tiny 1.0.0 (new render)"));
    // A values file the team changed since (qa's tag) conflicts with its move under the base
    // chart's key: main stays as it was, the conflict waits on the upgrade branch.
    let conflicts: Vec<_> = report.services[0].repos[1].conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(conflicts, ["values-qa.yaml"]);
    assert_eq!(f.git.history("bumped-infra", "main"), bumped_main, "main is untouched");
    // The registration deploys the infra repository's main: rewritten where main has the new
    // layout; where main keeps the old one (the conflict), the old registration stays with it.
    assert_eq!(file(&f.git, "argo-gitdir-services", "main", &registration("calm")), new_registration);
    assert_eq!(file(&f.git, "argo-gitdir-services", "main", &registration("bumped")), "# the previous generator's\n");
}

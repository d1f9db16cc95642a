//! The monorepo's first commands through the binary: `init` (make, refuse, describe),
//! `context`, and hostile project files, read back with the real `git` CLI.

use super::support::{Env, git};
use std::path::{Path, PathBuf};

const FILES: [&str; 7] = [
    ".github/ISSUE_TEMPLATE/bug_report.md",
    ".github/workflows/ci.yaml",
    ".gitignore",
    "CONTRIBUTING.md",
    "README.md",
    "infra/README.md",
    "orchestrator.toml",
];

/// Runs the binary in `dir`; returns (exit code, stdout, stderr).
fn run_in(env: &Env, dir: &Path, args: &[&str]) -> (i32, String, String) {
    super::support::decode(env.cmd().current_dir(dir).args(args).output().unwrap())
}

fn init_shop(env: &Env) -> PathBuf {
    let (code, _, stderr) = env.run(&["init", "shop"]);
    assert_eq!(code, 0, "{stderr}");
    env.dir.path().join("shop")
}

fn add_service_by_hand(project: &Path, name: &str) {
    let file = project.join("orchestrator.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("\n[[services]]\nname = \"{name}\"\nkind = \"ms\"\npath = \"services/{name}\"\n"));
    std::fs::write(&file, text).unwrap();
}

#[test]
fn init_makes_a_clean_working_copy_whose_only_commit_is_the_template_branch() {
    let env = Env::new();
    let report = env.json(&["init", "shop"]);
    let project = env.dir.path().join("shop");
    assert_eq!(report["project"]["name"], "shop");
    assert_eq!(report["files"], serde_json::json!(FILES));
    for file in FILES {
        assert!(project.join(file).is_file(), "{file} missing");
    }
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(readme.starts_with("# shop\n"), "{readme}");

    let template = git(&project, &["log", "--format=%H %s", "orchestrator/template"]);
    let main = git(&project, &["log", "--format=%H %s", "main"]);
    assert_eq!(template.lines().count(), 1, "{template}");
    assert_eq!(template, main);
    assert!(template.ends_with(" Create project shop from blueprint project 1.0.0\n"), "{template}");
    assert_eq!(template.split(' ').next(), report["commit"].as_str());
    assert_eq!(git(&project, &["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(git(&project, &["status", "--porcelain"]), "");
    let tracked = git(&project, &["ls-files"]);
    assert_eq!(tracked.lines().collect::<Vec<_>>(), FILES);
    git(&project, &["fsck", "--strict"]);
}

#[test]
fn init_refuses_a_directory_that_is_not_empty_and_writes_nothing() {
    let env = Env::new();
    let dir = env.dir.path().join("busy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    let (code, _, stderr) = env.run(&["init", "shop", "--dir", "busy"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("busy is not empty (notes.txt)"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["notes.txt"]);
}

#[test]
fn force_keeps_other_files_and_identical_ones_but_never_overwrites_a_different_one() {
    let env = Env::new();
    // Same content as the project would have: allowed, kept.
    let reference = init_shop(&env);
    let gitignore = std::fs::read(reference.join(".gitignore")).unwrap();
    let dir = env.dir.path().join("forced");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    std::fs::write(dir.join(".gitignore"), &gitignore).unwrap();
    let (code, _, stderr) = env.run(&["init", "shop", "--dir", "forced", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine\n");
    assert_eq!(git(&dir, &["ls-files"]).lines().count(), FILES.len(), "only the project's files are committed");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "?? notes.txt\n");

    // Different content: refused, each named, nothing written.
    let other = env.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("README.md"), "my readme\n").unwrap();
    std::fs::write(other.join("CONTRIBUTING.md"), "my rules\n").unwrap();
    let (code, _, stderr) = env.run(&["init", "shop", "--dir", "other", "--force"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("CONTRIBUTING.md, README.md already hold other content"), "{stderr}");
    assert_eq!(std::fs::read_to_string(other.join("README.md")).unwrap(), "my readme\n");
    assert!(!other.join(".git").exists() && !other.join("orchestrator.toml").exists());
}

#[test]
fn init_without_a_name_describes_the_project_from_any_directory_inside_it() {
    let env = Env::new();
    let project = init_shop(&env);
    let inside = project.join("infra");
    let (code, stdout, stderr) = run_in(&env, &inside, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Project shop ("), "{stdout}");
    for line in [
        "Go module:  example.com/shop",
        "blueprint:  project 1.0.0",
        "services:   none yet",
        "plugins:    none",
        "context:    every service",
    ] {
        assert!(stdout.contains(line), "{line:?} missing in:\n{stdout}");
    }
    let (code, stdout, _) = run_in(&env, &inside, &["init", "--output", "json"]);
    assert_eq!(code, 0);
    let view: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&view["name"], &view["go_module"], &view["services"], &view["plugins"], &view["version"]),
        (&"shop".into(), &"example.com/shop".into(), &serde_json::json!([]), &serde_json::json!([]), &"1.0.0".into())
    );

    let (code, _, stderr) = run_in(&env, env.dir.path(), &["init"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no orchestrator.toml in"), "{stderr}");
    assert!(stderr.contains("orchestrator init NAME"), "{stderr}");
}

#[test]
fn context_is_saved_per_user_refuses_unknown_services_and_stays_out_of_git() {
    let env = Env::new();
    let project = init_shop(&env);
    let (code, _, stderr) = run_in(&env, &project, &["context", "set", "orders"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the project has no services yet"), "{stderr}");

    add_service_by_hand(&project, "orders");
    add_service_by_hand(&project, "payments");
    git(&project, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "two services"]);

    let (code, stdout, stderr) = run_in(&env, &project, &["context", "show"]);
    assert_eq!((code, stdout.as_str()), (0, "every service: orders payments\n"), "{stderr}");
    let (code, stdout, stderr) = run_in(&env, &project.join("infra"), &["context", "set", "payments"]);
    assert_eq!((code, stdout.as_str()), (0, "payments\n"), "{stderr}");
    assert_eq!(std::fs::read_to_string(project.join(".orchestrator/context")).unwrap(), "payments\n");
    let view = run_in(&env, &project, &["context", "show", "-o", "json"]).1;
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(
        (&view["saved"], &view["services"]),
        (&serde_json::json!(["payments"]), &serde_json::json!(["payments"]))
    );
    assert!(run_in(&env, &project, &["init"]).1.contains("context:    payments"));
    assert_eq!(
        git(&project, &["status", "--porcelain", "--ignored", "--untracked-files=all"]),
        "!! .orchestrator/context\n"
    );
    assert_eq!(git(&project, &["status", "--porcelain"]), "");

    let (code, _, stderr) = run_in(&env, &project, &["context", "set", "orders", "ghost"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(r#"no service is called "ghost": the project's services are orders, payments"#),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(project.join(".orchestrator/context")).unwrap(), "payments\n", "unchanged");

    let (code, stdout, _) = run_in(&env, &project, &["context", "clear"]);
    assert_eq!((code, stdout.as_str()), (0, "every service: orders payments\n"));
}

#[test]
fn a_hostile_project_file_is_refused_naming_file_line_and_rule() {
    let env = Env::new();
    let project = init_shop(&env);
    let file = project.join("orchestrator.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let refused = |text: &str| -> String {
        std::fs::write(&file, text).unwrap();
        let (code, _, stderr) = run_in(&env, &project, &["init"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&format!("{} is not a valid project file", file.display())), "{stderr}");
        stderr
    };

    let unknown = good.replace("[builder]\n", "[builder]\nshell = \"/bin/sh\"\n");
    let stderr = refused(&unknown);
    assert!(stderr.contains(&format!("line {}: unknown field `shell`", line_of(&unknown, "shell"))), "{stderr}");
    assert!(stderr.contains("(unknown-key)"), "{stderr}");

    let wrong_type = good.replace("version = \"1.0.0\"", "version = 1");
    let stderr = refused(&wrong_type);
    assert!(stderr.contains(&format!("line {}:", line_of(&wrong_type, "version = 1"))), "{stderr}");
    assert!(stderr.contains("(wrong-type)"), "{stderr}");

    // Every value problem at once, each at its own line.
    let mut both = good.clone();
    both.push_str("\n[[services]]\nname = \"orders\"\nkind = \"ms\"\npath = \"../x\"\n");
    both.push_str("\n[[services]]\nname = \"orders\"\nkind = \"ms\"\npath = \"services/orders\"\n");
    let stderr = refused(&both);
    let escape = line_of(&both, "../x");
    let duplicate = both.lines().enumerate().filter(|(_, l)| l.contains("name = \"orders\"")).nth(1).unwrap().0 + 1;
    assert!(stderr.contains(&format!("line {escape}: services[0].path:")), "{stderr}");
    assert!(stderr.contains("(escapes-root)"), "{stderr}");
    assert!(stderr.contains(&format!("line {duplicate}: services[1].name:")), "{stderr}");
    assert!(stderr.contains("(duplicate-service)"), "{stderr}");

    // The context commands read the same file and refuse it the same way.
    let (code, _, stderr) = run_in(&env, &project, &["context", "show"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("(duplicate-service)"), "{stderr}");
}

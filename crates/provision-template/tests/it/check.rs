//! `check_dir` on broken blueprints: every problem, each with its file and line.

use crate::support::{MANIFEST, templates_dir, write_tree};
use provision_template::{Diagnostic, check_dir};
use std::path::Path;

/// Asserts that for each `(file, line, text)` some diagnostic is at that file and line and
/// contains the text, and that there are no other diagnostics.
fn check(dir: &Path, expected: &[(&str, Option<usize>, &str)]) {
    let found = check_dir(dir);
    let shown = |ds: &[Diagnostic]| ds.iter().map(|d| format!("\n  {d}")).collect::<String>();
    for (file, line, text) in expected {
        let file = dir.join(file);
        assert!(
            found.iter().any(|d| d.file == file && d.line == *line && d.message.contains(text)),
            "no diagnostic {}:{line:?}: …{text}… among:{}",
            file.display(),
            shown(&found)
        );
    }
    assert_eq!(found.len(), expected.len(), "unexpected diagnostics:{}", shown(&found));
}

#[test]
fn manifest_problems_are_all_reported_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = r#"name = "Bad_Kind"
version = "one"
summary = "x"

[deploy]
port = 0
health_path = "/healthz"
ready_path = "readyz"

[[parameters]]
name = "Port"
type = "integer"
default = 8080

[[parameters]]
name = "image"
type = "string"

[[parameters]]
name = "size"
type = "integer"
default = 100
max = 10

[[parameters]]
name = "mode"
type = "string"
pattern = "^[a-z"

[[parameters]]
name = "mode"
type = "choice"
choices = ["a"]
default = "b"

[[parameters]]
name = "ratio"
type = "float"

[[parameters]]
name = "count"
type = "integer"
choices = ["a"]

[[parameters]]
name = "token"
type = "string"
required = true
default = "x"
"#;
    write_tree(dir.path(), &[("blueprint.toml", manifest)]);
    let m = "blueprint.toml";
    check(
        dir.path(),
        &[
            (m, Some(1), "name: kind must be lowercase"),
            (m, Some(1), "name: kind contains '_'"),
            (m, Some(2), "version \"one\" is not a version"),
            (m, Some(3), "unknown key \"summary\""),
            (m, None, "missing description"),
            (m, Some(6), "deploy.port is 0"),
            (m, Some(8), "deploy.ready_path is \"readyz\""),
            (m, Some(11), "parameter name \"Port\" must match [a-z_][a-z0-9_]*"),
            (m, Some(16), "shadows the built-in variable"),
            (m, Some(22), "default is 100, more than the maximum 10"),
            (m, Some(28), "pattern \"^[a-z\" is not a valid regular expression"),
            (m, Some(31), "parameter \"mode\" is defined twice"),
            (m, Some(34), "default is \"b\"; it must be one of: a"),
            (m, Some(38), "unknown type \"float\""),
            (m, Some(43), "choices does not apply to a integer parameter"),
            (m, Some(40), "an optional integer parameter needs a default"),
            (m, Some(45), "parameter \"token\": a required parameter has no default"),
            ("app", None, "missing app/"),
        ],
    );
}

#[test]
fn toml_syntax_errors_have_lines() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("blueprint.toml", "name = \"ms\"\n\nversion = 1.0.0\n"), ("app/x", "x")]);
    let found = check_dir(dir.path());
    assert!(!found.is_empty());
    for d in &found {
        assert_eq!((d.file.clone(), d.line), (dir.path().join("blueprint.toml"), Some(3)), "{d}");
        assert!(d.message.starts_with("TOML syntax"), "{d}");
    }
}

#[test]
fn template_problems_are_all_reported_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!("{MANIFEST}\n[[parameters]]\nname = \"docs\"\ntype = \"bool\"\ndefault = false\n");
    write_tree(
        dir.path(),
        &[
            ("blueprint.toml", &manifest),
            ("app/fine.txt.jinja", "{{ name }} {% if docs %}{{ description }}{% endif %}\n"),
            ("app/a.txt.jinja", "ok\n{% if %}\n"),
            ("app/b.txt.jinja", "\n\n{{ name }\n"),
            ("app/{{ name /x.txt", "x"),
            ("app/c.txt.jinja", "line1\nline2\n{{ nmae }}\n"),
            ("app/d.txt.jinja", "{% if docs %}\n{{ never_defined }}\n{% endif %}\n"),
            ("app/{{ '..' }}/e.txt", "e"),
            ("app/{{ missing_var }}/f.txt", "f"),
            ("ap/x", "typo of app"),
            ("infra/.jinja", "nameless"),
        ],
    );
    check(
        dir.path(),
        &[
            ("app/a.txt.jinja", Some(2), "syntax error"),
            ("app/b.txt.jinja", Some(3), "syntax error"),
            ("app/{{ name /x.txt", None, "path segment \"{{ name \" is not a valid template"),
            ("app/c.txt.jinja", Some(3), "trial render: undefined value"),
            ("app/d.txt.jinja", Some(2), "uses never_defined, neither a built-in variable nor a parameter"),
            ("app/{{ '..' }}/e.txt", None, "trial render: path renders to \"../e.txt\""),
            ("app/{{ missing_var }}/f.txt", None, "trial render: in the file's path: undefined value"),
            ("ap", None, "unknown directory \"ap\""),
            ("infra/.jinja", None, "a template needs a name before '.jinja'"),
        ],
    );
}

#[test]
fn defaults_are_checked_after_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"{MANIFEST}
[[parameters]]
name = "module"
type = "string"
default = "Example.com/{{{{ name }}}}"
pattern = "^[a-z./]+$"

[[parameters]]
name = "path"
type = "string"
default = "{{{{ parameters_cannot_see_each_other }}}}"

[[parameters]]
name = "go_module"
type = "string"
default = "example.com/{{{{ name }}}}/v1"
format = "go-module"
max_length = 10
"#
    );
    write_tree(dir.path(), &[("blueprint.toml", &manifest), ("app/x", "x")]);
    let m = "blueprint.toml";
    check(
        dir.path(),
        &[
            (m, Some(13), "default for a service named \"example\" is \"Example.com/example\", which does not match"),
            (m, Some(19), "may use only built-in variables, not parameters_cannot_see_each_other"),
            (m, Some(24), "default for a service named \"example\" ends in /v1"),
            (m, Some(24), "default for a service named \"example\" is 22 characters long; at most 10"),
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"{MANIFEST}
[[parameters]]
name = "email"
type = "string"
format = "email"

[[parameters]]
name = "empty"
type = "string"
max_length = 0

[[parameters]]
name = "flag"
type = "bool"
format = "go-module"
"#
    );
    write_tree(dir.path(), &[("blueprint.toml", &manifest), ("app/x", "x")]);
    check(
        dir.path(),
        &[
            (m, Some(13), "unknown format \"email\"; known: go-module"),
            (m, Some(18), "max_length is 0; it must be at least 1"),
            (m, Some(23), "format does not apply to a bool parameter"),
        ],
    );
}

#[test]
fn diagnostics_display_as_file_line_message() {
    let d = Diagnostic::new("bp/app/x.jinja", Some(3), "undefined value");
    assert_eq!(d.to_string(), "bp/app/x.jinja:3: undefined value");
    assert_eq!(Diagnostic::new("bp/app", None, "missing app/").to_string(), "bp/app: missing app/");
}

#[test]
fn the_ms_blueprint_checks_clean() {
    let found = check_dir(&templates_dir("ms"));
    assert!(found.is_empty(), "{}", found.iter().map(|d| format!("\n  {d}")).collect::<String>());
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("blueprint.toml", MANIFEST), ("app/x", "x")]);
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("app/passwd")).unwrap();
    check(dir.path(), &[("app/passwd", None, "symbolic links are not allowed")]);
    assert!(provision_template::Blueprint::load_dir(dir.path()).is_err());
}

#[test]
fn migrations_are_checked_and_apply_to_older_versions_only() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = MANIFEST.replace("0.1.0", "2.0.0");
    let broken = format!(
        r#"{manifest}
[[migrations]]
version = "9.0.0"

[[migrations]]
version = "1.0.0"
rename_answers = {{ "Old" = "new" }}
rename_files = {{ "../x" = "y" }}
also = 1
"#
    );
    write_tree(dir.path(), &[("blueprint.toml", &broken), ("app/README.md", "hi\n")]);
    let line = |needle: &str| broken.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    check(
        dir.path(),
        &[
            ("blueprint.toml", line("9.0.0"), "newer than the blueprint's own version"),
            ("blueprint.toml", line("\"Old\""), "\"Old\" is not a parameter name"),
            ("blueprint.toml", line("../x"), "\"../x\" is not a path inside a repository"),
            ("blueprint.toml", line("also"), "unknown key migrations[1].\"also\""),
        ],
    );

    let good = format!(
        r#"{manifest}
[[migrations]]
version = "1.0.0"
rename_files = {{ "a.txt" = "b.txt" }}

[[migrations]]
version = "0.5.0"
rename_answers = {{ old = "new" }}
"#
    );
    let files = [("blueprint.toml", good.as_str()), ("app/README.md", "hi\n")];
    let b = provision_template::Blueprint::from_files(
        "test",
        files.iter().map(|(p, c)| (p.to_string(), crate::support::bytes(c))).collect(),
    )
    .unwrap();
    let versions = |from: &str| b.manifest().migrations_since(from).map(|m| m.version.clone()).collect::<Vec<_>>();
    assert_eq!(versions("0.1.0"), ["0.5.0", "1.0.0"], "oldest first");
    assert_eq!(versions("0.5.0"), ["1.0.0"]);
    assert!(versions("1.0.0").is_empty());
    let first = b.manifest().migrations_since("0.1.0").next().unwrap();
    assert_eq!(first.rename_answers, [("old".to_owned(), "new".to_owned())]);
}

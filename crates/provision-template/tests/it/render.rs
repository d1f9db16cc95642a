//! Rendering rules: templates and copies, path expressions, escapes, strict variables, modes.

use crate::support::{MANIFEST, blueprint, bytes, ctx, paths, text, write_tree};
use provision_template::{Answers, Blueprint, Error, RenderError, Target};
use std::collections::BTreeMap;
use std::sync::Arc;

fn render(b: &Blueprint) -> Result<provision_core::FileSet, RenderError> {
    let answers = b.resolve_answers(&BTreeMap::new(), &ctx("demo")).unwrap();
    b.render(Target::App, &ctx("demo"), &answers)
}

#[test]
fn templates_are_rendered_and_lose_their_suffix_other_files_are_shared_bytes() {
    let binary: Arc<[u8]> = Arc::from(&[0u8, 159, 146, 150, 255, b'{', b'{'][..]);
    let raw = bytes("{{ name }} stays as it is\n");
    let b = Blueprint::from_files(
        "test",
        vec![
            ("blueprint.toml".into(), bytes(MANIFEST)),
            (
                "app/README.md.jinja".into(),
                bytes("# {{ name }}\n\n{{ description }} ({{ kind }} {{ blueprint_version }})\n"),
            ),
            ("app/logo.bin".into(), binary.clone()),
            ("app/raw.txt".into(), raw.clone()),
        ],
    )
    .unwrap();
    let out = render(&b).unwrap();
    assert_eq!(paths(&out), ["README.md", "logo.bin", "raw.txt"]);
    // The trailing newline is kept, as copier keeps it.
    assert_eq!(text(&out, "README.md"), "# demo\n\nThe demo service (tiny 0.1.0)\n");
    assert!(Arc::ptr_eq(&out.get("logo.bin").unwrap().content, &binary));
    assert!(Arc::ptr_eq(&out.get("raw.txt").unwrap().content, &raw));
}

#[test]
fn builtins_and_answers_are_flat_variables() {
    let b = blueprint(
        "[[parameters]]\nname = \"flavour\"\ntype = \"string\"\ndefault = \"{{ name }}-vanilla\"\n",
        &[(
            "app/vars.txt.jinja",
            "{{ name }}|{{ owner }}|{{ infra_repo }}|{{ infra_repo_url }}|{{ service_repo_url }}|{{ image }}|{{ environments | join(',') }}|{{ flavour }}",
        )],
    );
    let out = render(&b).unwrap();
    assert_eq!(
        text(&out, "vars.txt"),
        "demo|team-a|demo-infra|https://git.example.com/team-a/demo-infra.git|https://git.example.com/team-a/demo.git|registry.example.com/team-a/demo|qa,prod|demo-vanilla"
    );
}

#[test]
fn path_segments_hold_expressions() {
    let b = blueprint(
        "",
        &[
            ("app/cmd/{{ name }}/main.go.jinja", "package main\n"),
            ("app/{{ name }}.txt", "static"),
            ("app/{{ name | upper }}-{{ kind }}/x", "x"),
        ],
    );
    assert_eq!(paths(&render(&b).unwrap()), ["DEMO-tiny/x", "cmd/demo/main.go", "demo.txt"]);
}

#[test]
fn a_segment_rendering_empty_leaves_the_file_out() {
    let b = blueprint(
        "[[parameters]]\nname = \"docs\"\ntype = \"bool\"\ndefault = false\n",
        &[
            ("app/{% if docs %}docs{% endif %}/guide.md", "guide"),
            ("app/{% if docs %}extra.md{% endif %}.jinja", "{{ undefined_but_never_rendered }}"),
            ("app/always.md", "always"),
        ],
    );
    assert_eq!(paths(&render(&b).unwrap()), ["always.md"]);
    let mut answers = b.resolve_answers(&BTreeMap::new(), &ctx("demo")).unwrap();
    answers.insert("docs".into(), provision_template::AnswerValue::Bool(true));
    let err = b.render(Target::App, &ctx("demo"), &answers).unwrap_err();
    assert!(
        matches!(&err, RenderError::Template { template, .. } if template == "app/{% if docs %}extra.md{% endif %}.jinja"),
        "{err}"
    );
}

#[test]
fn paths_escaping_the_repository_are_errors_naming_the_template() {
    for (template, rendered) in [
        ("app/{{ '..' }}/x", "../x"),
        ("app/{{ evil }}/x", "a/../../x/x"),
        ("app/{{ '/etc' }}/passwd", "/etc/passwd"),
        ("app/{{ '.git' }}/config", ".git/config"),
        ("app/a/{{ 'b/' }}/c", "a/b//c"),
    ] {
        let b = blueprint(
            "[[parameters]]\nname = \"evil\"\ntype = \"string\"\ndefault = \"a/../../x\"\n",
            &[(template, "x"), ("app/fine.txt", "fine")],
        );
        match render(&b) {
            Err(RenderError::Path { template: t, rendered: r, .. }) => {
                assert_eq!((t.as_str(), r.as_str()), (template, rendered));
            }
            other => panic!("{template}: expected a path error, got {other:?}"),
        }
    }
}

#[test]
fn undefined_variables_are_errors_with_file_and_line() {
    let b = blueprint("", &[("app/notes.md.jinja", "# {{ name }}\n\nowned by {{ ownr }}\n")]);
    let err = render(&b).unwrap_err();
    let RenderError::Template { template, line, message } = &err else { panic!("{err:?}") };
    assert_eq!((template.as_str(), *line), ("app/notes.md.jinja", Some(3)));
    assert!(message.contains("undefined") && message.contains("ownr"), "{message}");
    assert!(err.to_string().starts_with("app/notes.md.jinja:3: "), "{err}");
}

#[test]
fn two_templates_rendering_to_one_path_collide() {
    let b = blueprint("", &[("app/a.txt", "1"), ("app/{{ 'a' }}.txt", "2")]);
    assert!(matches!(render(&b), Err(RenderError::Collision { path, .. }) if path == "a.txt"));
}

#[test]
fn targets_render_separately() {
    let b = blueprint(
        "",
        &[("app/a", "a"), ("infra/README.md.jinja", "{{ infra_repo }}"), ("gitops/{{ name }}.yaml", "g")],
    );
    let c = ctx("demo");
    let answers = Answers::new();
    assert_eq!(paths(&b.render(Target::Infra, &c, &answers).unwrap()), ["README.md"]);
    assert_eq!(paths(&b.render(Target::Gitops, &c, &answers).unwrap()), ["demo.yaml"]);
    assert_eq!([b.file_count(Target::App), b.file_count(Target::Infra), b.file_count(Target::Gitops)], [1, 1, 1]);
    let app_only = blueprint("", &[("app/a", "a")]);
    assert!(app_only.has_target(Target::App) && !app_only.has_target(Target::Infra));
    assert!(app_only.render(Target::Gitops, &c, &answers).unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn the_executable_bit_is_kept_from_disk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("blueprint.toml", MANIFEST),
            ("app/run.sh", "#!/bin/sh\n"),
            ("app/gen.sh.jinja", "#!/bin/sh\necho {{ name }}\n"),
            ("app/plain.txt", ""),
        ],
    );
    for f in ["app/run.sh", "app/gen.sh.jinja"] {
        std::fs::set_permissions(dir.path().join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = render(&Blueprint::load_dir(dir.path()).unwrap()).unwrap();
    let exec: Vec<(String, bool)> = out.iter().map(|(p, e)| (p.to_string(), e.executable)).collect();
    assert_eq!(exec, [("gen.sh".into(), true), ("plain.txt".into(), false), ("run.sh".into(), true)]);
}

#[test]
fn the_digest_covers_paths_bytes_and_modes() {
    let files = |readme: &str| {
        vec![("blueprint.toml".to_owned(), bytes(MANIFEST)), ("app/README.md".to_owned(), bytes(readme))]
    };
    let a = Blueprint::from_files("a", files("x")).unwrap();
    let same = Blueprint::from_files("elsewhere", files("x")).unwrap();
    let changed = Blueprint::from_files("a", files("y")).unwrap();
    assert_eq!(a.digest(), same.digest());
    assert_ne!(a.digest(), changed.digest());
    assert_eq!(a.digest().len(), 64);
    let exec = Blueprint::from_entries(
        "a",
        vec![
            ("blueprint.toml".into(), provision_core::FileEntry::new(bytes(MANIFEST))),
            ("app/README.md".into(), provision_core::FileEntry::executable(bytes("x"))),
        ],
    )
    .unwrap();
    assert_ne!(a.digest(), exec.digest());
}

#[test]
fn loading_reports_every_template_syntax_error_with_its_line() {
    let err = Blueprint::from_files(
        "mem",
        vec![
            ("blueprint.toml".into(), bytes(MANIFEST)),
            ("app/a.txt.jinja".into(), bytes("ok\n{% if %}\n")),
            ("app/b.txt.jinja".into(), bytes("\n\n{{ name }\n")),
            ("app/c.txt".into(), bytes("{% not a template %}")),
        ],
    )
    .unwrap_err();
    let Error::Invalid { diagnostics, .. } = &err else { panic!("{err}") };
    let at: Vec<(String, Option<usize>)> = diagnostics.iter().map(|d| (d.file.display().to_string(), d.line)).collect();
    assert_eq!(at, [("mem/app/a.txt.jinja".into(), Some(2)), ("mem/app/b.txt.jinja".into(), Some(3))], "{err}");
}

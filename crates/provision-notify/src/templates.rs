//! Message templates: minijinja (Jinja2 syntax), built in and overridable from a directory.
//!
//! A message is up to three templates named `<message>.subject`, `<message>.text` and
//! `<message>.html`, in files `<name>.jinja`. The subject renders to one line (trimmed); an HTML
//! template that renders to nothing but white space sends no HTML part. HTML templates escape
//! what they interpolate; the others do not. A variable a template names but the message does
//! not have is an error (strict undefined), found when the templates are loaded.

use crate::Error;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use provision_core::Problem;
use provision_core::ports::{MessageKey, OutgoingMessage};
use serde::Serialize;
use std::path::Path;

/// The templates this crate knows, with their built-in sources.
const BUILTIN: &[(&str, &str)] = &[
    ("workspace_ready.subject", include_str!("../templates/workspace_ready.subject.jinja")),
    ("workspace_ready.text", include_str!("../templates/workspace_ready.text.jinja")),
    ("workspace_ready.html", include_str!("../templates/workspace_ready.html.jinja")),
];

/// What the access e-mail of a workspace says. Every field is a template variable, and so is
/// `ssh_command` ([`WorkspaceReady::ssh_command`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceReady {
    /// The workspace's name (`ada-lovelace-3f9c`).
    pub workspace: String,
    /// The user to log in as.
    pub user: String,
    /// Where to connect: a node's address.
    pub host: String,
    /// The node port.
    pub port: u16,
    /// As requested: `2`, `500m`.
    pub cpu: String,
    /// `4Gi`.
    pub memory: String,
    /// `20Gi`.
    pub storage: String,
}

impl WorkspaceReady {
    /// `ssh -p <port> <user>@<host>`.
    pub fn ssh_command(&self) -> String {
        format!("ssh -p {} {}@{}", self.port, self.user, self.host)
    }

    /// The outbox key of the access e-mail of the workspace with Kubernetes `uid`:
    /// `workspace-ready/<uid>`, so it is sent once per workspace ever made.
    pub fn message_key(uid: &str) -> Result<MessageKey, provision_core::Invalid> {
        MessageKey::parse(&format!("workspace-ready/{uid}"))
    }

    /// An example, rendered to check templates when they load (and used by tests).
    pub fn sample() -> Self {
        Self {
            workspace: "ada-lovelace-3f9c".into(),
            user: "ada".into(),
            host: "node-1.example.com".into(),
            port: 30022,
            cpu: "2".into(),
            memory: "4Gi".into(),
            storage: "20Gi".into(),
        }
    }
}

#[derive(Serialize)]
struct WorkspaceReadyVars<'a> {
    #[serde(flatten)]
    workspace: &'a WorkspaceReady,
    ssh_command: String,
}

/// The message templates, compiled once.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The templates this crate ships.
    pub fn builtin() -> Self {
        let mut env = environment();
        for (name, source) in BUILTIN {
            // Checked by the tests: the built-ins compile.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a built-in template does not compile");
            }
        }
        Self { env }
    }

    /// The built-ins, each replaced by `<dir>/<name>.jinja` where that file exists
    /// (`workspace_ready.subject.jinja`, `workspace_ready.text.jinja`,
    /// `workspace_ready.html.jinja`). Reports every problem at once: a file that is no known
    /// template, one that does not compile or does not render (an unknown variable), one that
    /// cannot be read.
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let failed = |problems| Error::Templates { dir: dir.to_owned(), problems };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| failed(vec![Problem::new("", "unreadable", format!("cannot read the directory: {e}"))]))?;
        let mut overrides = Vec::new();
        let mut problems = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(Problem::new("", "unreadable", format!("cannot read the directory: {e}")));
                    continue;
                }
            };
            let file = entry.file_name().to_string_lossy().into_owned();
            let known = file.strip_suffix(".jinja").and_then(|n| BUILTIN.iter().find(|(b, _)| *b == n));
            let Some((name, _)) = known else {
                let names: Vec<String> = BUILTIN.iter().map(|(n, _)| format!("{n}.jinja")).collect();
                problems.push(Problem::new(
                    file,
                    "unknown-template",
                    format!("not a message template; the templates are {}", names.join(", ")),
                ));
                continue;
            };
            match std::fs::read_to_string(entry.path()) {
                Ok(source) => overrides.push((*name, file, source)),
                Err(e) => problems.push(Problem::new(file, "unreadable", format!("cannot read it: {e}"))),
            }
        }
        let mut env = environment();
        for (name, source) in BUILTIN {
            if let Err(e) = env.add_template(name, source) {
                problems.push(Problem::new(format!("built-in {name}"), "syntax", e.to_string()));
            }
        }
        overrides.sort();
        for (name, file, source) in overrides {
            if let Err(e) = env.add_template_owned(name, source) {
                problems.push(Problem::new(file, "syntax", describe(&e)));
            }
        }
        let templates = Self { env };
        if problems.is_empty() {
            // A trial render finds unknown variables and runtime errors now, not at the first
            // workspace.
            let sample = WorkspaceReady::sample();
            for (name, _) in BUILTIN {
                if let Err(Error::Render { reason, .. }) = templates.render(name, &sample) {
                    problems.push(Problem::new(format!("{name}.jinja"), "render", reason));
                }
            }
            if problems.is_empty()
                && let Ok(key) = WorkspaceReady::message_key("sample")
                && let Err(Error::Render { template, reason }) =
                    templates.workspace_ready(key, "sample@example.com", &sample)
            {
                problems.push(Problem::new(format!("{template}.jinja"), "render", reason));
            }
        }
        if problems.is_empty() { Ok(templates) } else { Err(failed(problems)) }
    }

    /// The access e-mail of a workspace, to `to`, under `key`
    /// ([`WorkspaceReady::message_key`]).
    pub fn workspace_ready(
        &self,
        key: MessageKey,
        to: impl Into<String>,
        workspace: &WorkspaceReady,
    ) -> Result<OutgoingMessage, Error> {
        let subject = self.render("workspace_ready.subject", workspace)?;
        let subject = subject.trim();
        if subject.is_empty() || subject.contains(['\r', '\n']) {
            return Err(Error::Render {
                template: "workspace_ready.subject".into(),
                reason: "a subject renders to one line of text".into(),
            });
        }
        let text = self.render("workspace_ready.text", workspace)?;
        let html = self.render("workspace_ready.html", workspace)?;
        Ok(OutgoingMessage {
            key,
            to: to.into(),
            subject: subject.to_owned(),
            text,
            html: (!html.trim().is_empty()).then_some(html),
        })
    }

    fn render(&self, name: &str, workspace: &WorkspaceReady) -> Result<String, Error> {
        let failed = |e: minijinja::Error| Error::Render { template: name.to_owned(), reason: describe(&e) };
        let vars = WorkspaceReadyVars { workspace, ssh_command: workspace.ssh_command() };
        self.env.get_template(name).and_then(|t| t.render(minijinja::value::Serde(&vars))).map_err(failed)
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    if let Ok(syntax) = syntax.build() {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env
}

/// A minijinja error with its line, without its debug dump.
fn describe(e: &minijinja::Error) -> String {
    match (e.detail(), e.line()) {
        (Some(detail), Some(line)) => format!("line {line}: {detail} ({})", e.kind()),
        (None, Some(line)) => format!("line {line}: {}", e.kind()),
        (Some(detail), None) => format!("{detail} ({})", e.kind()),
        (None, None) => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MessageKey {
        WorkspaceReady::message_key("7d0b6f1c-0000-4000-8000-000000000001").expect("a valid key")
    }

    fn workspace() -> WorkspaceReady {
        WorkspaceReady {
            workspace: "ada-3f9c".into(),
            user: "ada".into(),
            host: "10.0.0.7".into(),
            port: 31022,
            cpu: "2".into(),
            memory: "4Gi".into(),
            storage: "20Gi".into(),
        }
    }

    #[test]
    fn the_builtin_message_says_how_to_connect() {
        let m = Templates::builtin().workspace_ready(key(), "ada@example.com", &workspace()).expect("renders");
        assert_eq!(m.key.as_str(), "workspace-ready/7d0b6f1c-0000-4000-8000-000000000001");
        assert_eq!((m.to.as_str(), m.subject.as_str()), ("ada@example.com", "Your workspace ada-3f9c is ready"));
        assert_eq!(
            m.text,
            "Hello ada,\n\nyour workspace ada-3f9c is ready. Connect with:\n\n    ssh -p 31022 ada@10.0.0.7\n\n\
             Host:     10.0.0.7\nPort:     31022\nUser:     ada\nCPU:      2\nMemory:   4Gi\nStorage:  20Gi\n\n\
             Log in with the SSH key you gave when you asked for the workspace.\n"
        );
        let html = m.html.expect("an HTML part");
        assert!(html.contains("<pre>ssh -p 31022 ada@10.0.0.7</pre>"), "{html}");
        assert!(html.contains("<td>20Gi</td>"), "{html}");
    }

    #[test]
    fn html_escapes_and_text_does_not() {
        let mut w = workspace();
        w.workspace = "a<b>&c".into();
        let m = Templates::builtin().workspace_ready(key(), "ada@example.com", &w).expect("renders");
        assert!(m.text.contains("workspace a<b>&c is ready"), "{}", m.text);
        assert!(m.html.expect("html").contains("<strong>a&lt;b&gt;&amp;c</strong>"));
    }

    #[test]
    fn a_directory_overrides_some_templates_and_keeps_the_others() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("workspace_ready.subject.jinja"), "[dev] {{ workspace }} on port {{ port }}\n")
            .expect("written");
        std::fs::write(dir.path().join("workspace_ready.html.jinja"), "  \n").expect("written");
        let m = Templates::from_dir(dir.path())
            .expect("loads")
            .workspace_ready(key(), "a@b.c", &workspace())
            .expect("renders");
        assert_eq!(m.subject, "[dev] ada-3f9c on port 31022");
        assert!(m.text.contains("ssh -p 31022 ada@10.0.0.7"), "the built-in text: {}", m.text);
        assert_eq!(m.html, None, "an empty HTML template sends no HTML part");
    }

    #[test]
    fn every_problem_of_a_template_directory_is_reported() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("workspace_ready.text.jinja"), "Hi {{ user }\n").expect("written");
        std::fs::write(dir.path().join("workspace_redy.subject.jinja"), "typo").expect("written");
        let e = Templates::from_dir(dir.path()).unwrap_err();
        let Error::Templates { problems, .. } = &e else { panic!("{e:?}") };
        let mut found: Vec<_> = problems.iter().map(|p| (p.field.as_str(), p.rule)).collect();
        found.sort();
        assert_eq!(
            found,
            [("workspace_ready.text.jinja", "syntax"), ("workspace_redy.subject.jinja", "unknown-template")]
        );
        assert!(e.to_string().contains("line 1"), "{e}");

        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("workspace_ready.text.jinja"), "Hi {{ usr }}\n").expect("written");
        let e = Templates::from_dir(dir.path()).unwrap_err();
        let Error::Templates { problems, .. } = &e else { panic!("{e:?}") };
        assert_eq!(
            problems.iter().map(|p| (p.field.as_str(), p.rule)).collect::<Vec<_>>(),
            [("workspace_ready.text.jinja", "render")]
        );
        assert!(e.to_string().contains("undefined"), "{e}");

        let e = Templates::from_dir(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn a_subject_of_several_lines_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("workspace_ready.subject.jinja"), "{{ workspace }}\n{{ user }}\n")
            .expect("written");
        let e = Templates::from_dir(dir.path()).unwrap_err();
        let Error::Templates { problems, .. } = &e else { panic!("{e:?}") };
        assert_eq!(problems[0].field, "workspace_ready.subject.jinja", "{e}");
        assert!(e.to_string().contains("one line"), "{e}");
    }

    #[test]
    fn message_keys_come_from_the_workspace_uid() {
        assert!(WorkspaceReady::message_key("has space").is_err());
        assert_eq!(WorkspaceReady::message_key("u1").expect("valid").as_str(), "workspace-ready/u1");
    }
}

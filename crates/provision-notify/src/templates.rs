//! Message templates: minijinja (Jinja2 syntax), built in and overridable from a directory.
//!
//! A message is up to three templates named `<message>.subject`, `<message>.text` and
//! `<message>.html`, in files `<name>.jinja`. The subject renders to one line (trimmed); an HTML
//! template that renders to nothing but white space sends no HTML part. HTML templates escape
//! what they interpolate; the others do not. A variable a template names but the message does
//! not have is an error (strict undefined), found when the templates are loaded.

use crate::Error;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use provision_core::ports::{MessageKey, OutgoingMessage};
use provision_core::workspace::{ShortName, Workspace};
use provision_core::{Bytes, Cpu, EmailAddress, Problem, SshPublicKey};
use serde::Serialize;
use std::path::Path;

/// The templates this crate knows, with their built-in sources.
const BUILTIN: &[(&str, &str)] = &[
    ("workspace_ready.subject", include_str!("../templates/workspace_ready.subject.jinja")),
    ("workspace_ready.text", include_str!("../templates/workspace_ready.text.jinja")),
    ("workspace_ready.html", include_str!("../templates/workspace_ready.html.jinja")),
];

/// The outbox key of the access e-mail of the workspace with Kubernetes `uid`:
/// `workspace-ready/<uid>`, so it is sent once per workspace ever made.
pub fn workspace_ready_key(uid: &str) -> Result<MessageKey, provision_core::Invalid> {
    MessageKey::parse(&format!("workspace-ready/{uid}"))
}

/// A ready workspace, rendered to check templates when they load (and used by tests).
pub fn sample_workspace() -> Workspace {
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z";
    let owner = EmailAddress::parse("ada.lovelace@example.com").expect("a valid literal address");
    let mut w = Workspace::new(
        &owner,
        ShortName::parse("ada-lovelace-3f9c").expect("a valid literal name"),
        Cpu::from_millicores(2000).expect("not zero"),
        Bytes::new(4 << 30).expect("not zero"),
        Bytes::new(20 << 30).expect("not zero"),
        SshPublicKey::parse(KEY).expect("a valid literal key"),
        "openssh-server".into(),
    );
    w.user = "ada".into();
    w.status.phase = provision_core::workspace::WorkspacePhase::Ready;
    w.status.node_port = Some(30022);
    w.status.access_host = Some("node-1.example.com".into());
    w
}

/// What the access e-mail of a workspace says: every field is a template variable.
#[derive(Serialize)]
struct ReadyVars<'a> {
    /// The name its owner gave it (`devbox`).
    workspace: &'a str,
    /// The user to log in as.
    user: &'a str,
    /// Where to connect: a node's address.
    host: &'a str,
    /// The node port.
    port: u16,
    /// As requested: `2`, `500m`, `4Gi`, `20Gi`.
    cpu: String,
    memory: String,
    storage: String,
    /// `ssh -p <port> <user>@<host>`.
    ssh_command: String,
}

impl<'a> ReadyVars<'a> {
    /// The variables of `w`, which must be reachable (a node port and a host).
    fn of(w: &'a Workspace) -> Option<Self> {
        let (port, host) = (w.status.node_port?, w.status.access_host.as_deref()?);
        Some(ReadyVars {
            workspace: w.short.as_str(),
            user: &w.user,
            host,
            port,
            cpu: w.cpu.to_string(),
            memory: w.memory.to_string(),
            storage: w.storage.to_string(),
            ssh_command: format!("ssh -p {port} {}@{host}", w.user),
        })
    }
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
            let sample = sample_workspace();
            let vars = ReadyVars::of(&sample).expect("the sample is reachable");
            for (name, _) in BUILTIN {
                if let Err(Error::Render { reason, .. }) = templates.render(name, &vars) {
                    problems.push(Problem::new(format!("{name}.jinja"), "render", reason));
                }
            }
            if problems.is_empty()
                && let Ok(key) = workspace_ready_key("sample")
                && let Err(Error::Render { template, reason }) = templates.workspace_ready(key, &sample)
            {
                problems.push(Problem::new(format!("{template}.jinja"), "render", reason));
            }
        }
        if problems.is_empty() { Ok(templates) } else { Err(failed(problems)) }
    }

    /// The access e-mail of a ready workspace, to its owner, under `key`
    /// ([`workspace_ready_key`]). A workspace without a node port or host cannot be told about.
    pub fn workspace_ready(&self, key: MessageKey, workspace: &Workspace) -> Result<OutgoingMessage, Error> {
        let vars = ReadyVars::of(workspace).ok_or_else(|| Error::Render {
            template: "workspace_ready".into(),
            reason: format!("workspace {} has no node port or host yet", workspace.name),
        })?;
        let subject = self.render("workspace_ready.subject", &vars)?;
        let subject = subject.trim();
        if subject.is_empty() || subject.contains(['\r', '\n']) {
            return Err(Error::Render {
                template: "workspace_ready.subject".into(),
                reason: "a subject renders to one line of text".into(),
            });
        }
        let text = self.render("workspace_ready.text", &vars)?;
        let html = self.render("workspace_ready.html", &vars)?;
        Ok(OutgoingMessage {
            key,
            to: workspace.owner.to_string(),
            subject: subject.to_owned(),
            text,
            html: (!html.trim().is_empty()).then_some(html),
        })
    }

    fn render(&self, name: &str, vars: &ReadyVars<'_>) -> Result<String, Error> {
        let failed = |e: minijinja::Error| Error::Render { template: name.to_owned(), reason: describe(&e) };
        self.env.get_template(name).and_then(|t| t.render(minijinja::value::Serde(vars))).map_err(failed)
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
        workspace_ready_key("7d0b6f1c-0000-4000-8000-000000000001").expect("a valid key")
    }

    /// Ada's workspace `ada-3f9c`, ready on 10.0.0.7:31022.
    fn workspace() -> Workspace {
        let mut w = sample_workspace();
        w.short = ShortName::parse("ada-3f9c").expect("a valid name");
        w.status.access_host = Some("10.0.0.7".into());
        w.status.node_port = Some(31022);
        w
    }

    #[test]
    fn the_builtin_message_says_how_to_connect() {
        let m = Templates::builtin().workspace_ready(key(), &workspace()).expect("renders");
        assert_eq!(m.key.as_str(), "workspace-ready/7d0b6f1c-0000-4000-8000-000000000001");
        assert_eq!(
            (m.to.as_str(), m.subject.as_str()),
            ("ada.lovelace@example.com", "Your workspace ada-3f9c is ready")
        );
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
        w.user = "a<b>&c".into();
        let m = Templates::builtin().workspace_ready(key(), &w).expect("renders");
        assert!(m.text.contains("Hello a<b>&c,"), "{}", m.text);
        let html = m.html.expect("html");
        assert!(html.contains("a&lt;b&gt;&amp;c") && !html.contains("a<b>&c"), "{html}");
    }

    #[test]
    fn a_directory_overrides_some_templates_and_keeps_the_others() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("workspace_ready.subject.jinja"), "[dev] {{ workspace }} on port {{ port }}\n")
            .expect("written");
        std::fs::write(dir.path().join("workspace_ready.html.jinja"), "  \n").expect("written");
        let m = Templates::from_dir(dir.path()).expect("loads").workspace_ready(key(), &workspace()).expect("renders");
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
        assert!(workspace_ready_key("has space").is_err());
        assert_eq!(workspace_ready_key("u1").expect("valid").as_str(), "workspace-ready/u1");
    }

    #[test]
    fn a_workspace_without_a_port_cannot_be_announced() {
        let mut w = workspace();
        w.status.node_port = None;
        let e = Templates::builtin().workspace_ready(key(), &w).unwrap_err();
        assert!(e.to_string().contains("no node port"), "{e}");
    }
}

//! The monorepo capability: `init` (make a project, or describe the one around the current
//! directory) and the context (the services a user works on).
//!
//! It holds only what it uses: the signature commits carry. A project is found by walking up
//! from a directory to the first holding `orchestrator.toml`; its files are read and written
//! here, its rules live in `provision-project`.

use crate::error::{Classified, ErrorKind};
use provision_core::problem::Problem;
use provision_core::{FileEntry, FileSet, Invalid, RepoPath};
use provision_project::project::{FILE, Target};
use provision_project::{Context, ContextError, Plugin, Project, ProjectError, ProjectName, Service};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The version of the built-in project blueprint (`templates/project`).
pub const BLUEPRINT_VERSION: &str = "1.0.0";

/// The built-in project blueprint: each file's path in the project and its text, where
/// `{{ name }}`, `{{ go_module }}` and `{{ version }}` stand for the project's values.
/// A table rather than a `provision-template` blueprint: those render a service (their
/// context is a service's name, repositories and image), and a project is none of that.
const TEMPLATE: &[(&str, &str)] = &[
    ("README.md", include_str!("../../../templates/project/README.md")),
    ("CONTRIBUTING.md", include_str!("../../../templates/project/CONTRIBUTING.md")),
    ("infra/README.md", include_str!("../../../templates/project/infra/README.md")),
    (
        ".github/ISSUE_TEMPLATE/bug_report.md",
        include_str!("../../../templates/project/.github/ISSUE_TEMPLATE/bug_report.md"),
    ),
    (".github/workflows/ci.yaml", include_str!("../../../templates/project/.github/workflows/ci.yaml")),
    (".gitignore", include_str!("../../../templates/project/.gitignore")),
];

/// What went wrong with a monorepo command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(Invalid),

    #[error("{} is not empty ({}); init a project into an empty or new directory, or pass --force", dir.display(), shown(entries))]
    NotEmpty { dir: PathBuf, entries: Vec<String> },

    #[error("--force does not overwrite files: {} already hold{} other content in {}", shown(files), if files.len() == 1 { "s" } else { "" }, dir.display())]
    WouldOverwrite { dir: PathBuf, files: Vec<String> },

    #[error("{} is a git repository already; init makes the repository itself", dir.display())]
    RepositoryExists { dir: PathBuf },

    #[error("no {FILE} in {} or any directory above it; make a project with `orchestrator init NAME`", from.display())]
    NotAProject { from: PathBuf },

    #[error(transparent)]
    ProjectFile(#[from] ProjectError),

    #[error(transparent)]
    Context(#[from] ContextError),

    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot make the project's git repository")]
    Git(#[source] provision_git::WorkingCopyError),
}

fn shown(names: &[String]) -> String {
    const MAX: usize = 10;
    let mut s = names.iter().take(MAX).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > MAX {
        s.push_str(&format!(" and {} more", names.len() - MAX));
    }
    s
}

impl Classified for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::ProjectFile(_) | Error::Context(_) => ErrorKind::Invalid,
            Error::NotEmpty { .. } | Error::WouldOverwrite { .. } | Error::RepositoryExists { .. } => {
                ErrorKind::Conflict
            }
            Error::NotAProject { .. } => ErrorKind::NotFound,
            Error::Io { .. } => ErrorKind::Internal,
            Error::Git(provision_git::WorkingCopyError::Exists { .. }) => ErrorKind::Conflict,
            Error::Git(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "validation",
            Error::NotEmpty { .. } => "directory-not-empty",
            Error::WouldOverwrite { .. } => "would-overwrite",
            Error::RepositoryExists { .. } | Error::Git(provision_git::WorkingCopyError::Exists { .. }) => {
                "repository-exists"
            }
            Error::NotAProject { .. } => "not-a-project",
            Error::ProjectFile(_) => "invalid-project-file",
            Error::Context(_) => "unknown-service",
            Error::Io { .. } | Error::Git(_) => "internal",
        }
    }

    fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(e) => e.problems(),
            _ => &[],
        }
    }
}

/// A project as commands show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    /// The project's root directory.
    pub root: PathBuf,
    pub name: String,
    pub go_module: String,
    pub blueprint: String,
    pub version: String,
    pub builder_image: String,
    pub registry: String,
    pub default_target: Target,
    pub services: Vec<Service>,
    pub plugins: Vec<Plugin>,
    /// The saved context; empty means every service.
    pub context: Vec<String>,
}

/// What `init NAME` made.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub project: ProjectView,
    /// The files written, by path in the project.
    pub files: Vec<String>,
    /// The first commit, on `orchestrator/template` and `main`.
    pub commit: String,
}

/// The services a command acts on, and whether that is because the context is empty.
#[derive(Debug, Clone, Serialize)]
pub struct ContextView {
    pub root: PathBuf,
    /// The saved names; empty means every service.
    pub saved: Vec<String>,
    /// The services commands act on.
    pub services: Vec<String>,
}

/// The monorepo commands.
pub struct Monorepo {
    signature: provision_git::Signature,
}

impl Monorepo {
    /// Commits carry `signature`, as every commit the orchestrator makes.
    pub fn new(signature: provision_git::Signature) -> Self {
        Self { signature }
    }

    /// Makes project `name` in `dir` (default `./NAME` below `cwd`).
    ///
    /// Guarantees: a non-empty `dir` is refused unless `force`; with `force`, a file of the
    /// project that exists with other content is refused, each named, and nothing is written.
    /// Files with the very content the project would have stay as they are. The first commit is
    /// the pristine render, on `orchestrator/template` and `main`, and `main` is checked out.
    pub fn init(
        &self,
        cwd: &Path,
        name: &str,
        dir: Option<&Path>,
        go_module: Option<&str>,
        force: bool,
    ) -> Result<InitReport, Error> {
        let name = ProjectName::parse(name).map_err(|e| Error::Invalid(e.within("name")))?;
        let project = Project::new(name.clone(), go_module, BLUEPRINT_VERSION).map_err(Error::Invalid)?;
        let dir = match dir {
            Some(dir) => cwd.join(dir),
            None => cwd.join(name.as_str()),
        };
        let files = render(&project);
        let entries = entries(&dir)?;
        if !entries.is_empty() {
            if !force {
                return Err(Error::NotEmpty { dir, entries });
            }
            if entries.iter().any(|e| e == ".git") {
                return Err(Error::RepositoryExists { dir });
            }
            let mut different = Vec::new();
            for (path, entry) in files.iter() {
                let full = dir.join(path.as_str());
                match std::fs::read(&full) {
                    Ok(bytes) if bytes == *entry.content => {}
                    Ok(_) => different.push(path.to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // A directory where the file goes, or an unreadable file: not ours to replace.
                    Err(_) => different.push(path.to_string()),
                }
            }
            if !different.is_empty() {
                return Err(Error::WouldOverwrite { dir, files: different });
            }
        }
        let message = format!("Create project {name} from blueprint project {BLUEPRINT_VERSION}");
        let commit = provision_git::create_working_copy(&dir, &files, &self.signature, &message).map_err(Error::Git)?;
        tracing::info!(project = %name, dir = %dir.display(), commit = %commit.0, "created project");
        Ok(InitReport {
            project: view(&dir, &project, &Context::default()),
            files: files.paths().map(ToString::to_string).collect(),
            commit: commit.0,
        })
    }

    /// The project around `cwd`, with its saved context.
    pub fn describe(&self, cwd: &Path) -> Result<ProjectView, Error> {
        let (root, project) = find(cwd)?;
        let context = read_context(&root)?;
        Ok(view(&root, &project, &context))
    }

    /// The services commands act on in the project around `cwd`.
    pub fn context(&self, cwd: &Path) -> Result<ContextView, Error> {
        let (root, project) = find(cwd)?;
        let saved = read_context(&root)?;
        let services = Context::resolve(&project, &saved, None)?;
        Ok(ContextView {
            root,
            saved: saved.names().to_vec(),
            services: services.iter().map(ToString::to_string).collect(),
        })
    }

    /// Saves `services` (each a service of the project) as the context.
    pub fn set_context(&self, cwd: &Path, services: &[String]) -> Result<ContextView, Error> {
        let (root, project) = find(cwd)?;
        let context = Context::set(&project, services)?;
        write_context(&root, &context)?;
        self.context(&root)
    }

    /// Empties the context: commands act on every service.
    pub fn clear_context(&self, cwd: &Path) -> Result<ContextView, Error> {
        let (root, _) = find(cwd)?;
        write_context(&root, &Context::default())?;
        self.context(&root)
    }
}

/// The project blueprint rendered for `project`, with its project file.
fn render(project: &Project) -> FileSet {
    let mut files = FileSet::new();
    for (path, text) in TEMPLATE {
        let text = text
            .replace("{{ name }}", project.name.as_str())
            .replace("{{ go_module }}", &project.go_module)
            .replace("{{ version }}", &project.version);
        files.insert(RepoPath::parse(path).expect("template paths are valid"), FileEntry::new(text.into_bytes()));
    }
    files.insert(RepoPath::parse(FILE).expect("a valid literal path"), FileEntry::new(project.to_toml().into_bytes()));
    files
}

/// The names in `dir`, sorted; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<String>, Error> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { action: "read the directory", path: dir.to_owned(), source }),
    };
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| Error::Io { action: "read the directory", path: dir.to_owned(), source })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The first directory from `cwd` up holding a project file, and the project it describes.
fn find(cwd: &Path) -> Result<(PathBuf, Project), Error> {
    let start = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_owned());
    for dir in start.ancestors() {
        let file = dir.join(FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => return Ok((dir.to_owned(), Project::parse(&file.display().to_string(), &text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { action: "read", path: file, source }),
        }
    }
    Err(Error::NotAProject { from: start })
}

fn read_context(root: &Path) -> Result<Context, Error> {
    let path = root.join(provision_project::context::FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Context::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Context::default()),
        Err(source) => Err(Error::Io { action: "read", path, source }),
    }
}

fn write_context(root: &Path, context: &Context) -> Result<(), Error> {
    let path = root.join(provision_project::context::FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            action: "create",
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, context.to_text()).map_err(|source| Error::Io { action: "write", path, source })
}

fn view(root: &Path, project: &Project, context: &Context) -> ProjectView {
    ProjectView {
        root: root.to_owned(),
        name: project.name.to_string(),
        go_module: project.go_module.clone(),
        blueprint: project.blueprint.clone(),
        version: project.version.clone(),
        builder_image: project.builder_image.clone(),
        registry: project.registry_url.clone(),
        default_target: project.default_target,
        services: project.services.clone(),
        plugins: project.plugins.clone(),
        context: context.names().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_renders_every_placeholder_and_a_project_file_that_reads_back() {
        let project = Project::new(ProjectName::parse("shop").unwrap(), None, BLUEPRINT_VERSION).unwrap();
        let files = render(&project);
        for (path, entry) in files.iter() {
            let text = std::str::from_utf8(&entry.content).unwrap();
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        assert!(std::str::from_utf8(&files.get("README.md").unwrap().content).unwrap().starts_with("# shop\n"));
        let file = std::str::from_utf8(&files.get(FILE).unwrap().content).unwrap().to_owned();
        assert_eq!(Project::parse(FILE, &file).unwrap(), project);
        let ignore = std::str::from_utf8(&files.get(".gitignore").unwrap().content).unwrap().to_owned();
        assert!(ignore.lines().any(|l| l == "/.orchestrator/context"), "{ignore}");
    }
}

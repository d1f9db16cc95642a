//! The context: the services a user works on, saved per user in the working copy (at
//! [`FILE`], which the project's `.gitignore` ignores), one name per line. Empty means every
//! service of the project.

use crate::project::Project;
use provision_core::ServiceName;

/// Where the context is saved, relative to the project's root.
pub const FILE: &str = ".orchestrator/context";

/// The services a user chose; empty means every service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    services: Vec<String>,
}

/// A context that names what the project does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("{} {}: {}", if unknown.len() == 1 { "no service is called" } else { "no services are called" }, quoted(unknown), existing_services(existing))]
    UnknownServices { unknown: Vec<String>, existing: Vec<ServiceName> },
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

fn existing_services(existing: &[ServiceName]) -> String {
    if existing.is_empty() {
        "the project has no services yet".to_owned()
    } else {
        format!(
            "the project's services are {}",
            existing.iter().map(ServiceName::as_str).collect::<Vec<_>>().join(", ")
        )
    }
}

impl Context {
    /// The context of a saved file's text: a name per line; blank lines and `#` comments are
    /// skipped. Names are checked against a project by [`Context::resolve`].
    pub fn parse(text: &str) -> Context {
        let services =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
        Context { services }
    }

    /// A context of `names`, each a service of `project` (every unknown one is named).
    /// Repeated names count once; the order is the project's.
    pub fn set(project: &Project, names: &[String]) -> Result<Context, ContextError> {
        let services = select(project, names)?;
        Ok(Context { services: services.into_iter().map(|s| s.as_str().to_owned()).collect() })
    }

    /// The saved file's text.
    pub fn to_text(&self) -> String {
        self.services.iter().map(|s| format!("{s}\n")).collect()
    }

    /// The names saved, as saved.
    pub fn names(&self) -> &[String] {
        &self.services
    }

    pub fn is_everything(&self) -> bool {
        self.services.is_empty()
    }

    /// The services a command acts on: those of `overriding` (a `--services` list) when
    /// given, else those saved, else every service of the project.
    pub fn resolve(
        project: &Project,
        saved: &Context,
        overriding: Option<&[String]>,
    ) -> Result<Vec<ServiceName>, ContextError> {
        let chosen = overriding.unwrap_or(&saved.services);
        if chosen.is_empty() {
            return Ok(project.services.iter().map(|s| s.name.clone()).collect());
        }
        select(project, chosen)
    }
}

/// The project's services named in `names`, in the project's order.
fn select(project: &Project, names: &[String]) -> Result<Vec<ServiceName>, ContextError> {
    let mut unknown: Vec<String> =
        names.iter().filter(|n| !project.services.iter().any(|s| s.name.as_str() == n.as_str())).cloned().collect();
    unknown.dedup();
    if !unknown.is_empty() {
        return Err(ContextError::UnknownServices {
            unknown,
            existing: project.services.iter().map(|s| s.name.clone()).collect(),
        });
    }
    Ok(project.services.iter().filter(|s| names.contains(&s.name.to_string())).map(|s| s.name.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProjectName, Service};
    use provision_core::{BlueprintName, RepoPath};

    fn project(services: &[&str]) -> Project {
        let mut p = Project::new(ProjectName::parse("shop").unwrap(), None, "1.0.0").unwrap();
        for s in services {
            p.services.push(Service {
                name: ServiceName::parse(s).unwrap(),
                kind: BlueprintName::parse("ms").unwrap(),
                path: RepoPath::parse(&format!("services/{s}")).unwrap(),
            });
        }
        p
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn empty_means_every_service_and_an_override_wins_once() {
        let p = project(&["orders", "payments", "users"]);
        let all = Context::resolve(&p, &Context::default(), None).unwrap();
        assert_eq!(all.iter().map(ServiceName::as_str).collect::<Vec<_>>(), ["orders", "payments", "users"]);
        let saved = Context::set(&p, &names(&["users", "orders", "users"])).unwrap();
        assert_eq!(saved.to_text(), "orders\nusers\n");
        assert_eq!(Context::parse(&saved.to_text()), saved);
        let chosen = Context::resolve(&p, &saved, None).unwrap();
        assert_eq!(chosen.iter().map(ServiceName::as_str).collect::<Vec<_>>(), ["orders", "users"]);
        let once = Context::resolve(&p, &saved, Some(&names(&["payments"]))).unwrap();
        assert_eq!(once.iter().map(ServiceName::as_str).collect::<Vec<_>>(), ["payments"]);
    }

    #[test]
    fn unknown_services_are_named_with_those_that_exist() {
        let p = project(&["orders", "payments"]);
        let e = Context::set(&p, &names(&["orders", "ghost", "Bad"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"no services are called "ghost", "Bad": the project's services are orders, payments"#
        );
        let stale = Context::parse("orders\n# a comment\n\nghost\n");
        let e = Context::resolve(&p, &stale, None).unwrap_err();
        assert_eq!(e.to_string(), r#"no service is called "ghost": the project's services are orders, payments"#);
        let e = Context::set(&project(&[]), &names(&["orders"])).unwrap_err();
        assert_eq!(e.to_string(), r#"no service is called "orders": the project has no services yet"#);
    }
}

//! What a token's holder may do: [`Role`], from least to most.
//!
//! Roles are ordered: a role may do everything the roles below it may. `reader` reads the
//! inventory, runs, kinds and metrics; `member` also creates services, sets image tags, retries
//! runs and asks for workspaces of their own; `admin` also upgrades and acts on everyone's
//! things. Which request needs which role is the front door's table (the API's `access`).

use crate::problem::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A token holder's role. `Ord` follows the rights: `Reader < Member < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads: the inventory, runs, kinds, metrics, their own workspaces.
    Reader,
    /// Also creates services, sets image tags, retries runs, asks for their own workspaces.
    Member,
    /// Also upgrades services and sees and acts on everyone's workspaces.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Reader, Role::Member, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Reads a role by its name (`reader`, `member`, `admin`).
    pub fn parse(text: &str) -> Result<Role, Invalid> {
        Role::ALL.into_iter().find(|r| r.as_str() == text).ok_or_else(|| {
            Invalid::one("role", "unknown-role", format!("{text:?} is not a role; a role is reader, member or admin"))
        })
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_their_rights() {
        assert!(Role::Admin.allows(Role::Member) && Role::Member.allows(Role::Reader));
        assert!(!Role::Reader.allows(Role::Member) && !Role::Member.allows(Role::Admin));
        for role in Role::ALL {
            assert!(role.allows(role));
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        let invalid = Role::parse("root").unwrap_err();
        assert_eq!(invalid.problems()[0].rule, "unknown-role");
        assert!(Role::parse("Admin").is_err(), "names are lowercase");
    }
}

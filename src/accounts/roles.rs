//! What each role may do, in one place: the server functions, the JSON API and the pages
//! (which hide what a user cannot use) all ask here.
//!
//! - **member**: sees the datasets open to members, starts exports, and sees, downloads,
//!   cancels and deletes their own exports.
//! - **admin**: also every export of the workspace, and the datasets that require admin.
//! - **owner**: as admin (the workspace's first user).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    pub fn id(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == s)
    }

    /// Admins and owners manage every export of the workspace, not only their own.
    pub fn manages_all_exports(self) -> bool {
        self >= Role::Admin
    }

    /// Whether this role may see (browse and export) a dataset that requires `required`.
    pub fn may_see(self, required: Role) -> bool {
        self >= required
    }
}

/// What can be done to an existing export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportAction {
    View,
    Download,
    Cancel,
    Delete,
}

impl ExportAction {
    fn verb(self) -> &'static str {
        match self {
            ExportAction::View => "see",
            ExportAction::Download => "download",
            ExportAction::Cancel => "cancel",
            ExportAction::Delete => "delete",
        }
    }
}

/// Whether `role` may manage a workspace's `what` (webhooks, destinations): admins and
/// owners. The error says so.
pub fn may_manage(role: Role, what: &str) -> Result<(), String> {
    if role.manages_all_exports() {
        Ok(())
    } else {
        Err(format!("Only the workspace's admins and owners manage {what}."))
    }
}

/// Whether `role` may do `action` to an export; `own` when the user started it. The
/// error says who may.
pub fn may_act_on_export(role: Role, own: bool, action: ExportAction) -> Result<(), String> {
    if own || role.manages_all_exports() {
        Ok(())
    } else {
        Err(format!(
            "Only the person who started this export, or an admin of the workspace, can {} it.",
            action.verb()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_act_on_their_own_exports_and_admins_on_all() {
        for action in [
            ExportAction::View,
            ExportAction::Download,
            ExportAction::Cancel,
            ExportAction::Delete,
        ] {
            assert!(may_act_on_export(Role::Member, true, action).is_ok());
            assert!(may_act_on_export(Role::Member, false, action).is_err());
            assert!(may_act_on_export(Role::Admin, false, action).is_ok());
            assert!(may_act_on_export(Role::Owner, false, action).is_ok());
        }
        assert!(
            may_act_on_export(Role::Member, false, ExportAction::Delete)
                .unwrap_err()
                .contains("can delete it")
        );
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Owner.may_see(Role::Admin));
        assert!(!Role::Member.may_see(Role::Admin));
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}

//! The one value every operation on a workspace's data takes: who acts (the person), in
//! which workspace, with which role there, and how they came — a password session, a
//! hand-off from the host product, or an API token with its scopes.
//!
//! Only the sign-in code (`ssr::member_of_session`) and the token code
//! (`tokens::authenticate`) make one: its `via` field is private to this module, so no
//! other code can forge a caller. How they came bounds where they reach:
//! - a password session: every workspace the person belongs to;
//! - a hand-off session: only the workspaces the host's hand-offs named (a person the
//!   host signs in for tenant A does not reach the workspaces of their password account
//!   or of another tenant);
//! - an API token: only the workspace it was made in, and only its scopes.

use super::Role;
use super::api_tokens::Scope;
use crate::error::AppError;
use crate::store::{Store, StoreResult};

/// How the caller came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A session signed in with a password.
    Password,
    /// A session signed in by the host product: the workspaces its hand-offs named.
    HandOff(Vec<i64>),
    /// An API token (its id) with its scopes.
    Token { id: i64, scopes: Vec<Scope> },
}

/// Who is signed in, in which workspace, and with which role there. A membership that
/// was removed since the session began ends the access at once (each request reads it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub workspace_id: i64,
    pub role: Role,
    /// The workspace's tenant key, when it has one (`Source::tenant` says what it reads).
    pub tenant_key: Option<String>,
    via: Via,
}

impl Member {
    /// For the sign-in and token code only (see the module's comment).
    pub(super) fn new(user_id: i64, membership: &super::Membership, via: Via) -> Member {
        let role = match via {
            // A token never acts as an owner: owners' powers stay with people.
            Via::Token { .. } => membership.role.min(Role::Admin),
            _ => membership.role,
        };
        Member {
            user_id,
            workspace_id: membership.workspace_id,
            role,
            tenant_key: membership.tenant_key.clone(),
            via,
        }
    }

    /// Whether the caller may reach `workspace_id` at all, whatever their memberships.
    pub fn may_enter(&self, workspace_id: i64) -> bool {
        match &self.via {
            Via::Password => true,
            Via::HandOff(named) => named.contains(&workspace_id),
            Via::Token { .. } => workspace_id == self.workspace_id,
        }
    }

    /// The one workspace the caller can reach, when there is only one (a token, a hand-off
    /// that named one tenant): reads of workspace-owned rows by id filter by it in the
    /// database, so another workspace's row is never even read.
    pub fn only_workspace(&self) -> Option<i64> {
        match &self.via {
            Via::Password => None,
            Via::HandOff(named) if named.len() > 1 => None,
            Via::HandOff(_) | Via::Token { .. } => Some(self.workspace_id),
        }
    }

    /// The caller's role in `workspace_id` (the current one or, for a session, another of
    /// the person's), or `None` when they may not reach it: then whatever lives there
    /// does not exist for them.
    pub async fn role_in(&self, store: &dyn Store, workspace_id: i64) -> StoreResult<Option<Role>> {
        if workspace_id == self.workspace_id {
            return Ok(Some(self.role));
        }
        if !self.may_enter(workspace_id) {
            return Ok(None);
        }
        Ok(store
            .memberships(self.user_id)
            .await?
            .into_iter()
            .find(|m| m.workspace_id == workspace_id)
            .map(|m| m.role))
    }

    /// The member, when the caller has `scope`: a session may do all its role allows, a
    /// token only what its scopes name (403 otherwise).
    pub fn may(&self, scope: Scope) -> Result<&Member, AppError> {
        match &self.via {
            Via::Token { scopes, .. } if !scopes.contains(&scope) => Err(AppError::forbidden(format!(
                "This API token does not have the `{}` scope.",
                scope.id()
            ))),
            _ => Ok(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Membership;

    fn membership(workspace_id: i64, role: Role) -> Membership {
        Membership {
            workspace_id,
            workspace_name: "W".into(),
            role,
            tenant_key: None,
        }
    }

    #[test]
    fn how_they_came_bounds_where_they_reach() {
        let password = Member::new(1, &membership(10, Role::Owner), Via::Password);
        assert!(password.may_enter(10) && password.may_enter(11));
        let handoff = Member::new(1, &membership(10, Role::Owner), Via::HandOff(vec![10, 12]));
        assert!(handoff.may_enter(12) && !handoff.may_enter(11));
        let token = Member::new(
            1,
            &membership(10, Role::Owner),
            Via::Token {
                id: 5,
                scopes: vec![Scope::ExportsRead],
            },
        );
        assert!(token.may_enter(10) && !token.may_enter(11));
        assert_eq!(token.only_workspace(), Some(10));
        assert_eq!(handoff.only_workspace(), None, "it named two");
        assert_eq!(password.only_workspace(), None);
        assert_eq!(token.role, Role::Admin, "a token never acts as an owner");
        assert!(token.may(Scope::ExportsRead).is_ok());
        assert!(
            token
                .may(Scope::ExportsWrite)
                .unwrap_err()
                .message
                .contains("`exports:write`")
        );
        assert!(password.may(Scope::ExportsWrite).is_ok());
    }
}

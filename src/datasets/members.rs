use super::{Column, ColumnKind::*, Dataset, col};
use crate::accounts::Role;

/// The users of a workspace, through the `members` view over memberships and users.
pub static MEMBERS: Dataset = Dataset {
    id: "members",
    label: "Members",
    table: "members",
    tenant_column: "workspace_id",
    cursor_column: "id",
    columns: &[
        col("id", "ID", Integer),
        col("name", "Name", Text),
        col("email", "Email", Text),
        col("role", "Role", Text),
        col("status", "Status", Text),
        col("created_at", "Joined at", Timestamp),
    ] as &[Column],
    statuses: &["active", "invited", "suspended"],
    has_tags: false,
    role: Role::Admin,
};

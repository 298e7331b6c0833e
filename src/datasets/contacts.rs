use super::{Column, ColumnKind::*, Dataset, col};
use crate::accounts::Role;

pub static CONTACTS: Dataset = Dataset {
    id: "contacts",
    label: "Contacts",
    table: "contacts",
    tenant_column: "workspace_id",
    cursor_column: "id",
    columns: &[
        col("id", "ID", Integer),
        col("first_name", "First name", Text),
        col("last_name", "Last name", Text),
        col("email", "Email", Text),
        col("phone", "Phone", Text),
        col("company", "Company", Text),
        col("city", "City", Text),
        col("country", "Country", Text),
        col("notes", "Notes", Text),
        col("status", "Status", Text),
        col("tags", "Tags", Tags),
        col("created_at", "Created at", Timestamp),
    ] as &[Column],
    statuses: &["lead", "active", "customer", "churned"],
    has_tags: true,
    role: Role::Member,
};

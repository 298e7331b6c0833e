use super::{Column, ColumnKind::*, Dataset, col};
use crate::accounts::Role;

pub static TRANSACTIONS: Dataset = Dataset {
    id: "transactions",
    label: "Transactions",
    table: "transactions",
    tenant_column: "workspace_id",
    cursor_column: "id",
    columns: &[
        col("id", "ID", Integer),
        col("reference", "Reference", Text),
        col("kind", "Kind", Text),
        col("description", "Description", Text),
        col("counterparty", "Counterparty", Text),
        col("amount_cents", "Amount", Money),
        col("currency", "Currency", Text),
        col("status", "Status", Text),
        col("tags", "Tags", Tags),
        col("created_at", "Created at", Timestamp),
    ] as &[Column],
    statuses: &["pending", "succeeded", "failed", "reversed"],
    has_tags: true,
    role: Role::Member,
};

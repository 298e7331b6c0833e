use super::{Column, ColumnKind::*, Dataset, col};
use crate::accounts::Role;

pub static ORDERS: Dataset = Dataset {
    id: "orders",
    label: "Orders",
    table: "orders",
    tenant_column: "workspace_id",
    cursor_column: "id",
    columns: &[
        col("id", "ID", Integer),
        col("order_number", "Order number", Text),
        col("customer_name", "Customer", Text),
        col("customer_email", "Customer email", Text),
        col("item_count", "Items", Integer),
        col("total_cents", "Total", Money),
        col("currency", "Currency", Text),
        col("shipping_address", "Shipping address", Text),
        col("note", "Note", Text),
        col("status", "Status", Text),
        col("tags", "Tags", Tags),
        col("created_at", "Created at", Timestamp),
    ] as &[Column],
    statuses: &["pending", "paid", "shipped", "delivered", "refunded", "cancelled"],
    has_tags: true,
    role: Role::Member,
};

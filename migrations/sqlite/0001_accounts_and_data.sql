-- Accounts: workspaces, users and who belongs where.
-- Timestamps are TEXT in RFC 3339 UTC with a fixed width, so they sort as text.
CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE memberships (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'suspended')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- The exportable source data. Tags are a JSON array of strings.
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    company       TEXT,
    city          TEXT,
    country       TEXT NOT NULL,
    notes         TEXT,
    status        TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL
);
CREATE INDEX contacts_workspace_idx ON contacts (workspace_id, id);
CREATE INDEX contacts_workspace_created_idx ON contacts (workspace_id, created_at);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    order_number     TEXT NOT NULL,
    customer_name    TEXT NOT NULL,
    customer_email   TEXT,
    item_count       INTEGER NOT NULL,
    total_cents      INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    shipping_address TEXT,
    note             TEXT,
    status           TEXT NOT NULL,
    tags             TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL
);
CREATE INDEX orders_workspace_idx ON orders (workspace_id, id);
CREATE INDEX orders_workspace_created_idx ON orders (workspace_id, created_at);

CREATE TABLE transactions (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    reference     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    description   TEXT,
    counterparty  TEXT,
    amount_cents  INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL
);
CREATE INDEX transactions_workspace_idx ON transactions (workspace_id, id);
CREATE INDEX transactions_workspace_created_idx ON transactions (workspace_id, created_at);

CREATE VIEW members AS
SELECT m.id, m.workspace_id, u.name, u.email, m.role, m.status, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id;

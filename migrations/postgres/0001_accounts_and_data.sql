-- Accounts: workspaces, users and who belongs where.
CREATE TABLE workspaces (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Emails are compared case-insensitively; the application stores them lower-cased.
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE memberships (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'suspended')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- The exportable source data. Every table has workspace_id, created_at, status and a
-- BIGINT id that is the stable keyset cursor.
CREATE TABLE contacts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    company       TEXT,
    city          TEXT,
    country       TEXT NOT NULL,
    notes         TEXT,
    status        TEXT NOT NULL,
    tags          TEXT[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX contacts_workspace_idx ON contacts (workspace_id, id);
CREATE INDEX contacts_workspace_created_idx ON contacts (workspace_id, created_at);

CREATE TABLE orders (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    order_number     TEXT NOT NULL,
    customer_name    TEXT NOT NULL,
    customer_email   TEXT,
    item_count       BIGINT NOT NULL,
    total_cents      BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    shipping_address TEXT,
    note             TEXT,
    status           TEXT NOT NULL,
    tags             TEXT[] NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_workspace_idx ON orders (workspace_id, id);
CREATE INDEX orders_workspace_created_idx ON orders (workspace_id, created_at);

CREATE TABLE transactions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    reference     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    description   TEXT,
    counterparty  TEXT,
    amount_cents  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    tags          TEXT[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX transactions_workspace_idx ON transactions (workspace_id, id);
CREATE INDEX transactions_workspace_created_idx ON transactions (workspace_id, created_at);

-- Members are the users of a workspace, seen through their membership.
CREATE VIEW members AS
SELECT m.id, m.workspace_id, u.name, u.email, m.role, m.status, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id;

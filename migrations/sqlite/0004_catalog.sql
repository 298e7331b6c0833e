-- See the Postgres migration of the same name.
ALTER TABLE workspaces ADD COLUMN tenant_key TEXT;
CREATE UNIQUE INDEX workspaces_tenant_key_idx ON workspaces (tenant_key);

-- The key a workspace's rows carry in the source (the operator's tenant id, set by the
-- sign-in hand-off or `egress workspace add --tenant-key`); without one, the workspace's
-- id, as the demo's tables use.
ALTER TABLE workspaces ADD COLUMN tenant_key TEXT;
CREATE UNIQUE INDEX workspaces_tenant_key_idx ON workspaces (tenant_key);

//! The parts of both `Store` implementations whose code is the same: every statement is
//! written with `$N` placeholders (SQLite takes them too) and the backend-specific pieces
//! are names the backend module defines — its pool, `bind_all`, `FLAVOUR`, `CLAIM`, and
//! `begin_create` (the transaction that locks the workspace's job count).
//!
//! A macro rather than generic code because sqlx's executor bounds over two databases
//! would hide the SQL under a page of trait bounds.
//!
//! Every method that queries runs in a span of its name (at debug level, without its
//! arguments, which hold passwords' hashes and tokens' digests): with
//! `--log info,egress::store=debug` each call's end is logged with its time, inside the
//! request or export that made it.

macro_rules! impl_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl Store for $store {
            $($own)*

            #[tracing::instrument(level = "debug", skip_all)]
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_jobs_by_status(&self) -> StoreResult<Vec<(crate::exports::JobStatus, i64)>> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM export_jobs GROUP BY status")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(status, n)| Some((crate::exports::JobStatus::parse(&status)?, n)))
                    .collect())
            }

            fn pool_use(&self) -> crate::store::PoolUse {
                let (size, idle) = (self.pool.size(), self.pool.num_idle() as u32);
                crate::store::PoolUse {
                    in_use: size.saturating_sub(idle),
                    idle,
                    max: self.pool.options().get_max_connections(),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_workspace(&self, name: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("INSERT INTO workspaces (name) VALUES ($1) RETURNING id")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn workspace_retention(&self, id: i64) -> StoreResult<Option<f64>> {
                let hours: Option<Option<f64>> = sqlx::query_scalar("SELECT retention_hours FROM workspaces WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(hours.flatten())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn set_workspace_retention(&self, id: i64, hours: Option<f64>) -> StoreResult<()> {
                sqlx::query("UPDATE workspaces SET retention_hours = $1 WHERE id = $2")
                    .bind(hours)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_workspaces(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(&self.pool).await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_user(&self, user: &NewUser) -> StoreResult<i64> {
                sqlx::query_scalar(INSERT_USER)
                    .bind(&user.email)
                    .bind(&user.name)
                    .bind(&user.password_hash)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(email_conflict)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_account(&self, workspace_name: &str, owner: &NewUser) -> StoreResult<(i64, i64)> {
                let mut tx = self.pool.begin().await?;
                let workspace_id: i64 = sqlx::query_scalar("INSERT INTO workspaces (name) VALUES ($1) RETURNING id")
                    .bind(workspace_name)
                    .fetch_one(&mut *tx)
                    .await?;
                let user_id: i64 = sqlx::query_scalar(INSERT_USER)
                    .bind(&owner.email)
                    .bind(&owner.name)
                    .bind(&owner.password_hash)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(email_conflict)?;
                sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')")
                    .bind(workspace_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((user_id, workspace_id))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn add_membership(&self, workspace_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)
                     ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(workspace_id)
                .bind(user_id)
                .bind(role)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
                let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| user_record(&r)).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>> {
                let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| user_record(&r)).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>> {
                let rows = sqlx::query(
                    "SELECT w.id, w.name, m.role, w.tenant_key FROM memberships m
                     JOIN workspaces w ON w.id = m.workspace_id
                     WHERE m.user_id = $1 AND m.status = 'active' ORDER BY m.id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let role: String = r.try_get(2)?;
                        let role = crate::accounts::Role::parse(&role)
                            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role `{role}`").into()))?;
                        Ok(Membership {
                            workspace_id: r.try_get(0)?,
                            workspace_name: r.try_get(1)?,
                            role,
                            tenant_key: r.try_get(3)?,
                        })
                    })
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn set_tenant_key(&self, workspace_id: i64, tenant_key: &str) -> StoreResult<()> {
                sqlx::query("UPDATE workspaces SET tenant_key = $2 WHERE id = $1")
                    .bind(workspace_id)
                    .bind(tenant_key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_tenant_workspace(&self, name: &str, tenant_key: &str) -> StoreResult<i64> {
                sqlx::query_scalar("INSERT INTO workspaces (name, tenant_key) VALUES ($1, $2) RETURNING id")
                    .bind(name)
                    .bind(tenant_key)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict("tenant key"),
                        _ => e.into(),
                    })
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn workspace_name(&self, id: i64) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn workspaces_named(&self, name: &str) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar("SELECT id FROM workspaces WHERE name = $1 ORDER BY id")
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_session(&self, id: &str, user_id: Option<i64>, data: &str, expires_at: i64) -> StoreResult<bool> {
                let inserted = sqlx::query(
                    "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(user_id)
                .bind(data)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(inserted.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_session(&self, id: &str, user_id: Option<i64>, data: &str, expires_at: i64) -> StoreResult<bool> {
                let updated = sqlx::query("UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(user_id)
                    .bind(data)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(updated.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn load_session(&self, id: &str, now: i64) -> StoreResult<Option<(String, i64)>> {
                let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                    .bind(id)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_session(&self, id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
                let deleted = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
                Ok(deleted.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn use_token_id(&self, jti: &str, expires_at: i64) -> StoreResult<bool> {
                let inserted = sqlx::query("INSERT INTO jwt_uses (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(inserted.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn prune_token_ids(&self, now: i64) -> StoreResult<u64> {
                let deleted = sqlx::query("DELETE FROM jwt_uses WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
                Ok(deleted.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn identity_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT user_id FROM identities WHERE subject = $2 AND (issuer = $1 OR issuer = '')
                     ORDER BY issuer DESC LIMIT 1",
                )
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn sign_in_identity(&self, identity: &crate::store::NewIdentity<'_>) -> StoreResult<i64> {
                let crate::store::NewIdentity { issuer, subject, email, name, link_by_email, now } = *identity;
                let mut tx = self.pool.begin().await?;
                // A link kept before issuers were (issuer '') is taken over by the first
                // sign-in that names one: one signer made both.
                if !issuer.is_empty() {
                    sqlx::query(
                        "UPDATE identities SET issuer = $1 WHERE issuer = '' AND subject = $2
                         AND NOT EXISTS (SELECT 1 FROM identities WHERE issuer = $1 AND subject = $2)",
                    )
                    .bind(issuer)
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                }
                let known: Option<i64> =
                    sqlx::query_scalar("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
                        .bind(issuer)
                        .bind(subject)
                        .fetch_optional(&mut *tx)
                        .await?;
                let id = match known {
                    Some(id) => {
                        sqlx::query("UPDATE users SET email = $2, name = $3 WHERE id = $1")
                            .bind(id)
                            .bind(email)
                            .bind(name)
                            .execute(&mut *tx)
                            .await
                            .map_err(email_conflict)?;
                        id
                    }
                    None => {
                        // (id, whether some identity is linked to it already)
                        let by_email: Option<(i64, bool)> = sqlx::query_as(
                            "SELECT id, EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id)
                             FROM users WHERE email = $1",
                        )
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let id = match by_email {
                            None => sqlx::query_scalar(
                                // No password: `!` is no hash, so password sign-in always fails.
                                "INSERT INTO users (email, name, password_hash) VALUES ($1, $2, '!') RETURNING id",
                            )
                            .bind(email)
                            .bind(name)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(email_conflict)?,
                            Some((id, false)) if link_by_email => id,
                            Some(_) => return Err(StoreError::Conflict("email")),
                        };
                        sqlx::query("INSERT INTO identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(issuer)
                            .bind(subject)
                            .bind(id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| match e {
                                sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict("identity"),
                                other => other.into(),
                            })?;
                        id
                    }
                };
                tx.commit().await?;
                Ok(id)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn remove_membership(&self, workspace_id: i64, user_id: i64, now: i64) -> StoreResult<crate::store::Removal> {
                let mut tx = self.pool.begin().await?;
                // The workspace's row is written first, so removals in one workspace run
                // one after the other: two owners removing each other cannot both pass
                // the last-owner rule below.
                sqlx::query("UPDATE workspaces SET name = name WHERE id = $1")
                    .bind(workspace_id)
                    .execute(&mut *tx)
                    .await?;
                let role: Option<String> =
                    sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                        .bind(workspace_id)
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let owners: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
                        .bind(workspace_id)
                        .fetch_one(&mut *tx)
                        .await?;
                match role.as_deref() {
                    None => return Ok(crate::store::Removal::NotAMember),
                    Some("owner") if owners == 1 => return Ok(crate::store::Removal::LastOwner),
                    Some(_) => {}
                }
                sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                    .bind(workspace_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                // Their tokens stop at once (and stay stopped if the person comes back).
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND created_by = $2 AND revoked_at IS NULL",
                )
                .bind(workspace_id)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Signed out everywhere when no workspace is left to them.
                sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1
                     AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(crate::store::Removal::Removed)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn workspace_people(&self, workspace_id: i64) -> StoreResult<Vec<crate::store::Person>> {
                let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.name, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE m.workspace_id = $1 AND m.status = 'active' ORDER BY u.name, u.id",
                )
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(user_id, name, email, role)| {
                        let role = crate::accounts::Role::parse(&role)
                            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role `{role}`").into()))?;
                        Ok(crate::store::Person { user_id, name, email, role })
                    })
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn tenant_keys(&self) -> StoreResult<Vec<(i64, String)>> {
                Ok(sqlx::query_as("SELECT id, tenant_key FROM workspaces WHERE tenant_key IS NOT NULL ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn tenant_workspace(&self, tenant_key: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT id FROM workspaces WHERE tenant_key = $1")
                    .bind(tenant_key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn upsert_tenant_workspace(&self, tenant_key: &str, name: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO workspaces (name, tenant_key) VALUES ($1, $2)
                     ON CONFLICT (tenant_key) DO UPDATE SET name = excluded.name RETURNING id",
                )
                .bind(name)
                .bind(tenant_key)
                .fetch_one(&self.pool)
                .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_api_token(&self, t: &NewApiToken) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_tokens (workspace_id, created_by, name, prefix, token_hash, scopes, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(t.workspace_id)
                .bind(t.created_by)
                .bind(&t.name)
                .bind(&t.prefix)
                .bind(&t.token_hash)
                .bind(&t.scopes)
                .bind(t.created_at)
                .bind(t.expires_at)
                .fetch_one(&self.pool)
                .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn api_tokens(&self, workspace_id: i64) -> StoreResult<Vec<ApiTokenRecord>> {
                let rows = sqlx::query(&format!("{} WHERE t.workspace_id = $1 ORDER BY t.id DESC", SELECT_TOKENS))
                    .bind(workspace_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(token_record).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiTokenRecord>> {
                let row = sqlx::query(&format!("{} WHERE t.token_hash = $1", SELECT_TOKENS))
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(token_record).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn api_token_by_id(&self, id: i64) -> StoreResult<Option<ApiTokenRecord>> {
                let row = sqlx::query(&format!("{} WHERE t.id = $1", SELECT_TOKENS))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(token_record).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn touch_api_token(&self, id: i64, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(id).bind(now).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn revoke_api_token(&self, workspace_id: i64, id: i64, now: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(workspace_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn claim_idempotency_key(&self, workspace_id: i64, key: &str, request_hash: &str, now: i64) -> StoreResult<IdempotencyClaim> {
                let inserted = sqlx::query(
                    // A claim whose request never finished (the process stopped between
                    // claiming and settling) is taken over after a minute.
                    "INSERT INTO idempotency_keys (workspace_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash, created_at = excluded.created_at
                     WHERE idempotency_keys.job_id IS NULL AND idempotency_keys.created_at < $5",
                )
                .bind(workspace_id)
                .bind(key)
                .bind(request_hash)
                .bind(now)
                .bind(now - 60)
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok(IdempotencyClaim::Claimed);
                }
                let row = sqlx::query("SELECT request_hash, job_id FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
                    .bind(workspace_id)
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(IdempotencyClaim::Taken { request_hash: row.try_get(0)?, job_id: row.try_get(1)? })
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn settle_idempotency_key(&self, workspace_id: i64, key: &str, job_id: Option<&str>) -> StoreResult<()> {
                let q = match job_id {
                    Some(_) => "UPDATE idempotency_keys SET job_id = $3 WHERE workspace_id = $1 AND key = $2",
                    None => "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND $3 IS NULL",
                };
                sqlx::query(q).bind(workspace_id).bind(key).bind(job_id).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn prune_idempotency_keys(&self, before: i64) -> StoreResult<u64> {
                let deleted = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before).execute(&self.pool).await?;
                Ok(deleted.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn claim_outbox(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<OutboxItem>> {
                let rows = bind_all(&outbox::claim(self, now, until, limit)).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(outbox::outbox_item).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn outbox_attempts(&self, channel: &str, target: &str, limit: i64) -> StoreResult<Vec<AttemptRecord>> {
                let rows = sqlx::query(outbox::SELECT_ATTEMPTS)
                    .bind(channel)
                    .bind(target)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(outbox::attempt_record).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_webhook(&self, w: &NewWebhook) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO webhook_endpoints (workspace_id, url, events, description, secret, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(w.workspace_id)
                .bind(&w.url)
                .bind(&w.events)
                .bind(&w.description)
                .bind(&w.secret)
                .bind(w.created_by)
                .bind(w.created_at)
                .fetch_one(&self.pool)
                .await?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn webhooks(&self, workspace_id: i64) -> StoreResult<Vec<WebhookRecord>> {
                let rows = sqlx::query(&format!(
                    "{} WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id DESC",
                    outbox::SELECT_WEBHOOKS
                ))
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(outbox::webhook_record).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn webhook(&self, id: i64) -> StoreResult<Option<WebhookRecord>> {
                let row = sqlx::query(&format!("{} WHERE id = $1 AND deleted_at IS NULL", outbox::SELECT_WEBHOOKS))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(outbox::webhook_record).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn rotate_webhook_secret(&self, workspace_id: i64, id: i64, secret: &str, previous_until: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $3, secret = $4
                     WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
                )
                .bind(id)
                .bind(workspace_id)
                .bind(previous_until)
                .bind(secret)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_webhook(&self, workspace_id: i64, id: i64, now: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE webhook_endpoints SET deleted_at = $3 WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
                )
                .bind(id)
                .bind(workspace_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn login_failures(&self, key: &str, since: i64) -> StoreResult<(i64, Option<i64>)> {
                let row = sqlx::query("SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = $1 AND at > $2")
                    .bind(key)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn add_login_failure(&self, keys: &[&str], at: i64) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for key in keys {
                    sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                        .bind(*key)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn prune_login_failures(&self, before: i64) -> StoreResult<u64> {
                let deleted = sqlx::query("DELETE FROM login_failures WHERE at <= $1").bind(before).execute(&self.pool).await?;
                Ok(deleted.rows_affected())
            }

            fn flavour(&self) -> &'static jobs::Flavour {
                &FLAVOUR
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn execute(&self, query: &query::Query) -> StoreResult<u64> {
                Ok(bind_all(query).execute(&self.pool).await?.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn transition(&self, steps: &[query::Query]) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let mut steps = steps.iter();
                if let Some(fence) = steps.next()
                    && bind_all(fence).execute(&mut *tx).await?.rows_affected() == 0
                {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for step in steps {
                    bind_all(step).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_jobs(&self, query: &query::Query) -> StoreResult<Vec<JobRecord>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(jobs::decode_job).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_i64(&self, query: &query::Query) -> StoreResult<Option<i64>> {
                let row = bind_all(query).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| r.try_get(0)).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_bool(&self, query: &query::Query) -> StoreResult<Option<bool>> {
                let row = bind_all(query).fetch_optional(&self.pool).await?;
                Ok(row.map(|r| r.try_get(0)).transpose()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_texts(&self, query: &query::Query) -> StoreResult<Vec<String>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_events(&self, query: &query::Query) -> StoreResult<Vec<(String, Option<i64>, Option<String>)>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_schedules(&self, query: &query::Query) -> StoreResult<Vec<ScheduleRecord>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(super::schedules::decode).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_runs(&self, query: &query::Query) -> StoreResult<Vec<RunRecord>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(super::schedules::decode_run).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn fetch_destinations(&self, query: &query::Query) -> StoreResult<Vec<DestinationRecord>> {
                let rows = bind_all(query).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(super::destinations::decode).collect::<Result<_, _>>()?)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_job(&self, new: &NewJob, active_limit: i64, alongside: &Alongside) -> StoreResult<Created> {
                let mut tx = self.begin_create(new.workspace_id).await?;
                if let Some(fence) = &alongside.fence
                    && bind_all(fence).execute(&mut *tx).await?.rows_affected() == 0
                {
                    return Ok(Created::Fenced);
                }
                let active: i64 =
                    bind_all(&jobs::count_active(new.workspace_id)).fetch_one(&mut *tx).await?.try_get(0)?;
                if active >= active_limit {
                    return Ok(Created::AtLimit);
                }
                bind_all(&jobs::insert_job(self, new, chrono::Utc::now())).execute(&mut *tx).await?;
                bind_all(&jobs::event(self, new.id, "created", Some(new.user_id), None)).execute(&mut *tx).await?;
                for step in &alongside.then {
                    bind_all(step).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                match jobs::get(self, None, new.id).await? {
                    Some(record) => Ok(Created::Job(Box::new(record))),
                    None => Err(StoreError::NotFound("job")),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn claim_job(
                &self,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<Option<JobRecord>> {
                // The claim and the read of what it claimed in one transaction: if the read
                // fails (a database out of connections, say), the claim is undone, instead of
                // a job held by nobody until its lease runs out.
                let mut tx = self.pool.begin().await?;
                let claimed: Option<String> = sqlx::query_scalar(CLAIM)
                    .bind(jobs::time_text(&lease_until))
                    .bind(worker)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(id) = claimed.and_then(|id| uuid::Uuid::parse_str(&id).ok()) else {
                    return Ok(None);
                };
                let row = bind_all(&jobs::get_query(&FLAVOUR, id)).fetch_optional(&mut *tx).await?;
                let record = row.as_ref().map(jobs::decode_job).transpose()?;
                tx.commit().await?;
                Ok(record)
            }
        }
    };
}

//! Sign-in from the host product (no second password), in the style of Metabase's JWT
//! sign-in. The host signs a short-lived token naming the person, the tenant and the role,
//! and sends the browser to `/auth/jwt?token=…&return_to=…`. Egress checks the signature
//! (HS256 with a shared secret, or RS256 / EdDSA with the host's public key), the expiry
//! and not-before times, the audience (and issuer when set), that the token lives no
//! longer than allowed, and that its id (`jti`) was never used. Then:
//! - the person is the host's (issuer, `sub`): never an existing Egress account found by
//!   email, unless the operator opts in (`--jwt-link-by-email`, and then only an account
//!   no other identity holds);
//! - the workspace is the tenant's (its id is the workspace's tenant key in the source),
//!   and the membership takes the token's role; role `none` says the person left the
//!   tenant or lost access: their membership goes, with their tokens there;
//! - the session reaches only the workspaces hand-offs named (`accounts::member`);
//! - when someone else is signed in in this browser, Egress asks before it switches (a
//!   link planted by another person must not quietly sign the victim in as them).
//!
//! Claims: `sub`, `email`, `name`, `tenant` (`{id, name}`), `role` (`owner`, `admin`,
//! `member` or `none`; default member), `exp`, `nbf`, `iat`, `iss`, `aud`, `jti`.

use super::Role;
use crate::server::AppState;
use crate::server::config::ServeArgs;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use std::time::Duration;

/// How tokens are checked; `None` in `AppState` when JWT sign-in is not set up.
pub struct JwtSettings {
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
    audience: String,
    issuer: Option<String>,
    /// The longest a token may live (from `iat`, or from now, to `exp`).
    max_age: Duration,
    /// `--jwt-link-by-email`: an unknown identity may take over an unlinked account.
    link_by_email: bool,
}

impl JwtSettings {
    /// From `--jwt-secret` or `--jwt-public-key`; `None` when neither is given.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Option<JwtSettings>> {
        let (key, algorithms) = match (&args.jwt_secret, &args.jwt_public_key) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => anyhow::bail!("give --jwt-secret or --jwt-public-key, not both"),
            (Some(secret), None) => {
                anyhow::ensure!(
                    secret.len() >= 32,
                    "--jwt-secret is {} bytes; an HS256 secret needs at least 32",
                    secret.len()
                );
                (DecodingKey::from_secret(secret.as_bytes()), vec![Algorithm::HS256])
            }
            (None, Some(path)) => {
                let pem =
                    std::fs::read(path).map_err(|e| anyhow::anyhow!("--jwt-public-key {}: {e}", path.display()))?;
                if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                    (key, vec![Algorithm::RS256])
                } else if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
                    (key, vec![Algorithm::EdDSA])
                } else {
                    anyhow::bail!(
                        "--jwt-public-key {}: not an RSA or Ed25519 public key in PEM",
                        path.display()
                    )
                }
            }
        };
        Ok(Some(JwtSettings {
            key,
            algorithms,
            audience: args.jwt_audience.clone(),
            issuer: args.jwt_issuer.clone(),
            max_age: Duration::from_secs(args.jwt_max_age_seconds.max(1)),
            link_by_email: args.jwt_link_by_email,
        }))
    }
}

#[derive(Debug, Deserialize)]
struct TenantClaim {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    email: String,
    #[serde(default)]
    name: Option<String>,
    tenant: TenantClaim,
    #[serde(default)]
    role: Option<String>,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    iss: Option<String>,
    jti: String,
}

/// Why a sign-in link was refused, as the page says it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
}

fn refuse(status: u16, title: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        title,
        message: message.into(),
    }
}

const GO_BACK: &str = "Open Egress again from the product you came from to get a fresh link.";

/// What a good sign-in link does.
#[derive(Debug, PartialEq, Eq)]
pub enum HandOff {
    /// Signed in: go to this path.
    SignedIn(String),
    /// Someone else is signed in in this browser: the page asks before switching, and
    /// posts the same link back (`confirmed`).
    Confirm { signed_in_as: String, arriving: String },
    /// The host said the person has no access to the tenant any more (role `none`).
    Ended { tenant: String },
}

/// What the role claim asks for.
enum Wanted {
    Role(Role),
    /// `none`: the person left the tenant or lost access.
    Nothing,
}

/// Checks a token and acts on it. `confirmed` when the person chose to switch on the
/// page `HandOff::Confirm` showed.
pub async fn sign_in(
    state: &AppState,
    session: &tower_sessions::Session,
    token: Option<&str>,
    return_to: Option<&str>,
    confirmed: bool,
) -> Result<HandOff, Refusal> {
    let settings = state
        .jwt
        .as_ref()
        .filter(|_| state.settings.auth.jwt())
        .ok_or_else(|| {
            refuse(
                404,
                "Not set up",
                "Signing in from another product is not set up on this Egress.",
            )
        })?;
    let target = super::ssr::local_path(return_to);
    if let Some(asked) = return_to
        && !asked.is_empty()
        && asked != target
    {
        return Err(refuse(
            400,
            "Not this site",
            "The address to return to is not a page of this Egress, so the sign-in was refused.",
        ));
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(400, "No sign-in token", format!("The link has no token. {GO_BACK}")))?;
    let claims = decode(settings, token)?;
    let bad_claim =
        |claim: &str, what: &str| refuse(400, "Bad token", format!("The sign-in token's `{claim}` {what}."));
    let email = super::ssr::normalise_email(&claims.email);
    if !super::ssr::is_email(&email) {
        return Err(bad_claim("email", "is not an email address"));
    }
    if claims.sub.is_empty() || claims.sub.len() > 200 {
        return Err(bad_claim("sub", "must be 1 to 200 characters"));
    }
    let issuer = claims.iss.as_deref().unwrap_or_default();
    if issuer.len() > 200 {
        return Err(bad_claim("iss", "must be at most 200 characters"));
    }
    if claims.tenant.id.trim().is_empty() || claims.tenant.id.len() > 200 {
        return Err(bad_claim("tenant.id", "must be 1 to 200 characters"));
    }
    // One spelling per tenant (`07` is `7`); Egress's own database reads by workspace, so
    // there any key names one.
    let tenant_key = match state.catalog.canonical_tenant_key(&claims.tenant.id) {
        Ok(key) => key,
        Err(_) if state.source.is_own() => claims.tenant.id.trim().to_owned(),
        Err(why) => {
            return Err(refuse(
                400,
                "Bad token",
                format!("The sign-in token's `tenant.id`: {why}."),
            ));
        }
    };
    let tenant_key = tenant_key.as_str();
    if claims.jti.is_empty() || claims.jti.len() > 200 {
        return Err(bad_claim("jti", "must be 1 to 200 characters"));
    }
    let wanted = match claims.role.as_deref() {
        None => Wanted::Role(Role::Member),
        Some("none") => Wanted::Nothing,
        Some(r) => {
            Wanted::Role(Role::parse(r).ok_or_else(|| bad_claim("role", "must be owner, admin, member or none"))?)
        }
    };
    let internal = |e: crate::store::StoreError| {
        let e = crate::error::AppError::internal(e);
        refuse(500, "Something went wrong", e.message)
    };
    let arriving = state.store.identity_user(issuer, &claims.sub).await.map_err(internal)?;
    // Someone else signed in here: ask first, before the link is used up.
    if matches!(wanted, Wanted::Role(_))
        && !confirmed
        && let Some(current) = super::ssr::signed_in_user(session)
            .await
            .map_err(|e| refuse(500, "Something went wrong", e.message))?
        && arriving != Some(current)
    {
        let signed_in_as = state
            .store
            .user_by_id(current)
            .await
            .map_err(internal)?
            .map_or_else(|| "someone else".to_owned(), |u| u.email);
        return Ok(HandOff::Confirm {
            signed_in_as,
            arriving: email,
        });
    }
    // Single use: the token's id is taken before anything else changes.
    if !state
        .store
        .use_token_id(&claims.jti, claims.exp + 60)
        .await
        .map_err(internal)?
    {
        return Err(refuse(
            401,
            "Link already used",
            format!("This sign-in link was used already. {GO_BACK}"),
        ));
    }
    let tenant_name = claims
        .tenant
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(tenant_key)
        .chars()
        .take(100)
        .collect::<String>();
    let role = match wanted {
        Wanted::Role(role) => role,
        Wanted::Nothing => {
            if let Some(user) = arriving
                && let Some(workspace) = state.store.tenant_workspace(tenant_key).await.map_err(internal)?
            {
                match super::people::ssr::remove(state, workspace, user).await {
                    // Gone already: the host's word is done.
                    Err(e) if e.code == crate::error::ErrorCode::NotFound => {}
                    Err(e) => return Err(refuse(e.code.status(), "Not removed", e.message)),
                    Ok(()) => {}
                }
                tracing::info!(user, workspace, "the host product ended a person's access");
            }
            return Ok(HandOff::Ended { tenant: tenant_name });
        }
    };
    let name = claims
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&email)
        .chars()
        .take(100)
        .collect::<String>();
    let identity = crate::store::NewIdentity {
        issuer,
        subject: &claims.sub,
        email: &email,
        name: &name,
        link_by_email: settings.link_by_email,
        now: chrono::Utc::now().timestamp(),
    };
    let user = match state.store.sign_in_identity(&identity).await {
        Err(crate::store::StoreError::Conflict(_)) => {
            return Err(refuse(
                409,
                "Email in use",
                format!(
                    "An Egress account already has the email {email}, and it is not linked to your sign-in from this product, so Egress does not let this link into it. Ask whoever runs Egress to sort out the accounts."
                ),
            ));
        }
        other => other.map_err(internal)?,
    };
    let workspace = state
        .store
        .upsert_tenant_workspace(tenant_key, &tenant_name)
        .await
        .map_err(internal)?;
    state
        .store
        .add_membership(workspace, user, role.id())
        .await
        .map_err(internal)?;
    super::ssr::hand_off(session, user, workspace)
        .await
        .map_err(|e| refuse(500, "Something went wrong", e.message))?;
    tracing::info!(user, workspace, role = role.id(), "signed in from the host product");
    Ok(HandOff::SignedIn(target))
}

/// The token's claims, checked: signature, algorithm, audience, issuer, expiry,
/// not-before, and how long it may live.
fn decode(settings: &JwtSettings, token: &str) -> Result<Claims, Refusal> {
    let mut validation = Validation::new(settings.algorithms[0]);
    validation.algorithms = settings.algorithms.clone();
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    if let Some(issuer) = &settings.issuer {
        validation.set_issuer(&[issuer]);
    }
    let claims = jsonwebtoken::decode::<Claims>(token, &settings.key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => {
                refuse(401, "Link expired", format!("This sign-in link has expired. {GO_BACK}"))
            }
            ErrorKind::ImmatureSignature => refuse(
                401,
                "Link not valid yet",
                "This sign-in link is not valid yet (its `nbf` time is in the future). Check the clocks of the product and of Egress.",
            ),
            ErrorKind::InvalidAudience => refuse(
                401,
                "Wrong audience",
                "This sign-in link was made for another application.",
            ),
            ErrorKind::InvalidIssuer => refuse(401, "Wrong issuer", "This sign-in link comes from an unknown issuer."),
            ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => refuse(
                400,
                "Incomplete token",
                format!("The sign-in token lacks what Egress needs ({e}): sub, email, tenant.id, exp, aud and jti."),
            ),
            _ => refuse(
                401,
                "Not valid",
                "This sign-in link is not valid: its signature does not check out.",
            ),
        })?
        .claims;
    let now = chrono::Utc::now().timestamp();
    let born = claims.iat.unwrap_or(now).min(now);
    if claims.exp - born > settings.max_age.as_secs() as i64 {
        return Err(refuse(
            401,
            "Link lives too long",
            format!(
                "This sign-in link would be valid for too long; links must expire within {} seconds.",
                settings.max_age.as_secs()
            ),
        ));
    }
    Ok(claims)
}

//! `/v1/admin/*`: the key lifecycle and every monitoring and maintenance
//! question of the original system (issue 5, Operations), one file per
//! resource. Admins only: every handler takes an [`Admin`], whose extraction
//! refuses (and audits as `admin`) anyone else.

pub mod access_logs;
pub mod audit;
pub mod keys;
pub mod maintenance;
pub mod rotations;
pub mod stats;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit::{AccessType, ClientInfo};
use crate::authorize::Attempt;
use crate::domain::{AuthenticatedUser, KeyId};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The caller of an admin route, checked. Extracting it refuses anyone
/// who is not an admin with `admin_only` and audits the refusal, so an admin
/// handler cannot forget the check. Take it as the *last* parameter: the
/// request's own extractors (query, path) answer their 400s first, as
/// before, and only then is the caller's role checked.
pub struct Admin {
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    client: ClientInfo,
}

impl Admin {
    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The admin.
    pub fn user(&self) -> &AuthenticatedUser {
        &self.user
    }

    /// The admin's client.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    /// The admin's audited attempt.
    fn attempt(&self) -> Attempt<'_> {
        let client = self.client.clone();
        Attempt::for_client(&self.state, &self.user, client, AccessType::Admin, None)
    }

    /// Audits an admin action that changed something (see
    /// [`Attempt::record_action`]).
    pub async fn record_action(&self, key_id: Option<KeyId>) {
        self.attempt().record_action(key_id).await;
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let user = req.extensions().get::<AuthenticatedUser>().cloned();
        let client = ClientInfo::from_request(req);
        Box::pin(async move {
            // The `/v1` scope's token middleware put the user there.
            let (Some(state), Some(user)) = (state, user) else {
                return Err(ApiError::internal(
                    "admin route outside the authenticated scope",
                ));
            };
            let admin = Self {
                state,
                user,
                client,
            };
            admin.attempt().require_admin().await?;
            Ok(admin)
        })
    }
}

fn invalid_query(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery).message(message)
}

fn check_status(value: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(s) if !allowed.contains(&s) => Err(invalid_query(format!(
            "status must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Filter by status.
#[derive(Deserialize, IntoParams)]
pub struct StatusQuery {
    /// Only entries in this status.
    pub status: Option<String>,
}

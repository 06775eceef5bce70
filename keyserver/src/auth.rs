//! Bearer-token authentication for every `/v1` route, as middleware on the
//! whole scope: a route added later is protected without opting in.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use sha2::{Digest, Sha256};

use crate::domain::{ApiToken, AuthenticatedUser, Role};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::users::{self, TokenState};

/// In a refused request's extensions: the user whose expired or revoked
/// token was presented, for the audit row (`request_audit`).
#[derive(Clone, Copy, Debug)]
pub struct TokenOwner(pub i32);

/// The bearer credential of `req`, as sent.
fn bearer_value(req: &HttpRequest) -> Result<&str, ErrorCode> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ErrorCode::MissingToken)?;
    let value = value.to_str().map_err(|_| ErrorCode::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ErrorCode::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ErrorCode::MissingToken);
    }
    Ok(token.trim())
}

fn bearer(req: &HttpRequest) -> Result<ApiToken, ErrorCode> {
    ApiToken::parse(bearer_value(req)?).ok_or(ErrorCode::InvalidToken)
}

/// Middleware: resolves the bearer token or answers 401; handlers read the
/// caller as `web::ReqData<AuthenticatedUser>`. A refusal is answered here
/// as a response (not an error), so the middlewares around it (the audit,
/// the security headers) see it like any other answer.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match caller(req.request()).await {
        Ok(user) => {
            tracing::Span::current().record("user_id", user.id);
            req.extensions_mut().insert(user);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

/// The user `req`'s bearer token belongs to.
pub async fn caller(req: &HttpRequest) -> Result<AuthenticatedUser, ApiError> {
    let token = bearer(req).map_err(ApiError::new)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(ErrorCode::DatabaseUnavailable).message("no state"))?;
    let state = users::authenticate(&state.hot, &token).await.map_err(|e| {
        ApiError::new(ErrorCode::DatabaseUnavailable)
            .message("authentication is temporarily unavailable")
            .caused_by(e)
    })?;
    let (code, owner) = match state {
        TokenState::Valid(user) => return Ok(user),
        TokenState::Unknown => return Err(ApiError::new(ErrorCode::InvalidToken)),
        TokenState::Expired(owner) => (ErrorCode::TokenExpired, owner),
        TokenState::Revoked(owner) => (ErrorCode::TokenRevoked, owner),
    };
    req.extensions_mut().insert(TokenOwner(owner));
    Err(ApiError::new(code))
}

/// Who may read `GET /metrics` unless `metrics_public`: the holder of the
/// configured `metrics_token` (a scraper), or an admin's API token.
pub async fn require_metrics_reader(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let sent = bearer_value(req).map_err(ApiError::new)?;
    if let Some(expected) = &state.settings.metrics_token {
        // Compared as digests: equal-length, no early exit on the secret.
        if Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.expose().as_bytes()) {
            return Ok(());
        }
    }
    let user = caller(req).await?;
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::AdminOnly)
            .message("/metrics needs the metrics token or an admin's token"))
    }
}

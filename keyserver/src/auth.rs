//! Bearer-token authentication for every `/v1` route, as middleware on the
//! whole scope: a route added later is protected without opting in.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::domain::{ApiToken, AuthenticatedUser};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::users;

fn bearer(req: &ServiceRequest) -> Result<ApiToken, ErrorCode> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ErrorCode::MissingToken)?;
    let value = value.to_str().map_err(|_| ErrorCode::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ErrorCode::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ErrorCode::MissingToken);
    }
    ApiToken::parse(token.trim()).ok_or(ErrorCode::InvalidToken)
}

/// Middleware: resolves the bearer token or answers 401; handlers read the
/// caller as `web::ReqData<AuthenticatedUser>`. A refusal is answered here
/// as a response (not an error), so the middlewares around it (the audit,
/// the security headers) see it like any other answer.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match caller(&req).await {
        Ok(user) => {
            tracing::Span::current().record("user_id", user.id);
            req.extensions_mut().insert(user);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

async fn caller(req: &ServiceRequest) -> Result<AuthenticatedUser, ApiError> {
    let token = bearer(req).map_err(ApiError::new)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(ErrorCode::DatabaseUnavailable).message("no state"))?;
    users::authenticate(&state.hot, &token)
        .await
        .map_err(|e| {
            ApiError::new(ErrorCode::DatabaseUnavailable)
                .message("authentication is temporarily unavailable")
                .caused_by(e)
        })?
        .ok_or(ApiError::new(ErrorCode::InvalidToken))
}

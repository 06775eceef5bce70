//! Bearer-token authentication for every `/v1` route, as middleware on the
//! whole scope: a route added later is protected without opting in.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::domain::ApiToken;
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
/// caller as `web::ReqData<AuthenticatedUser>`.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = bearer(&req).map_err(ApiError::new)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no state"))?
        .clone();
    let user = users::authenticate(&state.hot, &token)
        .await
        .map_err(|e| {
            ApiError::new(ErrorCode::DatabaseUnavailable)
                .message("authentication is temporarily unavailable")
                .caused_by(e)
        })?
        .ok_or(ApiError::new(ErrorCode::InvalidToken))?;
    tracing::Span::current().record("user_id", user.id);
    req.extensions_mut().insert(user);
    next.call(req).await
}

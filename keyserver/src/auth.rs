//! Bearer-token authentication for every `/v1` route, as middleware on the
//! whole scope: a route added later is protected without opting in.

use crate::pipeline::Pipelined;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::db::DbError;
use crate::domain::{ApiToken, AuthenticatedUser, Role};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The SQL that resolves a token hash to its user.
pub const TOKEN_SQL: &str = "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL";

/// Looks up the user a token belongs to.
pub async fn authenticate(
    db: &Pipelined,
    token: &ApiToken,
) -> Result<Option<AuthenticatedUser>, DbError> {
    let client = db.conn().await?;
    let stmt = client.prepare_cached(TOKEN_SQL).await?;
    let row = client.query_opt(&stmt, &[&token.hash()]).await?;
    Ok(row.and_then(|r| {
        let role: String = r.get(2);
        Some(AuthenticatedUser {
            id: r.get(0),
            name: r.get(1),
            role: Role::parse(&role)?,
        })
    }))
}

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
    let user = authenticate(&state.hot, &token)
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

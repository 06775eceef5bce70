//! Bearer-token authentication for every `/v1` route, as middleware on the
//! whole scope: a route added later is protected without opting in.

use crate::pipeline::Pipelined;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};

use crate::db::DbError;
use crate::domain::{ApiToken, AuthenticatedUser, Role};
use crate::error::json_error;
use crate::state::AppState;

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("this API needs an `Authorization: Bearer <token>` header")]
    MissingToken,
    /// Unknown, revoked or malformed token.
    #[error("the API token is invalid or revoked")]
    InvalidToken,
    /// The database could not be asked.
    #[error("authentication is temporarily unavailable")]
    Unavailable(#[source] DbError),
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "token lookup failed");
                "database_unavailable"
            }
        };
        let mut resp = json_error(self.status_code(), code, self.to_string());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

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

fn bearer(req: &ServiceRequest) -> Result<ApiToken, AuthError> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?;
    let value = value.to_str().map_err(|_| AuthError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    ApiToken::parse(token.trim()).ok_or(AuthError::InvalidToken)
}

/// Middleware: resolves the bearer token or answers 401; handlers read the
/// caller as `web::ReqData<AuthenticatedUser>`.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = bearer(&req)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no state"))?
        .clone();
    let user = authenticate(&state.hot, &token)
        .await
        .map_err(AuthError::Unavailable)?
        .ok_or(AuthError::InvalidToken)?;
    tracing::Span::current().record("user_id", user.id);
    req.extensions_mut().insert(user);
    next.call(req).await
}

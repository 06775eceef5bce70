//! The JSON error body every route answers with:
//! `{"error": {"code": "<stable_snake_case>", "message": "<one sentence>"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The error envelope.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable machine code and a human sentence.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code clients branch on.
    pub code: &'static str,
    /// One sentence for humans; never internals on a 5xx.
    pub message: String,
}

/// Builds the JSON error response.
pub fn json_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorDetail {
            code,
            message: message.into(),
        },
    })
}

/// Errors of the plumbing shared by all routes (bad JSON, unknown route).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not the JSON the route expects.
    #[error("the request body is not valid JSON for this route: {0}")]
    InvalidJson(String),
    /// The query string does not parse.
    #[error("the query string is invalid: {0}")]
    InvalidQuery(String),
    /// No such route.
    #[error("no such API route")]
    NotFound,
}

impl ResponseError for RequestError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidQuery(_) => "invalid_query",
            Self::NotFound => "not_found",
        };
        json_error(self.status_code(), code, self.to_string())
    }
}

/// The 5xx every unexpected failure becomes: logs the cause, shows nothing of it.
pub fn internal(context: &str, err: &dyn std::error::Error) -> HttpResponse {
    tracing::error!(error = %err, "{context}");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the key server hit an internal error",
    )
}

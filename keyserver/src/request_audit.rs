//! Middleware on the whole `/v1` scope: every refusal that no route audited
//! (401s before the caller is known, 400s of bad input before a document is
//! looked up, unknown routes) and every successful read of protected data
//! (document lists, access histories, grants, admin queries) gets its audit
//! row, with the user when known, the IP and the user agent. Routes that
//! audit themselves are left alone: their refusals carry
//! [`Refusal::audited`], their successful reads the [`Audited`] marker
//! (downloads), and every other success is a `POST`/`PUT`/`DELETE` that
//! wrote its row in the statement that made the change.
//!
//! These rows are best effort: a failure to write one is logged, and the
//! answer is the same.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::audit::{AccessType, ClientInfo, Entry};
use crate::auth::TokenOwner;
use crate::domain::{AuthenticatedUser, DocumentId};
use crate::error::{ApiError, Refusal};
use crate::state::AppState;
use crate::store::access_logs;

/// Put in a successful response's extensions by a route that wrote the
/// read's audit row itself.
#[derive(Clone, Copy, Debug)]
pub struct Audited;

/// What the request was about, from its method and path.
fn access_type(method: &Method, path: &str, status: StatusCode) -> AccessType {
    let rest = path.strip_prefix("/v1/").unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        _ if status == StatusCode::UNAUTHORIZED => AccessType::Auth,
        (_, ["admin", ..]) => AccessType::Admin,
        (&Method::POST, ["documents"]) => AccessType::Encrypt,
        (_, ["documents", _, "unwrap"]) => AccessType::Decrypt,
        (_, ["documents", _, "rewrap"]) => AccessType::Rewrap,
        (&Method::PUT, ["documents", _, "content"]) => AccessType::Upload,
        (&Method::GET, ["documents", _, "content"]) => AccessType::Download,
        (&Method::GET, ["documents", ..]) => AccessType::Read,
        (_, ["documents", _, "grants", ..]) => AccessType::Share,
        _ => AccessType::Request,
    }
}

/// The document a `/v1/documents/{id}/…` path names, if it is a valid id.
fn document(path: &str) -> Option<String> {
    let id = path.strip_prefix("/v1/documents/")?.split('/').next()?;
    DocumentId::parse(id).ok().map(|d| d.to_string())
}

/// The middleware (see the module comment).
pub async fn audit_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let client = ClientInfo::from_request(req.request());
    let method = req.method().clone();
    let path = req.path().to_owned();
    let result = next.call(req).await;
    let Some(state) = state else {
        return result;
    };
    // What to record: (status, refusal code) or a read.
    let (status, refusal, user, marked) = match &result {
        Ok(res) => {
            let refusal = res.response().extensions().get::<Refusal>().copied();
            let extensions = res.request().extensions();
            // The caller, or for a refused expired / revoked token its owner.
            let user = extensions
                .get::<AuthenticatedUser>()
                .map(|u| u.id)
                .or_else(|| extensions.get::<TokenOwner>().map(|o| o.0));
            drop(extensions);
            let marked = res.response().extensions().get::<Audited>().is_some();
            (res.status(), refusal, user, marked)
        }
        Err(e) => {
            let refusal = e.as_error::<ApiError>().map(ApiError::refusal);
            (e.as_response_error().status_code(), refusal, None, false)
        }
    };
    let record = if status.is_client_error() {
        match refusal {
            Some(r) if r.audited => None,
            Some(r) => Some(("refused", r.code.as_str().to_owned())),
            None => Some(("refused", format!("http_{}", status.as_u16()))),
        }
    } else if status.is_success() && method == Method::GET && !marked {
        Some(("allowed", format!("GET {path}").chars().take(200).collect()))
    } else {
        None
    };
    if let Some((outcome, reason)) = record {
        let document = document(&path);
        let entry = Entry {
            document_id: document.as_deref(),
            access_type: access_type(&method, &path, status),
            user_id: user,
            client: &client,
            key_id: None,
            refusal: None,
            seal: state.audit_seal(),
        };
        if let Err(e) = access_logs::insert_with(&state.hot, &entry, outcome, Some(&reason)).await {
            tracing::error!(error = %e, %path, "could not audit a request");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_types_follow_the_routes() {
        let ok = StatusCode::OK;
        let t = |m: Method, p: &str| access_type(&m, p, ok).as_str();
        assert_eq!(t(Method::GET, "/v1/documents"), "read");
        assert_eq!(t(Method::GET, "/v1/documents/x/access"), "read");
        assert_eq!(t(Method::GET, "/v1/documents/x/grants"), "read");
        assert_eq!(t(Method::POST, "/v1/documents/x/grants"), "share");
        assert_eq!(t(Method::POST, "/v1/documents/x/unwrap"), "decrypt");
        assert_eq!(t(Method::GET, "/v1/admin/stats"), "admin");
        assert_eq!(t(Method::GET, "/v1/keys/3"), "request");
        assert_eq!(
            access_type(
                &Method::POST,
                "/v1/documents/x/unwrap",
                StatusCode::UNAUTHORIZED
            )
            .as_str(),
            "auth"
        );
    }
}

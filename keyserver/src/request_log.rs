//! The request log's span (tracing-actix-web): the fields of its default
//! root span, except that `http.client_ip` is the client address the audit
//! row records (`client_address`: the peer, or what a trusted proxy says),
//! not whatever `X-Forwarded-For` a caller sent, and `http.host` /
//! `http.scheme` come from forwarding headers only through a trusted proxy.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// The root span builder the server's `TracingLogger` uses.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let req = request.request();
        let client = crate::client_address::of(req);
        let (scheme, host) = if crate::client_address::via_trusted_proxy(req) {
            let info = req.connection_info();
            (info.scheme().to_owned(), info.host().to_owned())
        } else {
            let host = req
                .headers()
                .get(actix_web::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ("http".to_owned(), host)
        };
        let method = request.method().as_str();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %scheme,
            http.host = %host,
            http.client_ip = %client.map(|ip| ip.to_string()).unwrap_or_default(),
            http.user_agent = %user_agent,
            http.target = %req.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id.map(|r| r.to_string()).unwrap_or_default(),
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            // Recorded by the token check.
            user_id = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

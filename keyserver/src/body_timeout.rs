//! A stalled request body ends the request: actix-web bounds the time to
//! send a request's head (`header_read_timeout_secs`) but not its body, so a
//! client that sends a few bytes and stops would hold a worker's connection
//! (and a stored-content upload's temporary file) for ever. The middleware
//! wraps every body in an idle timer of `body_read_timeout_secs`: when no
//! byte arrives for that long the body fails with [`is_timeout`]'s error,
//! which the extractors and the upload route answer `408 body_timeout`, and
//! the connection is closed (its unread body cannot be skipped).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use futures_util::Stream;

use crate::state::AppState;

/// The error a stalled body ends with.
const STALLED: &str = "request body stalled";

/// Whether `e` is a stalled-body timeout (from this middleware).
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut && io.to_string() == STALLED)
}

/// Middleware: puts every request body with content behind the idle timer.
pub async fn limit_stalls(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let has_body = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() != b"0")
        && (req
            .headers()
            .contains_key(actix_web::http::header::CONTENT_LENGTH)
            || req
                .headers()
                .contains_key(actix_web::http::header::TRANSFER_ENCODING)
            || req.version() >= actix_web::http::Version::HTTP_2);
    let limit = req
        .app_data::<Data<AppState>>()
        .map(|s| Duration::from_secs(s.settings.body_read_timeout_secs.max(1)));
    if let (true, Some(limit)) = (has_body, limit) {
        let inner = req.take_payload();
        let idle: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Idle {
            inner,
            timer: Box::pin(tokio::time::sleep(limit)),
            limit,
            done: false,
        });
        req.set_payload(Payload::from(idle));
    }
    next.call(req).await
}

/// `inner`, failing when nothing arrives for `limit`.
struct Idle {
    inner: Payload,
    timer: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    done: bool,
}

impl Stream for Idle {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let next = tokio::time::Instant::now() + this.limit;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.done = true;
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        STALLED,
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

//! Rate limits on the API (`/v1`): per client address and per presented
//! token, GCRA buckets (governor) refilled at `rate_limit_per_*` requests a
//! second with bursts of `rate_limit_*_burst`. Over the limit a request is
//! answered `429 rate_limited` with `Retry-After` (whole seconds, rounded
//! up), before the token is even looked up, and audited like any refusal.
//!
//! The buckets live in each server process: N processes behind a load
//! balancer allow up to N times the configured rates. The address is the
//! one `client_address` resolves (a trusted proxy's `Forwarded` /
//! `X-Forwarded-For`, else the peer); IPv6 clients are bucketed by /64, the
//! smallest block one subscriber usually gets. The token bucket is keyed by
//! a SHA-256 of the presented credential, so unknown tokens are limited too
//! and no token is kept in memory. Buckets idle long enough to be full again
//! are dropped every minute, so memory follows the active clients.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::configuration::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The process's buckets.
#[derive(Clone, Default)]
pub struct RateLimits {
    by_address: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    by_token: Option<Arc<DefaultKeyedRateLimiter<[u8; 32]>>>,
}

fn quota(per_sec: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_sec)?;
    Some(Quota::per_second(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
}

impl RateLimits {
    /// The limits `settings` ask for (a rate of 0 turns one off).
    pub fn new(settings: &Settings) -> Self {
        Self {
            by_address: quota(
                settings.rate_limit_per_address,
                settings.rate_limit_address_burst,
            )
            .map(|q| Arc::new(RateLimiter::keyed(q))),
            by_token: quota(
                settings.rate_limit_per_token,
                settings.rate_limit_token_burst,
            )
            .map(|q| Arc::new(RateLimiter::keyed(q))),
        }
    }

    /// How long `address` (and the `credential` it presents, if any) must
    /// wait, or `None` if the request may go ahead. The address bucket is
    /// checked (and charged) first.
    fn wait(&self, address: IpAddr, credential: Option<&[u8]>) -> Option<Duration> {
        let clock = DefaultClock::default();
        if let Some(limiter) = &self.by_address
            && let Err(not_until) = limiter.check_key(&bucket_of(address))
        {
            return Some(not_until.wait_time_from(clock.now()));
        }
        if let (Some(limiter), Some(credential)) = (&self.by_token, credential) {
            let key: [u8; 32] = Sha256::digest(credential).into();
            if let Err(not_until) = limiter.check_key(&key) {
                return Some(not_until.wait_time_from(clock.now()));
            }
        }
        None
    }

    /// Drops full (idle) buckets.
    fn forget_idle(&self) {
        if let Some(l) = &self.by_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.by_token {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Drops idle buckets every minute, for as long as the process runs.
    pub fn spawn_janitor(&self) {
        if self.by_address.is_none() && self.by_token.is_none() {
            return;
        }
        let limits = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                limits.forget_idle();
            }
        });
    }
}

/// The bucket an address counts against: itself, or its /64 for IPv6.
fn bucket_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

/// Middleware on `/v1`: answers 429 when the caller is over a limit.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let wait = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let address = crate::client_address::of(req.request())?;
        let credential = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
        state.rate_limits.wait(address, credential)
    });
    let Some(wait) = wait else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let err = ApiError::new(ErrorCode::RateLimited).message(format!(
        "{} Retry in {seconds} s.",
        ErrorCode::RateLimited.default_message()
    ));
    let mut resp = err.error_response();
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    Ok(req.into_response(resp).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_of(a), bucket_of(b));
        assert_ne!(bucket_of(a), bucket_of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(bucket_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let limits = RateLimits {
            by_address: quota(1, 3).map(|q| Arc::new(RateLimiter::keyed(q))),
            by_token: quota(100, 100).map(|q| Arc::new(RateLimiter::keyed(q))),
        };
        let me: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.wait(me, None), None);
        }
        let wait = limits.wait(me, None).expect("over the burst");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(
            limits.wait("192.0.2.2".parse().unwrap(), None),
            None,
            "others have their own bucket"
        );
    }
}

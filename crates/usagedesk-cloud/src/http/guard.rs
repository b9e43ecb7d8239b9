//! What every request passes before its handler: the rate limits of unauthenticated callers
//! in this process ([`rate_limit`]), then the concurrency limit and the body and request
//! deadlines ([`admit`]), then the same rate limits in the database when the engine shares
//! them between processes ([`shared_rate_limit`]).

use std::future::Future as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONNECTION};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use usagedesk_domain::api::ErrorCode;

use super::error::ApiError;
use super::rate::{retry_after_secs, Denied, RateLimiter};
use super::AppState;
use crate::limits::{Limits, RateLimit, MAX_RATE_KEYS};
use crate::storage::Budget;

/// The limiters shared by every request of one server.
pub struct Guards {
    in_flight: Semaphore,
    per_address: RateLimiter<IpAddr>,
    per_instance: RateLimiter<String>,
}

impl Guards {
    pub fn new(limits: &Limits) -> Self {
        Self {
            in_flight: Semaphore::new(limits.max_in_flight.max(1)),
            per_address: RateLimiter::new(limits.per_address, MAX_RATE_KEYS),
            per_instance: RateLimiter::new(limits.per_instance, MAX_RATE_KEYS),
        }
    }
}

/// The longest instance id a rate-limit key keeps (ids are shorter; longer ones are cut).
const MAX_INSTANCE_KEY: usize = 128;

/// The instance of `/api/v1/instances/{id}/…`, percent-decoded as its handler sees it (else
/// `inst%2D1` would be a budget of its own beside `inst-1`).
fn instance_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/v1/instances/")?;
    let raw = rest.split('/').next().filter(|id| !id.is_empty())?;
    let id = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    Some(id.chars().take(MAX_INSTANCE_KEY).collect())
}

/// Who is asking: the connection's peer, or the last `X-Forwarded-For` entry when the peer
/// is a trusted proxy. IPv6 clients are counted by their /64 network (one host has many).
pub fn client_addr(req: &Request, limits: &Limits) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let peer = canonical(peer);
    let client = if limits.trusted_proxies.contains(&peer) {
        req.headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .map_or(peer, canonical)
    } else {
        peer
    };
    match client {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn too_many(denied: Denied, whose: &str) -> Response {
    let secs = retry_after_secs(denied.retry_after);
    let message = if denied.crowded {
        format!("the service is answering very many clients at once; try again in {secs} s")
    } else {
        format!(
            "too many requests {whose}; try again in {secs} s (the Retry-After header says when)"
        )
    };
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        message,
    );
    e.retry_after = Some(denied.retry_after);
    e.into_response()
}

/// Rate limits by client address and instance, before any token is looked at:
/// - `/api/v1/instances/{id}/…` (no token): the address's and the instance's budget;
/// - a request with a token: refused while its address is over budget; a failed
///   authentication (401) spends from the budget;
/// - any other request without a token: the address's budget.
///
/// This process's budgets are checked here, before the concurrency limit, so a flood is
/// refused without taking a slot. When the engine shares budgets with other processes on
/// its database ([`crate::storage::Rates`]), the same budgets are then asked of the
/// database by [`shared_rate_limit`], inside the concurrency limit: at most as many
/// requests wait on the database as may run at once.
pub async fn rate_limit(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let now = Instant::now();
    let addr = client_addr(&req, &s.limits);
    let per_address = (format!("address {addr}"), s.limits.per_address);
    if let Some(instance) = instance_of(req.uri().path()) {
        if let Err(d) = s.guards.per_address.check(&addr, now) {
            return too_many(d, "from this address");
        }
        if let Err(d) = s.guards.per_instance.check(&instance, now) {
            return too_many(d, "for this instance");
        }
        let per_instance = (format!("instance {instance}"), s.limits.per_instance);
        req.extensions_mut().insert(SharedBudgets {
            keys: vec![per_address, per_instance],
            how: Use::Spend,
        });
        return next.run(req).await;
    }
    if req.headers().contains_key(AUTHORIZATION) {
        if let Err(d) = s.guards.per_address.would_allow(&addr, now) {
            return too_many(d, "with failed sign-ins from this address");
        }
        req.extensions_mut().insert(SharedBudgets {
            keys: vec![per_address],
            how: Use::PeekThenSpendOn401,
        });
        let resp = next.run(req).await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            // Spent after the fact; being over budget only shows on the next request.
            let _ = s.guards.per_address.check(&addr, Instant::now());
        }
        return resp;
    }
    if let Err(d) = s.guards.per_address.check(&addr, now) {
        return too_many(d, "from this address");
    }
    req.extensions_mut().insert(SharedBudgets {
        keys: vec![per_address],
        how: Use::Spend,
    });
    next.run(req).await
}

/// The budgets [`rate_limit`] found open in this process, for [`shared_rate_limit`] to ask
/// of the database: each a key and its limit.
#[derive(Clone)]
struct SharedBudgets {
    keys: Vec<(String, RateLimit)>,
    how: Use,
}

/// The budgets of [`rate_limit`] as kept in the database, for engines that share them
/// between processes: refused as there, or passed. Runs inside the concurrency limit.
pub async fn shared_rate_limit(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(budgets) = req.extensions().get::<SharedBudgets>().cloned() else {
        return next.run(req).await;
    };
    if s.storage.shared_budgets().is_none() {
        return next.run(req).await;
    }
    match budgets.how {
        Use::Spend | Use::Peek => {
            if let Some(refused) = shared(&s, budgets.keys, budgets.how).await {
                return refused;
            }
            next.run(req).await
        }
        Use::PeekThenSpendOn401 => {
            if let Some(refused) = shared(&s, budgets.keys.clone(), Use::Peek).await {
                return refused;
            }
            let resp = next.run(req).await;
            if resp.status() == StatusCode::UNAUTHORIZED {
                let _ = shared(&s, budgets.keys, Use::Spend).await;
            }
            resp
        }
    }
}

/// How long a request waits for the shared budgets at most.
const SHARED_BUDGET_WAIT: Duration = Duration::from_millis(250);

#[derive(Clone, Copy)]
enum Use {
    Spend,
    Peek,
    /// A request with a token: peeked before, spent after a failed authentication.
    PeekThenSpendOn401,
}

/// The shared budgets' answer for `keys` (each a key and its limit), in order: the refusal
/// of the first key over its budget, or `None`. Engines that share none answer `None` at
/// once. A database that cannot answer does not refuse the request (its handler will meet
/// the same database); that is logged.
async fn shared(s: &AppState, keys: Vec<(String, RateLimit)>, how: Use) -> Option<Response> {
    s.storage.shared_budgets()?;
    let storage = s.storage.clone();
    let ask = tokio::task::spawn_blocking(move || {
        let budgets = storage.shared_budgets()?;
        for (key, limit) in &keys {
            let budget = match how {
                Use::Spend => budgets.spend(key, limit),
                Use::Peek | Use::PeekThenSpendOn401 => budgets.peek(key, limit),
            };
            match budget {
                Ok(Budget::Allowed) => {}
                Ok(Budget::Denied(retry_after)) => return Some(Ok((key.clone(), retry_after))),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    });
    // A database slower than this does not hold the request up: it is judged by this
    // process's budgets alone, as when the database cannot answer.
    let answer = match tokio::time::timeout(SHARED_BUDGET_WAIT, ask).await {
        Ok(joined) => joined.ok()??,
        Err(_) => {
            tracing::warn!("the shared rate budgets did not answer within {} ms; this process's own budgets stand alone", SHARED_BUDGET_WAIT.as_millis());
            return None;
        }
    };
    match answer {
        Ok((key, retry_after)) => {
            let whose = if key.starts_with("instance ") {
                "for this instance"
            } else {
                "from this address"
            };
            Some(too_many(
                Denied {
                    retry_after,
                    crowded: false,
                },
                whose,
            ))
        }
        Err(e) => {
            tracing::warn!("the shared rate budgets could not be read ({e}); this process's own budgets stand alone");
            None
        }
    }
}

/// How a request's body is doing, shared between the body and [`admit`].
#[derive(Default)]
struct BodyWatch {
    finished: AtomicBool,
    timed_out: AtomicBool,
}

/// The request body, failing once its deadline passes before it is complete.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    watch: Arc<BodyWatch>,
}

/// The error a body gives when it did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.watch.timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.watch.finished.store(true, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                if this.inner.is_end_stream() {
                    this.watch.finished.store(true, Ordering::Relaxed);
                }
                Poll::Ready(Some(frame))
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.watch.timed_out.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn body_too_slow(limits: &Limits) -> Response {
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        format!(
            "the request body did not arrive within {} s; check the connection and send the \
             request again",
            limits.body_timeout.as_secs()
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn busy(message: String, after: Duration) -> Response {
    let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Busy, message);
    e.retry_after = Some(after);
    e.into_response()
}

/// The concurrency limit (503 with `Retry-After` when full) and the deadlines: the body
/// must arrive within `body_timeout` of the headers (408), the answer within
/// `request_timeout` (408 while the body is still arriving, else 503).
pub async fn admit(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(_slot) = s.guards.in_flight.try_acquire() else {
        return busy(
            "the service is answering as many requests as it can; try again in a second".into(),
            Duration::from_secs(1),
        );
    };
    let limits = &s.limits;
    let (parts, body) = req.into_parts();
    let watch = Arc::new(BodyWatch::default());
    if body.is_end_stream() {
        watch.finished.store(true, Ordering::Relaxed);
    }
    let body = DeadlineBody {
        inner: body,
        deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
        watch: watch.clone(),
    };
    let req = Request::from_parts(parts, Body::new(body));
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(_) if watch.timed_out.load(Ordering::Relaxed) => body_too_slow(limits),
        Ok(resp) => resp,
        Err(_) if !watch.finished.load(Ordering::Relaxed) => body_too_slow(limits),
        Err(_) => {
            tracing::warn!(
                "a request took longer than {} s and was cut off",
                limits.request_timeout.as_secs()
            );
            busy(
                format!(
                    "the service could not answer within {} s; try again later",
                    limits.request_timeout.as_secs()
                ),
                Duration::from_secs(5),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_paths_name_their_instance() {
        let of = |p: &str| instance_of(p);
        assert_eq!(
            of("/api/v1/instances/inst-1/sync-key").as_deref(),
            Some("inst-1")
        );
        assert_eq!(of("/api/v1/instances/inst-1").as_deref(), Some("inst-1"));
        assert_eq!(
            of("/api/v1/instances/inst%2D1/check-in").as_deref(),
            Some("inst-1"),
            "an escaped id spends the budget of the id its handler sees"
        );
        assert_eq!(of("/api/v1/instances/"), None);
        assert_eq!(of("/api/v1/changes"), None);
        let long = format!("/api/v1/instances/{}/check-in", "x".repeat(1000));
        assert_eq!(of(&long).map(|k| k.len()), Some(MAX_INSTANCE_KEY));
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut req = Request::new(Body::empty());
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        if let Some(f) = forwarded {
            req.headers_mut()
                .insert("x-forwarded-for", HeaderValue::from_str(f).unwrap());
        }
        req
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let mut limits = Limits::default();
        let spoofed = request("203.0.113.9:5000", Some("198.51.100.1"));
        assert_eq!(
            client_addr(&spoofed, &limits),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "an untrusted peer cannot choose its address"
        );
        limits.trusted_proxies = vec!["10.0.0.1".parse().unwrap()];
        let proxied = request("10.0.0.1:5000", Some("198.51.100.7, 198.51.100.1"));
        assert_eq!(
            client_addr(&proxied, &limits),
            "198.51.100.1".parse::<IpAddr>().unwrap(),
            "the entry the proxy itself added (the last) names the client"
        );
        let v6 = request("[2001:db8:1:2:3:4:5:6]:5000", None);
        assert_eq!(
            client_addr(&v6, &limits),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap(),
            "IPv6 clients count by /64"
        );
        let mapped = request("[::ffff:192.0.2.1]:5000", None);
        assert_eq!(
            client_addr(&mapped, &limits),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}

//! The accept loop: serves a [`Router`] over HTTP/1.1 on a listener, holding every connection
//! to the [`Limits`] that `axum::serve` cannot set, until a shutdown signal.
//!
//! - **Connections**: at most [`Limits::max_connections`] at once. When all are taken the
//!   loop stops accepting: new connections wait in the kernel's listen backlog, unanswered,
//!   and are served in order as others close (the timeouts below close the ones that hold a
//!   slot for nothing). Waiting rather than refusing keeps a client's request correct if late
//!   and holds no descriptor or memory for it in this process.
//! - **Head**: a connection must deliver a complete request head within
//!   [`Limits::header_timeout`] of opening, or, once kept alive, of the first byte of its next
//!   request; otherwise it is closed without an answer. hyper's read buffer is capped at
//!   [`Limits::read_buffer_bytes`], so a head too large for it is refused (431) once that much
//!   has arrived, and its header count at [`Limits::parser_max_headers`].
//! - **Idle**: a kept-alive connection that receives nothing for [`Limits::idle_timeout`] after
//!   its last answer is closed. hyper's own `header_read_timeout` is off: it would also close a
//!   kept-alive connection that is merely idle, at the head's shorter timeout.
//! - **Body**: per request, in the router ([`crate::limits::enforce`]).
//! - **Answers**: an answer counts as given once hyper has taken its whole body (every answer
//!   of this API is one frame), so a client that does not read what it asked for leaves an
//!   idle connection whose last answer is unwritten: it is closed at the idle timeout, and
//!   cut off if it has not taken the answer within the head's timeout after that.
//!
//! On shutdown the loop stops accepting, idle connections close, and requests in flight are
//! answered (their connections then close) before [`serve`] returns; the timeouts still apply,
//! so a stalled client cannot hold the shutdown.

use crate::limits::Limits;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::Service as _;

/// How long the loop pauses after an accept error that is not the client's (out of
/// descriptors, out of memory) before it tries again, so it does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` under `limits` until `shutdown` resolves, then lets the open
/// connections finish (see the module's documentation) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(limits.read_buffer_bytes())
        .max_headers(Limits::parser_max_headers())
        .keep_alive(true);
    let http = Arc::new(http);
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX).max(1);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut full_since: Option<Instant> = None;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Said once per minute at most: a flood of connections must not flood the log.
                if full_since.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = max,
                        "connection limit reached; new connections wait until one closes"
                    );
                    full_since = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_the_client_s(&e) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
        };
        // Answers are small and written whole: send them at once.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(stream, app.clone(), Arc::clone(&http), limits, stopped.clone(), slot));
    }
    drop(listener);
    // Receivers see the change even when none is waiting yet.
    stop.send_replace(true);
    // Every connection holds a slot until it ends.
    let _all = slots.acquire_many(max).await.expect("the semaphore is never closed");
    Ok(())
}

/// Accept errors that concern one connection only (it was reset before being accepted).
fn is_the_client_s(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset)
}

/// Where a connection stands, which decides the deadline it is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head is owed: the connection is new, or the next request has begun to arrive.
    Head { since: Instant },
    /// Kept alive between requests, with nothing of the next one received.
    Idle { since: Instant },
    /// Requests being answered: no connection deadline (the body has its own, in the router;
    /// a handler may take as long as its work does).
    Busy { requests: usize },
}

/// Why a connection's deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    Head,
    Idle,
}

/// Resolves when the connection has stayed in one phase past its deadline.
async fn expiry(mut phase: watch::Receiver<Phase>, limits: Limits) -> Expired {
    loop {
        let deadline = match *phase.borrow_and_update() {
            Phase::Head { since } => Some((since + limits.header_timeout, Expired::Head)),
            Phase::Idle { since } => Some((since + limits.idle_timeout, Expired::Idle)),
            Phase::Busy { .. } => None,
        };
        let changed = async {
            // The sender lives as long as the connection's socket; without it nothing changes.
            if phase.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        match deadline {
            Some((at, expired)) => tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(at) => return expired,
            },
            None => changed.await,
        }
    }
}

/// Serves one connection until it ends, its deadline passes or the server shuts down; holds
/// `_slot` (its share of the connection limit) until then.
async fn connection(
    stream: TcpStream,
    app: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let (phase, watched) = watch::channel(Phase::Head { since: Instant::now() });
    let phase = Arc::new(phase);
    let io = TokioIo::new(Watched { stream, phase: Arc::clone(&phase) });
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let answering = Answering::start(Arc::clone(&phase));
        let mut app = app.clone();
        async move {
            let response = match app.call(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // The request counts as answered once hyper has taken the whole answer's body.
            Ok::<_, Infallible>(response.map(|body| Body::new(Tracked { body, _answering: answering })))
        }
    });
    let conn = http.serve_connection(io, service);
    let mut conn = pin!(conn);
    let mut expiry = pin!(expiry(watched, limits));
    let stopping = async move {
        // A dropped sender means the server is gone: stop as well.
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let first = tokio::select! {
        ended = conn.as_mut() => return log_end(ended),
        expired = &mut expiry => Some(expired),
        () = stopping => None,
    };
    match first {
        // Nothing to finish: the head is incomplete. Dropping the connection closes it.
        Some(Expired::Head) => tracing::debug!("closing a connection: no complete request head in time"),
        // hyper closes an idle connection at once; one still writing its last answer finishes
        // it first, for at most the head's timeout.
        Some(Expired::Idle) => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                ended = conn.as_mut() => log_end(ended),
                () = tokio::time::sleep(limits.header_timeout) => {
                    tracing::debug!("closing a connection: its last answer was not taken in time");
                }
            }
        }
        // Shutting down: answer what is in flight, then close; deadlines still apply.
        None => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                ended = conn.as_mut() => log_end(ended),
                _ = &mut expiry => tracing::debug!("closing a connection at shutdown: its deadline passed"),
            }
        }
    }
}

/// A connection's end, logged at debug level: what clients do wrong is theirs, and a flood
/// of it must not flood the log.
fn log_end(ended: Result<(), hyper::Error>) {
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection closed on an error");
    }
}

/// A request being answered: the connection is [`Phase::Busy`] while one lives.
struct Answering(Arc<watch::Sender<Phase>>);

impl Answering {
    fn start(phase: Arc<watch::Sender<Phase>>) -> Answering {
        phase.send_modify(|p| {
            *p = match *p {
                Phase::Busy { requests } => Phase::Busy { requests: requests + 1 },
                Phase::Head { .. } | Phase::Idle { .. } => Phase::Busy { requests: 1 },
            }
        });
        Answering(phase)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.send_modify(|p| {
            *p = match *p {
                Phase::Busy { requests } if requests > 1 => Phase::Busy { requests: requests - 1 },
                _ => Phase::Idle { since: Instant::now() },
            }
        });
    }
}

/// An answer's body that keeps its request [`Answering`] until hyper drops it (written whole,
/// or the connection gone).
struct Tracked {
    body: Body,
    _answering: Answering,
}

impl http_body::Body for Tracked {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noticing when the first byte of a request arrives on an idle connection.
///
/// Bytes of a pipelined request that arrive while another is answered are not noticed: such a
/// head is then held to the idle timeout instead of the head's.
struct Watched {
    stream: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.phase.send_if_modified(|p| match *p {
                Phase::Idle { .. } => {
                    *p = Phase::Head { since: Instant::now() };
                    true
                }
                Phase::Head { .. } | Phase::Busy { .. } => false,
            });
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

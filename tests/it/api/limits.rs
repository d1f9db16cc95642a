//! The `orchestrator-api` binary under hostile connections, over raw sockets: half-sent heads,
//! idle connections and stalled bodies are closed after their timeouts, a declared 10 GB body
//! is refused before it is sent, connections beyond the limit wait their turn, a head is never
//! buffered beyond twice its limit, what hyper refuses while parsing it answers itself, and
//! SIGTERM answers the requests in flight before the process ends.
//!
//! No test sleeps: each waits for the effect (an answer, the socket's end, a log line). The
//! read timeout on every socket is a guard against a hang only, far above the timeouts under
//! test; where a test must tell two timeouts apart, the other one is set longer than the guard,
//! so that only the one under test can have closed the socket in time.

use crate::api::process::{Running, address, admin_token, http, start};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for anything before it fails.
const GUARD: Duration = Duration::from_secs(20);

/// Longer than [`GUARD`]: a timeout set to this cannot be what closed a socket in a test.
const NEVER: &str = "120s";

struct Server {
    running: Running,
    /// The server's log lines, read on a thread so that waiting for one can give up.
    logs: mpsc::Receiver<String>,
    address: String,
    /// `Bearer <token>` of an admin, for requests that must reach a handler.
    bearer: String,
    _home: tempfile::TempDir,
}

/// The binary with `args` (limits) on a fresh data directory, once it listens.
fn server(args: &[&str]) -> Server {
    server_with(args, &[])
}

/// The same with environment variables.
fn server_with(args: &[&str], env: &[(&str, &str)]) -> Server {
    let home = tempfile::tempdir().expect("a temporary directory");
    let bearer = format!("Bearer {}", admin_token(home.path()));
    let (child, stderr) = start(home.path(), args, env);
    let (lines, logs) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server { running: Running(child), logs, address: String::new(), bearer, _home: home };
    server.address = address(&server.log("listening"));
    server
}

impl Server {
    /// Waits for a log line containing `needle`; fails if none comes within the guard.
    fn log(&self, needle: &str) -> String {
        loop {
            match self.logs.recv_timeout(GUARD) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("the server logged no {needle:?} ({e})"),
            }
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).expect("the server accepts connections");
        stream.set_read_timeout(Some(GUARD)).expect("a read timeout");
        stream
    }

    /// The server still answers a new connection.
    fn answers(&self) {
        let (status, body) = http(&self.address, "GET", "/healthz", None, None).expect("the server answers");
        assert_eq!(status, 200, "{body}");
    }
}

/// A request head; every request of these tests is made here, so that anything every request
/// needs (such as credentials) is added in one place.
fn head(method: &str, target: &str, fields: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in fields {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("the server takes the bytes");
}

/// Everything the server sends until it closes the connection; fails if it does not close it
/// within the guard.
fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => bytes,
        Err(e) => {
            panic!("the server did not close the connection ({e}); it sent {:?}", String::from_utf8_lossy(&bytes))
        }
    }
}

/// An answer as read off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(bytes);
        let (head, _) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
        let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {head:?}"));
        Answer { status, head: head.to_ascii_lowercase(), body: bytes[head.len() + 4..].to_vec() }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    /// Asserts a `problem+json` answer of `status`; returns the problem.
    #[track_caller]
    fn problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{self:?}");
        let problem: serde_json::Value = serde_json::from_slice(&self.body).expect("a JSON problem");
        assert_eq!(problem["status"], status, "{problem}");
        problem
    }
}

/// Reads one answer framed by its Content-Length, leaving the connection open.
fn answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("an answer in time");
        assert!(n > 0, "the connection closed mid-answer: {:?}", String::from_utf8_lossy(&bytes));
        bytes.push(byte[0]);
    }
    let mut answer = Answer::parse(&bytes);
    let length: usize = answer.header("content-length").map_or(0, |v| v.parse().expect("a Content-Length"));
    answer.body = vec![0; length];
    stream.read_exact(&mut answer.body).expect("the whole body in time");
    answer
}

#[test]
fn half_sent_heads_and_silent_connections_are_closed_after_the_header_timeout() {
    let server = server(&["--header-timeout", "300ms", "--idle-timeout", NEVER]);

    // A new connection that sends nothing.
    let mut silent = server.connect();
    assert!(until_closed(&mut silent).is_empty(), "closed without an answer");

    // A head that stops half-way.
    let mut half = server.connect();
    send(&mut half, b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ");
    assert!(until_closed(&mut half).is_empty(), "closed without an answer");

    // On a kept-alive connection, from the first byte of the next head (the idle timeout,
    // longer than the guard, cannot be what closes it).
    let mut kept = server.connect();
    send(&mut kept, head("GET", "/healthz", &[]).as_bytes());
    assert_eq!(answer(&mut kept).status, 200);
    send(&mut kept, b"GET /healthz HTTP/1.1\r\n");
    assert!(until_closed(&mut kept).is_empty(), "closed without an answer");

    server.answers();
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = server(&["--idle-timeout", "300ms", "--header-timeout", NEVER]);
    let mut kept = server.connect();
    for _ in 0..2 {
        send(&mut kept, head("GET", "/healthz", &[]).as_bytes());
        let answer = answer(&mut kept);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.header("connection"), Some("close"), "the connection is kept alive");
    }
    assert!(until_closed(&mut kept).is_empty(), "closed without another answer");
    server.answers();
}

#[test]
fn a_client_that_does_not_take_its_answers_is_cut_off() {
    // The server logs why it closes a connection at debug level.
    let server = server_with(
        &["--idle-timeout", "300ms", "--header-timeout", "300ms"],
        &[("ORCHESTRATOR_LOG", "info,orchestrator_api::serve=debug")],
    );
    let mut greedy = server.connect();
    // Answers far larger than the sockets' buffers, asked for at once and never read: the
    // server is left with an answer it cannot write.
    let request = head("GET", "/openapi.json", &[]);
    send(&mut greedy, request.repeat(300).as_bytes());
    server.log("its last answer was not taken in time");
    // What was written can still be read; then the connection ends.
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match greedy.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection was not closed: {e}"),
        }
    }
    server.answers();
}

#[test]
fn a_stalled_body_is_answered_408_and_its_connection_closed_after_the_body_timeout() {
    let server = server(&["--body-timeout", "300ms", "--header-timeout", NEVER, "--idle-timeout", NEVER]);
    let mut stalled = server.connect();
    let fields =
        [("Authorization", server.bearer.as_str()), ("Content-Type", "application/json"), ("Content-Length", "100")];
    send(&mut stalled, head("POST", "/create-service", &fields).as_bytes());
    send(&mut stalled, br#"{"kind":"#);
    let answer = Answer::parse(&until_closed(&mut stalled));
    let problem = answer.problem(408);
    assert_eq!(problem["type"], "urn:orchestrator:problem:body-timeout", "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("300ms")), "{problem}");
    server.answers();
}

#[test]
fn a_declared_10_gb_body_is_refused_413_before_any_of_it_is_sent() {
    let server = server(&[]);
    let mut stream = server.connect();
    let fields = [("Content-Type", "application/json"), ("Content-Length", "10737418240"), ("Expect", "100-continue")];
    send(&mut stream, head("POST", "/create-service", &fields).as_bytes());
    // The answer comes without a `100 Continue` and without a byte of the body sent; the
    // server then closes the connection, whose body it will not read.
    let answer = Answer::parse(&until_closed(&mut stream));
    let problem = answer.problem(413);
    assert_eq!(problem["type"], "urn:orchestrator:problem:payload-too-large", "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("10737418240") && d.contains("65536")), "{problem}");
    assert_eq!(answer.header("connection"), Some("close"));
    server.answers();
}

#[test]
fn connections_beyond_the_limit_wait_and_are_served_once_others_close() {
    let server = server(&["--max-connections", "3", "--header-timeout", NEVER, "--idle-timeout", NEVER]);
    // Up to the limit every new connection is served, while the earlier ones stay open.
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..3 {
        let mut stream = server.connect();
        send(&mut stream, head("GET", "/healthz", &[]).as_bytes());
        assert_eq!(answer(&mut stream).status, 200);
        held.push(stream);
    }
    // The third took the last place.
    server.log("connection limit reached");

    // A fourth waits, unaccepted, until one of the three closes; then it is served.
    let mut waiting = server.connect();
    send(&mut waiting, head("GET", "/healthz", &[]).as_bytes());
    drop(held.remove(0));
    assert_eq!(answer(&mut waiting).status, 200);
    // The others were not disturbed.
    for stream in &mut held {
        send(stream, head("GET", "/healthz", &[]).as_bytes());
        assert_eq!(answer(stream).status, 200);
    }
}

#[test]
fn a_head_over_the_limit_is_a_431_and_is_never_buffered_past_twice_the_limit() {
    let server = server(&["--max-header-bytes", "4096", "--header-timeout", NEVER, "--idle-timeout", NEVER]);

    // Over the limit but within the read buffer: the API answers, as problem+json.
    let mut stream = server.connect();
    let large = "a".repeat(5000);
    send(&mut stream, head("GET", "/healthz", &[("X-Large", &large)]).as_bytes());
    let problem = answer(&mut stream).problem(431);
    assert_eq!(problem["type"], "urn:orchestrator:problem:headers-too-large", "{problem}");

    // A head still unfinished at twice the limit (the read buffer, 8 KiB): refused once that
    // much has arrived, without waiting for the rest, and the connection closed. hyper answers
    // this one itself, without a problem body.
    let mut stream = server.connect();
    let mut partial = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Large: ".to_vec();
    partial.resize(8192, b'a');
    send(&mut stream, &partial);
    let answer = Answer::parse(&until_closed(&mut stream));
    assert_eq!(answer.status, 431, "{answer:?}");
    server.answers();
}

#[test]
fn the_api_shapes_long_targets_and_large_heads_but_hyper_answers_malformed_ones_bare() {
    let server = server(&[]);

    // Below hyper's own bounds the API answers, as problem+json.
    let mut stream = server.connect();
    send(&mut stream, head("GET", &format!("/healthz?{}", "a".repeat(9000)), &[]).as_bytes());
    answer(&mut stream).problem(414);
    let mut stream = server.connect();
    let many: Vec<(String, &str)> = (0..150).map(|i| (format!("X-Field-{i}"), "1")).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    send(&mut stream, head("GET", "/healthz", &many).as_bytes());
    answer(&mut stream).problem(431);

    // What hyper's parser refuses never reaches the API: hyper answers 400 with no body.
    for malformed in [
        "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n".to_owned(),
        "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Nul: a\0b\r\n\r\n".to_owned(),
        "POST /create-service HTTP/1.1\r\nHost: test\r\nContent-Length: ten\r\n\r\n".to_owned(),
        "POST /create-service HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_owned(),
        format!("GET /healthz HTTP/1.1\r\nHost: test\r\n{}\r\n", "X-Field: 1\r\n".repeat(201)),
    ] {
        let mut stream = server.connect();
        send(&mut stream, malformed.as_bytes());
        let answer = Answer::parse(&until_closed(&mut stream));
        assert!(matches!(answer.status, 400 | 431), "{malformed:?}: {answer:?}");
        assert_eq!(answer.header("content-type"), None, "{malformed:?}: {answer:?}");
        assert!(answer.body.is_empty(), "{malformed:?}: {answer:?}");
    }
    server.answers();
}

#[test]
fn sigterm_answers_the_requests_in_flight_closes_idle_connections_and_stops() {
    let mut server = server(&[]);
    // An idle kept-alive connection.
    let mut idle = server.connect();
    send(&mut idle, head("GET", "/healthz", &[]).as_bytes());
    assert_eq!(answer(&mut idle).status, 200);
    // A request in flight: the `100 Continue` says the handler is reading its body.
    let body = br#"{"kind":"no-such-kind","name":"svc","description":"d"}"#;
    let length = body.len().to_string();
    let fields = [
        ("Authorization", server.bearer.as_str()),
        ("Content-Type", "application/json"),
        ("Content-Length", &length),
        ("Expect", "100-continue"),
    ];
    let mut in_flight = server.connect();
    send(&mut in_flight, head("POST", "/create-service", &fields).as_bytes());
    let continued = answer(&mut in_flight);
    assert_eq!(continued.status, 100, "{continued:?}");

    let pid = server.running.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    server.log("shutting down");

    assert!(until_closed(&mut idle).is_empty(), "the idle connection is closed without an answer");
    send(&mut in_flight, body);
    let answered = Answer::parse(&until_closed(&mut in_flight));
    answered.problem(422);
    server.log("stopped");
    let status = server.running.0.wait().expect("the server is reaped");
    assert!(status.success(), "{status}");
}

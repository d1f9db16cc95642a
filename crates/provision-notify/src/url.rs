//! `ORCHESTRATOR_SMTP_URL`: where the SMTP server is, how to secure the connection, and the
//! credentials to log in with.
//!
//! `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]`. The user and the password are
//! percent-decoded (`%40` for an `@`). The password is never shown: `Display`, `Debug` and the
//! parse errors all write `***` in its place.

use crate::Error;
use provision_core::Problem;
use std::fmt;
use std::str::FromStr;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain text all along: for a relay on the same machine or network only.
    None,
    /// Plain text, then `STARTTLS` before anything else is said; refused if the server does not
    /// offer it (never a silent fall back to plain text). The default.
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS).
    Tls,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Tls => "tls",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [TlsMode::None, TlsMode::StartTls, TlsMode::Tls].into_iter().find(|m| m.as_str() == s)
    }

    /// 25 (SMTP) without TLS, 587 (submission) with STARTTLS, 465 (submissions) with TLS.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// A password: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for the one place that logs in with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A user and password for SMTP AUTH (PLAIN or LOGIN, whichever the server offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

/// A parsed `smtp://` URL. `Display` gives it back with the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
}

impl SmtpUrl {
    /// Parses `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]`, reporting every
    /// part that is wrong at once ([`Error::SmtpUrl`], which names the parts and shows the URL
    /// with its password hidden). TLS defaults to `starttls`; the port to the TLS mode's
    /// ([`TlsMode::default_port`]).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, rule: &'static str, message: String| {
            problems.push(Problem::new(field, rule, message));
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::SmtpUrl {
                url: redact(url),
                problems: vec![Problem::new(
                    "scheme",
                    "missing-scheme",
                    "an SMTP URL starts with smtp:// (smtp://[user[:password]@]host[:port][?tls=none|starttls|tls])",
                )],
            });
        };
        if !scheme.eq_ignore_ascii_case("smtp") {
            problem("scheme", "unknown-scheme", format!("the scheme must be smtp, not {scheme:?}"));
        }

        // The last `@` ends the credentials, so an unencoded `@` in a password still parses.
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) => (Some(userinfo), rest),
            None => (None, rest),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match authority.find(['/', '#']) {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        };
        if !path.is_empty() && path != "/" {
            problem("path", "unexpected-path", format!("an SMTP URL has no path or fragment, not {path:?}"));
        }

        let credentials = match userinfo {
            None => None,
            Some(userinfo) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                let user = match percent_decode(user) {
                    Ok(user) if user.is_empty() => {
                        problem("user", "missing", "credentials need a user before the ':'".into());
                        user
                    }
                    Ok(user) => user,
                    Err(why) => {
                        problem("user", "invalid-encoding", format!("the user is not percent-encoded UTF-8: {why}"));
                        String::new()
                    }
                };
                let password = match password.map(percent_decode) {
                    Some(Ok(password)) => password,
                    Some(Err(why)) => {
                        problem(
                            "password",
                            "invalid-encoding",
                            format!("the password is not percent-encoded UTF-8: {why}"),
                        );
                        String::new()
                    }
                    None => {
                        problem("password", "missing", "a user needs a password (user:password@host)".into());
                        String::new()
                    }
                };
                Some(Credentials { user, password: Password(password) })
            }
        };

        let (host, port) = split_host_port(authority);
        let host_ok = if host.is_empty() {
            problem("host", "missing", "the host is missing (smtp://host or smtp://host:port)".into());
            false
        } else if let Some(ip6) = host.strip_prefix('[') {
            let ok = ip6.strip_suffix(']').is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
            if !ok {
                problem("host", "invalid-host", format!("{host:?} is not an IPv6 address in brackets"));
            }
            ok
        } else {
            let ok = host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                problem(
                    "host",
                    "invalid-host",
                    format!("{host:?} is not a host name (letters, digits, '-' and '.') or an IP address"),
                );
            }
            ok
        };

        let mut tls = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("tls", value)) => match (TlsMode::parse(value), tls) {
                    (_, Some(_)) => problem("tls", "repeated", "tls is given twice".into()),
                    (Some(mode), None) => tls = Some(mode),
                    (None, None) => {
                        problem("tls", "invalid-tls", format!("tls must be none, starttls or tls, not {value:?}"))
                    }
                },
                _ => problem(
                    "query",
                    "unknown-parameter",
                    format!("{pair:?} is not a setting of an SMTP URL (only tls=none|starttls|tls)"),
                ),
            }
        }
        let tls = tls.unwrap_or(TlsMode::StartTls);

        let port = match port {
            None => tls.default_port(),
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    problem("port", "invalid-port", format!("the port must be a number from 1 to 65535, not {text:?}"));
                    0
                }
            },
        };

        if !problems.is_empty() || !host_ok {
            return Err(Error::SmtpUrl { url: redact(url), problems });
        }
        Ok(SmtpUrl { host: host.to_ascii_lowercase(), port, tls, credentials })
    }

    /// The host name or IP address (an IPv6 one in brackets, as written in the URL).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The host as a TLS server name: without an IPv6 address's brackets.
    pub(crate) fn server_name(&self) -> &str {
        self.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&self.host)
    }
}

impl FromStr for SmtpUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("smtp://")?;
        if let Some(c) = &self.credentials {
            write!(f, "{}:***@", percent_encode(&c.user))?;
        }
        write!(f, "{}:{}?tls={}", self.host, self.port, self.tls.as_str())
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// `host:port`, `host`, `[v6]:port` or `[v6]`; the port as written.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// `url` as it may be shown: whatever stands between the user's `:` and the last `@` (the
/// password, if the URL has one) becomes `***`.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
            let byte =
                hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("a '%' not followed by two hex digits")?;
            bytes.push(byte);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8".to_owned())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(url: &str) -> SmtpUrl {
        SmtpUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// The parts named by the problems of parsing `url`, and the error's text.
    #[track_caller]
    fn problems(url: &str) -> (Vec<String>, String) {
        let e = match SmtpUrl::parse(url) {
            Ok(parsed) => panic!("{url} parsed as {parsed}"),
            Err(e) => e,
        };
        let text = e.to_string();
        match e {
            Error::SmtpUrl { problems, .. } => (problems.into_iter().map(|p| p.field).collect(), text),
            other => panic!("{url}: unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_tls_mode() {
        for (url, tls, port) in [
            ("smtp://mail.example.com", TlsMode::StartTls, 587),
            ("smtp://mail.example.com?tls=starttls", TlsMode::StartTls, 587),
            ("smtp://mail.example.com?tls=none", TlsMode::None, 25),
            ("smtp://mail.example.com?tls=tls", TlsMode::Tls, 465),
            ("smtp://mail.example.com:2525?tls=tls", TlsMode::Tls, 2525),
            ("SMTP://Mail.Example.COM:25/", TlsMode::StartTls, 25),
        ] {
            let parsed = ok(url);
            assert_eq!((parsed.host(), parsed.tls(), parsed.port()), ("mail.example.com", tls, port), "{url}");
            assert_eq!(parsed.credentials(), None, "{url}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let parsed = ok("smtp://ada%40example.com:p%40ss:w%2Fo%25rd@127.0.0.1:1025?tls=none");
        let c = parsed.credentials().unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("ada@example.com", "p@ss:w/o%rd"));
        assert_eq!((parsed.host(), parsed.port()), ("127.0.0.1", 1025));
        // An unencoded '@' in the password: the last '@' ends the credentials.
        let parsed = ok("smtp://ada:p@ss@mail.example.com");
        assert_eq!(parsed.credentials().unwrap().password.expose(), "p@ss");
        assert_eq!(ok("smtp://ada:@mail.example.com").credentials().unwrap().password.expose(), "");
        assert_eq!(ok("smtp://ada:caf%C3%A9@h").credentials().unwrap().password.expose(), "café");
    }

    #[test]
    fn ipv6_hosts_are_in_brackets() {
        let parsed = ok("smtp://[::1]:2525?tls=none");
        assert_eq!((parsed.host(), parsed.server_name(), parsed.port()), ("[::1]", "::1", 2525));
        assert_eq!(ok("smtp://[2001:db8::1]").port(), 587);
    }

    #[test]
    fn the_password_is_never_shown() {
        let parsed = ok("smtp://ada:s3cret%21@mail.example.com?tls=tls");
        assert_eq!(parsed.to_string(), "smtp://ada:***@mail.example.com:465?tls=tls");
        assert_eq!(format!("{parsed:?}"), "SmtpUrl(smtp://ada:***@mail.example.com:465?tls=tls)");
        assert_eq!(format!("{:?}", parsed.credentials().unwrap()), r#"Credentials { user: "ada", password: *** }"#);
        for url in [
            "smtp://ada:s3cret@mail.example.com:0",
            "smtp://ada:s3cret@/path?tls=maybe",
            "smtps://ada:s3cret@mail",
            "smtp://ada:s3cret%zz@mail",
            "smtp://ada:s3/cr?et#x@mail:99999",
        ] {
            let e = SmtpUrl::parse(url).unwrap_err();
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains("s3"), "{url}: {shown}");
                assert!(shown.contains("ada:***@"), "{url}: {shown}");
            }
        }
    }

    #[test]
    fn every_wrong_part_is_named() {
        let (parts, text) = problems("http://:pw@:99999/x?tls=maybe&pool=yes");
        assert_eq!(parts, ["scheme", "path", "user", "host", "tls", "query", "port"], "{text}");
        assert!(text.starts_with("invalid SMTP URL http://:***@:99999/x?tls=maybe&pool=yes: "), "{text}");
        assert!(text.contains(r#"tls must be none, starttls or tls, not "maybe""#), "{text}");
        assert!(text.contains(r#"the port must be a number from 1 to 65535, not "99999""#), "{text}");

        assert_eq!(problems("mail.example.com").0, ["scheme"]);
        assert_eq!(problems("smtp://").0, ["host"]);
        assert_eq!(problems("smtp://ada@mail").0, ["password"]);
        assert_eq!(problems("smtp://ada:%zz@mail").0, ["password"]);
        assert_eq!(problems("smtp://%ff:pw@mail").0, ["user"]);
        assert_eq!(problems("smtp://mail:x").0, ["port"]);
        assert_eq!(problems("smtp://mail:0").0, ["port"]);
        assert_eq!(problems("smtp://mail?tls=tls&tls=none").0, ["tls"]);
        assert_eq!(problems("smtp://ma il").0, ["host"]);
        assert_eq!(problems("smtp://[::1").0, ["host"]);
        assert_eq!(problems("smtp://[nope]:25").0, ["host"]);
    }
}

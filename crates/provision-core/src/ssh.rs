//! SSH public keys as types: one `authorized_keys` line, checked down to the key's bytes.
//!
//! [`SshPublicKey::parse`] reads the OpenSSH form `<type> <base64> [comment]` and decodes the
//! base64 blob's wire format (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709) itself: the type inside
//! must equal the type written, the key must have the right size, and nothing may follow it.
//! Accepted: `ssh-ed25519`, `ecdsa-sha2-nistp256|384|521` (uncompressed points on the named
//! curve) and `ssh-rsa` of 2048 to 16384 bits.
//!
//! Refused on purpose: `authorized_keys` options before the key (`command="…"`, `from=…`),
//! which would let a person set how the workspace's SSH server treats their login; DSA keys,
//! which OpenSSH no longer accepts; certificates; and FIDO security-key types
//! (`sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`), since whether they
//! work depends on the SSH server in the workspace image, which need not support them.
//! Private keys are recognised and refused with a message saying never to paste one.
//!
//! What reaches a workspace is [`SshPublicKey::authorized_keys_line`]: the type and the
//! re-encoded key, without the person's comment, so nothing they wrote but the key itself
//! ends up in the workspace's `authorized_keys`.

use crate::problem::{Invalid, Problem};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The kinds of key accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SshKeyKind {
    Ed25519,
    EcdsaNistp256,
    EcdsaNistp384,
    EcdsaNistp521,
    Rsa,
}

impl SshKeyKind {
    pub const ALL: [SshKeyKind; 5] =
        [Self::Ed25519, Self::EcdsaNistp256, Self::EcdsaNistp384, Self::EcdsaNistp521, Self::Rsa];

    /// The name OpenSSH writes before the key: `ssh-ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ssh-ed25519",
            Self::EcdsaNistp256 => "ecdsa-sha2-nistp256",
            Self::EcdsaNistp384 => "ecdsa-sha2-nistp384",
            Self::EcdsaNistp521 => "ecdsa-sha2-nistp521",
            Self::Rsa => "ssh-rsa",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// For ECDSA, the curve's name inside the blob and the length of an uncompressed point.
    fn curve(self) -> Option<(&'static str, usize, u32)> {
        match self {
            Self::EcdsaNistp256 => Some(("nistp256", 65, 256)),
            Self::EcdsaNistp384 => Some(("nistp384", 97, 384)),
            Self::EcdsaNistp521 => Some(("nistp521", 133, 521)),
            Self::Ed25519 | Self::Rsa => None,
        }
    }
}

impl fmt::Display for SshKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A public key a person gave for logging in to their workspace.
///
/// Equality includes the comment; compare [`fingerprint`](Self::fingerprint) to ask whether two
/// are the same key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SshPublicKey {
    kind: SshKeyKind,
    /// The decoded key in SSH wire format, type included.
    blob: Vec<u8>,
    bits: u32,
    comment: Option<String>,
}

/// Smaller RSA keys are refused (NIST SP 800-131A; OpenSSH warns below it).
const RSA_MIN_BITS: u32 = 2048;
/// OpenSSH's `SSHBUF_MAX_BIGNUM`-based limit: larger RSA keys are refused by `sshd` anyway.
const RSA_MAX_BITS: u32 = 16384;

impl SshPublicKey {
    /// The longest line accepted, in bytes: a 16384-bit RSA key with a comment fits.
    pub const MAX_LEN: usize = 16 * 1024;

    /// Parses one public-key line, reporting every broken rule. One trailing line break (as
    /// `cat key.pub` prints) and surrounding spaces are ignored; any other line break is not.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let one = |rule, message: String| Err(Invalid::one("", rule, message));
        if value.len() > Self::MAX_LEN {
            return one(
                "too-long",
                format!("SSH public key is {} bytes long; at most {} are allowed", value.len(), Self::MAX_LEN),
            );
        }
        let line = value.strip_suffix('\n').map_or(value, |l| l.strip_suffix('\r').unwrap_or(l));
        let line = line.trim_matches([' ', '\t']);
        if line.is_empty() {
            return one("required", "SSH public key must not be empty".into());
        }
        // PEM headers (`-----BEGIN OPENSSH PRIVATE KEY-----`), PuTTY's `.ppk`, and the body of an
        // OpenSSH private key without its header (base64 of `openssh-key-v1`).
        if line.contains("PRIVATE KEY-----")
            || line.starts_with("PuTTY-User-Key-File")
            || line.starts_with("b3BlbnNzaC1rZXktdjE")
        {
            return one(
                "private-key",
                "this is a private key: never paste or send a private key anywhere. Paste the public key (the .pub file, \
                 one line starting with ssh-ed25519, ecdsa-sha2-… or ssh-rsa) instead, and since this private key has \
                 left your computer, replace it with a new one"
                    .into(),
            );
        }
        if line.starts_with("---- BEGIN SSH2 PUBLIC KEY") {
            return one(
                "wrong-format",
                "this is a public key in the SSH2 (RFC 4716, PuTTY) format; give it in OpenSSH's one-line format, which \
                 `ssh-keygen -i -f key.pub` prints"
                    .into(),
            );
        }
        if line.starts_with("-----BEGIN") {
            return one(
                "wrong-format",
                "this is a PEM key; give the public key in OpenSSH's one-line format, which `ssh-keygen -i -m PKCS8 -f \
                 key.pem` prints"
                    .into(),
            );
        }
        if line.contains(['\n', '\r']) {
            return one("multiple-lines", "give exactly one SSH public key, on one line".into());
        }

        let (type_name, rest) = split_field(line);
        let Some(kind) = SshKeyKind::from_name(type_name) else {
            return Err(Invalid::new(vec![unknown_type(type_name, rest)]));
        };
        let (data, comment) = split_field(rest);
        let mut problems = Vec::new();
        if let Some((i, c)) = comment.chars().enumerate().find(|(_, c)| is_control_or_invisible(*c)) {
            problems.push(Problem::new(
                "",
                "control-character",
                format!(
                    "the key's comment contains the control or invisible character {c:?} (U+{:04X}) at character {}",
                    u32::from(c),
                    i + 1
                ),
            ));
        }
        let bits = if data.is_empty() {
            problems.push(Problem::new(
                "",
                "missing-key-data",
                format!("the key itself is missing: after {type_name:?} comes the key in base64, like 'AAAA…'"),
            ));
            None
        } else {
            match STANDARD.decode(data) {
                Err(e) => {
                    problems.push(Problem::new(
                        "",
                        "invalid-base64",
                        format!("the key is not valid base64 ({e}); copy the whole line of the .pub file again"),
                    ));
                    None
                }
                Ok(blob) => match check_blob(kind, &blob) {
                    Ok(bits) => Some((blob, bits)),
                    Err(problem) => {
                        problems.push(problem);
                        None
                    }
                },
            }
        };
        match bits {
            Some((blob, bits)) if problems.is_empty() => {
                let comment = (!comment.is_empty()).then(|| comment.to_owned());
                Ok(Self { kind, blob, bits, comment })
            }
            _ => Err(Invalid::new(problems)),
        }
    }

    pub fn kind(&self) -> SshKeyKind {
        self.kind
    }

    /// The key's size: the RSA modulus's bits, the ECDSA curve's, or 256 for Ed25519.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The comment after the key (often `user@host`), if any. Never part of
    /// [`authorized_keys_line`](Self::authorized_keys_line).
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The same key without its comment: what [`authorized_keys_line`](Self::authorized_keys_line)
    /// keeps, so a key stored that way and read back equals it.
    pub fn without_comment(&self) -> Self {
        Self { comment: None, ..self.clone() }
    }

    /// The key in SSH wire format, as in the base64 field.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// `SHA256:<base64 without padding>` of the key, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&self.blob)))
    }

    /// The canonical `<type> <base64>` line for a workspace's `authorized_keys`: no options and
    /// no comment, so nothing the person wrote besides the key reaches the file.
    pub fn authorized_keys_line(&self) -> String {
        format!("{} {}", self.kind.name(), STANDARD.encode(&self.blob))
    }
}

/// The first field of `s` and what follows it, without the spaces or tabs in between.
fn split_field(s: &str) -> (&str, &str) {
    match s.split_once([' ', '\t']) {
        Some((first, rest)) => (first, rest.trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// Names of key types that are known but refused, with why.
fn unsupported(name: &str) -> Option<&'static str> {
    match name {
        "ssh-dss" => Some("OpenSSH no longer accepts DSA keys"),
        "sk-ssh-ed25519@openssh.com" | "sk-ecdsa-sha2-nistp256@openssh.com" => {
            Some("the SSH server of a workspace may not support security-key (FIDO) keys; use an ssh-ed25519 key")
        }
        _ if name.contains("-cert-v01@openssh.com") => {
            Some("this is a certificate; give the public key itself (the .pub file, not -cert.pub)")
        }
        _ => None,
    }
}

fn looks_like_type(name: &str) -> bool {
    SshKeyKind::from_name(name).is_some()
        || unsupported(name).is_some()
        || name.starts_with("ssh-")
        || name.starts_with("ecdsa-sha2-")
        || name.ends_with("@openssh.com")
}

fn unknown_type(type_name: &str, rest: &str) -> Problem {
    if let Some(why) = unsupported(type_name) {
        return Problem::new("", "unsupported-type", format!("{type_name:?} keys are not accepted: {why}"));
    }
    if rest.split([' ', '\t']).any(looks_like_type) || type_name.contains('=') {
        return Problem::new(
            "",
            "options",
            "the key must not start with authorized_keys options (like command=\"…\" or from=\"…\"); give only \
             '<type> <key> [comment]'",
        );
    }
    if type_name.starts_with("AAAA") {
        return Problem::new(
            "",
            "missing-type",
            "the key type is missing: the line must start with it, like 'ssh-ed25519 AAAA…'",
        );
    }
    let supported = SshKeyKind::ALL.map(SshKeyKind::name).join(", ");
    let shown: String = type_name.chars().take(40).collect();
    Problem::new(
        "",
        if looks_like_type(type_name) { "unsupported-type" } else { "unknown-type" },
        format!("{shown:?} is not a supported SSH key type; supported are {supported}"),
    )
}

/// Characters a comment must not hold: control characters, and the invisible ones that reorder
/// or hide text where the comment is shown (bidirectional overrides, zero-width characters).
fn is_control_or_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// Reads the wire format: `uint32` big-endian lengths before strings and mpints.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn string(&mut self, what: &str) -> Result<&'a [u8], Problem> {
        let truncated = || {
            Problem::new(
                "",
                "truncated",
                format!("the key ends early, inside the {what}; was it cut off when it was copied?"),
            )
        };
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| truncated())?;
        if rest.len() < len {
            return Err(truncated());
        }
        let (s, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(s)
    }

    /// A positive mpint's magnitude, without leading zero bytes.
    fn positive_mpint(&mut self, what: &str) -> Result<&'a [u8], Problem> {
        let bytes = self.string(what)?;
        if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(invalid_key(format!("the RSA {what} is negative")));
        }
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Ok(&bytes[start..])
    }
}

fn invalid_key(message: String) -> Problem {
    Problem::new("", "invalid-key", message)
}

/// Checks the blob of a key of `kind`; returns its size in bits.
fn check_blob(kind: SshKeyKind, blob: &[u8]) -> Result<u32, Problem> {
    let mut r = Reader { rest: blob };
    let inner = r.string("key type")?;
    if inner != kind.name().as_bytes() {
        let shown: String = String::from_utf8_lossy(inner).chars().take(40).collect();
        return Err(Problem::new(
            "",
            "type-mismatch",
            format!("the line says {} but the key inside is of type {shown:?}", kind.name()),
        ));
    }
    let bits = match kind {
        SshKeyKind::Ed25519 => {
            let key = r.string("key")?;
            if key.len() != 32 {
                return Err(invalid_key(format!("an Ed25519 key has 32 bytes, this one {}", key.len())));
            }
            256
        }
        SshKeyKind::EcdsaNistp256 | SshKeyKind::EcdsaNistp384 | SshKeyKind::EcdsaNistp521 => {
            let (curve, point_len, bits) = kind.curve().unwrap_or_default();
            let inner = r.string("curve name")?;
            if inner != curve.as_bytes() {
                let shown: String = String::from_utf8_lossy(inner).chars().take(40).collect();
                return Err(Problem::new(
                    "",
                    "type-mismatch",
                    format!("the line says {} but the key inside is on the curve {shown:?}", kind.name()),
                ));
            }
            let point = r.string("point")?;
            if point.len() != point_len || point.first() != Some(&0x04) {
                return Err(invalid_key(format!(
                    "an {} key is an uncompressed point of {point_len} bytes starting with 0x04; this one is not",
                    kind.name()
                )));
            }
            bits
        }
        SshKeyKind::Rsa => {
            let e = r.positive_mpint("exponent")?;
            let n = r.positive_mpint("modulus")?;
            if e.last().is_none_or(|b| b & 1 == 0) || (e.len() == 1 && e[0] < 3) {
                return Err(invalid_key("the RSA exponent must be odd and at least 3".into()));
            }
            if n.last().is_none_or(|b| b & 1 == 0) {
                return Err(invalid_key("the RSA modulus must be odd".into()));
            }
            let bits = mpint_bits(n);
            if bits < RSA_MIN_BITS {
                return Err(Problem::new(
                    "",
                    "rsa-too-small",
                    format!(
                        "this RSA key has {bits} bits; at least {RSA_MIN_BITS} are required. Make a new key with \
                         `ssh-keygen -t ed25519`"
                    ),
                ));
            }
            if bits > RSA_MAX_BITS {
                return Err(invalid_key(format!(
                    "this RSA key has {bits} bits; OpenSSH refuses more than {RSA_MAX_BITS}"
                )));
            }
            bits
        }
    };
    if !r.rest.is_empty() {
        return Err(Problem::new(
            "",
            "trailing-bytes",
            format!("the key has {} unexpected bytes after its end", r.rest.len()),
        ));
    }
    Ok(bits)
}

/// The bits of a magnitude without leading zero bytes.
fn mpint_bits(n: &[u8]) -> u32 {
    match n.first() {
        None => 0,
        Some(first) => {
            let bytes = u32::try_from(n.len()).unwrap_or(u32::MAX / 8);
            (bytes - 1) * 8 + (8 - first.leading_zeros())
        }
    }
}

impl fmt::Display for SshPublicKey {
    /// The canonical line, without the comment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authorized_keys_line())
    }
}

impl fmt::Debug for SshPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SshPublicKey({} {} {})", self.kind, self.bits, self.fingerprint())
    }
}

impl FromStr for SshPublicKey {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Self::parse(s)
    }
}

impl Serialize for SshPublicKey {
    /// The canonical line and the comment, so a stored key reads back the same.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.comment {
            Some(comment) => s.serialize_str(&format!("{} {comment}", self.authorized_keys_line())),
            None => s.serialize_str(&self.authorized_keys_line()),
        }
    }
}

impl<'de> Deserialize<'de> for SshPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod table;

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = include_str!("ssh/fixtures/ed25519.pub");

    #[test]
    fn the_canonical_line_drops_the_comment() {
        let key = SshPublicKey::parse(ED25519).unwrap();
        assert_eq!(key.kind(), SshKeyKind::Ed25519);
        assert_eq!(key.bits(), 256);
        assert_eq!(key.comment(), Some("alice@laptop"));
        assert_eq!(
            key.authorized_keys_line(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z"
        );
        assert_eq!(key.to_string(), key.authorized_keys_line());
        assert_eq!(
            format!("{key:?}"),
            "SshPublicKey(ssh-ed25519 256 SHA256:BHsLzglnRdQTAHDeSbT+SwVcMJ3z7J2PFP/r6LFHhtk)"
        );
    }

    #[test]
    fn surrounding_space_and_one_line_break_are_ignored() {
        let key = SshPublicKey::parse(ED25519).unwrap();
        let bare = ED25519.trim_end();
        assert_eq!(SshPublicKey::parse(bare).unwrap(), key);
        assert_eq!(SshPublicKey::parse(&format!("  {bare}\r\n")).unwrap(), key);
        let err = SshPublicKey::parse(&format!("{bare}\n\n")).unwrap_err();
        assert_eq!(err.problems()[0].rule, "multiple-lines");
    }

    #[test]
    fn comments_keep_inner_spaces_and_may_be_absent() {
        let data = "AAAAC3NzaC1lZDI1NTE5AAAAIHHxBBOGX0lz8qwNAUeW8t7mk5iAqFnzaknFRFJQHg7Z";
        let key = SshPublicKey::parse(&format!("ssh-ed25519\t{data}  my  laptop ")).unwrap();
        assert_eq!(key.comment(), Some("my  laptop"));
        assert_eq!(SshPublicKey::parse(&format!("ssh-ed25519 {data}")).unwrap().comment(), None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = SshPublicKey::parse("ssh-ed25519 !!! a\u{1b}[2Jb").unwrap_err();
        let rules: Vec<&str> = err.problems().iter().map(|p| p.rule).collect();
        assert_eq!(rules, ["control-character", "invalid-base64"]);
    }

    #[test]
    fn serde_keeps_the_comment_and_checks_the_key() {
        let key: SshPublicKey = serde_json::from_value(serde_json::json!(ED25519)).unwrap();
        let back: SshPublicKey = serde_json::from_value(serde_json::to_value(&key).unwrap()).unwrap();
        assert_eq!(back, key);
        assert_eq!(back.comment(), Some("alice@laptop"));
        assert!(serde_json::from_str::<SshPublicKey>("\"ssh-ed25519 AAAA\"").is_err());
    }

    #[test]
    fn rsa_bits_ignore_leading_zeros() {
        assert_eq!(mpint_bits(&[0x01]), 1);
        assert_eq!(mpint_bits(&[0x80, 0]), 16);
        assert_eq!(mpint_bits(&[]), 0);
        let mut r = Reader { rest: &[0, 0, 0, 4, 0, 0, 0x7f, 0xff] };
        assert_eq!(r.positive_mpint("modulus").unwrap(), [0x7f, 0xff]);
    }
}

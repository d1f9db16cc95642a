//! Real public keys made once with `ssh-keygen` (in `fixtures/`, public halves only) and
//! malformed variants built from them, each with its verdict.

use super::*;

const ED25519: &str = include_str!("fixtures/ed25519.pub");
const ECDSA256: &str = include_str!("fixtures/ecdsa256.pub");
const ECDSA384: &str = include_str!("fixtures/ecdsa384.pub");
const ECDSA521: &str = include_str!("fixtures/ecdsa521.pub");
const RSA1024: &str = include_str!("fixtures/rsa1024.pub");
const RSA2048: &str = include_str!("fixtures/rsa2048.pub");
const RSA3072: &str = include_str!("fixtures/rsa3072.pub");
const RSA4096: &str = include_str!("fixtures/rsa4096.pub");
const DSA: &str = include_str!("fixtures/dsa.pub");
const RFC4716: &str = include_str!("fixtures/ed25519.rfc4716.pub");
const PKCS8: &str = include_str!("fixtures/rsa2048.pkcs8.pub");
/// `ssh-keygen -l` of each fixture.
const FINGERPRINTS: &str = include_str!("fixtures/fingerprints.txt");

const OK: &[&str] = &[];

/// The second field of a fixture line.
fn data(line: &str) -> &str {
    line.split(' ').nth(1).unwrap_or_default()
}

fn blob(line: &str) -> Vec<u8> {
    STANDARD.decode(data(line)).unwrap()
}

/// The wire-format strings of a blob.
fn fields(blob: &[u8]) -> Vec<Vec<u8>> {
    let mut r = Reader { rest: blob };
    let mut out = Vec::new();
    while !r.rest.is_empty() {
        out.push(r.string("field").unwrap().to_vec());
    }
    out
}

/// A blob of wire-format strings.
fn wire(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&u32::try_from(f.len()).unwrap().to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn line(type_name: &str, blob: &[u8]) -> String {
    format!("{type_name} {}", STANDARD.encode(blob))
}

/// The rules a line breaks, in the order reported; empty if accepted.
fn verdict(input: &str) -> Vec<&'static str> {
    match SshPublicKey::parse(input) {
        Ok(_) => vec![],
        Err(e) => e.problems().iter().map(|p| p.rule).collect(),
    }
}

#[test]
fn keys_and_their_variants() {
    let ed = blob(ED25519);
    let ed_fields = fields(&ed);
    let ec256 = fields(&blob(ECDSA256));
    let rsa = fields(&blob(RSA2048));
    let (e, n) = (&rsa[1], &rsa[2]);
    assert_eq!(n[0], 0, "ssh-keygen writes a leading zero before a modulus with its top bit set");

    let mut ed_extra = ed.clone();
    ed_extra.extend_from_slice(b"\0\0\0\x01x");
    let mut compressed = vec![0x02];
    compressed.extend_from_slice(&ec256[2][1..33]);
    let mut bad_prefix = ec256[2].clone();
    bad_prefix[0] = 0x05;
    let mut rsa_2047 = n[1..].to_vec();
    rsa_2047[0] = (rsa_2047[0] & 0x3f) | 0x40;
    let mut padded_n = vec![0, 0, 0];
    padded_n.extend_from_slice(n);
    let mut even_n = n.clone();
    if let Some(last) = even_n.last_mut() {
        *last &= 0xfe;
    }
    let mut huge_n = vec![0x40; 2049];
    huge_n[2048] = 0x41;
    let ed_data = data(ED25519);
    let ed_bare = format!("ssh-ed25519 {ed_data}");
    let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";

    let table: Vec<(String, &[&str])> = vec![
        // Real keys.
        (ED25519.into(), OK),
        (ECDSA256.into(), OK),
        (ECDSA384.into(), OK),
        (ECDSA521.into(), OK),
        (RSA2048.into(), OK),
        (RSA3072.into(), OK),
        (RSA4096.into(), OK),
        (ed_bare.clone(), OK),
        (format!("{ed_bare} Jos\u{e9}'s laptop"), OK),
        // The second key is only a comment, and comments never reach a workspace.
        (format!("{ed_bare} {ed_bare}"), OK),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e, &padded_n])), OK),
        // Refused kinds and formats.
        (RSA1024.into(), &["rsa-too-small"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e, &rsa_2047])), &["rsa-too-small"]),
        (DSA.into(), &["unsupported-type"]),
        (
            format!(
                "sk-ssh-ed25519@openssh.com {} yubikey",
                STANDARD.encode(wire(&[b"sk-ssh-ed25519@openssh.com", &ed_fields[1], b"ssh:"]))
            ),
            &["unsupported-type"],
        ),
        (format!("sk-ecdsa-sha2-nistp256@openssh.com {ed_data}"), &["unsupported-type"]),
        (format!("ssh-ed25519-cert-v01@openssh.com {ed_data}"), &["unsupported-type"]),
        (format!("ssh-foo {ed_data}"), &["unsupported-type"]),
        (format!("SSH-ED25519 {ed_data}"), &["unknown-type"]),
        (format!("1024 65537 {}", "1".repeat(300)), &["unknown-type"]),
        (RFC4716.into(), &["wrong-format"]),
        (PKCS8.into(), &["wrong-format"]),
        (private.into(), &["private-key"]),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----".into(), &["private-key"]),
        ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n".into(), &["private-key"]),
        ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW".into(), &["private-key"]),
        (format!("{ed_bare} not my PRIVATE KEY"), OK),
        // Empty, several lines, too long.
        (String::new(), &["required"]),
        (" \t\n".into(), &["required"]),
        (format!("{ED25519}{ECDSA256}"), &["multiple-lines"]),
        (format!("{ed_bare} comment\rssh-rsa AAAA"), &["multiple-lines"]),
        (format!("{ed_bare} comment\nnext"), &["multiple-lines"]),
        (format!("ssh-rsa {}", "A".repeat(SshPublicKey::MAX_LEN)), &["too-long"]),
        // authorized_keys options smuggled in front.
        (format!("command=\"/bin/sh\" {ed_bare}"), &["options"]),
        (format!("command=\"echo hi\" {ed_bare}"), &["options"]),
        (format!("from=\"10.0.0.0/8\" {ed_bare}"), &["options"]),
        (format!("restrict,pty {ed_bare}"), &["options"]),
        (format!("no-pty {ed_bare}"), &["options"]),
        (format!("environment=\"LD_PRELOAD=/x\" {ed_bare}"), &["options"]),
        // Missing or broken fields.
        (ed_data.into(), &["missing-type"]),
        ("ssh-ed25519".into(), &["missing-key-data"]),
        ("ssh-ed25519 !!!notbase64 x".into(), &["invalid-base64"]),
        (format!("ecdsa-sha2-nistp256 {}", data(ECDSA256).trim_end_matches('=')), &["invalid-base64"]),
        (format!("ssh-ed25519 {}", &ed_data[..ed_data.len() - 3]), &["invalid-base64"]),
        (format!("ssh-ed25519 {}", &ed_data[..ed_data.len() - 4]), &["truncated"]),
        (line("ssh-ed25519", &ed[..10]), &["truncated"]),
        ("ssh-ed25519 AAAA".into(), &["truncated"]),
        (line("ssh-ed25519", &[0xff, 0xff, 0xff, 0xff, b's']), &["truncated"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e])), &["truncated"]),
        // The blob disagrees with the line, or with itself.
        (format!("ssh-rsa {ed_data}"), &["type-mismatch"]),
        (format!("ssh-ed25519 {}", data(RSA2048)), &["type-mismatch"]),
        (format!("ecdsa-sha2-nistp384 {}", data(ECDSA256)), &["type-mismatch"]),
        (line("ssh-ed25519", &wire(&[b"ssh-ed25518", &ed_fields[1]])), &["type-mismatch"]),
        (line("ssh-ed25519", &wire(&[b"SSH-ED25519", &ed_fields[1]])), &["type-mismatch"]),
        (line("ecdsa-sha2-nistp256", &wire(&[b"ecdsa-sha2-nistp256", b"nistp384", &ec256[2]])), &["type-mismatch"]),
        (line("ssh-ed25519", &ed_extra), &["trailing-bytes"]),
        (line("ssh-ed25519", &wire(&[b"ssh-ed25519", &ed_fields[1][..31]])), &["invalid-key"]),
        (line("ecdsa-sha2-nistp256", &wire(&[b"ecdsa-sha2-nistp256", b"nistp256", &compressed])), &["invalid-key"]),
        (line("ecdsa-sha2-nistp256", &wire(&[b"ecdsa-sha2-nistp256", b"nistp256", &bad_prefix])), &["invalid-key"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", &[1, 0, 0], n])), &["invalid-key"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", &[1], n])), &["invalid-key"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e, &n[1..]])), &["invalid-key"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e, &even_n])), &["invalid-key"]),
        (line("ssh-rsa", &wire(&[b"ssh-rsa", e, &huge_n])), &["invalid-key"]),
        // Comments that could hide or rewrite what is shown.
        (format!("{ed_bare} a\u{1b}[2Jb"), &["control-character"]),
        (format!("{ed_bare} laptop\u{202e}moc.live"), &["control-character"]),
        (format!("{ed_bare} zero\u{200b}width"), &["control-character"]),
        (format!("{ed_bare} a\tb"), &["control-character"]),
        (format!("{ed_bare} nul\0"), &["control-character"]),
        ("ssh-ed25519 %%% bell\u{7}".into(), &["control-character", "invalid-base64"]),
    ];

    let wrong: Vec<String> = table
        .iter()
        .filter_map(|(input, expected)| {
            let actual = verdict(input);
            let shown: String = input.chars().take(90).collect();
            (actual != *expected).then(|| format!("{shown:?}: expected {expected:?}, got {actual:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} verdicts differ:\n{}", wrong.len(), table.len(), wrong.join("\n"));
    assert!(table.len() >= 20, "the table holds {} keys", table.len());
}

#[test]
fn kinds_bits_and_fingerprints_match_ssh_keygen() {
    for (fixture, kind, bits) in [
        (ED25519, SshKeyKind::Ed25519, 256),
        (ECDSA256, SshKeyKind::EcdsaNistp256, 256),
        (ECDSA384, SshKeyKind::EcdsaNistp384, 384),
        (ECDSA521, SshKeyKind::EcdsaNistp521, 521),
        (RSA2048, SshKeyKind::Rsa, 2048),
        (RSA3072, SshKeyKind::Rsa, 3072),
        (RSA4096, SshKeyKind::Rsa, 4096),
    ] {
        let key = SshPublicKey::parse(fixture).unwrap();
        assert_eq!((key.kind(), key.bits()), (kind, bits), "{fixture}");
        let comment = key.comment().unwrap();
        let listed = format!("{bits} {} {comment} (", key.fingerprint());
        assert!(FINGERPRINTS.lines().any(|l| l.starts_with(&listed)), "{listed} is not in fingerprints.txt");
        assert_eq!(key.authorized_keys_line(), fixture.rsplit_once(' ').unwrap().0);
        assert_eq!(key.blob(), blob(fixture));
    }
}

#[test]
fn small_rsa_keys_are_refused_with_their_size() {
    let err = SshPublicKey::parse(RSA1024).unwrap_err();
    assert!(err.to_string().contains("1024 bits; at least 2048"), "{err}");
}

#[test]
fn private_keys_are_refused_with_a_warning() {
    let err = SshPublicKey::parse("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----")
        .unwrap_err();
    assert!(err.to_string().contains("never paste"), "{err}");
}

#[test]
fn the_fixtures_hold_no_private_key() {
    for fixture in [ED25519, ECDSA256, ECDSA384, ECDSA521, RSA1024, RSA2048, RSA3072, RSA4096, DSA, RFC4716, PKCS8] {
        assert!(!fixture.contains("PRIVATE"), "{fixture}");
    }
}

//! Adversarial addresses against the allowlist `["iiitm.ac.in"]`, each with its verdict.

use super::*;

/// Accepted: the address parses and its domain is allowed.
const OK: &[&str] = &[];
/// Parses, but the domain is not on the allowlist.
const NOT_ALLOWED: &[&str] = &["domain-not-allowed"];

/// The rules an address breaks, in the order reported, each once; empty if accepted.
fn verdict(list: &DomainAllowlist, input: &str) -> Vec<&'static str> {
    let problems = match EmailAddress::parse(input) {
        Ok(email) => list.check(&email).err().map(Invalid::into_problems).unwrap_or_default(),
        Err(invalid) => invalid.into_problems(),
    };
    let mut rules: Vec<&'static str> = Vec::new();
    for p in problems {
        if !rules.contains(&p.rule) {
            rules.push(p.rule);
        }
    }
    rules
}

#[test]
fn adversarial_addresses() {
    let long_local = format!("{}@iiitm.ac.in", "a".repeat(65));
    let longest_local = format!("{}@iiitm.ac.in", "a".repeat(64));
    let long_label = format!("x@{}.ac.in", "a".repeat(64));
    // 4 labels of 63 and "in": 4 * 64 + 2 = 258 > 253.
    let long_domain = format!("x@{0}.{0}.{0}.{0}.in", "a".repeat(63));
    let long_address =
        format!("{}@{}.iiitm.ac.in", "a".repeat(64), ["b".repeat(63), "c".repeat(63), "d".repeat(50)].join("."));

    let table: &[(&str, &[&str])] = &[
        // Accepted.
        ("bcs2021_080@iiitm.ac.in", OK),
        ("x@iiitm.ac.in", OK),
        ("x@IIITM.AC.IN", OK),
        ("X@Iiitm.Ac.In", OK),
        ("x+tag@iiitm.ac.in", OK),
        ("first.last@iiitm.ac.in", OK),
        ("2021@iiitm.ac.in", OK),
        ("a.b.c.d@iiitm.ac.in", OK),
        ("o'brien@iiitm.ac.in", OK),
        ("x-y_z@iiitm.ac.in", OK),
        ("#{|}~^`*&$=?/@iiitm.ac.in", OK),
        (&longest_local, OK),
        // Well-formed, but not at exactly iiitm.ac.in.
        ("x@iiitm.ac.in.evil.com", NOT_ALLOWED),
        ("x@sub.iiitm.ac.in", NOT_ALLOWED),
        ("x@iiitmac.in", NOT_ALLOWED),
        ("x@xiiitm.ac.in", NOT_ALLOWED),
        ("x@iiitm.ac.in-evil.com", NOT_ALLOWED),
        ("x@iiitm.ac", NOT_ALLOWED),
        ("x@ac.in", NOT_ALLOWED),
        ("iiitm.ac.in@evil.com", NOT_ALLOWED),
        ("x@iiitm-ac.in", NOT_ALLOWED),
        ("x@xn--iiitm-9ra.ac.in", NOT_ALLOWED),
        ("x@iiitm.ac.in.", &["trailing-dot"]),
        ("x@IIITM.AC.IN.", &["trailing-dot"]),
        // Several `@`: the last one does not decide the domain.
        ("x@evil.com@iiitm.ac.in", &["several-at"]),
        ("x@iiitm.ac.in#@evil.com", &["several-at"]),
        ("x\\@evil.com@iiitm.ac.in", &["several-at"]),
        ("@@iiitm.ac.in", &["several-at"]),
        // Quotes, comments, display names.
        ("\"x@y\"@iiitm.ac.in", &["quoted-local-part"]),
        ("\"x\"@iiitm.ac.in", &["quoted-local-part"]),
        ("\"x y\"@iiitm.ac.in", &["whitespace", "quoted-local-part"]),
        ("Name <x@iiitm.ac.in>", &["whitespace", "display-name"]),
        ("<x@iiitm.ac.in>", &["display-name"]),
        ("x@evil.com<x@iiitm.ac.in>", &["display-name"]),
        ("\"Name\" <x@iiitm.ac.in>", &["whitespace", "display-name", "quoted-local-part"]),
        ("x@iiitm.ac.in (comment)", &["whitespace", "comment"]),
        ("x(comment)@iiitm.ac.in", &["comment"]),
        ("x@(comment)iiitm.ac.in", &["comment"]),
        // IP literals and numbers.
        ("x@[10.0.0.1]", &["ip-literal"]),
        ("x@[IPv6:::1]", &["ip-literal"]),
        ("x@10.0.0.1", &["invalid-domain"]),
        ("x@iiitm.ac.123", &["invalid-domain"]),
        // Whitespace and control characters anywhere.
        ("x @iiitm.ac.in", &["whitespace"]),
        (" x@iiitm.ac.in", &["whitespace"]),
        ("x@iiitm.ac.in ", &["whitespace"]),
        ("x@iiitm.ac.in\n", &["whitespace"]),
        ("x@iiitm.ac.in\r\nBcc: y@evil.com", &["whitespace", "several-at"]),
        ("x\t@iiitm.ac.in", &["whitespace"]),
        ("x@iiitm.ac.in\0", &["control-character"]),
        ("x\u{7f}@iiitm.ac.in", &["control-character"]),
        ("x@iiitm\u{1b}.ac.in", &["control-character"]),
        // Anything outside ASCII: look-alikes, fullwidth forms, invisible characters.
        ("x@iiitm.ac.\u{0131}n", &["non-ascii"]),
        ("x@iiitm.\u{0430}c.in", &["non-ascii"]),
        ("\u{0445}@iiitm.ac.in", &["non-ascii"]),
        ("x@\u{ff49}\u{ff49}\u{ff49}\u{ff54}\u{ff4d}.ac.in", &["non-ascii"]),
        ("x\u{ff20}iiitm.ac.in", &["non-ascii", "no-at"]),
        ("x@iiitm\u{ff0e}ac.in", &["non-ascii"]),
        ("x@iiitm\u{3002}ac.in", &["non-ascii"]),
        ("x\u{200b}@iiitm.ac.in", &["non-ascii"]),
        ("x@iiitm.ac\u{200d}.in", &["non-ascii"]),
        ("x@evil.com\u{202e}ni.ca.mtiii", &["non-ascii"]),
        ("x@iiitm.ac.in\u{2066}", &["non-ascii"]),
        ("\u{feff}x@iiitm.ac.in", &["non-ascii"]),
        ("x\u{a0}@iiitm.ac.in", &["non-ascii"]),
        ("j\u{f6}rg@iiitm.ac.in", &["non-ascii"]),
        ("x@i\u{0307}iitm.ac.in", &["non-ascii"]),
        // URL and path tricks.
        ("x@iiitm.ac.in%evil.com", &["invalid-domain"]),
        ("x@iiitm.ac.in/evil", &["invalid-domain"]),
        ("x@iiitm.ac.in:25", &["invalid-domain"]),
        ("x@iiitm.ac.in?x=1", &["invalid-domain"]),
        ("x@iiitm.ac.in,y@evil.com", &["several-at"]),
        ("x@iiitm.ac.in;evil.com", &["invalid-domain"]),
        ("x@iiitm_ac.in", &["invalid-domain"]),
        ("mailto:x@iiitm.ac.in", &["invalid-local-part"]),
        ("x%40iiitm.ac.in", &["no-at"]),
        ("x%40evil.com@iiitm.ac.in", &["source-route"]),
        ("x%evil.com@iiitm.ac.in", &["source-route"]),
        ("evil.com!x@iiitm.ac.in", &["source-route"]),
        ("x\\y@iiitm.ac.in", &["invalid-local-part"]),
        ("x,y@iiitm.ac.in", &["invalid-local-part"]),
        ("x[y]@iiitm.ac.in", &["invalid-local-part"]),
        // Dots.
        ("x..y@iiitm.ac.in", &["invalid-local-part"]),
        (".x@iiitm.ac.in", &["invalid-local-part"]),
        ("x.@iiitm.ac.in", &["invalid-local-part"]),
        ("x@iiitm..ac.in", &["invalid-domain"]),
        ("x@.iiitm.ac.in", &["invalid-domain"]),
        // Missing parts.
        ("", &["required"]),
        ("@iiitm.ac.in", &["missing-local-part"]),
        ("x@", &["missing-domain"]),
        ("@", &["missing-local-part", "missing-domain"]),
        ("x", &["no-at"]),
        ("iiitm.ac.in", &["no-at"]),
        ("x@in", &["invalid-domain"]),
        // Hyphens at label ends.
        ("x@-iiitm.ac.in", &["invalid-domain"]),
        ("x@iiitm-.ac.in", &["invalid-domain"]),
        ("x@iiitm.ac.-in", &["invalid-domain"]),
        // Lengths.
        (&long_local, &["too-long"]),
        (&long_label, &["too-long"]),
        (&long_domain, &["too-long"]),
        (&long_address, &["too-long"]),
    ];

    let list = DomainAllowlist::parse(["iiitm.ac.in"]).unwrap();
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|(input, expected)| {
            let actual = verdict(&list, input);
            (actual != *expected).then(|| format!("{input:?}: expected {expected:?}, got {actual:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} verdicts differ:\n{}", wrong.len(), table.len(), wrong.join("\n"));
    assert!(table.len() >= 60, "the table holds {} addresses", table.len());
}

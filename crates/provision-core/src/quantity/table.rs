//! CPU and byte quantities, each with its verdict: the canonical form, or the rule it breaks.

use super::*;

/// The canonical form of a parsed value, or the rule of its one problem.
fn verdict<T: fmt::Display>(result: Result<T, Invalid>) -> Result<String, &'static str> {
    match result {
        Ok(value) => Ok(value.to_string()),
        Err(e) => match e.problems() {
            [p] => Err(p.rule),
            many => panic!("one problem expected, got {many:?}"),
        },
    }
}

fn borrowed<'a>(verdict: &'a Result<String, &'static str>) -> Result<&'a str, &'static str> {
    verdict.as_ref().map(String::as_str).map_err(|rule| *rule)
}

fn check<T: fmt::Display>(
    parse: impl Fn(&str) -> Result<T, Invalid>,
    table: &[(&str, Result<&str, &str>)],
) -> Vec<String> {
    table
        .iter()
        .filter_map(|(input, expected)| {
            let actual = verdict(parse(input));
            (borrowed(&actual) != *expected).then(|| format!("{input:?}: expected {expected:?}, got {actual:?}"))
        })
        .collect()
}

#[test]
fn cpu_quantities() {
    let table: &[(&str, Result<&str, &str>)] = &[
        ("500m", Ok("500m")),
        ("2", Ok("2")),
        ("1.5", Ok("1500m")),
        ("0.25", Ok("250m")),
        ("0.001", Ok("1m")),
        ("1m", Ok("1m")),
        ("1000m", Ok("1")),
        ("1.500", Ok("1500m")),
        ("02", Ok("2")),
        ("0.0000", Err("zero")),
        ("64", Ok("64")),
        ("0", Err("zero")),
        ("0m", Err("zero")),
        ("", Err("required")),
        ("-1", Err("negative")),
        ("-500m", Err("negative")),
        ("+1", Err("invalid-quantity")),
        ("0.0005", Err("too-precise")),
        ("1.0001", Err("too-precise")),
        ("1.5m", Err("too-precise")),
        ("1e3", Err("exponent")),
        ("1E3", Err("exponent")),
        ("1.5e-3", Err("exponent")),
        ("NaN", Err("invalid-quantity")),
        ("inf", Err("invalid-quantity")),
        (".5", Err("invalid-quantity")),
        ("1.", Err("invalid-quantity")),
        ("1.2.3", Err("invalid-quantity")),
        (" 1", Err("invalid-quantity")),
        ("1 ", Err("unknown-suffix")),
        ("1k", Err("unknown-suffix")),
        ("1Ki", Err("unknown-suffix")),
        ("500M", Err("unknown-suffix")),
        ("100u", Err("unknown-suffix")),
        ("2cores", Err("unknown-suffix")),
        ("18446744073709551616m", Err("overflow")),
        ("18446744073709552", Err("overflow")),
        ("99999999999999999999999999999999999999999999", Err("overflow")),
        ("18446744073709551615m", Ok("18446744073709551615m")),
    ];
    let wrong = check(Cpu::parse, table);
    assert!(wrong.is_empty(), "{} of {} verdicts differ:\n{}", wrong.len(), table.len(), wrong.join("\n"));
}

#[test]
fn cpu_from_cores() {
    let cases: &[(f64, Result<&str, &str>)] = &[
        (2.0, Ok("2")),
        (0.5, Ok("500m")),
        (0.1, Ok("100m")),
        (0.3, Ok("300m")),
        (1.001, Ok("1001m")),
        (0.0005, Err("too-precise")),
        (0.0, Err("zero")),
        (-0.0, Err("zero")),
        (-1.0, Err("negative")),
        (f64::NAN, Err("not-finite")),
        (f64::INFINITY, Err("not-finite")),
        (f64::NEG_INFINITY, Err("not-finite")),
        (1e300, Err("overflow")),
        (f64::MIN_POSITIVE, Err("too-precise")),
    ];
    for (cores, expected) in cases {
        assert_eq!(borrowed(&verdict(Cpu::from_cores(*cores))), *expected, "{cores}");
    }
}

#[test]
fn byte_quantities() {
    let table: &[(&str, Result<&str, &str>)] = &[
        ("4Gi", Ok("4Gi")),
        ("512Mi", Ok("512Mi")),
        ("1Ki", Ok("1Ki")),
        ("1Ti", Ok("1Ti")),
        ("1Pi", Ok("1Pi")),
        ("1.5Gi", Ok("1536Mi")),
        ("0.5Ki", Ok("512")),
        ("2048Mi", Ok("2Gi")),
        ("1k", Ok("1k")),
        ("10M", Ok("10M")),
        ("2G", Ok("2G")),
        ("1T", Ok("1T")),
        ("1P", Ok("1P")),
        ("1.5G", Ok("1500M")),
        ("1048576", Ok("1Mi")),
        ("1500", Ok("1500")),
        ("1", Ok("1")),
        ("0.001k", Ok("1")),
        ("", Err("required")),
        ("0", Err("zero")),
        ("0Gi", Err("zero")),
        ("0.0Mi", Err("zero")),
        ("-1Gi", Err("negative")),
        ("1.5", Err("too-precise")),
        ("0.1Ki", Err("too-precise")),
        ("0.0001k", Err("too-precise")),
        ("1.000000000000000000001Gi", Err("too-precise")),
        ("1gi", Err("unknown-suffix")),
        ("1GI", Err("unknown-suffix")),
        ("1GiB", Err("unknown-suffix")),
        ("1GB", Err("unknown-suffix")),
        ("1g", Err("unknown-suffix")),
        ("1K", Err("unknown-suffix")),
        ("1m", Err("unknown-suffix")),
        ("1Ei", Err("unknown-suffix")),
        ("1E", Err("unknown-suffix")),
        ("1 Gi", Err("unknown-suffix")),
        ("1e9", Err("exponent")),
        ("4e+9", Err("exponent")),
        ("+4Gi", Err("invalid-quantity")),
        ("Gi", Err("invalid-quantity")),
        ("NaN", Err("invalid-quantity")),
        ("16384Pi", Err("overflow")),
        ("18446744073709551616", Err("overflow")),
        ("18446744073709551615", Ok("18446744073709551615")),
        ("15Pi", Ok("15Pi")),
    ];
    let wrong = check(Bytes::parse, table);
    assert!(wrong.is_empty(), "{} of {} verdicts differ:\n{}", wrong.len(), table.len(), wrong.join("\n"));
}

#[test]
fn bytes_from_gib() {
    let cases: &[(f64, Result<&str, &str>)] = &[
        (2.0, Ok("2Gi")),
        (0.5, Ok("512Mi")),
        (1.25, Ok("1280Mi")),
        (0.1, Err("too-precise")),
        (0.0, Err("zero")),
        (-2.0, Err("negative")),
        (f64::NAN, Err("not-finite")),
        (1e12, Err("overflow")),
    ];
    for (gib, expected) in cases {
        assert_eq!(borrowed(&verdict(Bytes::from_gib(*gib))), *expected, "{gib}");
    }
    assert_eq!(verdict(Bytes::parse_gib("2Gi")), Err("unknown-suffix"));
    assert_eq!(verdict(Bytes::parse_gib("0.25")), Ok("256Mi".to_owned()));
}

#[test]
fn unknown_suffixes_suggest_the_right_one() {
    for (input, suggestion) in [("1gi", "Gi"), ("1GiB", "Gi"), ("1gb", "Gi"), ("1GB", "G"), ("1kB", "k"), ("1m", "Mi")]
    {
        let err = Bytes::parse(input).unwrap_err();
        assert!(err.to_string().contains(&format!("did you mean {suggestion:?}")), "{input}: {err}");
    }
}

//! `orchestrator token`: a token is printed once with its role, listed with its owner and role
//! but without its secret, revoked; and issued only inside the allowlist (an admin's outside
//! it only when asked).

use crate::cli::support::Env;

#[test]
fn a_token_is_shown_once_listed_without_its_secret_and_revoked() {
    let env = Env::new();
    let created = env.json(&["token", "create", "--email", "Alice@iiitm.ac.in"]);
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("orc_{id}_")), "{created}");
    assert_eq!(created["email"], "alice@iiitm.ac.in");
    assert_eq!(created["role"], "member", "the default role");
    let reader = env.json(&["token", "create", "--email", "rita@iiitm.ac.in", "--role", "reader"]);
    assert_eq!(reader["role"], "reader");

    let (code, stdout, _) = env.run(&["token", "list"]);
    assert_eq!(code, 0);
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["ID", "EMAIL", "ROLE", "SOURCE", "STATE", "LAST", "USED"], "{stdout}");
    assert_eq!(lines[1], [id.as_str(), "alice@iiitm.ac.in", "member", "store", "unused", "-"], "{stdout}");
    assert_eq!(lines[2][1..3], ["rita@iiitm.ac.in", "reader"], "{stdout}");
    let secret = token.rsplit('_').next().unwrap();
    assert!(!stdout.contains(secret), "the secret is never listed");
    for file in std::fs::read_dir(env.home()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds the secret", file.display());
    }

    assert_eq!(env.json(&["token", "revoke", &id])["revoked"], true);
    assert_eq!(env.json(&["token", "revoke", &token])["revoked"], false, "revoking by the leaked text works too");
    let (code, _, stderr) = env.run(&["token", "create", "--email", "not an address"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("email"), "{stderr}");
}

#[test]
fn tokens_are_issued_only_inside_the_allowlist_but_an_admin_s_when_asked() {
    let env = Env::new();
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(env.home().join("config.toml"), "[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\n")
        .unwrap();
    let (code, _, stderr) = env.run(&["token", "create", "--email", "eve@evil.com"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("eve@evil.com") && stderr.contains("iiitm.ac.in"), "{stderr}");
    let (code, _, stderr) = env.run(&["token", "create", "--email", "eve@evil.com", "--outside-allowlist"]);
    assert_eq!(code, 2, "only an admin's token may be outside: {stderr}");
    let (code, _, stderr) = env.run(&["token", "create", "--email", "eve@evil.com", "--role", "root"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("reader, member or admin"), "{stderr}");
    let (code, stdout, _) = env.run(&["token", "list"]);
    assert_eq!((code, stdout.lines().count()), (0, 1), "nothing was issued: {stdout}");

    let oncall =
        env.json(&["token", "create", "--email", "oncall@vendor.example", "--role", "admin", "--outside-allowlist"]);
    assert_eq!((oncall["email"].as_str(), oncall["role"].as_str()), (Some("oncall@vendor.example"), Some("admin")));
    let inside = env.json(&["token", "create", "--email", "ann@iiitm.ac.in", "--admin"]);
    assert_eq!(inside["role"], "admin", "--admin is --role admin");
}

//! `orchestrator token`: a token is printed once, listed without its secret, and revoked.

use crate::cli::support::Env;

#[test]
fn a_token_is_shown_once_listed_without_its_secret_and_revoked() {
    let env = Env::new();
    let created = env.json(&["token", "create", "--email", "Alice@iiitm.ac.in"]);
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("orc_{id}_")), "{created}");
    assert_eq!(created["email"], "alice@iiitm.ac.in");

    let (code, stdout, _) = env.run(&["token", "list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&id) && stdout.contains("unused"), "{stdout}");
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

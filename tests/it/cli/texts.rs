//! Small texts of the `orchestrator` binary that users read: what a usage error offers, what
//! `-q` leaves out, how an unknown environment is named.

use crate::cli::support::Env;

#[test]
fn upgrade_without_a_service_offers_all_and_check() {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(&["upgrade"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("--all") && stderr.contains("--check"), "{stderr}");
}

#[test]
fn quiet_create_service_prints_nothing_on_success() {
    let env = Env::new();
    let (code, stdout, stderr) =
        env.run(&["-q", "create-service", "--kind", "ms", "--name", "quiet", "--description", "d"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "", "-q prints only errors");
    assert_eq!(stderr, "");
    // It was made all the same.
    assert!(env.repos().iter().any(|r| r.contains("quiet")), "{:?}", env.repos());
}

#[test]
fn an_unknown_environment_is_named_as_written_not_as_a_debug_value() {
    let env = Env::new();
    let (code, _, stderr) =
        env.run(&["create-service", "--kind", "ms", "--name", "envs", "--description", "d", "--env", "prod"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(r#"unknown environment "prod""#), "{stderr}");
    assert!(!stderr.contains("EnvName"), "{stderr}");
}

//! `--help` is documentation: its text is reviewed as a snapshot.

use crate::cli::support::Env;

fn help(args: &[&str]) -> String {
    let env = Env::new();
    let (code, stdout, stderr) = env.run(args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!(help(&["--help"]));
}

#[test]
fn create_service_help() {
    insta::assert_snapshot!(help(&["create-service", "--help"]));
}

#[test]
fn runs_help() {
    insta::assert_snapshot!(help(&["runs", "--help"]));
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let (code, _, stderr) = env.run(&["create-service", "--name", "x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--kind <KIND>"), "{stderr}");
}

#[test]
fn upgrade_help() {
    insta::assert_snapshot!(help(&["upgrade", "--help"]));
}

#[test]
fn secret_seal_help_says_where_values_go_and_how_to_keep_them_out_of_history() {
    insta::assert_snapshot!(help(&["secret", "seal", "--help"]));
}

#[test]
fn init_help() {
    insta::assert_snapshot!(help(&["init", "--help"]));
}

#[test]
fn context_help() {
    insta::assert_snapshot!(help(&["context", "--help"]));
}

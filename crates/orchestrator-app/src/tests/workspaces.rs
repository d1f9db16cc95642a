//! Workspaces through the app on an in-memory cluster: every problem of a request at once, the
//! allowlist, quotas, and who may see and delete what.

use super::*;
use crate::auth::Caller;
use crate::workspaces::{AmountInput, Error, WorkspaceInput, Workspaces};
use provision_core::testing::MemoryWorkspaces;
use provision_core::workspace::WorkspacePhase;
use provision_core::{EmailAddress, Role};

const KEY: &str = include_str!("../../../provision-core/src/ssh/fixtures/ed25519.pub");
const RSA_1024: &str = include_str!("../../../provision-core/src/ssh/fixtures/rsa1024.pub");

struct Setup {
    app: Workspaces,
    cluster: Arc<MemoryWorkspaces>,
}

fn setup(extra: &str) -> Setup {
    let f = Fixture::new();
    let text =
        format!("[workspaces]\nallowed_email_domains = [\"iiitm.ac.in\"]\nquota_count = 2\nquota_cpu = \"3\"\n{extra}");
    let config = Config::from_toml("/data", &text, std::path::Path::new("config.toml")).unwrap();
    let cluster = Arc::new(MemoryWorkspaces::new());
    let runtime = Runtime::with_ports(config, f.ports()).with_workspaces(cluster.clone());
    Setup { app: runtime.workspaces().unwrap().clone(), cluster }
}

fn caller(email: &str, admin: bool) -> Caller {
    Caller { email: EmailAddress::parse(email).unwrap(), role: if admin { Role::Admin } else { Role::Member } }
}

fn request(email: &str, name: &str) -> WorkspaceInput {
    WorkspaceInput {
        email: email.into(),
        name: name.into(),
        cpu: Some(AmountInput::Text("1".into())),
        memory: Some(AmountInput::Number(2.0)),
        storage: None,
        ssh_public_key: KEY.into(),
        image: None,
    }
}

fn fields(err: &Error) -> Vec<(String, String)> {
    let invalid = match err {
        Error::Invalid(invalid) | Error::Quota(invalid) => invalid,
        other => panic!("not a validation error: {other:?}"),
    };
    invalid.problems().iter().map(|p| (p.field.clone(), p.rule.to_owned())).collect()
}

#[tokio::test]
async fn a_valid_request_becomes_a_workspace_named_after_its_owner() {
    let s = setup("");
    let alice = caller("alice@iiitm.ac.in", false);
    let view = s.app.create_workspace(&alice, &request("alice@IIITM.ac.in", "devbox")).await.unwrap();
    assert!(view.name.as_str().starts_with("alice-devbox-"), "{}", view.name);
    assert_eq!((view.owner.as_str(), view.user.as_str()), ("alice@iiitm.ac.in", "alice"));
    assert_eq!(
        (view.cpu.to_string(), view.memory.to_string(), view.storage.to_string()),
        ("1".into(), "2Gi".into(), "10Gi".into())
    );
    assert_eq!(view.status.phase, WorkspacePhase::Pending);
    let again = s.app.create_workspace(&alice, &request("alice@iiitm.ac.in", "devbox")).await.unwrap_err();
    assert!(matches!(again, Error::WorkspaceExists { .. }), "{again:?}");
}

#[tokio::test]
async fn every_problem_of_a_request_is_reported_at_once() {
    let s = setup("");
    let input = WorkspaceInput {
        email: "x@iiitm.ac.in.evil.com".into(),
        name: "Dev Box".into(),
        cpu: Some(AmountInput::Text("64".into())),
        memory: Some(AmountInput::Text("2GB".into())),
        storage: Some(AmountInput::Number(-1.0)),
        ssh_public_key: RSA_1024.into(),
        image: Some("bad image".into()),
    };
    let err = s.app.create_workspace(&caller("x@iiitm.ac.in", true), &input).await.unwrap_err();
    let got: Vec<String> = fields(&err).into_iter().map(|(f, _)| f).collect();
    for field in ["email", "name", "cpu", "memory", "storage", "ssh_public_key", "image"] {
        assert!(got.iter().any(|g| g == field), "{field} missing from {got:?}");
    }
    assert!(fields(&err).contains(&("email".into(), "domain-not-allowed".into())));
    assert!(fields(&err).contains(&("ssh_public_key".into(), "rsa-too-small".into())));
    assert!(fields(&err).contains(&("cpu".into(), "too-large".into())));
    assert!(s.cluster.names().is_empty());
}

#[tokio::test]
async fn people_ask_only_for_themselves_and_only_when_workspaces_are_on() {
    let s = setup("");
    let err = s.app.create_workspace(&caller("bob@iiitm.ac.in", false), &request("alice@iiitm.ac.in", "x")).await;
    assert_eq!(fields(&err.unwrap_err()), [("email".to_owned(), "not-yours".to_owned())]);
    // An admin may ask for someone.
    s.app.create_workspace(&caller("root@iiitm.ac.in", true), &request("alice@iiitm.ac.in", "x")).await.unwrap();

    // With no allowed domain the capability does not exist, whatever cluster there is.
    let off = Runtime::with_ports(Config::defaults("/d"), Fixture::new().ports())
        .with_workspaces(Arc::new(MemoryWorkspaces::new()));
    let err = off.workspaces().err().unwrap();
    assert!(matches!(&err, Error::NotConfigured(why) if why.contains("allowed_email_domains")), "{err:?}");
    assert_eq!(crate::error::Classified::kind(&err), crate::ErrorKind::Unavailable);
}

#[tokio::test]
async fn the_quota_counts_workspaces_and_totals() {
    let s = setup("");
    let alice = caller("alice@iiitm.ac.in", false);
    let mut big = request("alice@iiitm.ac.in", "one");
    big.cpu = Some(AmountInput::Text("2500m".into()));
    s.app.create_workspace(&alice, &big).await.unwrap();
    let err = s.app.create_workspace(&alice, &request("alice@iiitm.ac.in", "two")).await.unwrap_err();
    assert_eq!(fields(&err), [("cpu".to_owned(), "quota-total".to_owned())], "2.5 + 1 cores > 3");
    let mut small = request("alice@iiitm.ac.in", "two");
    small.cpu = Some(AmountInput::Text("500m".into()));
    s.app.create_workspace(&alice, &small).await.unwrap();
    let mut third = request("alice@iiitm.ac.in", "three");
    third.cpu = Some(AmountInput::Text("250m".into()));
    let err = s.app.create_workspace(&alice, &third).await.unwrap_err();
    assert!(fields(&err).iter().any(|(_, rule)| rule == "quota-count"), "{err:?}");
    // Someone else's quota is their own.
    s.app.create_workspace(&caller("bob@iiitm.ac.in", false), &request("bob@iiitm.ac.in", "one")).await.unwrap();
}

#[tokio::test]
async fn others_see_no_workspace_of_yours_and_admins_see_all() {
    let s = setup("");
    let (alice, bob, admin) =
        (caller("alice@iiitm.ac.in", false), caller("bob@iiitm.ac.in", false), caller("root@iiitm.ac.in", true));
    let a = s.app.create_workspace(&alice, &request("alice@iiitm.ac.in", "devbox")).await.unwrap();
    s.app.create_workspace(&bob, &request("bob@iiitm.ac.in", "devbox")).await.unwrap();
    s.cluster.set_phase(a.name.as_str(), WorkspacePhase::Ready, Some(30001));

    assert_eq!(s.app.workspaces(&alice, true).await.unwrap().len(), 1, "`all` means nothing to a user");
    assert_eq!(s.app.workspaces(&admin, true).await.unwrap().len(), 2);
    let shown = s.app.workspace(&alice, &a.name).await.unwrap();
    assert_eq!(shown.status.access_command.as_deref(), Some("ssh -p 30001 alice@localhost"));
    for attempt in [s.app.workspace(&bob, &a.name).await, s.app.delete_workspace(&bob, &a.name).await] {
        assert!(matches!(attempt, Err(Error::WorkspaceNotFound(_))), "{attempt:?}");
    }
    assert!(s.cluster.names().contains(&a.name.to_string()), "bob deleted nothing");
    s.app.delete_workspace(&admin, &a.name).await.unwrap();
    assert!(!s.cluster.names().contains(&a.name.to_string()));
    let gone = s.app.delete_workspace(&alice, &a.name).await;
    assert!(matches!(gone, Err(Error::WorkspaceNotFound(_))), "{gone:?}");
}

#[tokio::test]
async fn a_given_name_finds_the_caller_s_own_workspace_only() {
    use crate::workspaces::workspace_name;
    let s = setup("");
    let (alice, bob, admin) =
        (caller("alice@iiitm.ac.in", false), caller("bob@iiitm.ac.in", false), caller("root@iiitm.ac.in", true));
    let a = s.app.create_workspace(&alice, &request("alice@iiitm.ac.in", "devbox")).await.unwrap();
    let b = s.app.create_workspace(&bob, &request("bob@iiitm.ac.in", "devbox")).await.unwrap();
    let devbox = workspace_name("devbox").unwrap();
    assert_eq!(s.app.workspace(&alice, &devbox).await.unwrap().name, a.name);
    assert_eq!(s.app.workspace(&bob, &devbox).await.unwrap().name, b.name);
    // An admin sees everyone's by full name, but a given name is the admin's own.
    let missing = s.app.workspace(&admin, &devbox).await;
    assert!(matches!(missing, Err(Error::WorkspaceNotFound(_))), "{missing:?}");
    assert_eq!(s.app.workspace(&admin, &a.name).await.unwrap().name, a.name);
    let deleted = s.app.delete_workspace(&bob, &devbox).await.unwrap();
    assert_eq!(deleted.name, b.name);
    assert_eq!(s.cluster.names(), [a.name.to_string()]);
}

/// The names of the issue that reached the cluster's URLs unparsed, and their kin.
pub(crate) const HOSTILE_NAMES: &[&str] = &[
    "../../../api/v1/namespaces/kube-system/secrets/x",
    "x?labelSelector=a",
    "x y",
    "\0",
    "a/b",
    "..",
    "Alice-devbox-0a1b2c3d",
    "alice-devbox-0a1b2c3d\n",
    "alice-dévbox",
];

#[tokio::test]
async fn a_name_no_workspace_can_have_is_not_found_and_shown_bounded() {
    use crate::error::{Classified as _, ErrorKind};
    use crate::workspaces::workspace_name;
    let long = "x".repeat(10_000);
    for name in HOSTILE_NAMES.iter().copied().chain([long.as_str()]) {
        let err = workspace_name(name).unwrap_err();
        assert!(matches!(&err, Error::WorkspaceNotFound(_)), "{name:?}: {err:?}");
        assert_eq!((err.kind(), err.code()), (ErrorKind::NotFound, "not-found"), "{name:?}");
        let message = err.to_string();
        assert!(message.chars().count() < 100, "the answer repeats at most a name's worth: {message}");
        assert!(!message.contains('\0') && !message.contains('\n'), "escaped: {message:?}");
    }
    // The same answer as for a well-formed name nobody has.
    let s = setup("");
    let admin = caller("root@iiitm.ac.in", true);
    let nobody = workspace_name("alice-devbox-0a1b2c3d").unwrap();
    let missing = s.app.workspace(&admin, &nobody).await.unwrap_err();
    assert_eq!(
        missing.to_string().replace("alice-devbox-0a1b2c3d", "X"),
        workspace_name("a/b").unwrap_err().to_string().replace("\"a/b\"", "X")
    );
}

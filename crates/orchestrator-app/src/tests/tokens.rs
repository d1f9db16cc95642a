//! Bearer tokens through the app on the in-memory store: issuing, authenticating every shape of
//! `Authorization` header, revocation, confirmation for the legacy delete, the tokens file, and
//! no secret in any formatted value.

use crate::auth::tokens::{
    Principal, Token, TokenError, TokenFile, TokenFileError, TokenSource, authenticate, confirmed, issue, list, revoke,
};
use jiff::Timestamp;
use provision_core::ports::Tokens;
use provision_core::testing::MemoryStore;
use provision_core::{DomainAllowlist, EmailAddress, Role};
use std::path::Path;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn email(value: &str) -> EmailAddress {
    EmailAddress::parse(value).unwrap()
}

/// A deterministic stand-in for the OS's randomness: a different stream per seed.
fn random(seed: u64) -> impl FnMut(&mut [u8]) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state.to_le_bytes()[0];
        }
    }
}

fn bearer(token: &Token) -> String {
    format!("Bearer {}", token.expose())
}

/// The secret part of a token: what must appear nowhere but in `expose`.
fn secret(token: &Token) -> String {
    token.expose().rsplit('_').next().unwrap().to_owned()
}

async fn issued(store: &MemoryStore, address: &str, role: Role, seed: u64) -> Token {
    issue(store, &email(address), role, at(0), &mut random(seed)).await.unwrap().0
}

fn file(text: &str) -> TokenFile {
    TokenFile::parse(text, Path::new("tokens.toml")).unwrap()
}

fn problems(text: &str) -> (Vec<(String, String)>, String) {
    match TokenFile::parse(text, Path::new("tokens.toml")) {
        Err(e @ TokenFileError::Invalid { .. }) => {
            let TokenFileError::Invalid { invalid, .. } = &e else { unreachable!() };
            let fields = invalid.problems().iter().map(|p| (p.field.clone(), p.rule.to_owned())).collect();
            (fields, e.to_string())
        }
        other => panic!("not a list of problems: {other:?}"),
    }
}

#[tokio::test]
async fn an_issued_token_authenticates_its_holder() {
    let store = MemoryStore::new();
    let (token, record) =
        issue(&store, &email("Ann.Lee@Example.ORG"), Role::Member, at(0), &mut random(1)).await.unwrap();
    assert_eq!(
        (record.id.as_str(), record.email.as_str(), record.role),
        (token.id(), "ann.lee@example.org", Role::Member)
    );
    assert_eq!((record.created_at, record.last_used_at, record.revoked_at), (at(0), None, None));
    assert!(token.expose().starts_with(&format!("orc_{}_", token.id())));
    assert_eq!(token.id().len(), 12);
    assert_eq!(secret(&token).len(), 64);

    let principal = authenticate(&store, None, &bearer(&token), at(5)).await.unwrap();
    assert_eq!(
        principal,
        Principal { email: email("ann.lee@example.org"), role: Role::Member, token_id: token.id().to_owned() }
    );
    assert_eq!(principal.caller().email, email("ann.lee@example.org"));
    assert_eq!(principal.scope(), Some(&email("ann.lee@example.org")));
    let admin = issued(&store, "root@example.org", Role::Admin, 2).await;
    let root = authenticate(&store, None, &bearer(&admin), at(5)).await.unwrap();
    assert!(root.role == Role::Admin && root.caller().is_admin());
    assert_eq!(root.scope(), None, "an admin sees everyone's");

    // The store holds the hash of the whole text, never the text.
    assert_eq!(store.token_by_hash(&token.sha256_hex()).await.unwrap().unwrap().id, token.id());
    assert_eq!(store.token_by_hash(token.expose()).await.unwrap(), None);
}

#[tokio::test]
async fn a_wrong_secret_for_a_real_id_is_unauthorized() {
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    let text = token.expose();
    let last = if text.ends_with('0') { "1" } else { "0" };
    let forged = format!("Bearer {}{last}", &text[..text.len() - 1]);
    let e = authenticate(&store, None, &forged, at(1)).await.unwrap_err();
    assert!(matches!(e, TokenError::Unknown), "{e:?}");
    assert!(e.is_unauthorized());
    // An unknown id with a real secret is no better.
    let other = format!("Bearer orc_ffffffffffff_{}", secret(&token));
    assert!(matches!(authenticate(&store, None, &other, at(1)).await, Err(TokenError::Unknown)));
    let record = store.tokens(None).await.unwrap().remove(0);
    assert_eq!(record.last_used_at, None, "a failed attempt does not confirm");
}

#[tokio::test]
async fn every_header_but_bearer_and_the_token_is_unauthorized() {
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    let text = token.expose();
    for ok in [format!("Bearer {text}"), format!("bearer {text}"), format!("bEaReR {text}")] {
        assert_eq!(authenticate(&store, None, &ok, at(1)).await.unwrap().token_id, token.id(), "{ok}");
    }
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    let text = token.expose();
    let not_bearer = [
        ("empty", String::new()),
        ("basic", format!("Basic {text}")),
        ("basic-credentials", "Basic YW5uOnNlY3JldA==".into()),
        ("no-scheme", text.to_owned()),
        ("scheme-only", "Bearer".into()),
        ("no-space", format!("Bearer{text}")),
        ("tab", format!("Bearer\t{text}")),
        ("non-ascii-scheme", format!("Bеarer {text}")),
        ("non-ascii-token", format!("Bearer {}é", &text[..text.len() - 1])),
        ("huge", format!("Bearer {text}{}", "a".repeat(100_000))),
    ];
    let malformed = [
        ("two-spaces", format!("Bearer  {text}")),
        ("trailing-space", format!("Bearer {text} ")),
        ("trailing-newline", format!("Bearer {text}\n")),
        ("two-tokens", format!("Bearer {text} {text}")),
        ("uppercase-token", format!("Bearer {}", text.to_uppercase())),
        ("empty-token", "Bearer ".into()),
        ("jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo".into()),
    ];
    for (case, value) in &not_bearer {
        let e = authenticate(&store, None, value, at(1)).await.unwrap_err();
        assert!(matches!(e, TokenError::NotBearer), "{case}: {e:?}");
        assert!(e.is_unauthorized(), "{case}");
    }
    for (case, value) in &malformed {
        let e = authenticate(&store, None, value, at(1)).await.unwrap_err();
        assert!(matches!(e, TokenError::Malformed), "{case}: {e:?}");
        assert!(e.is_unauthorized(), "{case}");
    }
    assert_eq!(store.tokens(None).await.unwrap()[0].last_used_at, None, "none of them counted as a use");
}

#[tokio::test]
async fn a_revoked_token_is_unauthorized_and_unconfirmed() {
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    authenticate(&store, None, &bearer(&token), at(1)).await.unwrap();
    assert!(confirmed(&store, None, &email("ann@example.org")).await.unwrap());

    assert!(revoke(&store, None, token.id(), None, at(2)).await.unwrap(), "newly revoked");
    let e = authenticate(&store, None, &bearer(&token), at(3)).await.unwrap_err();
    assert!(matches!(&e, TokenError::Revoked { id } if id == token.id()), "{e:?}");
    assert!(e.is_unauthorized());
    assert!(!confirmed(&store, None, &email("ann@example.org")).await.unwrap());
    assert!(!revoke(&store, None, token.id(), None, at(4)).await.unwrap(), "revoked already");
    let record = store.tokens(None).await.unwrap().remove(0);
    assert_eq!((record.last_used_at, record.revoked_at), (Some(at(1)), Some(at(2))));

    let e = revoke(&store, None, "0123456789ab", None, at(4)).await.unwrap_err();
    assert!(matches!(&e, TokenError::NotFound { id } if id == "0123456789ab"), "{e:?}");
    assert!(!e.is_unauthorized());
    for bad in ["", "0123456789AB", "0123456789a", "orc_0123456789ab", "../../etc"] {
        assert!(matches!(revoke(&store, None, bad, None, at(4)).await, Err(TokenError::BadId)), "{bad:?}");
    }
}

#[tokio::test]
async fn a_leaked_token_is_revoked_by_its_text_too() {
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    assert!(revoke(&store, None, token.expose(), None, at(1)).await.unwrap());
    assert!(matches!(authenticate(&store, None, &bearer(&token), at(2)).await, Err(TokenError::Revoked { .. })));
    let other = Token::generate(&mut random(9));
    let e = revoke(&store, None, other.expose(), None, at(3)).await.unwrap_err();
    assert!(matches!(&e, TokenError::NotFound { id } if id == other.id()), "{e:?}");
    assert!(!e.to_string().contains(&secret(&other)), "{e}");
}

#[tokio::test]
async fn a_used_token_confirms_its_holder_for_the_legacy_delete() {
    let store = MemoryStore::new();
    let token = issued(&store, "Ann@example.org", Role::Member, 1).await;
    issued(&store, "bob@example.org", Role::Member, 2).await;
    assert!(!confirmed(&store, None, &email("ann@example.org")).await.unwrap(), "issued, never presented");
    authenticate(&store, None, &bearer(&token), at(1)).await.unwrap();
    assert!(confirmed(&store, None, &email("ANN@example.org")).await.unwrap(), "any case");
    assert!(!confirmed(&store, None, &email("bob@example.org")).await.unwrap());
    assert!(!confirmed(&store, None, &email("nobody@example.org")).await.unwrap());
}

#[tokio::test]
async fn a_use_is_recorded_at_most_once_a_minute() {
    let store = MemoryStore::new();
    let token = issued(&store, "ann@example.org", Role::Member, 1).await;
    let last_use = async |now| {
        authenticate(&store, None, &bearer(&token), at(now)).await.unwrap();
        store.tokens(None).await.unwrap()[0].last_used_at
    };
    assert_eq!(last_use(10).await, Some(at(10)), "the first use always");
    assert_eq!(last_use(40).await, Some(at(10)));
    assert_eq!(last_use(69).await, Some(at(10)));
    assert_eq!(last_use(70).await, Some(at(70)));
}

#[tokio::test]
async fn issuing_draws_again_when_an_id_is_taken() {
    let store = MemoryStore::new();
    let first = issued(&store, "ann@example.org", Role::Member, 7).await;
    // The same bytes as the first token, then others.
    let mut calls = 0;
    let mut replay = random(7);
    let mut fresh = random(8);
    let mut once_the_same = |buf: &mut [u8]| {
        calls += 1;
        if calls == 1 { replay(buf) } else { fresh(buf) }
    };
    let (second, _) = issue(&store, &email("bob@example.org"), Role::Member, at(1), &mut once_the_same).await.unwrap();
    assert_ne!(second.id(), first.id());
    assert_eq!(store.tokens(None).await.unwrap().len(), 2);

    let mut always_the_same = |buf: &mut [u8]| random(7)(buf);
    let e = issue(&store, &email("bob@example.org"), Role::Member, at(2), &mut always_the_same).await.unwrap_err();
    assert!(matches!(e, TokenError::Collision), "a source that repeats itself is reported: {e:?}");
}

#[tokio::test]
async fn users_list_and_revoke_only_their_own_tokens() {
    let store = MemoryStore::new();
    let ann = issued(&store, "ann@example.org", Role::Member, 1).await;
    let bob = issued(&store, "bob@example.org", Role::Member, 2).await;
    let root = issued(&store, "root@example.org", Role::Admin, 3).await;
    let who = async |token: &Token| authenticate(&store, None, &bearer(token), at(1)).await.unwrap();
    let (ann_p, root_p) = (who(&ann).await, who(&root).await);

    let ids = |views: Vec<crate::auth::tokens::TokenView>| views.into_iter().map(|v| v.id).collect::<Vec<_>>();
    assert_eq!(ids(list(&store, None, ann_p.scope()).await.unwrap()), [ann.id()]);
    assert_eq!(ids(list(&store, None, root_p.scope()).await.unwrap()), [ann.id(), bob.id(), root.id()]);

    let e = revoke(&store, None, bob.id(), ann_p.scope(), at(2)).await.unwrap_err();
    assert!(matches!(e, TokenError::NotFound { .. }), "another's token is as good as absent: {e:?}");
    assert!(authenticate(&store, None, &bearer(&bob), at(3)).await.is_ok(), "and stays live");
    assert!(revoke(&store, None, ann.id(), ann_p.scope(), at(2)).await.unwrap(), "one's own");
    assert!(revoke(&store, None, bob.id(), root_p.scope(), at(2)).await.unwrap(), "an admin, anyone's");

    let view = list(&store, None, Some(&email("bob@example.org"))).await.unwrap().remove(0);
    assert_eq!((view.source, view.confirmed, view.revoked_at), (TokenSource::Store, false, Some(at(2))));
}

/// Two file tokens, one vouched for, and the file's text.
fn file_tokens() -> (Token, Token, String) {
    let (carol, dave) = (Token::generate(&mut random(11)), Token::generate(&mut random(12)));
    let text = format!(
        "# Tokens of the people without a store token.\n{}\n{}",
        TokenFile::entry_for(&carol, &email("Carol@Example.org"), Role::Admin, true),
        TokenFile::entry_for(&dave, &email("dave@example.org"), Role::Member, false),
    );
    (carol, dave, text)
}

#[tokio::test]
async fn file_tokens_authenticate_write_nothing_and_confirm_only_when_marked() {
    let store = MemoryStore::new();
    let (carol, dave, text) = file_tokens();
    let tokens = file(&text);
    assert_eq!(tokens.entries().len(), 2);

    let p = authenticate(&store, Some(&tokens), &bearer(&carol), at(1)).await.unwrap();
    assert_eq!(p, Principal { email: email("carol@example.org"), role: Role::Admin, token_id: carol.id().to_owned() });
    let p = authenticate(&store, Some(&tokens), &format!("bearer {}", dave.expose()), at(1)).await.unwrap();
    assert_eq!((p.email.as_str(), p.role), ("dave@example.org", Role::Member));
    assert_eq!(store.tokens(None).await.unwrap(), [], "nothing was written to the store");

    assert!(confirmed(&store, Some(&tokens), &email("carol@example.org")).await.unwrap(), "confirmed = true");
    assert!(!confirmed(&store, Some(&tokens), &email("dave@example.org")).await.unwrap(), "used, yet not marked");
    assert!(!confirmed(&store, None, &email("carol@example.org")).await.unwrap(), "without the file");

    // Store tokens still work beside the file, and a file token is revoked only in the file.
    let ann = issued(&store, "ann@example.org", Role::Member, 1).await;
    assert_eq!(authenticate(&store, Some(&tokens), &bearer(&ann), at(2)).await.unwrap().token_id, ann.id());
    let e = revoke(&store, Some(&tokens), carol.id(), None, at(3)).await.unwrap_err();
    assert!(matches!(e, TokenError::InFile { .. }), "{e:?}");
    let views = list(&store, Some(&tokens), None).await.unwrap();
    let listed: Vec<_> = views.iter().map(|v| (v.id.as_str(), v.source, v.confirmed)).collect();
    assert_eq!(
        listed,
        [
            (carol.id(), TokenSource::File, true),
            (dave.id(), TokenSource::File, false),
            (ann.id(), TokenSource::Store, true)
        ]
    );
    let dave_only = list(&store, Some(&tokens), Some(&email("dave@example.org"))).await.unwrap();
    assert_eq!(dave_only.len(), 1);

    // A file entry under another token's id matches nothing.
    let wrong_id = text.replacen(&format!("id = \"{}\"", carol.id()), "id = \"ffffffffffff\"", 1);
    let e = authenticate(&store, Some(&file(&wrong_id)), &bearer(&carol), at(4)).await.unwrap_err();
    assert!(matches!(e, TokenError::Unknown), "{e:?}");
}

#[tokio::test]
async fn an_empty_tokens_file_holds_no_token() {
    assert_eq!(file("").entries().len(), 0);
    assert_eq!(file("# nobody yet\n").entries().len(), 0);
    assert_eq!(file("tokens = []\n").entries().len(), 0);
}

#[test]
fn a_malformed_tokens_file_reports_every_problem_with_entry_and_field() {
    let plain = Token::generate(&mut random(21));
    let good_hash = Token::generate(&mut random(22)).sha256_hex();
    let text = format!(
        r#"[[tokens]]
id = "a1b2c3d4e5f6"
email = "ann@example.org"
sha256 = "{good_hash}"

[[tokens]]
id = "A1B2"
email = "not an address"
admin = "yes"
sha256 = "{plain}"
colour = "red"

[[tokens]]
email = 7
sha256 = "{short}"
confirmed = 1

[[tokens]]
id = "a1b2c3d4e5f6"
email = "bob@example.org"
sha256 = "{good_hash}"

[[tokens]]
id = "{plain}"
email = "eve@example.org"
sha256 = "{upper}"

[settings]
x = 1
"#,
        plain = plain.expose(),
        short = &good_hash[..63],
        upper = good_hash.to_uppercase(),
    );
    let (fields, message) = problems(&text);
    let expected = [
        ("settings", "unknown-field"),
        ("tokens[1].colour", "unknown-field"),
        ("tokens[1].admin", "type"),
        ("tokens[1].id", "format"),
        ("tokens[1].email", "whitespace"),
        ("tokens[1].email", "no-at"),
        ("tokens[1].sha256", "plain-token"),
        ("tokens[2].id", "required"),
        ("tokens[2].email", "type"),
        ("tokens[2].confirmed", "type"),
        ("tokens[2].sha256", "format"),
        ("tokens[4].id", "plain-token"),
        ("tokens[4].sha256", "format"),
        // Duplicates last, once every entry is read.
        ("tokens[3].id", "duplicate"),
        ("tokens[3].sha256", "duplicate"),
    ];
    let expected: Vec<_> = expected.iter().map(|(f, r)| (f.to_string(), r.to_string())).collect();
    assert_eq!(fields, expected);
    assert!(!fields.iter().any(|(f, _)| f.starts_with("tokens[0]")), "the first entry is fine: {fields:?}");
    assert!(message.starts_with("tokens.toml: invalid input ("), "{message}");
    assert!(message.contains("line 6:"), "the second entry's line: {message}");
    assert!(message.contains("line 18:") && message.contains("tokens[0]"), "the duplicate names the first: {message}");
    assert!(!message.contains(plain.expose()) && !message.contains(&secret(&plain)), "{message}");
    assert!(!message.contains(&good_hash) && !message.contains(&good_hash.to_uppercase()), "{message}");
}

#[test]
fn a_tokens_file_that_is_not_toml_names_the_place_but_not_the_line() {
    let plain = Token::generate(&mut random(31));
    let text = format!("[[tokens]]\nid = \"a1b2c3d4e5f6\"\nsha256 = {}\n", plain.expose());
    let e = TokenFile::parse(&text, Path::new("/etc/orchestrator/tokens.toml")).unwrap_err();
    let TokenFileError::Syntax { line, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*line, 3);
    let message = e.to_string();
    assert!(message.starts_with("/etc/orchestrator/tokens.toml:3:"), "{message}");
    assert!(!message.contains(&secret(&plain)), "{message}");
    assert!(!format!("{e:?}").contains(&secret(&plain)));
}

#[tokio::test]
async fn no_formatted_value_shows_a_secret() {
    let store = MemoryStore::new();
    let (token, record) = issue(&store, &email("ann@example.org"), Role::Member, at(0), &mut random(1)).await.unwrap();
    let hidden = secret(&token);
    assert_eq!(token.to_string(), format!("orc_{}_***", token.id()));
    assert_eq!(format!("{token:?}"), format!("orc_{}_***", token.id()));
    assert_eq!(format!("{token:#?}"), format!("orc_{}_***", token.id()));

    let principal = authenticate(&store, None, &bearer(&token), at(1)).await.unwrap();
    let (carol, _, text) = file_tokens();
    let tokens = file(&text);
    let mut shown = vec![
        format!("{record:?}"),
        format!("{principal:?}"),
        format!("{tokens:?}"),
        format!("{:?}", list(&store, Some(&tokens), None).await.unwrap()),
        serde_json::to_string(&list(&store, Some(&tokens), None).await.unwrap()).unwrap(),
    ];
    let truncated = format!("Bearer {}", &token.expose()[..token.expose().len() - 1]);
    let wrong = format!("Bearer {}", token.expose().replace(&hidden, &"0".repeat(64)));
    let errors = [
        authenticate(&store, None, &format!("Basic {}", token.expose()), at(2)).await.unwrap_err(),
        authenticate(&store, None, &format!("Bearer  {}", token.expose()), at(2)).await.unwrap_err(),
        authenticate(&store, None, &truncated, at(2)).await.unwrap_err(),
        authenticate(&store, None, &wrong, at(2)).await.unwrap_err(),
        revoke(&store, Some(&tokens), carol.id(), None, at(3)).await.unwrap_err(),
        revoke(&store, None, "ffffffffffff", None, at(3)).await.unwrap_err(),
        revoke(&store, None, &token.expose()[..40], None, at(3)).await.unwrap_err(),
        {
            revoke(&store, None, token.id(), None, at(3)).await.unwrap();
            authenticate(&store, None, &bearer(&token), at(4)).await.unwrap_err()
        },
        TokenError::Collision,
    ];
    for e in &errors {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }
    for s in &shown {
        for secret in [&hidden, &secret(&carol)] {
            assert!(!s.contains(secret.as_str()), "a secret in {s}");
        }
    }
    assert!(shown.iter().any(|s| s.contains(token.id())), "ids are shown: {shown:#?}");
}

#[test]
fn a_file_token_has_a_role_and_the_old_admin_flag_still_reads() {
    let hash = |n: u64| Token::generate(&mut random(40 + n)).sha256_hex();
    let entry = |id: &str, n: u64, extra: &str| {
        format!("[[tokens]]\nid = \"{id}\"\nemail = \"a{n}@example.org\"\nsha256 = \"{}\"\n{extra}\n", hash(n))
    };
    let text = [
        entry("a00000000001", 1, "role = \"reader\""),
        entry("a00000000002", 2, ""),
        entry("a00000000003", 3, "admin = true"),
        entry("a00000000004", 4, "role = \"admin\"\nadmin = true"),
    ]
    .concat();
    let roles: Vec<Role> = file(&text).entries().iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::Reader, Role::Member, Role::Admin, Role::Admin]);

    let bad =
        [entry("a00000000005", 5, "role = \"root\""), entry("a00000000006", 6, "role = \"reader\"\nadmin = true")]
            .concat();
    let (fields, message) = problems(&bad);
    assert_eq!(
        fields,
        [
            ("tokens[0].role".to_owned(), "unknown-role".to_owned()),
            ("tokens[1].role".to_owned(), "conflict".to_owned())
        ]
    );
    assert!(message.contains("reader, member or admin"), "{message}");
}

fn auth(store: &MemoryStore) -> crate::auth::Auth {
    crate::auth::Auth::new(std::sync::Arc::new(store.clone()), None)
}

#[tokio::test]
async fn a_request_needs_a_token_whose_role_allows_it() {
    use crate::auth::Error;
    let store = MemoryStore::new();
    let reader = issued(&store, "rita@example.org", Role::Reader, 51).await;
    let member = issued(&store, "max@example.org", Role::Member, 52).await;
    let auth = auth(&store);

    let e = auth.authorize(None, Role::Reader).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized(TokenError::NotBearer)), "{e:?}");
    let caller = auth.authorize(Some(&bearer(&reader)), Role::Reader).await.unwrap().unwrap();
    assert_eq!((caller.email.as_str(), caller.role), ("rita@example.org", Role::Reader));
    let e = auth.authorize(Some(&bearer(&reader)), Role::Member).await.unwrap_err();
    let Error::Forbidden { has, needed, .. } = &e else { panic!("{e:?}") };
    assert_eq!((*has, *needed), (Role::Reader, Role::Member));
    assert!(e.to_string().contains("reader") && !e.to_string().contains(&secret(&reader)), "{e}");
    assert!(auth.authorize(Some(&bearer(&member)), Role::Member).await.unwrap().is_some());
    assert!(matches!(auth.authorize(Some(&bearer(&member)), Role::Admin).await, Err(Error::Forbidden { .. })));

    // Disabled: no token passes as nobody; a token sent is still checked.
    let open = auth.disabled(true);
    assert_eq!(open.authorize(None, Role::Admin).await.unwrap(), None);
    let unknown = Token::generate(&mut random(53));
    assert!(matches!(open.authorize(Some(&bearer(&unknown)), Role::Reader).await, Err(Error::Unauthorized(_))));
    assert!(matches!(open.authorize(Some(&bearer(&reader)), Role::Admin).await, Err(Error::Forbidden { .. })));
}

#[tokio::test]
async fn tokens_are_issued_inside_the_allowlist_and_an_admin_s_outside_only_when_asked() {
    use crate::auth::Error;
    let store = MemoryStore::new();
    let allowlist = DomainAllowlist::parse(["iiitm.ac.in"]).unwrap();
    let auth = auth(&store).allowlist(Some(allowlist));

    let (_, record) = auth.issue_token("ann@iiitm.ac.in", Role::Member, false).await.unwrap();
    assert_eq!(record.role, Role::Member);
    for role in Role::ALL {
        let e = auth.issue_token("eve@evil.com", role, false).await.unwrap_err();
        let Error::Invalid(invalid) = &e else { panic!("{e:?}") };
        let problem = &invalid.problems()[0];
        assert_eq!((problem.field.as_str(), problem.rule), ("email", "domain-not-allowed"));
        assert!(problem.message.contains("iiitm.ac.in"), "{}", problem.message);
        assert_eq!(problem.message.contains("--outside-allowlist"), role == Role::Admin, "{}", problem.message);
    }
    let e = auth.issue_token("eve@evil.com", Role::Member, true).await.unwrap_err();
    let Error::Invalid(invalid) = &e else { panic!("{e:?}") };
    assert_eq!(invalid.problems()[0].rule, "admin-only");
    let (_, record) = auth.issue_token("ops@contractor.example", Role::Admin, true).await.unwrap();
    assert_eq!((record.email.as_str(), record.role), ("ops@contractor.example", Role::Admin));
    let emails: Vec<String> = store.tokens(None).await.unwrap().into_iter().map(|r| r.email).collect();
    assert_eq!(emails, ["ann@iiitm.ac.in", "ops@contractor.example"], "nothing else was issued");

    let anywhere = self::auth(&store);
    assert!(anywhere.issue_token("bob@anywhere.example", Role::Reader, false).await.is_ok(), "no allowlist");
}

//! The `Tokens` contract: tokens found by their hash only, one per id and per hash, only a
//! SHA-256 ever stored, "confirmed" meaning used and not revoked, revocations kept for ever.

use crate::support::{Backend, at, email};
use provision_core::Role;
use provision_core::ports::{PortErrorKind, TokenRecord, Tokens};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// A distinct, well-formed SHA-256 hex for each `n`.
fn hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn add(tokens: &dyn Tokens, id: &str, n: u8, address: &str, now: i64) -> TokenRecord {
    tokens.add_token(id, &hash(n), &email(address), Role::Member, at(now)).await.unwrap()
}

fn ids(records: &[TokenRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

pub async fn a_token_is_found_by_its_hash(b: &Backend) {
    let tokens = b.tokens().await;
    let added =
        tokens.add_token("a1b2c3d4e5f6", &hash(1), &email("Ann.Lee@Example.ORG"), Role::Admin, at(0)).await.unwrap();
    assert_eq!(
        added,
        TokenRecord {
            id: "a1b2c3d4e5f6".into(),
            email: "ann.lee@example.org".into(),
            role: Role::Admin,
            created_at: at(0),
            last_used_at: None,
            revoked_at: None,
        },
        "the address is kept normalized"
    );
    assert!(!added.is_confirmed());
    assert_eq!(tokens.token_by_hash(&hash(1)).await.unwrap(), Some(added.clone()));
    assert_eq!(b.tokens().await.token_by_hash(&hash(1)).await.unwrap(), Some(added), "from another handle too");
    assert_eq!(tokens.token_by_hash(&hash(2)).await.unwrap(), None);
    assert_eq!(tokens.token_by_hash("a1b2c3d4e5f6").await.unwrap(), None, "an id is not a hash");
    assert_eq!(tokens.token_by_hash("").await.unwrap(), None);
}

pub async fn a_duplicate_id_or_hash_is_refused(b: &Backend) {
    let tokens = b.tokens().await;
    let first = add(&*tokens, "t1", 1, "ann@example.org", 0).await;
    for (id, n) in [("t1", 2), ("t2", 1), ("t1", 1)] {
        let e =
            b.tokens().await.add_token(id, &hash(n), &email("bob@example.org"), Role::Admin, at(1)).await.unwrap_err();
        assert_eq!(e.kind, PortErrorKind::AlreadyExists, "{id} {n}: {e}");
        assert!(!e.to_string().contains(&hash(n)), "the hash is not repeated: {e}");
    }
    assert_eq!(tokens.tokens(None).await.unwrap(), std::slice::from_ref(&first), "nothing else was stored");
    assert_eq!(tokens.token_by_hash(&hash(1)).await.unwrap(), Some(first));
    assert_eq!(tokens.token_by_hash(&hash(2)).await.unwrap(), None);
}

pub async fn only_a_sha256_in_lowercase_hex_is_stored(b: &Backend) {
    let tokens = b.tokens().await;
    let plain = format!("orc_a1b2c3d4e5f6_{}", "ab".repeat(32));
    for bad in
        [plain.as_str(), &hash(0xab).to_uppercase(), &hash(1)[1..], &format!("{}0", hash(1)), "", &"g".repeat(64)]
    {
        let e = tokens.add_token("t1", bad, &email("ann@example.org"), Role::Member, at(0)).await.unwrap_err();
        assert_eq!(e.kind, PortErrorKind::Permanent, "{bad:?}: {e}");
        assert!(!e.to_string().contains(bad) || bad.is_empty(), "the value is not repeated: {e}");
    }
    assert_eq!(tokens.tokens(None).await.unwrap(), []);
}

pub async fn a_used_token_confirms_its_holder(b: &Backend) {
    let tokens = b.tokens().await;
    add(&*tokens, "t1", 1, "ann@example.org", 0).await;
    add(&*tokens, "t2", 2, "bob@example.org", 0).await;
    assert!(!tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap(), "issued is not confirmed");

    tokens.mark_token_used("t1", at(5)).await.unwrap();
    let used = tokens.token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!((used.last_used_at, used.is_confirmed()), (Some(at(5)), true));
    assert!(tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap());
    assert!(b.tokens().await.has_confirmed_token(&email("ANN@Example.org")).await.unwrap(), "one person, any case");
    assert!(!tokens.has_confirmed_token(&email("bob@example.org")).await.unwrap(), "only the holder");
    assert!(!tokens.has_confirmed_token(&email("nobody@example.org")).await.unwrap());

    // The last use only moves forward, whatever order concurrent requests report in.
    tokens.mark_token_used("t1", at(3)).await.unwrap();
    assert_eq!(tokens.token_by_hash(&hash(1)).await.unwrap().unwrap().last_used_at, Some(at(5)));
    tokens.mark_token_used("t1", at(9)).await.unwrap();
    assert_eq!(tokens.token_by_hash(&hash(1)).await.unwrap().unwrap().last_used_at, Some(at(9)));
}

pub async fn a_revoked_token_is_kept_but_neither_live_nor_confirmed(b: &Backend) {
    let tokens = b.tokens().await;
    add(&*tokens, "t1", 1, "ann@example.org", 0).await;
    tokens.mark_token_used("t1", at(1)).await.unwrap();
    assert!(tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap());

    assert!(tokens.revoke_token("t1", at(7)).await.unwrap(), "newly revoked");
    let revoked = tokens.token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!((revoked.revoked_at, revoked.last_used_at), (Some(at(7)), Some(at(1))), "still found, as revoked");
    assert!(!revoked.is_confirmed());
    assert!(!tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap());

    assert!(!b.tokens().await.revoke_token("t1", at(9)).await.unwrap(), "revoked already");
    tokens.mark_token_used("t1", at(10)).await.unwrap();
    let still = tokens.token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!((still.revoked_at, still.last_used_at), (Some(at(7)), Some(at(1))), "nothing changes it any more");

    // Another token of the same person, used, confirms again.
    add(&*tokens, "t2", 2, "ann@example.org", 11).await;
    assert!(!tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap());
    tokens.mark_token_used("t2", at(12)).await.unwrap();
    assert!(tokens.has_confirmed_token(&email("ann@example.org")).await.unwrap());
}

pub async fn changing_an_unknown_token_is_not_found(b: &Backend) {
    let tokens = b.tokens().await;
    add(&*tokens, "t1", 1, "ann@example.org", 0).await;
    let e = tokens.mark_token_used("ghost", at(1)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound);
    assert!(e.to_string().contains("ghost"), "{e}");
    let e = tokens.revoke_token("ghost", at(1)).await.unwrap_err();
    assert_eq!(e.kind, PortErrorKind::NotFound);
    assert!(e.to_string().contains("ghost"), "{e}");
    let t1 = tokens.token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!((t1.last_used_at, t1.revoked_at), (None, None), "other tokens are untouched");
}

pub async fn tokens_are_listed_per_address_oldest_first(b: &Backend) {
    let tokens = b.tokens().await;
    assert_eq!(tokens.tokens(None).await.unwrap(), []);
    // Ids out of alphabetical order: the order is the order they were added in.
    for (id, n, address, now) in
        [("c", 1, "ann@example.org", 0), ("a", 2, "bob@example.org", 1), ("b", 3, "Ann@example.org", 2)]
    {
        add(&*tokens, id, n, address, now).await;
    }
    tokens.revoke_token("c", at(3)).await.unwrap();
    assert_eq!(ids(&tokens.tokens(None).await.unwrap()), ["c", "a", "b"]);
    let ann = tokens.tokens(Some(&email("ANN@example.org"))).await.unwrap();
    assert_eq!(ids(&ann), ["c", "b"], "revoked ones included");
    assert!(ann.iter().all(|r| r.email == "ann@example.org"), "{ann:?}");
    assert_eq!(ids(&b.tokens().await.tokens(Some(&email("bob@example.org"))).await.unwrap()), ["a"]);
    assert_eq!(tokens.tokens(Some(&email("nobody@example.org"))).await.unwrap(), []);
}

pub async fn token_times_are_kept_to_the_microsecond(b: &Backend) {
    let tokens = b.tokens().await;
    let precise = |s| at(s).checked_add(Duration::from_nanos(1_234_567)).unwrap();
    let micro = |s| at(s).checked_add(Duration::from_micros(1_234)).unwrap();
    tokens.add_token("t1", &hash(1), &email("ann@example.org"), Role::Member, precise(0)).await.unwrap();
    tokens.mark_token_used("t1", precise(1)).await.unwrap();
    tokens.revoke_token("t1", precise(2)).await.unwrap();
    let r = tokens.token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!((r.created_at, r.last_used_at, r.revoked_at), (micro(0), Some(micro(1)), Some(micro(2))));
}

pub async fn concurrent_additions_of_one_hash_keep_one(b: &Backend) {
    const ADDERS: usize = 16;
    let handles: [Arc<dyn Tokens>; 2] = [b.tokens().await, b.tokens().await];
    let start = Arc::new(Barrier::new(ADDERS));
    let mut tasks = JoinSet::new();
    for i in 0..ADDERS {
        let (tokens, start) = (handles[i % 2].clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            tokens.add_token(&format!("t{i}"), &hash(7), &email("ann@example.org"), Role::Member, at(0)).await
        });
    }
    let outcomes = tasks.join_all().await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| e.kind == PortErrorKind::AlreadyExists),
        "{outcomes:?}"
    );
    assert_eq!(handles[0].tokens(None).await.unwrap().len(), 1);
}

//! [`Tokens`]: stored by hash, authenticated, listed, revoked, expiring.

use chrono::Duration;
use usagedesk_cloud::storage::{NewToken, StoreError, TokenKind, TokenState};
use usagedesk_cloud::TokenScope;

use super::*;

fn token(n: u8, scope: TokenScope, kind: TokenKind, expires_in_days: Option<i64>) -> NewToken {
    let created_at = at(2026, 3, 1, n as u32);
    NewToken {
        hash: [n; 32],
        id: format!("tok-{:012x}", n),
        scope,
        kind,
        name: format!("token {n}"),
        created_at,
        expires_at: expires_in_days.map(|d| created_at + Duration::days(d)),
    }
}

pub fn tokens_authenticate_by_hash_and_are_listed_oldest_first(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let manager = token(
        1,
        TokenScope::Subtree("a".into()),
        TokenKind::Manager,
        Some(30),
    );
    let ingest = token(2, TokenScope::All, TokenKind::Ingest, None);
    s.add_token(&ingest).unwrap();
    s.add_token(&manager).unwrap();
    let grant = s
        .authenticate(manager.hash)
        .unwrap()
        .expect("found by its hash");
    assert_eq!(
        (
            grant.id.as_str(),
            &grant.scope,
            grant.kind,
            grant.name.as_str()
        ),
        (
            manager.id.as_str(),
            &manager.scope,
            manager.kind,
            manager.name.as_str()
        )
    );
    assert_eq!(grant.expires_at, manager.expires_at);
    assert_eq!(grant.revoked_at, None);
    assert!(
        s.authenticate([9; 32]).unwrap().is_none(),
        "an unknown hash finds nothing"
    );
    // Oldest first: token 1 was created an hour before token 2, whatever the insert order.
    let ids: Vec<String> = s.tokens().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![manager.id.clone(), ingest.id.clone()]);
    // A second token with the same id is not stored twice.
    let mut twin = token(3, TokenScope::All, TokenKind::Manager, None);
    twin.id = manager.id.clone();
    assert!(s.add_token(&twin).is_err());
    assert_eq!(s.tokens().unwrap().len(), 2);
}

pub fn revoked_and_expired_tokens_still_authenticate_with_their_state(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let t = token(1, TokenScope::All, TokenKind::Manager, Some(10));
    s.add_token(&t).unwrap();
    let created = t.created_at;
    let grant = s.authenticate(t.hash).unwrap().unwrap();
    assert_eq!(grant.state(created + Duration::days(9)), TokenState::Active);
    assert_eq!(
        grant.state(created + Duration::days(10)),
        TokenState::Expired,
        "a token expires at its expiry"
    );
    let when = created + Duration::days(2);
    let info = s.revoke_token(&t.id, when).unwrap();
    assert_eq!(info.revoked_at, Some(when));
    // Revoking again keeps the first revocation's time.
    let again = s.revoke_token(&t.id, when + Duration::days(1)).unwrap();
    assert_eq!(again.revoked_at, Some(when));
    let grant = s
        .authenticate(t.hash)
        .unwrap()
        .expect("still found, to say why it fails");
    assert_eq!(grant.state(when), TokenState::Revoked);
    assert!(matches!(
        s.revoke_token("tok-000000000000", when),
        Err(StoreError::NotFound(_))
    ));
}

pub fn a_token_for_an_unknown_account_is_refused_and_not_stored(open: Open<'_>) {
    let fresh = loaded(open);
    let s = fresh.store.as_ref();
    let t = token(
        1,
        TokenScope::Subtree("ghost".into()),
        TokenKind::Manager,
        None,
    );
    assert!(matches!(s.add_token(&t), Err(StoreError::Invalid(_))));
    assert!(s.tokens().unwrap().is_empty());
    assert!(s.authenticate(t.hash).unwrap().is_none());
}

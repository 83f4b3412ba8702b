//! The identity provider's store on SQLite and PostgreSQL: the same suite on both.

use std::sync::Arc;

use imms_db::Database;
use imms_idp::lockout::LockoutPolicy;
use imms_idp::store::{Client, CodeGrant};
use imms_idp::{AcctType, AddAccount, FakeClock, Idp, IdpError, IdpSettings, SignInOutcome};

const T0: i64 = 1_800_000_000;
const PASSWORD: &str = "violet harbour lantern";

fn idp(db: Database, dir: &tempfile::TempDir, clock: &FakeClock) -> Arc<Idp> {
    let settings = IdpSettings::new(dir.path().to_path_buf(), "http://127.0.0.1:8080");
    Arc::new(Idp::open(settings, db, Arc::new(clock.clone())).expect("open idp"))
}

async fn citizen(idp: &Idp, user: &str, ssn: &str) -> Result<i64, IdpError> {
    idp.add_account(&AddAccount {
        user_id: user,
        email: "someone@example.org",
        acct_type: AcctType::Citizen,
        password: PASSWORD,
        ssn: Some(ssn),
    })
    .await
}

imms_db::conformance_test!(
    hundred_parallel_wrong_attempts_lock_exactly_once,
    |db: Database| async move {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let idp = idp(db, &dir, &clock);
        citizen(&idp, "astrid.l", "123-45-6789").await.unwrap();
        let mut tasks = vec![];
        for i in 0..100 {
            let idp = idp.clone();
            tasks.push(tokio::spawn(async move {
                idp.sign_in("astrid.l", &format!("wrong password {i}"))
                    .await
                    .unwrap()
            }));
        }
        let (mut wrong, mut locked) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                SignInOutcome::Wrong => wrong += 1,
                SignInOutcome::Locked(_) => locked += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // Four plain refusals, then the fifth wrong guess locks; 95 never get a guess.
        assert_eq!(
            wrong, 4,
            "only the limit's worth of guesses is ever checked"
        );
        assert_eq!(locked, 96);
        let a = idp.account("astrid.l").await.unwrap();
        let state = idp.store.lock_state(&a.lock_key()).await.unwrap();
        assert_eq!(state.lock_events, 1, "locked exactly once");
        assert_eq!(state.locked_until, Some(T0 + 30 * 60));

        // The right password does not open it early…
        assert!(matches!(
            idp.sign_in("astrid.l", PASSWORD).await.unwrap(),
            SignInOutcome::Locked(_)
        ));
        clock.advance(30 * 60 - 1);
        assert!(matches!(
            idp.sign_in("astrid.l", PASSWORD).await.unwrap(),
            SignInOutcome::Locked(_)
        ));
        // …but after 30 minutes it opens by itself.
        clock.advance(1);
        assert!(matches!(
            idp.sign_in("astrid.l", PASSWORD).await.unwrap(),
            SignInOutcome::Success(_)
        ));
        let state = idp.store.lock_state(&a.lock_key()).await.unwrap();
        assert_eq!(
            (state.failed_count, state.locked_until, state.lock_events),
            (0, None, 1)
        );
    }
);

imms_db::conformance_test!(
    unknown_user_ids_lock_like_known_ones,
    |db: Database| async move {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let idp = idp(db, &dir, &clock);
        for _ in 0..4 {
            assert!(matches!(
                idp.sign_in("nobody.here", "whatever it is").await.unwrap(),
                SignInOutcome::Wrong
            ));
        }
        assert!(matches!(
            idp.sign_in("nobody.here", "whatever it is").await.unwrap(),
            SignInOutcome::Locked(Some(_))
        ));
        assert!(matches!(
            idp.sign_in("x", "bad shape user").await.unwrap(),
            SignInOutcome::Wrong
        ));
    }
);

imms_db::conformance_test!(one_citizen_account_per_ssn, |db: Database| async move {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(T0);
    let idp = idp(db, &dir, &clock);
    citizen(&idp, "first.one", "123-45-6789").await.unwrap();
    let again = citizen(&idp, "second.one", "123456789").await.unwrap_err();
    assert_eq!(again.code(), "IDP-SSN-IN-USE");
    let taken = citizen(&idp, "FIRST.ONE", "234-56-7890").await.unwrap_err();
    assert_eq!(taken.code(), "IDP-USERID-TAKEN");
    // A worker account of the same person does not count against the citizen's SSN.
    idp.add_account(&AddAccount {
        user_id: "first.worker",
        email: "w@example.org",
        acct_type: AcctType::Worker,
        password: PASSWORD,
        ssn: Some("123-45-6789"),
    })
    .await
    .unwrap();
    assert_eq!(
        citizen(&idp, "third.one", "000-12-3456")
            .await
            .unwrap_err()
            .code(),
        "IDP-SSN-INVALID"
    );
    // The SSN is stored only as a keyed hash.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT ssn_hmac FROM idp_accounts WHERE ssn_hmac IS NOT NULL")
            .fetch_all(idp.store.database().pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|s| s.len() == 64 && !s.contains("123456789")));
});

imms_db::conformance_test!(
    disabled_accounts_and_the_helpline,
    |db: Database| async move {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let idp = idp(db, &dir, &clock);
        citizen(&idp, "bo.ng", "234-56-7890").await.unwrap();
        idp.set_disabled("bo.ng", true).await.unwrap();
        assert!(matches!(
            idp.sign_in("bo.ng", PASSWORD).await.unwrap(),
            SignInOutcome::Disabled
        ));
        assert!(matches!(
            idp.sign_in("bo.ng", "not the password").await.unwrap(),
            SignInOutcome::Wrong
        ));
        idp.set_disabled("bo.ng", false).await.unwrap();
        assert!(matches!(
            idp.sign_in("bo.ng", PASSWORD).await.unwrap(),
            SignInOutcome::Success(_)
        ));
        for _ in 0..5 {
            idp.sign_in("bo.ng", "not the password").await.unwrap();
        }
        assert!(idp.summary("bo.ng").await.unwrap().locked);
        idp.unlock("bo.ng").await.unwrap();
        let s = idp.summary("bo.ng").await.unwrap();
        assert!(!s.locked);
        assert_eq!(s.email, "s…@example.org");
        assert!(matches!(
            idp.sign_in("bo.ng", PASSWORD).await.unwrap(),
            SignInOutcome::Success(_)
        ));
    }
);

imms_db::conformance_test!(
    codes_are_single_use_under_concurrency,
    |db: Database| async move {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let idp = idp(db, &dir, &clock);
        let id = citizen(&idp, "cy.code", "345-67-8901").await.unwrap();
        idp.store
            .add_client(
                &Client {
                    client_id: "rp".into(),
                    secret_hash: None,
                    redirect_uris: vec!["https://rp/cb".into()],
                    post_logout_redirect_uris: vec![],
                    public: true,
                },
                T0,
            )
            .await
            .unwrap();
        let grant = CodeGrant {
            client_id: "rp".into(),
            redirect_uri: "https://rp/cb".into(),
            account_id: id,
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            auth_time: T0,
            amr: "pwd".into(),
            expires_at: T0 + 60,
        };
        idp.store.save_code("h1", &grant).await.unwrap();
        let mut tasks = vec![];
        for _ in 0..20 {
            let idp = idp.clone();
            tasks.push(tokio::spawn(async move {
                idp.store.take_code("h1", T0).await.unwrap().is_some()
            }));
        }
        let mut n = 0;
        for t in tasks {
            n += t.await.unwrap() as u32;
        }
        assert_eq!(n, 1);
        assert!(idp.store.spend_csrf("c1", T0 + 10).await.unwrap());
        assert!(
            !idp.store.spend_csrf("c1", T0 + 10).await.unwrap(),
            "replay refused"
        );
        idp.store.sweep(T0 + 100_000).await.unwrap();
    }
);

imms_db::conformance_test!(
    ensure_client_creates_then_updates_in_place,
    |db: Database| async move {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(T0);
        let idp = idp(db, &dir, &clock);
        let secret = "s".repeat(40);
        let cb = vec!["https://portal.example/cb".to_string()];
        let out = vec!["https://portal.example/".to_string()];
        // Twice with the same values (every node, every start): no error, one client.
        for _ in 0..2 {
            idp.ensure_client("portal", &cb, &out, Some(&secret))
                .await
                .unwrap();
        }
        let c = idp.store.client("portal").await.unwrap().unwrap();
        assert_eq!(c.redirect_uris, cb);
        assert_eq!(c.post_logout_redirect_uris, out);
        assert!(!c.public);
        let first_hash = c.secret_hash.clone().unwrap();
        // A new secret and redirect URI replace the old ones.
        let cb2 = vec!["https://portal.example/callback".to_string()];
        idp.ensure_client("portal", &cb2, &[], Some(&"t".repeat(40)))
            .await
            .unwrap();
        let c = idp.store.client("portal").await.unwrap().unwrap();
        assert_eq!(c.redirect_uris, cb2);
        assert!(c.post_logout_redirect_uris.is_empty());
        assert_ne!(c.secret_hash.unwrap(), first_hash);
        // Public without a secret; bad input refused and nothing changed.
        idp.ensure_client("spa", &cb, &[], None).await.unwrap();
        assert!(idp.store.client("spa").await.unwrap().unwrap().public);
        for bad in [
            idp.ensure_client("portal", &cb, &[], Some("short")).await,
            idp.ensure_client("portal", &["http://evil.example/cb".to_string()], &[], None)
                .await,
            idp.ensure_client("portal", &[], &[], None).await,
            idp.ensure_client("por tal", &cb, &[], None).await,
        ] {
            assert!(matches!(bad, Err(IdpError::InvalidClient(_))), "{bad:?}");
        }
        let c = idp.store.client("portal").await.unwrap().unwrap();
        assert_eq!(c.redirect_uris, cb2);
        // Concurrent starts of several nodes agree.
        let mut tasks = vec![];
        for _ in 0..8 {
            let idp = idp.clone();
            let cb = cb.clone();
            let secret = secret.clone();
            tasks.push(tokio::spawn(async move {
                idp.ensure_client("portal", &cb, &[], Some(&secret)).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    }
);

imms_db::conformance_test!(a_reused_code_revokes_its_grant, |db: Database| async move {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(T0);
    let idp = idp(db, &dir, &clock);
    let id = citizen(&idp, "cy.revoke", "345-67-8902").await.unwrap();
    idp.ensure_client("rp", &["https://rp.example/cb".to_string()], &[], None)
        .await
        .unwrap();
    let grant = CodeGrant {
        client_id: "rp".into(),
        redirect_uri: "https://rp.example/cb".into(),
        account_id: id,
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: T0,
        amr: "pwd".into(),
        expires_at: T0 + 60,
    };
    idp.store.save_code("h2", &grant).await.unwrap();
    assert!(!idp.store.grant_active("h2").await.unwrap(), "not used yet");
    assert!(
        !idp.store.revoke_used_code("h2", T0).await.unwrap(),
        "an unused code is not revoked"
    );
    assert!(idp.store.take_code("h2", T0).await.unwrap().is_some());
    assert!(idp.store.grant_active("h2").await.unwrap());
    assert!(idp.store.take_code("h2", T0 + 1).await.unwrap().is_none());
    assert!(idp.store.revoke_used_code("h2", T0 + 1).await.unwrap());
    assert!(!idp.store.grant_active("h2").await.unwrap());
    assert!(!idp.store.revoke_used_code("h2", T0 + 2).await.unwrap());
    assert!(!idp.store.grant_active("unknown").await.unwrap());
});

#[test]
fn lockout_policy_default_is_the_faq() {
    let p = LockoutPolicy::default();
    assert_eq!((p.max_failures, p.lock_seconds), (5, 1800));
}

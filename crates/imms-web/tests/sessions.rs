//! Sessions on SQLite and PostgreSQL: start, find by cookie, CSRF, realms kept apart,
//! idle and absolute timeouts, sign-out, and no raw token in the database.

use axum_extra::extract::cookie::CookieJar;
use imms_db::Database;
use imms_web::{SessionConfig, Sessions, SignedIn};

fn config(realm: &'static str, idle: i64, absolute: i64) -> SessionConfig {
    SessionConfig {
        realm,
        cookie_name: "imms_session",
        cookie_path: "/",
        idle_seconds: idle,
        absolute_seconds: absolute,
        secure: false,
    }
}

fn who() -> SignedIn {
    SignedIn {
        subject: "sub-123".into(),
        user_id: "jdoe".into(),
        acct_type: "citizen".into(),
        id_token: "header.payload.sig".into(),
    }
}

imms_db::conformance_test!(sessions_round_trip, |db: Database| async move {
    let sessions = Sessions::new(db.clone(), config("portal", 900, 3600));
    let (mut session, cookie) = sessions.start(&who()).await.unwrap();
    assert!(cookie.http_only().unwrap_or(false));
    assert_eq!(
        cookie.same_site(),
        Some(axum_extra::extract::cookie::SameSite::Lax)
    );
    let token = cookie.value().to_string();
    let jar = CookieJar::new().add(cookie);

    let found = sessions.current(&jar).await.unwrap().expect("live session");
    assert_eq!(found.subject, "sub-123");
    assert_eq!(found.user_id, "jdoe");
    assert_eq!(found.acct_type, "citizen");
    assert!(found.verify_csrf(&session.csrf_token).is_ok());
    assert!(found.verify_csrf("").is_err());
    assert!(found.verify_csrf("forged").is_err());

    // Only the hash of the browser's token is stored.
    let stored: Vec<(String,)> = sqlx::query_as("SELECT id_hash FROM web_sessions")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, token);

    sessions
        .set_data(&mut session, serde_json::json!({"person": 42}))
        .await
        .unwrap();
    let found = sessions.current(&jar).await.unwrap().unwrap();
    assert_eq!(found.data["person"], 42);

    // The console does not accept a portal cookie.
    let console = Sessions::new(db.clone(), config("console", 900, 3600));
    assert!(console.current(&jar).await.unwrap().is_none());

    // Unknown tokens find nothing.
    let stranger = CookieJar::new().add(axum_extra::extract::cookie::Cookie::new(
        "imms_session",
        "not-a-session",
    ));
    assert!(sessions.current(&stranger).await.unwrap().is_none());

    let removal = sessions.end(&found).await.unwrap();
    assert_eq!(removal.value(), "");
    assert!(sessions.current(&jar).await.unwrap().is_none());
});

imms_db::conformance_test!(sessions_expire, |db: Database| async move {
    // Idle limit already passed (negative): the session is gone on the next request.
    let idle = Sessions::new(db.clone(), config("portal", -1, 3600));
    let (_, cookie) = idle.start(&who()).await.unwrap();
    let jar = CookieJar::new().add(cookie);
    assert!(idle.current(&jar).await.unwrap().is_none());
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left.0, 0, "an expired session is deleted when seen");

    let old = Sessions::new(db.clone(), config("portal", 900, -1));
    let (_, cookie) = old.start(&who()).await.unwrap();
    assert!(old
        .current(&CookieJar::new().add(cookie))
        .await
        .unwrap()
        .is_none());

    let sessions = Sessions::new(db.clone(), config("portal", 900, 3600));
    sessions.start(&who()).await.unwrap();
    sessions.start(&who()).await.unwrap();
    assert_eq!(sessions.end_all("sub-123").await.unwrap(), 2);
    assert_eq!(sessions.purge_expired().await.unwrap(), 0);
});

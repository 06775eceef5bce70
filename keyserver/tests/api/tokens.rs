//! Token lifecycle (issue 12, item 4): tokens expire, can be listed and
//! revoked, a user can be disabled; expired and revoked tokens get their own
//! 401 codes, audited with the token's user.

use pqfile_keyserver::accounts::{self, AccountError};

use crate::helpers::*;

impl TestApp {
    fn owner_pool(&self) -> pqfile_keyserver::db::DbPool {
        pqfile_keyserver::db::connect(&self.database_url, 2).unwrap()
    }

    /// A new token of `user` valid for `days`: (secret, id).
    async fn token_for(&self, user: &str, days: u32) -> (String, i32) {
        let new = accounts::create_token(&self.owner_pool(), &self.state.audit, user, None, days)
            .await
            .unwrap();
        (new.token.expose().to_owned(), new.id)
    }

    /// Audit rows refusing `code` with `user_id`.
    async fn refused_with_user(&self, code: &str, user_id: i32) -> i64 {
        self.db
            .query_one(
                "SELECT count(*) FROM access_logs WHERE outcome = 'refused' AND reason = $1 AND user_id = $2",
                &[&code, &user_id.to_string()],
            )
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired_and_audited_with_its_user() {
    let app = spawn_app().await;
    let (token, id) = app.token_for("alice", 1).await;
    assert_eq!(app.get_as(&token, "/v1/me").await.status(), 200);
    app.db
        .execute(
            "UPDATE api_tokens SET expires_at = LOCALTIMESTAMP - interval '1 second' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let body = assert_error(app.get_as(&token, "/v1/me").await, 401, "token_expired").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(
        app.refused_with_user("token_expired", app.alice_id).await,
        1
    );
    // Alice's other token is untouched.
    assert_eq!(app.get_as(&app.alice, "/v1/me").await.status(), 200);
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_unlike_an_unknown_one() {
    let app = spawn_app().await;
    let (token, id) = app.token_for("alice", 30).await;
    let file = app.encrypt(&token, b"before the revocation").await;
    assert_eq!(
        accounts::revoke_token(&app.owner_pool(), &app.state.audit, id)
            .await
            .unwrap(),
        "alice"
    );
    let (resp, _) = app.unwrap(&token, &file.document_id, file.stanza()).await;
    assert_error(resp, 401, "token_revoked").await;
    assert_eq!(
        app.refused_with_user("token_revoked", app.alice_id).await,
        1
    );
    let unknown = "pqf_".to_owned() + &"ab".repeat(32);
    let resp = app.get_as(&unknown, "/v1/me").await;
    assert_error(resp, 401, "invalid_token").await;
    // Revoking twice is fine; an unknown id is named.
    accounts::revoke_token(&app.owner_pool(), &app.state.audit, id)
        .await
        .unwrap();
    let err = accounts::revoke_token(&app.owner_pool(), &app.state.audit, 999_999)
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::NoSuchToken(999_999)), "{err}");
}

#[tokio::test]
async fn disabling_a_user_revokes_every_token_and_refuses_new_ones() {
    let app = spawn_app().await;
    let (second, _) = app.token_for("alice", 30).await;
    let revoked = accounts::disable_user(&app.owner_pool(), &app.state.audit, "alice")
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    for t in [&app.alice, &second] {
        assert_error(app.get_as(t, "/v1/me").await, 401, "token_revoked").await;
    }
    let err = accounts::create_token(&app.owner_pool(), &app.state.audit, "alice", None, 30)
        .await
        .err()
        .expect("a disabled user gets no token");
    assert!(matches!(err, AccountError::Disabled(_)), "{err}");
    assert_eq!(
        app.get_as(&app.bob, "/v1/me").await.status(),
        200,
        "bob is untouched"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM access_logs WHERE access_type = 'admin' \
             AND reason = 'operator: user disable alice (2 tokens revoked)' AND length(seal) = 48"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_token_lives_as_long_as_asked_within_bounds() {
    let app = spawn_app().await;
    for days in [0, accounts::MAX_TOKEN_DAYS + 1] {
        let err = accounts::create_token(&app.owner_pool(), &app.state.audit, "bob", None, days)
            .await
            .err()
            .expect("out of bounds");
        assert!(matches!(err, AccountError::BadLifetime), "{days}: {err}");
    }
    let (_, id) = app.token_for("bob", 7).await;
    let days: f64 = app
        .db
        .query_one(
            "SELECT extract(epoch FROM expires_at - LOCALTIMESTAMP)::float8 / 86400 FROM api_tokens WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!((6.99..=7.0).contains(&days), "{days}");
}

#[tokio::test]
async fn the_operator_commands_list_revoke_and_disable() {
    let app = spawn_app().await;
    let run = |args: &[&str]| app.operator(args, &[("PQFILE_TOKEN_LIFETIME_DAYS", "12")]);
    let token = run(&["token", "create", "bob", "--label", "laptop"]);
    let token = token.trim();
    assert_eq!(app.get_as(token, "/v1/me").await.status(), 200);
    let list: serde_json::Value =
        serde_json::from_str(&run(&["token", "list", "bob", "--json"])).unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == "laptop")
        .expect("the new token is listed");
    assert_eq!(mine["state"], "active");
    assert_eq!(mine["user"], "bob");
    assert!(!list.to_string().contains(token), "no secret in the list");
    // The setting's lifetime, 12 days.
    let expires = chrono::NaiveDateTime::parse_from_str(
        mine["expires_at"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.f",
    )
    .unwrap();
    let left = expires - chrono::Utc::now().naive_utc();
    assert!(
        left.num_hours() > 11 * 24 && left.num_hours() <= 12 * 24,
        "{left}"
    );

    let id = mine["id"].to_string();
    assert!(run(&["token", "revoke", &id]).contains("revoked token"));
    assert_error(app.get_as(token, "/v1/me").await, 401, "token_revoked").await;
    let list = run(&["token", "list", "bob"]);
    assert!(
        list.lines()
            .any(|l| l.contains(" revoked ") && l.contains("laptop")),
        "{list}"
    );

    assert!(run(&["user", "disable", "bob"]).contains("1 token(s) revoked"));
    assert_error(app.get_as(&app.bob, "/v1/me").await, 401, "token_revoked").await;
}

#[tokio::test]
async fn tokens_from_before_the_upgrade_get_ninety_days_not_forever() {
    let url = fresh_database().await;
    pqfile_keyserver::db::migrate_to(&url, 11).await.unwrap();
    let db = connect(&url).await;
    db.batch_execute(
        "INSERT INTO users (name) VALUES ('old');
         INSERT INTO api_tokens (user_id, token_hash, created_at)
           SELECT id, 'h1', now() - interval '400 days' FROM users WHERE name = 'old';",
    )
    .await
    .unwrap();
    pqfile_keyserver::db::migrate(&url).await.unwrap();
    let days: f64 = db
        .query_one(
            "SELECT extract(epoch FROM expires_at - LOCALTIMESTAMP)::float8 / 86400 FROM api_tokens WHERE token_hash = 'h1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((89.9..=90.0).contains(&days), "{days}");
}

//! The code's vocabularies match the database's CHECK constraints, read from
//! `pg_constraint` of a migrated database.

use pqfile_keyserver::store::keys::KeyStatus;
use pqfile_keyserver::store::rotations::ROTATION_STATUSES;

use crate::helpers::*;

/// The quoted values of CHECK constraint `name` on `table`, sorted.
async fn allowed_values(app: &TestApp, table: &str, name: &str) -> Vec<String> {
    let def: String = app
        .db
        .query_one(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conname = $1 AND conrelid = $2::text::regclass",
            &[&name, &table],
        )
        .await
        .unwrap()
        .get(0);
    // `CHECK (((status)::text = ANY ((ARRAY['active'::character varying, ...`:
    // every other piece between quotes is a value.
    let mut values: Vec<String> = def
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(!values.is_empty(), "no values in {def}");
    values.sort();
    values
}

#[tokio::test]
async fn key_status_is_the_status_check_constraint() {
    let app = spawn_app().await;
    let mut ours: Vec<String> = KeyStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    ours.sort();
    assert_eq!(
        ours,
        allowed_values(&app, "encryption_keys", "status_check").await
    );
    for s in KeyStatus::ALL {
        assert_eq!(KeyStatus::parse(s.as_str()), Some(s));
    }
    // What the server writes reads back through the same type.
    let statuses: Vec<KeyStatus> = app
        .db
        .query("SELECT status FROM encryption_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(statuses.contains(&KeyStatus::Active));
}

#[tokio::test]
async fn rotation_statuses_are_the_rotation_check_constraint() {
    let app = spawn_app().await;
    let mut ours: Vec<String> = ROTATION_STATUSES.iter().map(|s| (*s).to_owned()).collect();
    ours.sort();
    assert_eq!(
        ours,
        allowed_values(&app, "key_rotations", "key_rotations_status_check").await
    );
}

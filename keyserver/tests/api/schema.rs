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

/// What the runtime role (`pqfile_runtime`, the server's `pqfile_app` is a
/// member) may do on each table and sequence of a migrated database: the
/// list keyserver/README.md documents ("Audit log"). A migration that adds a
/// table adds its line here with the grant it makes; a table or sequence
/// missing here, or a right nobody meant to give, fails
/// `runtime_privileges_are_the_documented_list`. Partitions are reached
/// through their parent (whose rights apply) and are not listed.
const RUNTIME_PRIVILEGES: &[(&str, &str)] = &[
    ("access_logs", "INSERT, SELECT"),
    ("access_logs_id_seq", "USAGE"),
    ("api_tokens", "SELECT"),
    ("api_tokens_id_seq", ""),
    ("audit_chain", "INSERT, SELECT"),
    ("audit_chain_start", "SELECT"),
    ("audit_checkpoints", "INSERT, SELECT"),
    ("audit_checkpoints_id_seq", "USAGE"),
    ("audit_retention", "SELECT"),
    ("audit_retention_id_seq", ""),
    ("audit_signing_keys", "INSERT, SELECT"),
    ("document_grants", "DELETE, INSERT, SELECT, UPDATE"),
    ("document_keys", "INSERT, SELECT"),
    ("documents", "INSERT, SELECT, UPDATE"),
    ("encryption_keys", "INSERT, SELECT, UPDATE"),
    ("encryption_keys_id_seq", "USAGE"),
    ("key_rotations", "INSERT, SELECT, UPDATE"),
    ("key_rotations_id_seq", "USAGE"),
    ("refinery_schema_history", ""),
    ("users", "SELECT"),
    ("users_id_seq", ""),
];

/// Every table (and partitioned table) and sequence in `public` with the
/// rights `pqfile_runtime` holds on it, sorted.
const RUNTIME_PRIVILEGES_SQL: &str = "
    SELECT c.relname, COALESCE(string_agg(p.name, ', ' ORDER BY p.name), '')
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    LEFT JOIN LATERAL (
        SELECT name FROM unnest(CASE WHEN c.relkind = 'S'
            THEN ARRAY['SELECT', 'UPDATE', 'USAGE']
            ELSE ARRAY['DELETE', 'INSERT', 'REFERENCES', 'SELECT', 'TRIGGER', 'TRUNCATE', 'UPDATE'] END) AS name
        WHERE CASE WHEN c.relkind = 'S'
            THEN has_sequence_privilege('pqfile_runtime', c.oid, name)
            ELSE has_table_privilege('pqfile_runtime', c.oid, name) END
    ) p ON true
    WHERE c.relkind IN ('r', 'p', 'S') AND NOT c.relispartition
    GROUP BY c.relname ORDER BY c.relname";

#[tokio::test]
async fn runtime_privileges_are_the_documented_list() {
    let app = spawn_app().await;
    let actual: Vec<(String, String)> = app
        .db
        .query(RUNTIME_PRIVILEGES_SQL, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(String, String)> = RUNTIME_PRIVILEGES
        .iter()
        .map(|(t, p)| ((*t).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        actual, expected,
        "pqfile_runtime's rights differ from the documented list (keyserver/README.md, Database roles)"
    );
}

#[tokio::test]
async fn the_server_is_not_a_superuser_and_owns_no_table() {
    let app = spawn_app().await;
    // Asked through the server's own connection pool.
    let client = app.db_pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_user::text, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), APP_ROLE);
    for (i, what) in [
        (1, "superuser"),
        (2, "createrole"),
        (3, "createdb"),
        (4, "bypassrls"),
    ] {
        assert!(!row.get::<_, bool>(i), "the server's role has {what}");
    }
    let owned: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        owned, 0,
        "the server's role owns (or inherits the owner of) a relation"
    );
}

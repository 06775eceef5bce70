//! The SQL of the key server, by table. Routes and the lifecycle ask the
//! store; they do not write SQL. Key generation, least-used selection and
//! key status changes each exist once, in [`keys`].
//!
//! Functions take `&impl GenericClient` so one works on a pooled connection
//! and inside a transaction alike; the per-request statements of the hot
//! paths run on pipelined connections (`crate::pipeline`).

pub mod access_logs;
pub mod documents;
pub mod grants;
pub mod keys;
pub mod rotations;
pub mod stats;
pub mod users;

/// RFC 3339 with milliseconds, UTC (`TIMESTAMP` columns hold UTC).
pub fn timestamp(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// [`timestamp`] of a nullable column.
pub fn rfc3339(t: Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(timestamp)
}

#[cfg(test)]
mod tests {
    use super::{access_logs, documents, users};

    /// `keyserver/benches/wrk/unwrap.sql`, the pgbench twin of an unwrap
    /// (BENCHMARKS.md), runs exactly the server's statements.
    #[test]
    fn bench_twin_matches_the_server_sql() {
        fn norm(sql: &str, params: &[&str]) -> String {
            let mut s = sql.to_owned();
            // $10 before $1.
            for (i, p) in params.iter().enumerate().rev() {
                s = s.replace(&format!("${}", i + 1), p);
            }
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        let twin = include_str!("../../benches/wrk/unwrap.sql");
        let twin: Vec<String> = twin
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .split(';')
            .map(|s| norm(s, &[]))
            .filter(|s| !s.is_empty())
            .collect();
        let server = [
            norm(users::TOKEN_SQL, &[":hash"]),
            norm(documents::DOCUMENT_ACCESS_SQL, &[":doc", ":uid", ":kid"]),
            norm(
                access_logs::INSERT_IF_KEY_USABLE_SQL,
                &[
                    ":doc",
                    "'decrypt'",
                    ":uid",
                    "'127.0.0.1'",
                    "'pgbench'",
                    ":kid",
                    "'allowed'",
                    "NULL",
                    ":seal",
                ],
            ),
        ];
        assert_eq!(twin, server);
    }
}

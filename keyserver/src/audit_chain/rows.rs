//! The bytes the chain and the checkpoints commit to (pure functions).

use sha2::{Digest, Sha256};

/// One `access_logs` row as the chain sees it: every column, as text where
/// the database's own text form is exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    /// `id`.
    pub id: i64,
    /// `document_id`.
    pub document_id: Option<String>,
    /// `access_type`.
    pub access_type: Option<String>,
    /// `timestamp`, as PostgreSQL prints it (`timestamp::text`).
    pub timestamp: Option<String>,
    /// `user_id`.
    pub user_id: Option<String>,
    /// `ip_address::text`.
    pub ip_address: Option<String>,
    /// `user_agent`.
    pub user_agent: Option<String>,
    /// `key_id`.
    pub key_id: Option<i32>,
    /// `outcome`.
    pub outcome: Option<String>,
    /// `reason`.
    pub reason: Option<String>,
    /// `seal`.
    pub seal: Option<Vec<u8>>,
}

/// The columns [`LogRow::from_row`] reads, in order, from `access_logs a`.
pub const LOG_ROW_COLUMNS: &str = "a.id, a.document_id, a.access_type::text, a.timestamp::text, a.user_id, \
     a.ip_address::text, a.user_agent, a.key_id, a.outcome::text, a.reason, a.seal";

impl LogRow {
    /// Reads [`LOG_ROW_COLUMNS`] starting at column `at`.
    pub fn from_row(r: &tokio_postgres::Row, at: usize) -> Self {
        Self {
            id: r.get(at),
            document_id: r.get(at + 1),
            access_type: r.get(at + 2),
            timestamp: r.get(at + 3),
            user_id: r.get(at + 4),
            ip_address: r.get(at + 5),
            user_agent: r.get(at + 6),
            key_id: r.get(at + 7),
            outcome: r.get(at + 8),
            reason: r.get(at + 9),
            seal: r.get(at + 10),
        }
    }
}

fn field(h: &mut Sha256, v: Option<&[u8]>) {
    match v {
        None => h.update([0u8]),
        Some(b) => {
            h.update([1u8]);
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
    }
}

/// SHA-256 over the row's id and every column, each NULL-marked and
/// length-prefixed, so no two different rows share a digest.
pub fn digest(row: &LogRow) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"pqfile audit row v1");
    h.update(row.id.to_be_bytes());
    let key_id = row.key_id.map(i32::to_be_bytes);
    for v in [
        row.document_id.as_deref().map(str::as_bytes),
        row.access_type.as_deref().map(str::as_bytes),
        row.timestamp.as_deref().map(str::as_bytes),
        row.user_id.as_deref().map(str::as_bytes),
        row.ip_address.as_deref().map(str::as_bytes),
        row.user_agent.as_deref().map(str::as_bytes),
        key_id.as_ref().map(<[u8; 4]>::as_slice),
        row.outcome.as_deref().map(str::as_bytes),
        row.reason.as_deref().map(str::as_bytes),
        row.seal.as_deref(),
    ] {
        field(&mut h, v);
    }
    h.finalize().into()
}

/// The chain's value before any row.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// `chain_n = SHA-256("pqfile audit chain v1" || chain_{n-1} || digest_n)`.
pub fn chain_step(previous: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"pqfile audit chain v1");
    h.update(previous);
    h.update(digest);
    h.finalize().into()
}

/// What a checkpoint signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Number of rows chained so far (the last position).
    pub position: i64,
    /// The chain's head at that position.
    pub chain: [u8; 32],
    /// Every row with an id at or below this was chained, or was found
    /// without a valid seal (rows written later below it are out of band).
    pub low_watermark: i64,
    /// The highest id of the rows written before the chain existed
    /// (migration V9): those have no seal and are chained as they were.
    pub legacy_max_id: i64,
    /// The signing key.
    pub signing_key_id: i32,
}

impl Checkpoint {
    /// The signed message.
    pub fn message(&self) -> Vec<u8> {
        let mut m = b"pqfile audit checkpoint v1".to_vec();
        m.extend_from_slice(&self.position.to_be_bytes());
        m.extend_from_slice(&self.chain);
        m.extend_from_slice(&self.low_watermark.to_be_bytes());
        m.extend_from_slice(&self.legacy_max_id.to_be_bytes());
        m.extend_from_slice(&self.signing_key_id.to_be_bytes());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LogRow {
        LogRow {
            id: 7,
            document_id: Some("ab".into()),
            access_type: Some("decrypt".into()),
            timestamp: Some("2026-12-02 10:00:00.123456".into()),
            user_id: Some("1".into()),
            ip_address: None,
            user_agent: Some("ua".into()),
            key_id: Some(3),
            outcome: Some("allowed".into()),
            reason: None,
            seal: Some(vec![1, 2, 3]),
        }
    }

    #[test]
    fn every_column_changes_the_digest() {
        let base = digest(&row());
        let mut variants = Vec::new();
        let mut r = row();
        r.id = 8;
        variants.push(r);
        let mut r = row();
        r.document_id = None;
        variants.push(r);
        let mut r = row();
        r.timestamp = Some("2026-12-02 10:00:00.123457".into());
        variants.push(r);
        let mut r = row();
        r.ip_address = Some(String::new());
        variants.push(r);
        let mut r = row();
        r.key_id = None;
        variants.push(r);
        let mut r = row();
        r.reason = Some(String::new());
        variants.push(r);
        let mut r = row();
        r.seal = None;
        variants.push(r);
        // Moving bytes between adjacent fields is a different row too.
        let mut r = row();
        r.document_id = Some("a".into());
        r.access_type = Some("bdecrypt".into());
        variants.push(r);
        for v in variants {
            assert_ne!(digest(&v), base, "{v:?}");
        }
    }

    #[test]
    fn the_chain_depends_on_order() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let ab = chain_step(&chain_step(&GENESIS, &a), &b);
        let ba = chain_step(&chain_step(&GENESIS, &b), &a);
        assert_ne!(ab, ba);
    }
}

//! Pipelined connections for the per-request hot path.
//!
//! Every API request runs a few short autocommit statements (the token
//! lookup, the document lookup, the audit row). Checking a connection out of
//! the pool for each of them costs one round trip per statement with both the
//! server thread and a PostgreSQL backend going to sleep and waking up in
//! between. A `tokio_postgres::Client` can instead be shared: queries issued
//! concurrently on it are pipelined, written together and answered in order
//! by one busy backend, each with its own `Sync`, so one statement's error
//! never affects another's.
//!
//! Each actix worker thread keeps `size` such connections (round robin),
//! opened on first use on that thread, so the connection tasks run on the
//! thread whose handlers use them. A connection that closed is replaced on
//! its next use. Each is a deadpool `ClientWrapper`, so statements are
//! prepared once per connection with `prepare_cached`, as on pooled ones.
//!
//! Only single-statement autocommit work may go through here: anything that
//! needs a transaction, a session setting or an advisory lock takes a pooled
//! connection (`AppState::db`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::ClientWrapper;
use tokio::sync::OnceCell;

use crate::db::DbError;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Per-thread shared connections to one database.
pub struct Pipelined {
    id: u64,
    config: crate::db::Target,
    size: usize,
}

type Slot = Rc<OnceCell<Rc<ClientWrapper>>>;

thread_local! {
    /// Slots per `Pipelined` (several servers may share a process in tests).
    static SLOTS: RefCell<HashMap<u64, Vec<Slot>>> = RefCell::new(HashMap::new());
    static NEXT: Cell<usize> = const { Cell::new(0) };
}

impl Pipelined {
    /// `size` connections per worker thread, opened lazily with `config`.
    pub fn new(config: crate::db::Target, size: usize) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            size: size.max(1),
        }
    }

    fn next_index(&self) -> usize {
        NEXT.with(|n| {
            let i = n.get();
            n.set(i.wrapping_add(1));
            i % self.size
        })
    }

    fn slot(&self, i: usize) -> Slot {
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let slots = s.entry(self.id).or_default();
            if slots.len() < self.size {
                slots.resize_with(self.size, Default::default);
            }
            Rc::clone(&slots[i])
        })
    }

    fn reset(&self, i: usize, old: &Slot) {
        SLOTS.with(|s| {
            if let Some(slots) = s.borrow_mut().get_mut(&self.id)
                && Rc::ptr_eq(&slots[i], old)
            {
                slots[i] = Slot::default();
            }
        });
    }

    /// A connection of this thread, (re)connecting if needed. Must be called
    /// on an actix (or other `LocalSet`) thread: the connection task is
    /// spawned there.
    pub async fn conn(&self) -> Result<Rc<ClientWrapper>, DbError> {
        let i = self.next_index();
        // A closed connection is replaced once; a second closed one in a
        // row means PostgreSQL is not taking connections.
        for _ in 0..2 {
            let slot = self.slot(i);
            let conn = slot
                .get_or_try_init(|| async {
                    let (client, connection) = self.config.connect().await?;
                    let task = tokio::task::spawn_local(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!(error = %e, "pipelined PostgreSQL connection ended");
                        }
                    });
                    Ok::<_, DbError>(Rc::new(ClientWrapper::new(client, task)))
                })
                .await;
            match conn {
                Ok(c) if !c.is_closed() => return Ok(Rc::clone(c)),
                Ok(_) => self.reset(i, &slot),
                Err(e) => {
                    self.reset(i, &slot);
                    return Err(e);
                }
            }
        }
        Err(DbError::Closed)
    }
}

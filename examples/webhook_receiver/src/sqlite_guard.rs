//! A [`ReplayGuard`] over a SQLite table, shared by every receiver process
//! that opens the same file.
//!
//! One row per replay key ([`ReplayKey::as_str`]): `in_progress` with the
//! end of its lease while a handler runs, `processed` once committed, and
//! an expiry (the message's signed timestamp plus the verifier's tolerance)
//! after which the verifier refuses the message anyway, so the row can go.
//!
//! Claims run in a `BEGIN IMMEDIATE` transaction: it takes SQLite's write
//! lock before reading, so a read-then-write by one process never
//! interleaves with another's, and two processes can never both claim a
//! key. Commit and release are single statements. The database runs in WAL
//! mode (readers never block the writer) with a busy timeout, so a process
//! waits for another's write lock instead of failing at once.

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use webwire::webhook::{ClaimState, DEFAULT_CLAIM_LEASE, ReplayGuard, ReplayKey};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Expired rows are deleted at most this often (seconds), by whichever
/// claim comes first after that.
const PURGE_EVERY: u64 = 60;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS webhook_replay (
        key         TEXT    NOT NULL PRIMARY KEY,
        state       TEXT    NOT NULL CHECK (state IN ('in_progress', 'processed')),
        -- in_progress: unix seconds until which the claim blocks duplicates.
        lease_until INTEGER NOT NULL,
        -- unix seconds after which the verifier refuses the message anyway.
        expires_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS webhook_replay_expiry ON webhook_replay (expires_at);
";

/// A replay guard stored in a SQLite database file.
///
/// Several processes may open the same file: the claim of a key is atomic
/// across all of them. The [`ReplayGuard`] methods cannot fail, so errors
/// (a disk error, a write lock held longer than the busy timeout) are
/// reported on stderr and resolved on the safe side: a claim that cannot be
/// made answers [`ClaimState::InProgress`] (409, which the sender retries),
/// never `Claimed` (which could process twice) nor `Processed` (which would
/// lose the event).
#[derive(Debug)]
pub struct SqliteReplayGuard {
    conn: Connection,
    window: u64,
    lease: u64,
    next_purge: u64,
}

impl SqliteReplayGuard {
    /// Opens (creating if needed) the database at `path`, remembering keys
    /// for `window` seconds after their timestamp: the verifier's tolerance.
    pub fn open(path: &Path, window: u64) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let conn = Connection::open(path)?;
        // Set first: switching to WAL itself may wait for another process.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // WAL is refused on some file systems (network mounts), where
            // several processes could not share the file safely anyway.
            return Err(format!("journal_mode is {mode}, WAL is needed").into());
        }
        // `synchronous` stays FULL (the default): a commit that answered 2xx
        // survives a power cut, so the event is not processed again.
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn,
            window,
            lease: DEFAULT_CLAIM_LEASE,
            next_purge: 0,
        })
    }

    /// Sets how long, in seconds, an uncommitted claim blocks duplicates
    /// (default [`DEFAULT_CLAIM_LEASE`]): longer than a handler may take.
    pub fn with_lease(mut self, seconds: u64) -> Self {
        self.lease = seconds;
        self
    }

    /// Deletes every row whose window has passed at `now`; returns how many.
    pub fn purge(&mut self, now: u64) -> rusqlite::Result<usize> {
        self.conn.execute(
            "DELETE FROM webhook_replay WHERE expires_at < ?1",
            [sql_time(now)],
        )
    }

    fn try_claim(&mut self, key: &ReplayKey, now: u64) -> rusqlite::Result<ClaimState> {
        let now_sql = sql_time(now);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT state, lease_until, expires_at FROM webhook_replay WHERE key = ?1",
                [key.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match row {
            // Past its window the row counts as gone, as if purged.
            Some((_, _, expires_at)) if expires_at < now_sql => {}
            Some((state, _, _)) if state == "processed" => return Ok(ClaimState::Processed),
            Some((_, lease_until, _)) if now_sql < lease_until => {
                return Ok(ClaimState::InProgress);
            }
            // Not seen, or in progress under a lease that ran out (its
            // processor is presumed dead): claim it.
            _ => {}
        }
        tx.execute(
            "INSERT INTO webhook_replay (key, state, lease_until, expires_at)
             VALUES (?1, 'in_progress', ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET state = excluded.state,
                 lease_until = excluded.lease_until, expires_at = excluded.expires_at",
            params![
                key.as_str(),
                sql_time(now.saturating_add(self.lease)),
                sql_time(key.timestamp().saturating_add(self.window)),
            ],
        )?;
        tx.commit()?;
        Ok(ClaimState::Claimed)
    }

    fn try_commit(&mut self, key: &ReplayKey) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO webhook_replay (key, state, lease_until, expires_at)
             VALUES (?1, 'processed', 0, ?2)
             ON CONFLICT (key) DO UPDATE SET state = 'processed', lease_until = 0,
                 expires_at = excluded.expires_at",
            params![
                key.as_str(),
                sql_time(key.timestamp().saturating_add(self.window))
            ],
        )?;
        Ok(())
    }

    fn try_release(&mut self, key: &ReplayKey) -> rusqlite::Result<()> {
        // Only an in-progress claim is released: a processed key stays. As in
        // the in-memory guard, a claim taken over after its lease ran out is
        // released by its first owner too; keep the lease longer than any
        // handler runs.
        self.conn.execute(
            "DELETE FROM webhook_replay WHERE key = ?1 AND state = 'in_progress'",
            [key.as_str()],
        )?;
        Ok(())
    }

    fn purge_now_and_then(&mut self, now: u64) {
        if now < self.next_purge {
            return;
        }
        self.next_purge = now.saturating_add(PURGE_EVERY);
        if let Err(e) = self.purge(now) {
            eprintln!("replay guard: purge failed: {e}");
        }
    }
}

impl ReplayGuard for SqliteReplayGuard {
    fn claim(&mut self, key: &ReplayKey, now: u64) -> ClaimState {
        self.purge_now_and_then(now);
        self.try_claim(key, now).unwrap_or_else(|e| {
            eprintln!("replay guard: claim of {} failed: {e}", key.as_str());
            ClaimState::InProgress
        })
    }

    fn commit(&mut self, key: &ReplayKey, _now: u64) {
        if let Err(e) = self.try_commit(key) {
            // Processed but not recorded: a later duplicate may be processed
            // again once the claim's lease ends (at least once, never lost).
            eprintln!("replay guard: commit of {} failed: {e}", key.as_str());
        }
    }

    fn release(&mut self, key: &ReplayKey, _now: u64) {
        if let Err(e) = self.try_release(key) {
            // The claim stays until its lease ends; then a retry is processed.
            eprintln!("replay guard: release of {} failed: {e}", key.as_str());
        }
    }
}

/// Unix seconds as SQLite's INTEGER, saturating (verified timestamps are
/// within the tolerance of the clock, far below `i64::MAX`).
fn sql_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh database path, removed (with its WAL files) when dropped.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "webhook_receiver-{}-{name}.sqlite",
                std::process::id()
            ));
            let db = Self(path);
            db.remove();
            db
        }

        fn remove(&self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.0.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            self.remove();
        }
    }

    fn key(id: &str, ts: u64) -> ReplayKey {
        ReplayKey::for_id("test", id, ts)
    }

    #[test]
    fn claim_release_commit() {
        let db = TempDb::new("claim");
        let mut g = SqliteReplayGuard::open(&db.0, 300).unwrap();
        let a = key("msg_1", 1_000);
        assert_eq!(g.claim(&a, 1_000), ClaimState::Claimed);
        assert_eq!(g.claim(&a, 1_001), ClaimState::InProgress);
        g.release(&a, 1_002);
        assert_eq!(g.claim(&a, 1_010), ClaimState::Claimed);
        g.commit(&a, 1_011);
        assert_eq!(g.claim(&a, 1_020), ClaimState::Processed);
        // A late release (a duplicate handler failing) keeps the commit.
        g.release(&a, 1_021);
        assert_eq!(g.claim(&a, 1_022), ClaimState::Processed);
        // Scopes keep two senders' ids apart.
        let other = ReplayKey::for_id("other", "msg_1", 1_000);
        assert_eq!(g.claim(&other, 1_023), ClaimState::Claimed);
    }

    #[test]
    fn lease_and_window() {
        let db = TempDb::new("lease");
        let mut g = SqliteReplayGuard::open(&db.0, 300).unwrap().with_lease(10);
        let a = key("msg_1", 1_000);
        assert_eq!(g.claim(&a, 1_000), ClaimState::Claimed);
        assert_eq!(g.claim(&a, 1_009), ClaimState::InProgress);
        // The lease ran out: the processor is presumed dead.
        assert_eq!(g.claim(&a, 1_010), ClaimState::Claimed);
        g.commit(&a, 1_011);
        assert_eq!(g.claim(&a, 1_300), ClaimState::Processed);
        // Past the window the key is forgotten (the verifier refuses it by then).
        assert_eq!(g.purge(1_301).unwrap(), 1);
        assert_eq!(g.claim(&a, 1_301), ClaimState::Claimed);
        // An expired row not yet purged counts as gone too.
        g.commit(&a, 1_302);
        assert_eq!(g.claim(&a, 1_301 + 100), ClaimState::Claimed);
    }

    #[test]
    fn shared_by_two_connections_and_durable() {
        let db = TempDb::new("shared");
        let mut one = SqliteReplayGuard::open(&db.0, 300).unwrap();
        let mut two = SqliteReplayGuard::open(&db.0, 300).unwrap();
        let a = key("msg_1", 1_000);
        assert_eq!(one.claim(&a, 1_000), ClaimState::Claimed);
        assert_eq!(two.claim(&a, 1_000), ClaimState::InProgress);
        one.commit(&a, 1_001);
        assert_eq!(two.claim(&a, 1_002), ClaimState::Processed);
        drop((one, two));
        let mut again = SqliteReplayGuard::open(&db.0, 300).unwrap();
        assert_eq!(again.claim(&a, 1_003), ClaimState::Processed);
    }

    #[test]
    fn concurrent_claims_from_threads_claim_once() {
        let db = TempDb::new("threads");
        // Create the schema before the race.
        drop(SqliteReplayGuard::open(&db.0, 300).unwrap());
        let claimed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let mut g = SqliteReplayGuard::open(&db.0, 300).unwrap();
                        (0..20)
                            .filter(|i| {
                                g.claim(&key(&format!("msg_{i}"), 1_000), 1_000)
                                    == ClaimState::Claimed
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(claimed, 20, "each of 20 keys claimed exactly once");
    }
}

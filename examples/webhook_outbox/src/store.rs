//! The outbox tables, on SQLite or PostgreSQL.
//!
//! Three tables: `outbox_endpoints`, `outbox_messages` (one row per
//! message, its id unique) and `outbox_deliveries` (one row per message and
//! endpoint, holding webwire's serialised `Delivery`). A worker *claims* due
//! deliveries by writing its name and a lease expiry into them in one
//! statement; PostgreSQL's `FOR UPDATE SKIP LOCKED` lets several workers
//! claim at once without waiting on each other, SQLite serialises writers.
//! A claim whose lease ran out (its worker died) is claimable again. After
//! each attempt the worker writes the new `Delivery` state and clears the
//! lease, but only if the lease is still its own.
//!
//! Every statement is written once per dialect below, side by side; the
//! schemas differ only in types.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::OptionalExtension as _;

pub type BoxError = Box<dyn Error + Send + Sync>;

/// A stored endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Event-type patterns, space-separated; empty for every event.
    pub filters: String,
    /// webwire's `RetryPolicy`, as JSON.
    pub policy: String,
    pub allow_private: bool,
    pub max_in_flight: i32,
    /// Requests per second; 0 for no limit.
    pub rate: i32,
    /// Why it was disabled, or `None` while enabled.
    pub disabled: Option<String>,
    /// Extra trusted roots for an `https://` endpoint (PEM), beside
    /// Mozilla's.
    pub ca: Option<String>,
}

/// A claimed delivery.
#[derive(Debug)]
pub struct Claimed {
    pub id: i64,
    /// webwire's `Delivery`, as JSON.
    pub delivery: String,
}

/// What an attempt changed.
#[derive(Debug)]
pub struct Update {
    pub delivery: String,
    pub state: &'static str,
    pub next_due: i64,
    pub attempts: i32,
    pub last_status: String,
    pub last_response: String,
}

/// A `status` line.
#[derive(Debug)]
pub struct StatusRow {
    pub message_id: String,
    pub endpoint_id: String,
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<String>,
    /// The start of the last response body, or why there was none.
    pub last_response: Option<String>,
}

/// A new message and its deliveries.
pub struct NewMessage {
    pub id: String,
    pub event_type: String,
    pub payload: String,
    pub ordering_key: Option<String>,
    pub created_at: i64,
    /// (endpoint id, `Delivery` JSON, first due time)
    pub deliveries: Vec<(String, String, i64)>,
}

pub enum Store {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(tokio_postgres::Client),
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox_endpoints (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,
    filters TEXT NOT NULL, policy TEXT NOT NULL, allow_private INTEGER NOT NULL,
    max_in_flight INTEGER NOT NULL, rate INTEGER NOT NULL, disabled TEXT, ca TEXT);
CREATE TABLE IF NOT EXISTS outbox_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL, payload TEXT NOT NULL, ordering_key TEXT,
    created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_seq INTEGER NOT NULL REFERENCES outbox_messages (seq),
    endpoint_id TEXT NOT NULL, ordering_key TEXT, state TEXT NOT NULL,
    next_due INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_status TEXT, last_response TEXT, lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0, delivery TEXT NOT NULL,
    UNIQUE (message_seq, endpoint_id));
CREATE INDEX IF NOT EXISTS outbox_deliveries_due ON outbox_deliveries (next_due)
    WHERE state IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS outbox_deliveries_order
    ON outbox_deliveries (endpoint_id, ordering_key, message_seq)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'failed');
";

const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox_endpoints (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,
    filters TEXT NOT NULL, policy TEXT NOT NULL, allow_private BOOLEAN NOT NULL,
    max_in_flight INTEGER NOT NULL, rate INTEGER NOT NULL, disabled TEXT, ca TEXT);
CREATE TABLE IF NOT EXISTS outbox_messages (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL, payload TEXT NOT NULL, ordering_key TEXT,
    created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_deliveries (
    id BIGSERIAL PRIMARY KEY,
    message_seq BIGINT NOT NULL REFERENCES outbox_messages (seq),
    endpoint_id TEXT NOT NULL, ordering_key TEXT, state TEXT NOT NULL,
    next_due BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_status TEXT, last_response TEXT, lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0, delivery TEXT NOT NULL,
    UNIQUE (message_seq, endpoint_id));
CREATE INDEX IF NOT EXISTS outbox_deliveries_due ON outbox_deliveries (next_due)
    WHERE state IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS outbox_deliveries_order
    ON outbox_deliveries (endpoint_id, ordering_key, message_seq)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'failed');
";

/// Due, unleased, not for an excluded endpoint (`$5`: `,a,b,`), and not
/// behind an earlier unfinished message with the same ordering key.
const CLAIMABLE: &str = "
    d.state IN ('pending', 'failed') AND d.next_due <= $2 AND d.lease_until <= $3
    AND INSTR($5, ',' || d.endpoint_id || ',') = 0
    AND (d.ordering_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM outbox_deliveries e
        WHERE e.endpoint_id = d.endpoint_id AND e.ordering_key = d.ordering_key
          AND e.state IN ('pending', 'failed') AND e.message_seq < d.message_seq))";

fn claim_sql(postgres: bool) -> String {
    // PostgreSQL spells INSTR `strpos`; SKIP LOCKED lets concurrent
    // claimers pass over each other's rows instead of queueing.
    let (filter, lock) = if postgres {
        (
            CLAIMABLE.replace("INSTR", "strpos"),
            "FOR UPDATE SKIP LOCKED",
        )
    } else {
        (CLAIMABLE.to_owned(), "")
    };
    let sql = format!(
        "UPDATE outbox_deliveries SET lease_owner = $1, lease_until = $6
         WHERE id IN (SELECT d.id FROM outbox_deliveries d WHERE {filter}
                      ORDER BY d.next_due, d.id LIMIT $4 {lock})
         RETURNING id, delivery"
    );
    dialect(&sql, postgres)
}

const FINISH_SQL: &str = "UPDATE outbox_deliveries SET delivery = $1, state = $2, next_due = $3,
    attempts = $4, last_status = $5, last_response = $6, lease_owner = NULL, lease_until = 0
    WHERE id = $7 AND lease_owner = $8";

const UNCLAIM_SQL: &str = "UPDATE outbox_deliveries
    SET lease_owner = NULL, lease_until = 0, next_due = CASE WHEN next_due < $1 THEN $1 ELSE next_due END
    WHERE id = $2 AND lease_owner = $3";

const UPSERT_ENDPOINT_SQL: &str = "INSERT INTO outbox_endpoints
    (id, url, secret, filters, policy, allow_private, max_in_flight, rate, disabled, ca)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)
    ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
    filters = excluded.filters, policy = excluded.policy, allow_private = excluded.allow_private,
    max_in_flight = excluded.max_in_flight, rate = excluded.rate, disabled = NULL, ca = excluded.ca";

const ENDPOINTS_SQL: &str = "SELECT id, url, secret, filters, policy, allow_private,
    max_in_flight, rate, disabled, ca FROM outbox_endpoints ORDER BY id";

const INSERT_MESSAGE_SQL: &str = "INSERT INTO outbox_messages
    (id, event_type, payload, ordering_key, created_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO NOTHING RETURNING seq";

const INSERT_DELIVERY_SQL: &str = "INSERT INTO outbox_deliveries
    (message_seq, endpoint_id, ordering_key, state, next_due, delivery)
    VALUES ($1, $2, $3, 'pending', $4, $5)";

const STATUS_SQL: &str = "SELECT m.id, d.endpoint_id, d.state, d.attempts, d.last_status,
    d.last_response
    FROM outbox_deliveries d JOIN outbox_messages m ON m.seq = d.message_seq
    ORDER BY d.message_seq, d.endpoint_id";

const UNFINISHED_SQL: &str =
    "SELECT COUNT(*) FROM outbox_deliveries WHERE state IN ('pending', 'failed')";

const DEAD_SQL: &str = "SELECT d.id, d.delivery FROM outbox_deliveries d
    JOIN outbox_messages m ON m.seq = d.message_seq
    WHERE d.state = 'dead' AND ($1 = '' OR d.endpoint_id = $1) AND ($2 = '' OR m.id = $2)
    ORDER BY d.id";

const REVIVE_SQL: &str = "UPDATE outbox_deliveries SET delivery = $1, state = 'pending',
    next_due = $2, attempts = 0, lease_owner = NULL, lease_until = 0
    WHERE id = $3 AND state = 'dead'";

const DISABLE_SQL: &str = "UPDATE outbox_endpoints SET disabled = $1 WHERE id = $2";

/// SQLite takes `?N` where PostgreSQL takes `$N`.
fn dialect(sql: &str, postgres: bool) -> String {
    if postgres {
        sql.to_owned()
    } else {
        sql.replace('$', "?")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens `url` (`sqlite://PATH` or `postgres://…`) and creates the tables.
    pub async fn open(url: &str) -> Result<Self, BoxError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let conn = rusqlite::Connection::open(path)?;
            // WAL: readers (status) do not block the writer; several worker
            // processes on one file wait for each other up to 10 s.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.execute_batch(SQLITE_SCHEMA)?;
            Ok(Store::Sqlite(Arc::new(Mutex::new(conn))))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (mut client, connection) =
                tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    eprintln!("webhook_outbox: database connection: {e}");
                }
            });
            // Workers starting together must not race each other's
            // CREATE TABLE: one at a time, under an advisory lock.
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock(7200421)", &[])
                .await?;
            tx.batch_execute(POSTGRES_SCHEMA).await?;
            tx.commit().await?;
            Ok(Store::Postgres(client))
        } else {
            Err(format!("unsupported --db `{url}`: use sqlite://PATH or postgres://…").into())
        }
    }

    /// Runs `f` on the SQLite connection on a blocking thread.
    async fn sqlite<T: Send + 'static>(
        conn: &Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, BoxError> {
        let conn = Arc::clone(conn);
        Ok(tokio::task::spawn_blocking(move || f(&mut lock(&conn))).await??)
    }

    pub async fn upsert_endpoint(&self, e: EndpointRow) -> Result<(), BoxError> {
        match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    c.execute(
                        &dialect(UPSERT_ENDPOINT_SQL, false),
                        rusqlite::params![
                            e.id,
                            e.url,
                            e.secret,
                            e.filters,
                            e.policy,
                            e.allow_private,
                            e.max_in_flight,
                            e.rate,
                            e.ca
                        ],
                    )
                })
                .await?;
            }
            Store::Postgres(client) => {
                client
                    .execute(
                        UPSERT_ENDPOINT_SQL,
                        &[
                            &e.id,
                            &e.url,
                            &e.secret,
                            &e.filters,
                            &e.policy,
                            &e.allow_private,
                            &e.max_in_flight,
                            &e.rate,
                            &e.ca,
                        ],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, |c| {
                    let mut stmt = c.prepare(ENDPOINTS_SQL)?;
                    let rows = stmt.query_map([], |r| {
                        Ok(EndpointRow {
                            id: r.get(0)?,
                            url: r.get(1)?,
                            secret: r.get(2)?,
                            filters: r.get(3)?,
                            policy: r.get(4)?,
                            allow_private: r.get(5)?,
                            max_in_flight: r.get(6)?,
                            rate: r.get(7)?,
                            disabled: r.get(8)?,
                            ca: r.get(9)?,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(client) => Ok(client
                .query(ENDPOINTS_SQL, &[])
                .await?
                .iter()
                .map(|r| EndpointRow {
                    id: r.get(0),
                    url: r.get(1),
                    secret: r.get(2),
                    filters: r.get(3),
                    policy: r.get(4),
                    allow_private: r.get(5),
                    max_in_flight: r.get(6),
                    rate: r.get(7),
                    disabled: r.get(8),
                    ca: r.get(9),
                })
                .collect()),
        }
    }

    /// Stores a message and its deliveries in one transaction; `false` if a
    /// message with that id exists (nothing is changed: enqueue is
    /// idempotent on the id).
    pub async fn enqueue(&mut self, m: NewMessage) -> Result<bool, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let seq: Option<i64> = tx
                        .query_row(
                            &dialect(INSERT_MESSAGE_SQL, false),
                            rusqlite::params![
                                m.id,
                                m.event_type,
                                m.payload,
                                m.ordering_key,
                                m.created_at
                            ],
                            |r| r.get(0),
                        )
                        .optional()?;
                    let Some(seq) = seq else { return Ok(false) };
                    for (endpoint, delivery, due) in &m.deliveries {
                        tx.execute(
                            &dialect(INSERT_DELIVERY_SQL, false),
                            rusqlite::params![seq, endpoint, m.ordering_key, due, delivery],
                        )?;
                    }
                    tx.commit()?;
                    Ok(true)
                })
                .await
            }
            Store::Postgres(client) => {
                let tx = client.transaction().await?;
                let row = tx
                    .query_opt(
                        INSERT_MESSAGE_SQL,
                        &[
                            &m.id,
                            &m.event_type,
                            &m.payload,
                            &m.ordering_key,
                            &m.created_at,
                        ],
                    )
                    .await?;
                let Some(row) = row else { return Ok(false) };
                let seq: i64 = row.get(0);
                for (endpoint, delivery, due) in &m.deliveries {
                    tx.execute(
                        INSERT_DELIVERY_SQL,
                        &[&seq, endpoint, &m.ordering_key, due, delivery],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    }

    /// Leases up to `limit` due deliveries to `worker` until `lease_until_ms`.
    pub async fn claim(
        &self,
        worker: &str,
        now_s: i64,
        now_ms: i64,
        limit: i64,
        excluded: &str,
        lease_until_ms: i64,
    ) -> Result<Vec<Claimed>, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                let (worker, excluded) = (worker.to_owned(), excluded.to_owned());
                Self::sqlite(conn, move |c| {
                    let mut stmt = c.prepare(&claim_sql(false))?;
                    let rows = stmt.query_map(
                        rusqlite::params![worker, now_s, now_ms, limit, excluded, lease_until_ms],
                        |r| {
                            Ok(Claimed {
                                id: r.get(0)?,
                                delivery: r.get(1)?,
                            })
                        },
                    )?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(client) => Ok(client
                .query(
                    &claim_sql(true),
                    &[&worker, &now_s, &now_ms, &limit, &excluded, &lease_until_ms],
                )
                .await?
                .iter()
                .map(|r| Claimed {
                    id: r.get(0),
                    delivery: r.get(1),
                })
                .collect()),
        }
    }

    /// Writes an attempt's result and ends the lease; `false` if the lease
    /// is no longer `worker`'s (it expired and another worker took over).
    pub async fn finish(&self, worker: &str, id: i64, u: Update) -> Result<bool, BoxError> {
        let n = match self {
            Store::Sqlite(conn) => {
                let worker = worker.to_owned();
                Self::sqlite(conn, move |c| {
                    c.prepare(&dialect(FINISH_SQL, false))?
                        .execute(rusqlite::params![
                            u.delivery,
                            u.state,
                            u.next_due,
                            u.attempts,
                            u.last_status,
                            u.last_response,
                            id,
                            worker
                        ])
                })
                .await?
            }
            Store::Postgres(client) => {
                client
                    .execute(
                        FINISH_SQL,
                        &[
                            &u.delivery,
                            &u.state,
                            &u.next_due,
                            &u.attempts,
                            &u.last_status,
                            &u.last_response,
                            &id,
                            &worker,
                        ],
                    )
                    .await? as usize
            }
        };
        Ok(n == 1)
    }

    /// Gives a claimed delivery back unattempted, due no earlier than `not_before`.
    pub async fn unclaim(&self, worker: &str, id: i64, not_before: i64) -> Result<(), BoxError> {
        match self {
            Store::Sqlite(conn) => {
                let worker = worker.to_owned();
                Self::sqlite(conn, move |c| {
                    c.execute(
                        &dialect(UNCLAIM_SQL, false),
                        rusqlite::params![not_before, id, worker],
                    )
                })
                .await?;
            }
            Store::Postgres(client) => {
                client
                    .execute(UNCLAIM_SQL, &[&not_before, &id, &worker])
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn disable_endpoint(&self, id: &str, reason: &str) -> Result<(), BoxError> {
        match self {
            Store::Sqlite(conn) => {
                let (id, reason) = (id.to_owned(), reason.to_owned());
                Self::sqlite(conn, move |c| {
                    c.execute(&dialect(DISABLE_SQL, false), rusqlite::params![reason, id])
                })
                .await?;
            }
            Store::Postgres(client) => {
                client.execute(DISABLE_SQL, &[&reason, &id]).await?;
            }
        }
        Ok(())
    }

    /// Deliveries not yet ended: pending, or failed with a retry to come.
    pub async fn unfinished(&self) -> Result<i64, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, |c| c.query_row(UNFINISHED_SQL, [], |r| r.get(0))).await
            }
            Store::Postgres(client) => Ok(client.query_one(UNFINISHED_SQL, &[]).await?.get(0)),
        }
    }

    pub async fn status(&self) -> Result<Vec<StatusRow>, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, |c| {
                    let mut stmt = c.prepare(STATUS_SQL)?;
                    let rows = stmt.query_map([], |r| {
                        Ok(StatusRow {
                            message_id: r.get(0)?,
                            endpoint_id: r.get(1)?,
                            state: r.get(2)?,
                            attempts: r.get(3)?,
                            last_status: r.get(4)?,
                            last_response: r.get(5)?,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(client) => Ok(client
                .query(STATUS_SQL, &[])
                .await?
                .iter()
                .map(|r| StatusRow {
                    message_id: r.get(0),
                    endpoint_id: r.get(1),
                    state: r.get(2),
                    attempts: r.get(3),
                    last_status: r.get(4),
                    last_response: r.get(5),
                })
                .collect()),
        }
    }

    /// Dead deliveries, optionally of one endpoint and/or one message id
    /// (empty strings for any): (row id, `Delivery` JSON).
    pub async fn dead(&self, endpoint: &str, message: &str) -> Result<Vec<Claimed>, BoxError> {
        match self {
            Store::Sqlite(conn) => {
                let (endpoint, message) = (endpoint.to_owned(), message.to_owned());
                Self::sqlite(conn, move |c| {
                    let mut stmt = c.prepare(&dialect(DEAD_SQL, false))?;
                    let rows = stmt.query_map(rusqlite::params![endpoint, message], |r| {
                        Ok(Claimed {
                            id: r.get(0)?,
                            delivery: r.get(1)?,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(client) => Ok(client
                .query(DEAD_SQL, &[&endpoint, &message])
                .await?
                .iter()
                .map(|r| Claimed {
                    id: r.get(0),
                    delivery: r.get(1),
                })
                .collect()),
        }
    }

    /// Makes a dead delivery pending again with a fresh `Delivery`.
    pub async fn revive(&self, id: i64, delivery: String, due: i64) -> Result<bool, BoxError> {
        let n = match self {
            Store::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    c.execute(
                        &dialect(REVIVE_SQL, false),
                        rusqlite::params![delivery, due, id],
                    )
                })
                .await?
            }
            Store::Postgres(client) => {
                client.execute(REVIVE_SQL, &[&delivery, &due, &id]).await? as usize
            }
        };
        Ok(n == 1)
    }
}

//! The hot path's two writes, the claim and the finish, grouped into shared commits
//! (group commit).
//!
//! At a checkout peak O-PLUX answers orders in waves: hundreds of finishes arrive within
//! a few milliseconds. Written one transaction each, they queued behind each other for the
//! database (SQLite's single writer; a PostgreSQL pool connection per transaction), and
//! the last of a wave waited for all the others' commits. Here a writer takes every claim
//! and finish waiting when it is free, and while they come close together those that
//! arrive for a moment more (`gather`), and writes them together: a wave costs a few
//! commits. On PostgreSQL a batch is one statement per 64 claims and 64 finishes,
//! without BEGIN and COMMIT (a single round trip: the round trips, not the statements'
//! work, were most of a write's time at peak; bench/RESULTS.md, session 7). On SQLite it
//! is one transaction of two scripts (two hand-offs to sqlx's worker thread where a
//! statement each took seven; session 8). Each request still gets its own answer, only
//! after the commit that holds its write. When a shared write fails, each of its writes
//! is tried again alone, so one bad write cannot fail the others (`write_batch`, the
//! writers' one entry).
//!
//! The writers run on the writer thread (`store::write`): one on SQLite (one writer
//! anyway), a few on PostgreSQL, each on a connection it keeps
//! (`store::write::WriterConnection`: no pool round trip per statement; session 9).

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use prometheus_client::metrics::gauge::Gauge;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, QueryTrait};
use serde_json::Value;
use tokio::{
    sync::{Mutex, mpsc, oneshot},
    time::Instant,
};

use super::gather::{self, Gathering};
use crate::{
    events::{self, Emit, EventType},
    metrics::{DatabaseLabel, Histograms, ScreeningWriteMetrics, WriteLabel},
    store::{
        self,
        events::NewEvent,
        oplux_exchanges::NewExchange,
        screenings::{self, Claim, Finish, Finished, NewClaim, Reported},
        webhooks::{self, EndpointRow},
        write::WriterConnection,
    },
};

/// The most writes a writer takes at once (one batch).
const BATCH: usize = 256;
/// Concurrent writers on PostgreSQL.
const POSTGRES_WRITERS: usize = 4;

// Its metrics (`metrics::ScreeningWriteMetrics`, in the process's registry):
// - `writes`: how long a claim or finish took from being queued to its commit, the
//   database's share of a screening's latency, batch wait included;
// - `batches`: how long each batch took on its writer's connection, retries included:
//   the database's own time, beside the writes' time from queueing, which adds the wait
//   for a writer. Its count against `writes`' tells the writes per batch;
// - `queue_waits`: how long each claim and finish waited in the queue until a writer
//   took it: the first part of `writes`, which grows when every writer is busy (the
//   writers are saturated);
// - `queued`: the claims and finishes waiting in the queue, per database.

/// A claim or finish counted as waiting until a writer takes it (or it is dropped).
struct Queued(Gauge);

impl Queued {
    fn enter(count: &Gauge) -> Self {
        count.inc();
        Self(count.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Where the screening service sends its writes.
pub struct ScreeningWrites {
    jobs: mpsc::UnboundedSender<Job>,
    /// Its writes waiting for a writer (`renkei_screening_write_queue`).
    queued: Gauge,
    /// How long its writes took (`renkei_screening_write_seconds`).
    writes: Histograms<WriteLabel>,
}

/// A claim of an order's row (see `store::screenings::claim_and_finish`).
pub struct ClaimOrder {
    pub shop_id: String,
    pub order_number: String,
    pub fingerprint: String,
    pub token: String,
}

/// The finish of a claimed row, with the registration's exchange and the event.
#[derive(Clone)]
pub struct FinishOrder {
    pub id: i64,
    pub token: String,
    pub shop_id: String,
    pub finished: Finished,
    pub exchange: Option<NewExchange>,
    /// `screening.created`'s data.
    pub event: Value,
    /// `screening.review_opened`'s data, when the screening opens a review.
    pub review_opened: Option<Value>,
}

/// One of the hot path's writes.
pub enum Work {
    Claim(ClaimOrder),
    Finish(Box<FinishOrder>),
}

/// A write's answer.
pub enum Done {
    Claim(Box<Claim>),
    /// Whether the request still held the row.
    Finish(bool),
}

struct Job {
    work: Work,
    /// Counted as waiting until a writer takes it.
    queued: Queued,
    since: Instant,
    answer: oneshot::Sender<Result<Done, DbErr>>,
}

impl gather::Stamped for Job {
    fn queued_at(&self) -> Instant {
        self.since
    }
}

impl ScreeningWrites {
    /// Starts the writers of this database; they stop when this is dropped.
    pub fn start(db: &DatabaseConnection, metrics: &ScreeningWriteMetrics, gather: Duration) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(Gathering::new(queue, gather, BATCH)));
        let writers = match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => POSTGRES_WRITERS,
        };
        for _ in 0..writers {
            let connection = WriterConnection::new(db);
            store::write::spawn_on_writer(write_batches(connection, queue.clone(), metrics.clone()));
        }
        let database = store::write::database(db);
        Self {
            jobs,
            queued: metrics.queued.get_or_create_owned(&DatabaseLabel { database }),
            writes: metrics.writes.clone(),
        }
    }

    /// Claims the order's row (see `store::screenings::claim_and_finish`).
    pub async fn claim(
        &self,
        shop_id: &str,
        order_number: &str,
        fingerprint: &str,
        token: &str,
    ) -> Result<Claim, DbErr> {
        let work = Work::Claim(ClaimOrder {
            shop_id: shop_id.to_string(),
            order_number: order_number.to_string(),
            fingerprint: fingerprint.to_string(),
            token: token.to_string(),
        });
        match self.submit(work).await? {
            Done::Claim(claim) => Ok(*claim),
            Done::Finish(_) => Err(DbErr::Custom("a claim was answered as a finish".into())),
        }
    }

    /// Finishes a row; whether this request still held it.
    pub async fn finish(&self, order: FinishOrder) -> Result<bool, DbErr> {
        match self.submit(Work::Finish(Box::new(order))).await? {
            Done::Finish(held) => Ok(held),
            Done::Claim(_) => Err(DbErr::Custom("a finish was answered as a claim".into())),
        }
    }

    /// Queues a write and waits for the commit that holds it. A request that goes away
    /// does not cancel its write.
    async fn submit(&self, work: Work) -> Result<Done, DbErr> {
        let kind = match work {
            Work::Claim(_) => "claim",
            Work::Finish(_) => "finish",
        };
        let since = Instant::now();
        let (answer, answered) = oneshot::channel();
        let job = Job {
            work,
            queued: Queued::enter(&self.queued),
            since,
            answer,
        };
        self.jobs
            .send(job)
            .map_err(|_| DbErr::Custom("the screening writer has stopped".into()))?;
        let done = answered
            .await
            .map_err(|_| DbErr::Custom("the screening writer stopped before writing".into()))?;
        self.writes
            .get_or_create(&WriteLabel { write: kind })
            .observe(since.elapsed().as_secs_f64());
        done
    }
}

/// One writer: takes a batch (`Gathering`), writes it, answers.
async fn write_batches(db: WriterConnection, queue: Arc<Mutex<Gathering<Job>>>, metrics: ScreeningWriteMetrics) {
    let database = DatabaseLabel {
        database: store::write::database(&db),
    };
    loop {
        let Some(jobs) = queue.lock().await.next().await else {
            db.close().await;
            return;
        };
        let started = Instant::now();
        let jobs: Vec<(Work, oneshot::Sender<Result<Done, DbErr>>)> = jobs
            .into_iter()
            .map(|job| {
                metrics
                    .queue_waits
                    .get_or_create(&database)
                    .observe(started.duration_since(job.since).as_secs_f64());
                drop(job.queued);
                (job.work, job.answer)
            })
            .collect();
        let works: Vec<&Work> = jobs.iter().map(|(work, _)| work).collect();
        let answers = write_batch(&db, &works).await;
        metrics
            .batches
            .get_or_create(&database)
            .observe(started.elapsed().as_secs_f64());
        for ((_, sender), answer) in jobs.into_iter().zip(answers) {
            let _ = sender.send(answer);
        }
    }
}

/// Writes a batch of claims and finishes (any number of each) and answers each, in
/// order. The batch is written in parts, each atomic by itself (`parts`); a part that
/// fails is written again write by write, so that one bad write cannot fail the others.
/// The writers' one entry to the database.
pub async fn write_batch(db: &WriterConnection, works: &[&Work]) -> Vec<Result<Done, DbErr>> {
    let mut answers: Vec<Option<Result<Done, DbErr>>> = works.iter().map(|_| None).collect();
    for part in parts(db.get_database_backend(), works) {
        let together: Vec<&Work> = part.iter().map(|&i| works[i]).collect();
        match write_together(db, &together).await {
            Ok(done) => {
                for (&i, done) in part.iter().zip(done) {
                    answers[i] = Some(Ok(done));
                }
            }
            Err(err) if part.len() == 1 => answers[part[0]] = Some(Err(err)),
            Err(_) => {
                for &i in &part {
                    answers[i] = Some(write_together(db, &[works[i]]).await.map(|mut done| done.remove(0)));
                }
            }
        }
    }
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|| Err(DbErr::Custom("a write of the batch was not written".into()))))
        .collect()
}

/// The parts a batch is written in, as indices into `works`: on SQLite the whole batch
/// (one transaction, `write_script`); on PostgreSQL statements of at most 64 claims and
/// 64 finishes (`screenings::claim_and_finish`; the claims and the finishes each cut in
/// 64s, and paired), each atomic by itself, without BEGIN and COMMIT: a single round
/// trip however many it holds, where a transaction took four. A batch of up to 64 of
/// each, nearly every batch, is one statement.
fn parts(backend: DbBackend, works: &[&Work]) -> Vec<Vec<usize>> {
    if backend == DbBackend::Sqlite {
        return vec![(0..works.len()).collect()];
    }
    let (claims, finishes): (Vec<usize>, Vec<usize>) =
        (0..works.len()).partition(|&i| matches!(works[i], Work::Claim(_)));
    let mut claims = claims.chunks(screenings::MAX_CLAIM_AND_FINISH);
    let mut finishes = finishes.chunks(screenings::MAX_CLAIM_AND_FINISH);
    std::iter::from_fn(|| match (claims.next(), finishes.next()) {
        (None, None) => None,
        (claims, finishes) => Some([claims.unwrap_or_default(), finishes.unwrap_or_default()].concat()),
    })
    .collect()
}

/// Writes the works together, atomically: on SQLite one write transaction of two
/// scripts (`write_script`), any number of each; on PostgreSQL one statement
/// (`screenings::claim_and_finish`), at most 64 claims and 64 finishes (`parts`).
async fn write_together(db: &WriterConnection, works: &[&Work]) -> Result<Vec<Done>, DbErr> {
    let claims: Vec<NewClaim> = works
        .iter()
        .filter_map(|work| match work {
            Work::Claim(claim) => Some(NewClaim {
                shop_id: &claim.shop_id,
                order_number: &claim.order_number,
                fingerprint: &claim.fingerprint,
                token: &claim.token,
            }),
            Work::Finish(_) => None,
        })
        .collect();
    let finishes: Vec<&FinishOrder> = works
        .iter()
        .filter_map(|work| match work {
            Work::Finish(finish) => Some(&**finish),
            Work::Claim(_) => None,
        })
        .collect();
    let reported = reported(&finishes);
    let (claimed, held) = match db.get_database_backend() {
        DbBackend::Sqlite => write_script(db, &claims, &reported).await?,
        _ => screenings::claim_and_finish(db, &claims, &reported, Utc::now()).await?,
    };
    let mut claimed = claimed.into_iter();
    let mut held = held.into_iter();
    works
        .iter()
        .map(|work| {
            let done = match work {
                Work::Claim(_) => claimed.next().map(|claim| Done::Claim(Box::new(claim))),
                Work::Finish(_) => held.next().map(Done::Finish),
            };
            done.ok_or_else(|| DbErr::Custom("a write of the batch was not answered".into()))
        })
        .collect()
}

/// SQLite: a batch as one write transaction of scripts on `db`, the writer's own
/// connection (`store::write::WriterConnection`). The first script reads the enabled
/// endpoints of the finishes' shops, in the transaction, so that an endpoint added
/// before the commit gets its deliveries; the second writes. Returns the claims and
/// whether each finish's request still held its row, in order.
pub async fn write_script(
    db: &WriterConnection,
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
) -> Result<(Vec<screenings::Claim>, Vec<bool>), DbErr> {
    let mut shops: Vec<&str> = reported.iter().map(|r| r.event.shop_id.as_str()).collect();
    shops.sort_unstable();
    shops.dedup();
    let first = if shops.is_empty() {
        Vec::new()
    } else {
        vec![webhooks::enabled_endpoints_query(&shops).build(DbBackend::Sqlite)]
    };
    let (_, rows) = db
        .script_transaction(first, |rows| {
            let endpoints = rows
                .iter()
                .map(|row| EndpointRow::from_query_result(row, ""))
                .collect::<Result<Vec<_>, _>>()?;
            let events: Vec<&NewEvent> = reported.iter().flat_map(|r| r.events()).collect();
            let deliveries = events::deliveries_of_new(&events, &endpoints);
            screenings::claim_and_finish_statements(claims, reported, &deliveries, Utc::now())
        })
        .await?;
    screenings::claim_and_finish_answers(claims, reported, &rows)
}

/// The row a finish writes.
fn row(finish: &FinishOrder) -> Finish<'_> {
    Finish {
        id: finish.id,
        token: &finish.token,
        done: &finish.finished,
    }
}

/// The finishes with what they report, for PostgreSQL's statements.
fn reported<'a>(finishes: &[&'a FinishOrder]) -> Vec<Reported<'a>> {
    let now = events::now();
    finishes
        .iter()
        .map(|finish| Reported {
            finish: row(finish),
            exchange: finish.exchange.as_ref(),
            event: created(finish).new_event(now),
            opened: opened(finish).map(|emit| emit.new_event(now)),
        })
        .collect()
}

/// The `screening.created` event of a finish.
fn created(finish: &FinishOrder) -> Emit<'_> {
    Emit {
        shop_id: &finish.shop_id,
        kind: EventType::ScreeningCreated,
        data: &finish.event,
    }
}

/// The `screening.review_opened` event of a finish that opens a review.
fn opened(finish: &FinishOrder) -> Option<Emit<'_>> {
    Some(Emit {
        shop_id: &finish.shop_id,
        kind: EventType::ScreeningReviewOpened,
        data: finish.review_opened.as_ref()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim_work() -> Work {
        Work::Claim(ClaimOrder {
            shop_id: "s".into(),
            order_number: "o".into(),
            fingerprint: "f".into(),
            token: "t".into(),
        })
    }

    fn finish_work() -> Work {
        Work::Finish(Box::new(FinishOrder {
            id: 1,
            token: "t".into(),
            shop_id: "s".into(),
            finished: screenings::Finished {
                screened: false,
                skip_reason: None,
                result: None,
                reasons: "[]".into(),
                decision: "create_order".into(),
                redirect_url: None,
                forced_by_thanks_offer: false,
                oplux_event_id: None,
                parent_order_number: None,
                error_detail: None,
                oplux_latency_ms: None,
                screened_at: Utc::now(),
                warnings: "[]".into(),
                parent_screening: None,
                review_opened_at: None,
            },
            exchange: None,
            event: Value::Null,
            review_opened: None,
        }))
    }

    #[test]
    fn a_postgres_batch_of_up_to_64_of_each_is_one_part_and_larger_ones_are_cut_in_64s() {
        // Claims and finishes interleaved: 3 of each, then 100 claims and 70 finishes.
        let small: Vec<Work> = (0..6)
            .map(|n| if n % 2 == 0 { claim_work() } else { finish_work() })
            .collect();
        let small: Vec<&Work> = small.iter().collect();
        assert_eq!(parts(DbBackend::Postgres, &small), [vec![0, 2, 4, 1, 3, 5]]);
        assert_eq!(parts(DbBackend::Sqlite, &small), [vec![0, 1, 2, 3, 4, 5]]);

        let large: Vec<Work> = (0..100)
            .map(|_| claim_work())
            .chain((0..70).map(|_| finish_work()))
            .collect();
        let large: Vec<&Work> = large.iter().collect();
        let cut = parts(DbBackend::Postgres, &large);
        let sizes: Vec<(usize, usize)> = cut
            .iter()
            .map(|part| {
                (
                    part.iter().filter(|&&i| i < 100).count(),
                    part.iter().filter(|&&i| i >= 100).count(),
                )
            })
            .collect();
        assert_eq!(sizes, [(64, 64), (36, 6)]);
        let mut every: Vec<usize> = cut.concat();
        every.sort_unstable();
        assert_eq!(every, (0..170).collect::<Vec<_>>());
    }

    fn queued(metrics: &crate::metrics::Metrics, database: &str) -> String {
        let text = metrics.encode();
        let prefix = format!("renkei_screening_write_queue{{database=\"{database}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no queue gauge for {database} in {text}"))
            .to_string()
    }

    #[test]
    fn a_queued_write_is_counted_until_a_writer_takes_it() {
        let metrics = crate::metrics::Metrics::new();
        let gauge = |database| {
            metrics
                .screening_writes
                .queued
                .get_or_create_owned(&DatabaseLabel { database })
        };
        let (sqlite, postgres) = (gauge("sqlite"), gauge("postgres"));
        assert_eq!(
            (queued(&metrics, "sqlite"), queued(&metrics, "postgres")),
            ("0".into(), "0".into())
        );
        let first = Queued::enter(&sqlite);
        let second = Queued::enter(&sqlite);
        let other = Queued::enter(&postgres);
        assert_eq!(
            (queued(&metrics, "sqlite"), queued(&metrics, "postgres")),
            ("2".into(), "1".into())
        );
        drop(first);
        assert_eq!(queued(&metrics, "sqlite"), "1");
        drop((second, other));
        assert_eq!(
            (queued(&metrics, "sqlite"), queued(&metrics, "postgres")),
            ("0".into(), "0".into())
        );
    }
}

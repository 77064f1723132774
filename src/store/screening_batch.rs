//! One batch of the screening hot path's writes: claims, and finishes with what they
//! report (the exchange with O-PLUX, the events and the events' webhook deliveries).
//!
//! Every statement here has a text that never changes: the batch's rows travel as JSON
//! parameters, read in SQL by `jsonb_to_recordset` (PostgreSQL) or `json_each` (SQLite).
//! So a batch of any size is the same few statements, parsed and planned once per
//! connection (sqlx's statement cache), and building one is a `serde_json` serialization
//! of the rows, not a statement tree per row.
//!
//! - PostgreSQL: one statement, atomic by itself, without BEGIN and COMMIT (a single round
//!   trip): a `WITH` that inserts the claims, updates the finished rows still held, and
//!   for those appends the exchanges, the events and their deliveries. Claims whose
//!   order existed cost a second statement, which reads those rows (a statement does not
//!   see rows committed while it runs).
//! - SQLite: one write transaction of two scripts, each one exchange with the
//!   connection's worker thread (`write::WriterConnection::script_transaction`): the
//!   enabled webhook endpoints of the finishes' shops, read under the write lock so that
//!   an endpoint added before the commit gets its deliveries; then every write, the
//!   claims' rows as the script leaves them, and COMMIT.

use std::{
    collections::{HashMap, HashSet},
    sync::LazyLock,
};

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, FromQueryResult, QueryResult, Statement, Value,
    sea_query::{Alias, PostgresQueryBuilder},
};
use serde::Serialize;

use super::{
    events::NewEvent,
    screenings::{Claim, NewClaim, PENDING, REVIEW_OPEN, Reported, ScreeningRow},
    webhooks::{self, EndpointRow, NewEventDelivery},
    write::WriterConnection,
};

/// Writes a batch of claims and finishes on `db` (a writer's own connection). Returns
/// a claim per order and whether each finish's request still held its row, in order.
pub async fn write(
    db: &WriterConnection,
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    at: DateTime<Utc>,
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    let rows = Rows::of(claims, reported, at)?;
    match db.get_database_backend() {
        DbBackend::Sqlite => write_sqlite(db, claims, reported, rows).await,
        _ => write_postgres(db, claims, reported, rows).await,
    }
}

/// The batch's rows as JSON arrays, one per statement part.
struct Rows {
    claims: String,
    finishes: String,
    exchanges: String,
    events: String,
    claimed_at: String,
}

impl Rows {
    fn of(claims: &[NewClaim<'_>], reported: &[Reported<'_>], at: DateTime<Utc>) -> Result<Self, DbErr> {
        let claims: Vec<ClaimRow> = claims
            .iter()
            .map(|c| ClaimRow {
                shop_id: c.shop_id,
                order_number: c.order_number,
                fingerprint: c.fingerprint,
                claim_token: c.token,
            })
            .collect();
        let finishes: Vec<FinishRow> = reported.iter().map(FinishRow::of).collect();
        let exchanges: Vec<ExchangeRow> = reported
            .iter()
            .filter_map(|r| {
                let x = r.exchange?;
                Some(ExchangeRow {
                    screening_id: r.finish.id,
                    claim_token: r.finish.token,
                    shop_id: &x.shop_id,
                    order_number: &x.order_number,
                    kind: x.kind,
                    at: stored_time(x.at),
                    latency_ms: x.latency_ms,
                    outcome: x.outcome,
                    http_status: x.http_status,
                    codes: &x.codes,
                })
            })
            .collect();
        // Every screening's own event, then the reviews' (in the order they are written).
        let events: Vec<EventRow> = reported
            .iter()
            .map(|r| (r, &r.event))
            .chain(reported.iter().filter_map(|r| Some((r, r.opened.as_ref()?))))
            .enumerate()
            .map(|(n, (r, event))| EventRow::of(n, r.finish.id, r.finish.token, event))
            .collect();
        let json = |value: serde_json::Result<String>| value.map_err(|err| DbErr::Custom(err.to_string()));
        Ok(Self {
            claims: json(serde_json::to_string(&claims))?,
            finishes: json(serde_json::to_string(&finishes))?,
            exchanges: json(serde_json::to_string(&exchanges))?,
            events: json(serde_json::to_string(&events))?,
            claimed_at: stored_time(at),
        })
    }
}

/// A time as sqlx stores a `DateTime<Utc>` in SQLite (and PostgreSQL reads it).
fn stored_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

#[derive(Serialize)]
struct ClaimRow<'a> {
    shop_id: &'a str,
    order_number: &'a str,
    fingerprint: &'a str,
    claim_token: &'a str,
}

#[derive(Serialize)]
struct FinishRow<'a> {
    id: i64,
    claim_token: &'a str,
    screened: bool,
    skip_reason: Option<&'a str>,
    result: Option<&'a str>,
    reasons: &'a str,
    decision: &'a str,
    redirect_url: Option<&'a str>,
    forced_by_thanks_offer: bool,
    oplux_event_id: Option<&'a str>,
    parent_order_number: Option<&'a str>,
    error_detail: Option<&'a str>,
    oplux_latency_ms: Option<i64>,
    screened_at: String,
    warnings: &'a str,
    parent_screening: Option<&'a str>,
    review_state: Option<&'static str>,
    review_opened_at: Option<String>,
}

impl<'a> FinishRow<'a> {
    fn of(r: &'a Reported<'a>) -> Self {
        let done = r.finish.done;
        Self {
            id: r.finish.id,
            claim_token: r.finish.token,
            screened: done.screened,
            skip_reason: done.skip_reason.as_deref(),
            result: done.result.as_deref(),
            reasons: &done.reasons,
            decision: &done.decision,
            redirect_url: done.redirect_url.as_deref(),
            forced_by_thanks_offer: done.forced_by_thanks_offer,
            oplux_event_id: done.oplux_event_id.as_deref(),
            parent_order_number: done.parent_order_number.as_deref(),
            error_detail: done.error_detail.as_deref(),
            oplux_latency_ms: done.oplux_latency_ms,
            screened_at: stored_time(done.screened_at),
            warnings: &done.warnings,
            parent_screening: done.parent_screening.as_deref(),
            review_state: done.review_opened_at.map(|_| REVIEW_OPEN),
            review_opened_at: done.review_opened_at.map(stored_time),
        }
    }
}

#[derive(Serialize)]
struct ExchangeRow<'a> {
    screening_id: i64,
    claim_token: &'a str,
    shop_id: &'a str,
    order_number: &'a str,
    kind: &'a str,
    at: String,
    latency_ms: Option<i64>,
    outcome: &'a str,
    http_status: Option<i32>,
    codes: &'a str,
}

#[derive(Serialize)]
struct EventRow<'a> {
    /// The order the events are written in.
    n: usize,
    screening_id: i64,
    claim_token: &'a str,
    public_id: &'a str,
    shop_id: &'a str,
    event_type: &'a str,
    data: &'a str,
    created_at: String,
}

impl<'a> EventRow<'a> {
    fn of(n: usize, screening_id: i64, claim_token: &'a str, event: &'a NewEvent) -> Self {
        Self {
            n,
            screening_id,
            claim_token,
            public_id: &event.public_id,
            shop_id: &event.shop_id,
            event_type: event.event_type,
            data: &event.data,
            created_at: stored_time(event.created_at),
        }
    }
}

#[derive(Serialize)]
struct DeliveryRow<'a> {
    public_id: &'a str,
    shop_id: &'a str,
    endpoint_id: i64,
    event_public_id: &'a str,
    at: String,
}

/// The columns a finish sets, as `column = <row>.column` (the row's name first).
fn finish_assignments(value: impl Fn(&str) -> String) -> String {
    [
        "screened",
        "skip_reason",
        "result",
        "reasons",
        "decision",
        "redirect_url",
        "forced_by_thanks_offer",
        "oplux_event_id",
        "parent_order_number",
        "error_detail",
        "oplux_latency_ms",
        "screened_at",
        "warnings",
        "parent_screening",
        "review_state",
        "review_opened_at",
    ]
    .iter()
    .map(|column| format!("{column} = {}", value(column)))
    .collect::<Vec<_>>()
    .join(", ")
}

const CLAIMED: &str = "claimed";
const HELD: &str = "held";
const CLAIM: &str = "claim";

/// PostgreSQL's statement: $1 claims, $2 their time, $3 finishes, $4 exchanges, $5 events.
static POSTGRES: LazyLock<String> = LazyLock::new(|| {
    let deliveries = webhooks::deliveries_of(Alias::new("new_events")).to_string(PostgresQueryBuilder);
    let finish = finish_assignments(|column| format!("f.{column}"));
    format!(
        "WITH {CLAIMED} AS (
  INSERT INTO screenings (shop_id, order_number, state, fingerprint, claim_token, claimed_at, screened, reasons, warnings, forced_by_thanks_offer)
  SELECT c.shop_id, c.order_number, '{PENDING}', c.fingerprint, c.claim_token, $2::timestamptz, false, '[]', '[]', false
  FROM jsonb_to_recordset($1::jsonb) AS c(shop_id text, order_number text, fingerprint text, claim_token text)
  ON CONFLICT (shop_id, order_number) DO NOTHING
  RETURNING *
), {HELD} AS (
  UPDATE screenings SET state = 'done', {finish}
  FROM jsonb_to_recordset($3::jsonb) AS f(id bigint, claim_token text, screened boolean, skip_reason text,
    result text, reasons text, decision text, redirect_url text, forced_by_thanks_offer boolean,
    oplux_event_id text, parent_order_number text, error_detail text, oplux_latency_ms bigint,
    screened_at timestamptz, warnings text, parent_screening text, review_state text,
    review_opened_at timestamptz)
  WHERE screenings.id = f.id AND screenings.state = '{PENDING}' AND screenings.claim_token = f.claim_token
  RETURNING screenings.*
), exchanges AS (
  INSERT INTO oplux_exchanges (shop_id, order_number, kind, at, latency_ms, outcome, http_status, codes)
  SELECT x.shop_id, x.order_number, x.kind, x.at, x.latency_ms, x.outcome, x.http_status, x.codes
  FROM jsonb_to_recordset($4::jsonb) AS x(screening_id bigint, shop_id text, order_number text, kind text,
    at timestamptz, latency_ms bigint, outcome text, http_status integer, codes text)
  WHERE x.screening_id IN (SELECT id FROM {HELD})
), new_events AS (
  INSERT INTO events (public_id, shop_id, event_type, data, created_at)
  SELECT e.public_id, e.shop_id, e.event_type, e.data, e.created_at
  FROM jsonb_to_recordset($5::jsonb) AS e(n integer, screening_id bigint, public_id text, shop_id text,
    event_type text, data text, created_at timestamptz)
  WHERE e.screening_id IN (SELECT id FROM {HELD})
  ORDER BY e.n
  RETURNING id, shop_id, event_type, created_at
), deliveries AS (
  {deliveries}
)
SELECT '{CLAIMED}' AS part, {CLAIMED}.* FROM {CLAIMED}
UNION ALL
SELECT '{HELD}' AS part, {HELD}.* FROM {HELD}"
    )
});

/// PostgreSQL: the rows of the orders of $1's claims.
const POSTGRES_EXISTING: &str = "SELECT screenings.* FROM screenings
  JOIN jsonb_to_recordset($1::jsonb) AS c(shop_id text, order_number text)
  ON screenings.shop_id = c.shop_id AND screenings.order_number = c.order_number";

async fn write_postgres(
    db: &WriterConnection,
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    rows: Rows,
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    let values = [rows.claims, rows.claimed_at, rows.finishes, rows.exchanges, rows.events];
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        POSTGRES.as_str(),
        values.into_iter().map(Value::from),
    );
    let mut claimed = HashMap::new();
    let mut held = HashSet::new();
    for row in db.query_all_raw(statement).await? {
        let part: String = row.try_get("", "part")?;
        if part == CLAIMED {
            let row = ScreeningRow::from_query_result(&row, "")?;
            claimed.insert(row.claim_token.clone(), row);
        } else {
            held.insert(row.try_get::<i64>("", "id")?);
        }
    }
    let existed: Vec<ClaimRow> = claims
        .iter()
        .filter(|c| !claimed.contains_key(c.token))
        .map(|c| ClaimRow {
            shop_id: c.shop_id,
            order_number: c.order_number,
            fingerprint: c.fingerprint,
            claim_token: c.token,
        })
        .collect();
    let mut existing = HashMap::new();
    if !existed.is_empty() {
        let keys = serde_json::to_string(&existed).map_err(|err| DbErr::Custom(err.to_string()))?;
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, POSTGRES_EXISTING, [Value::from(keys)]);
        for row in db.query_all_raw(statement).await? {
            let row = ScreeningRow::from_query_result(&row, "")?;
            existing.insert((row.shop_id.clone(), row.order_number.clone()), row);
        }
    }
    Ok((
        answers(claims, claimed, existing)?,
        reported.iter().map(|r| held.contains(&r.finish.id)).collect(),
    ))
}

/// SQLite's first script: the enabled endpoints of ?1's shops.
const SQLITE_ENDPOINTS: &str = "SELECT * FROM webhook_endpoints
  WHERE enabled AND shop_id IN (SELECT value FROM json_each(?1)) ORDER BY id";

/// SQLite's second script. Its one parameter, ?1, is the batch as a JSON object
/// (`claims`, `claimed_at`, `finishes`, `exchanges`, `events`, `deliveries`): every
/// statement of the script names ?1 alone, as sqlx binds a script's parameters statement
/// by statement and leaves a statement's later ones unbound (NULL) when it does not name
/// its earlier ones. A finish's row is held when the update left it done under its
/// request's token.
static SQLITE: LazyLock<String> = LazyLock::new(|| {
    let finish = finish_assignments(|column| format!("f.value ->> '{column}'"));
    let held = |row: &str| {
        format!(
            "JOIN screenings AS s ON s.id = {row}.value ->> 'screening_id' AND s.state = 'done'
    AND s.claim_token = {row}.value ->> 'claim_token'"
        )
    };
    let (held_x, held_e) = (held("x"), held("e"));
    format!(
        "INSERT INTO screenings (shop_id, order_number, state, fingerprint, claim_token, claimed_at, screened, reasons, warnings, forced_by_thanks_offer)
  SELECT c.value ->> 'shop_id', c.value ->> 'order_number', '{PENDING}', c.value ->> 'fingerprint',
    c.value ->> 'claim_token', ?1 ->> 'claimed_at', 0, '[]', '[]', 0
  FROM json_each(?1, '$.claims') AS c WHERE true
  ON CONFLICT (shop_id, order_number) DO NOTHING;
UPDATE screenings SET state = 'done', {finish}
  FROM json_each(?1, '$.finishes') AS f
  WHERE screenings.id = f.value ->> 'id' AND screenings.state = '{PENDING}'
    AND screenings.claim_token = f.value ->> 'claim_token'
  RETURNING '{HELD}' AS part, screenings.id AS id;
INSERT INTO oplux_exchanges (shop_id, order_number, kind, at, latency_ms, outcome, http_status, codes)
  SELECT x.value ->> 'shop_id', x.value ->> 'order_number', x.value ->> 'kind', x.value ->> 'at',
    x.value ->> 'latency_ms', x.value ->> 'outcome', x.value ->> 'http_status', x.value ->> 'codes'
  FROM json_each(?1, '$.exchanges') AS x {held_x}
  ORDER BY x.key;
INSERT INTO events (public_id, shop_id, event_type, data, created_at)
  SELECT e.value ->> 'public_id', e.value ->> 'shop_id', e.value ->> 'event_type', e.value ->> 'data',
    e.value ->> 'created_at'
  FROM json_each(?1, '$.events') AS e {held_e}
  ORDER BY e.key;
INSERT INTO webhook_deliveries (public_id, shop_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
  SELECT d.value ->> 'public_id', d.value ->> 'shop_id', d.value ->> 'endpoint_id', events.id, '{PENDING}', 0,
    d.value ->> 'at', d.value ->> 'at', d.value ->> 'at'
  FROM json_each(?1, '$.deliveries') AS d JOIN events ON events.public_id = d.value ->> 'event_public_id'
  ORDER BY d.key;
SELECT '{CLAIM}' AS part, screenings.* FROM screenings
  JOIN json_each(?1, '$.claims') AS c ON screenings.shop_id = c.value ->> 'shop_id'
    AND screenings.order_number = c.value ->> 'order_number';
COMMIT"
    )
});

async fn write_sqlite(
    db: &WriterConnection,
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    rows: Rows,
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    let mut shops: Vec<&str> = reported.iter().map(|r| r.event.shop_id.as_str()).collect();
    shops.sort_unstable();
    shops.dedup();
    let json = |value: serde_json::Result<String>| value.map_err(|err| DbErr::Custom(err.to_string()));
    let first = if shops.is_empty() {
        None
    } else {
        Some(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            SQLITE_ENDPOINTS,
            [Value::from(json(serde_json::to_string(&shops))?)],
        ))
    };
    let (_, rows) = db
        .script_transaction(first, |found| {
            let endpoints = found
                .iter()
                .map(|row| EndpointRow::from_query_result(row, ""))
                .collect::<Result<Vec<_>, _>>()?;
            let events: Vec<&NewEvent> = reported.iter().flat_map(|r| r.events()).collect();
            let deliveries: Vec<NewEventDelivery> = crate::events::deliveries_of_new(&events, &endpoints);
            let deliveries: Vec<DeliveryRow> = deliveries
                .iter()
                .map(|d| DeliveryRow {
                    public_id: &d.public_id,
                    shop_id: &d.shop_id,
                    endpoint_id: d.endpoint_id,
                    event_public_id: &d.event_public_id,
                    at: stored_time(d.at),
                })
                .collect();
            // The parts are JSON texts already: the object is joined around them.
            let batch = format!(
                r#"{{"claims":{},"claimed_at":"{}","finishes":{},"exchanges":{},"events":{},"deliveries":{}}}"#,
                rows.claims,
                rows.claimed_at,
                rows.finishes,
                rows.exchanges,
                rows.events,
                json(serde_json::to_string(&deliveries))?,
            );
            Ok(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                SQLITE.as_str(),
                [Value::from(batch)],
            ))
        })
        .await?;
    answers_of_script(claims, reported, &rows)
}

/// The claims and whether each finish's request still held its row, in order, from the
/// rows of the SQLite script.
fn answers_of_script(
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    rows: &[QueryResult],
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    let tokens: HashSet<&str> = claims.iter().map(|claim| claim.token).collect();
    let mut claimed = HashMap::new();
    let mut existing = HashMap::new();
    let mut held = HashSet::new();
    for row in rows {
        let part: String = row.try_get("", "part")?;
        if part == HELD {
            held.insert(row.try_get::<i64>("", "id")?);
        } else {
            // A row inserted for one claim is the existing row of a duplicate claim of
            // the same order in the batch.
            let row = ScreeningRow::from_query_result(row, "")?;
            if tokens.contains(row.claim_token.as_str()) {
                claimed.insert(row.claim_token.clone(), row.clone());
            }
            existing.insert((row.shop_id.clone(), row.order_number.clone()), row);
        }
    }
    Ok((
        answers(claims, claimed, existing)?,
        reported.iter().map(|r| held.contains(&r.finish.id)).collect(),
    ))
}

/// The claims' answers, in order: the rows inserted for them (by token), else the rows
/// of their orders that existed (by shop and order number).
fn answers(
    claims: &[NewClaim<'_>],
    mut claimed: HashMap<String, ScreeningRow>,
    existing: HashMap<(String, String), ScreeningRow>,
) -> Result<Vec<Claim>, DbErr> {
    claims
        .iter()
        .map(|claim| match claimed.remove(claim.token) {
            Some(row) => Ok(Claim::Claimed(row)),
            None => existing
                .get(&(claim.shop_id.to_string(), claim.order_number.to_string()))
                .cloned()
                .map(Claim::Exists)
                .ok_or_else(|| DbErr::RecordNotFound(format!("screening of order {}", claim.order_number))),
        })
        .collect()
}

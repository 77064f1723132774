//! `POST /api/v1/fraud-screenings`: claim the order's record, pass the gates, call O-PLUX
//! when they say so, store, answer. Idempotent per (shop, order number): a replay gets the
//! stored answer without a call; a concurrent duplicate — on any replica — finds the
//! claimed row and waits for it.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{SubsecRound, Utc};
use sea_orm::DatabaseConnection;

use super::{
    decision::{
        self, Action, CallOutcome, Decision, MethodFlags, OrderFacts, Settings, SkipReason, Step, UnknownMethod,
    },
    exchange::{ExchangeKind, new_exchange, outcome_of_v3},
    oplux::{
        client::OpluxClient,
        protocol::{Answer, Credentials},
    },
    record::{DecisionKind, ParentScreening, Screening, Warning},
    request::{Order, ScreenedOrder},
    writes::{FinishOrder, ScreeningWrites},
};
use crate::{
    accounts::{
        self,
        providers::fraud::{OPLUX, OpluxSettings},
        service::Accounts,
        stored::stored_settings,
    },
    cache::{ShopVersions, Versioned},
    core::{DomainError, FieldError, PaymentKind, Secret, Settlement},
    crypto::{random_token, seal::MasterKeys},
    metrics::Metrics,
    store::{
        oplux_exchanges::NewExchange,
        payment_methods::{self, PaymentMethodRow},
        provider_accounts,
        screenings::{self, Claim, DONE, Finished, ScreeningRow},
    },
};

/// Extra time a duplicate waits beyond the O-PLUX timeout before taking a claim over. It
/// is also how long the holder may keep O-PLUX's answer in hand while the database is
/// unreachable (`FINISH_MARGIN`): long enough for a restart or a fail-over.
const CLAIM_GRACE: Duration = Duration::from_secs(15);

/// How long a screening keeps trying its claim while the database is unreachable (a
/// restart, a fail-over) before it answers 503: a checkout is not refused for an outage of
/// a few seconds.
const CLAIM_RETRY: Duration = Duration::from_secs(15);

/// How long before another request could take the claim over a screening stops trying
/// its finish: O-PLUX's answer is kept in hand and written once the database is back,
/// while no other request can have called O-PLUX for the same order.
const FINISH_MARGIN: Duration = Duration::from_secs(1);

/// Runs `attempt` again while it fails for want of the database, with a short backoff,
/// until `deadline`; any other outcome is returned as it is.
async fn while_unavailable<T, F, Fut>(deadline: Instant, mut attempt: F) -> Result<T, DomainError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DomainError>>,
{
    let mut wait = Duration::from_millis(50);
    loop {
        match attempt().await {
            Err(DomainError::Database(err))
                if crate::store::is_unavailable(&err) && Instant::now() + wait < deadline =>
            {
                tracing::warn!(error = %err, "the database is unavailable; the screening's write is tried again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

pub struct Screenings<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
    pub client: &'a OpluxClient,
    pub metrics: &'a Metrics,
    pub versions: &'a ShopVersions,
    pub contexts: &'a Versioned<String, Arc<ScreeningContext>>,
    pub writes: &'a ScreeningWrites,
}

/// What screening needs of a shop, cached per config version: its O-PLUX account and
/// its payment methods.
pub struct ScreeningContext {
    oplux: Option<OpluxAccount>,
    methods: HashMap<String, Method>,
}

/// A payment method, as screening sees it.
struct Method {
    settlement: Settlement,
    flags: MethodFlags,
}

/// The shop's O-PLUX account, as screening uses it.
pub(crate) struct OpluxAccount {
    /// The shop it belongs to: O-PLUX failures open the circuit for this shop only.
    pub(crate) shop_id: String,
    pub(crate) settings: OpluxSettings,
    /// The deciding part of the settings, with whether the account is enabled.
    decides: Settings,
    secret_key: Option<Secret<String>>,
}

impl OpluxAccount {
    /// The shop's O-PLUX account, when configured. Its secret key is opened when the
    /// account is enabled, or always with `open_secret`.
    pub(crate) async fn load(
        accounts: &Accounts<'_>,
        shop_id: &str,
        open_secret: bool,
    ) -> Result<Option<OpluxAccount>, DomainError> {
        let Some(row) = provider_accounts::find(accounts.db, shop_id, OPLUX.slug).await? else {
            return Ok(None);
        };
        let settings =
            OpluxSettings::parse(&stored_settings(&row)?).map_err(|err| DomainError::Conflict(err.message))?;
        let secret_key = if row.enabled || open_secret {
            accounts.open_secret(shop_id, &OPLUX, "secret_key").await?
        } else {
            None
        };
        Ok(Some(OpluxAccount {
            shop_id: shop_id.to_string(),
            decides: Settings::of_account(row.enabled, &settings),
            settings,
            secret_key,
        }))
    }

    /// The credentials to sign with; `None` without a secret key.
    pub(crate) fn credentials(&self) -> Option<Credentials<'_>> {
        Some(Credentials {
            merchant_id: &self.settings.merchant_id,
            source_id: &self.settings.source_id,
            secret_key: self.secret_key.as_ref()?.expose(),
            model_id: &self.settings.model_id,
        })
    }
}

/// What the gates and O-PLUX decided, with what is stored beside it.
struct Outcome {
    decision: Decision,
    warnings: Vec<FieldError>,
    parent: Option<ParentScreening>,
    error_detail: Option<String>,
    latency_ms: Option<i64>,
    /// The registration's exchange with O-PLUX, when a call left renkei.
    exchange: Option<NewExchange>,
    /// The decision waits for the shop's review (`decision::opens_review`).
    opens_review: bool,
}

impl Outcome {
    fn skipped(decision: Decision, parent: Option<ParentScreening>) -> Self {
        let covered = decision.skip_reason == Some(SkipReason::ThanksOfferPayment);
        Outcome {
            decision,
            warnings: Vec::new(),
            parent: parent.filter(|_| covered),
            error_detail: None,
            latency_ms: None,
            exchange: None,
            opens_review: false,
        }
    }
}

enum Existing {
    /// Finished already: a replay.
    Done(ScreeningRow),
    /// Claimed by this request: new, released by a holder that failed, or taken over
    /// from one that is gone.
    Claimed(ScreeningRow),
}

impl Screenings<'_> {
    /// Screens an order. Returns the record and whether it is new (201) or a replay (200).
    pub async fn screen(&self, shop_id: &str, order: Order) -> Result<(Screening, bool), DomainError> {
        let token = random_token::<16>();
        let started = Instant::now();
        let (context, existing) = while_unavailable(started + CLAIM_RETRY, || async {
            let context = self.context(shop_id).await?;
            let existing = self.claim(shop_id, &context, &order, &token).await?;
            Ok((context, existing))
        })
        .await?;
        let claimed = Instant::now();
        let mut row = match existing {
            Existing::Done(row) => return Ok((Screening::from_row(&row)?, false)),
            Existing::Claimed(row) => row,
        };
        row.claim_token = token.clone();
        // Until another request could take the claim over (`existing`).
        let timeout = context.oplux.as_ref().map_or(Duration::ZERO, |a| a.settings.timeout);
        let finish_by = claimed + timeout + CLAIM_GRACE.saturating_sub(FINISH_MARGIN);
        let screened = match self.decide(shop_id, &context, &order).await {
            Ok(outcome) => self.finish(&row, &order, outcome, finish_by).await,
            Err(err) => Err(err),
        };
        match screened {
            Ok(screening) => {
                self.observe(&screening, started);
                Ok((screening, true))
            }
            Err(err) => {
                // Let a retry screen at once rather than wait for a claim nobody holds.
                let _ = screenings::release(self.db, row.id, &token).await;
                Err(err)
            }
        }
    }

    /// Claims the order's row, or finds it claimed: done (a replay), or held by a request
    /// that is gone (taken over).
    async fn claim(
        &self,
        shop_id: &str,
        context: &ScreeningContext,
        order: &Order,
        token: &str,
    ) -> Result<Existing, DomainError> {
        let claimed = self
            .writes
            .claim(shop_id, order.order_number.as_str(), &order.fingerprint, token)
            .await;
        match claimed? {
            Claim::Claimed(row) => Ok(Existing::Claimed(row)),
            Claim::Exists(row) => self.existing(shop_id, context, row, &order.fingerprint, token).await,
        }
    }

    async fn existing(
        &self,
        shop_id: &str,
        context: &ScreeningContext,
        mut row: ScreeningRow,
        fingerprint: &str,
        token: &str,
    ) -> Result<Existing, DomainError> {
        let conflict = || {
            DomainError::Conflict(
                "this order number was screened with a different request; a new order needs a new order number".into(),
            )
        };
        // Without an account the holder calls nobody: it finishes within the grace.
        let timeout = context.oplux.as_ref().map_or(Duration::ZERO, |a| a.settings.timeout);
        let mut wait = Duration::from_millis(10);
        loop {
            if row.fingerprint != fingerprint {
                return Err(conflict());
            }
            if row.state == DONE {
                return Ok(Existing::Done(row));
            }
            if row.claim_token == token {
                // This request's own claim, committed while its answer was lost (the
                // connection dropped after the commit): it is tried again.
                return Ok(Existing::Claimed(row));
            }
            let held_for = (Utc::now() - row.claimed_at).to_std().unwrap_or_default();
            if held_for > timeout + CLAIM_GRACE {
                // The holder is gone (it would have finished by now): take the claim over.
                if screenings::take_over(self.db, &row, token, Utc::now()).await? {
                    return Ok(Existing::Claimed(row));
                }
            } else {
                tokio::time::sleep(wait.min(timeout + CLAIM_GRACE - held_for)).await;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
            row = match screenings::find(self.db, shop_id, &row.order_number).await? {
                Some(row) => row,
                // Released by a holder that failed: claim it ourselves.
                None => match self
                    .writes
                    .claim(shop_id, &row.order_number, fingerprint, token)
                    .await?
                {
                    Claim::Claimed(row) => return Ok(Existing::Claimed(row)),
                    Claim::Exists(row) => row,
                },
            };
        }
    }

    /// The shop's context, built again only when its config version changed.
    async fn context(&self, shop_id: &str) -> Result<Arc<ScreeningContext>, DomainError> {
        let version = self.versions.current(self.db, shop_id).await?;
        let key = shop_id.to_string();
        if let Some(context) = self.contexts.get(&key, version) {
            return Ok(context);
        }
        let methods = payment_methods::list(self.db, shop_id, None, None)
            .await?
            .into_iter()
            .map(method)
            .collect::<Result<_, _>>()?;
        let accounts = Accounts {
            db: self.db,
            keys: self.keys,
            outbound: self.client.outbound(),
        };
        let context = Arc::new(ScreeningContext {
            oplux: OpluxAccount::load(&accounts, shop_id, false).await?,
            methods,
        });
        self.contexts.put(key, version, context.clone());
        Ok(context)
    }

    /// The gates, then O-PLUX when they say so. An unknown payment method is refused only
    /// when its gate is reached.
    async fn decide(&self, shop_id: &str, context: &ScreeningContext, order: &Order) -> Result<Outcome, DomainError> {
        let account = context.oplux.as_ref();
        let method = context.methods.get(&order.payment_method);
        let parent = self.parent_screening(shop_id, order).await?;
        let facts = order_facts(order, parent.is_some());
        match decision::before_call(account.map(|a| &a.decides), method.map(|m| m.flags), facts) {
            Err(UnknownMethod) => Err(unknown_method(order)),
            Ok(Step::Skip(decision)) => Ok(Outcome::skipped(decision, parent)),
            Ok(Step::Call) => match (account, method) {
                (Some(account), Some(method)) => Ok(self.call(account, method, order, facts).await),
                _ => unreachable!("before_call calls only with an enabled account and a known method"),
            },
        }
    }

    /// The screening of a thanks-offer payment's parent order, when it was screened for
    /// this shop.
    async fn parent_screening(&self, shop_id: &str, order: &Order) -> Result<Option<ParentScreening>, DomainError> {
        let offer = &order.thanks_offer;
        let Some(parent) = offer
            .parent_order_number
            .as_ref()
            .filter(|_| offer.is_thanks_offer_payment)
        else {
            return Ok(None);
        };
        match screenings::find(self.db, shop_id, parent.as_str()).await? {
            Some(row) if row.state == DONE && row.screened => Ok(Some(Screening::from_row(&row)?.as_parent())),
            _ => Ok(None),
        }
    }

    /// O-PLUX's call and the decision on its answer; the buyer's data that cannot be used
    /// is left out of the event and named in the warnings.
    async fn call(&self, account: &OpluxAccount, method: &Method, order: &Order, facts: OrderFacts) -> Outcome {
        let warnings = order.warnings();
        let (outcome, latency_ms, exchange) = self.register(account, method, order).await;
        let decision = decision::after_call(&account.decides, method.flags, facts, &outcome);
        Outcome {
            opens_review: decision::opens_review(&account.decides, &decision),
            decision,
            warnings,
            parent: None,
            error_detail: error_detail(&outcome),
            latency_ms,
            exchange,
        }
    }

    async fn register(
        &self,
        account: &OpluxAccount,
        method: &Method,
        order: &Order,
    ) -> (CallOutcome, Option<i64>, Option<NewExchange>) {
        let Some(credentials) = account.credentials() else {
            return (Err("the o-plux account has no secret_key".to_string()), None, None);
        };
        let screened = ScreenedOrder {
            request: order,
            settlement: method.settlement,
        };
        let settings = &account.settings;
        let call = self
            .client
            .register(
                &account.shop_id,
                &settings.endpoint,
                settings.timeout,
                &credentials,
                &screened,
            )
            .await;
        let mut exchange = None;
        if call.sent {
            let label = match &call.outcome {
                Ok(Answer::Screened { .. }) => "answered",
                Ok(Answer::Rejected { .. }) => "rejected",
                Err(_) => "failed",
            };
            self.metrics.observe_oplux(label, call.latency.as_secs_f64());
            exchange = Some(new_exchange(
                &account.shop_id,
                order.order_number.as_str(),
                ExchangeKind::Register,
                call.latency,
                call.http_status,
                outcome_of_v3(&call.outcome),
            ));
        }
        (call.outcome, Some(call.latency.as_millis() as i64), exchange)
    }

    /// Stores the outcome in the row this request holds, with the registration's
    /// exchange and the `screening.created` event (and `screening.review_opened` when it
    /// opens a review), in one transaction (shared with other writes: see `writes`); the
    /// record as stored.
    async fn finish(
        &self,
        row: &ScreeningRow,
        order: &Order,
        mut outcome: Outcome,
        finish_by: Instant,
    ) -> Result<Screening, DomainError> {
        let exchange = outcome.exchange.take();
        let finished = finished(order, outcome);
        let done = done_row(row, &finished);
        let screening = Screening::from_row(&done)?;
        let data = serde_json::json!({
            "order_number": screening.order_number,
            "screened": screening.screened,
            "result": screening.result,
            "decision": screening.decision,
        });
        let review_opened = screening.review.as_ref().map(|review| {
            serde_json::json!({
                "order_number": screening.order_number,
                "result": screening.result,
                "review": review,
            })
        });
        let order = FinishOrder {
            id: row.id,
            token: row.claim_token.clone(),
            shop_id: row.shop_id.clone(),
            finished,
            exchange,
            event: data,
            review_opened,
        };
        let held = while_unavailable(finish_by, || {
            let order = order.clone();
            async move {
                let held = self.writes.finish(order).await?;
                // A finish written again (by this request after a lost answer, or by the
                // writer write by write after a failed batch) may find its own earlier
                // write committed: the row is then done under this request's claim.
                Ok(held || self.finished_by_this_request(row).await?)
            }
        })
        .await?;
        if !held {
            return Err(DomainError::Conflict(
                "the screening of this order was taken over by another request; retry to read its result".into(),
            ));
        }
        Ok(screening)
    }

    /// Whether the row is finished under this request's claim.
    async fn finished_by_this_request(&self, row: &ScreeningRow) -> Result<bool, DomainError> {
        let stored = screenings::find(self.db, &row.shop_id, &row.order_number).await?;
        Ok(stored.is_some_and(|stored| stored.state == DONE && stored.claim_token == row.claim_token))
    }

    /// Metrics and the log line of a screening (no personal data).
    fn observe(&self, screening: &Screening, started: Instant) {
        let result = screening.result.map_or("NONE", |r| r.as_str());
        self.metrics.observe_screening(result, screening.decision.as_str());
        tracing::info!(
            order_number = %screening.order_number,
            result,
            skip_reason = screening.skip_reason.map_or("", |r| r.as_str()),
            warnings = screening.warnings.len(),
            latency_ms = started.elapsed().as_millis() as u64,
            "order screened"
        );
    }
}

/// A finished screening, read: `None` when the order was not screened in this shop.
pub async fn find(db: &DatabaseConnection, shop_id: &str, order_number: &str) -> Result<Screening, DomainError> {
    match screenings::find(db, shop_id, order_number).await? {
        Some(row) if row.state == DONE => Screening::from_row(&row),
        _ => Err(DomainError::NotFound(format!(
            "order '{order_number}' has not been screened"
        ))),
    }
}

/// A stored payment method, as screening sees it: how it settles (its provider's
/// declaration, else its kind) and its flags.
fn method(row: PaymentMethodRow) -> Result<(String, Method), DomainError> {
    let kind = PaymentKind::parse(&row.kind).ok_or_else(|| {
        DomainError::Conflict(format!(
            "the stored kind '{}' of payment method '{}' is not a kind of payment; PUT the method again",
            row.kind, row.code
        ))
    })?;
    let declared = row
        .provider
        .as_deref()
        .and_then(accounts::find)
        .and_then(|provider| provider.settles_as);
    let method = Method {
        settlement: declared.unwrap_or(kind.settlement()),
        flags: MethodFlags {
            oplux_screening: row.oplux_screening,
            thanks_offer_immediate_settlement: row.thanks_offer_immediate_settlement,
        },
    };
    Ok((row.code, method))
}

fn order_facts(order: &Order, parent_screened: bool) -> OrderFacts {
    OrderFacts {
        channel: order.channel,
        registered: order.customer.registered,
        previous_order_count: order.customer.previous_order_count,
        ad_url_enabled: order.thanks_offer.ad_url_enabled,
        is_thanks_offer_payment: order.thanks_offer.is_thanks_offer_payment,
        parent_screened,
    }
}

fn unknown_method(order: &Order) -> DomainError {
    DomainError::field(
        "payment_method",
        "unknown_payment_method",
        format!(
            "payment_method '{}' is not a payment method of this shop; expected the code of one",
            order.payment_method
        ),
    )
}

/// Why the result is ERROR, for the record (codes only, no personal data).
fn error_detail(outcome: &CallOutcome) -> Option<String> {
    match outcome {
        Ok(Answer::Rejected { status, errors }) => {
            let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            Some(format!("O-PLUX refused the event: HTTP {status} {}", codes.join(", ")))
        }
        Err(reason) => Some(reason.clone()),
        Ok(Answer::Screened { .. }) => None,
    }
}

/// The columns of a finished screening.
fn finished(order: &Order, outcome: Outcome) -> Finished {
    let decision = outcome.decision;
    let (kind, redirect_url) = match decision.action {
        Action::CreateOrder => (DecisionKind::CreateOrder, None),
        Action::Redirect(url) => (DecisionKind::Redirect, Some(url)),
    };
    let warnings: Vec<Warning> = outcome.warnings.into_iter().map(Warning::from).collect();
    // Microseconds: what PostgreSQL keeps, so a replay reads back the same instant.
    let screened_at = Utc::now().trunc_subsecs(6);
    Finished {
        screened: decision.screened,
        skip_reason: decision.skip_reason.map(|r| r.as_str().to_string()),
        result: decision.result.map(|r| r.as_str().to_string()),
        // Serialising plain strings cannot fail.
        reasons: serde_json::to_string(&decision.reasons).unwrap_or_else(|_| "[]".into()),
        decision: kind.as_str().to_string(),
        redirect_url,
        forced_by_thanks_offer: decision.forced_by_thanks_offer,
        oplux_event_id: decision.oplux_event_id,
        parent_order_number: order
            .thanks_offer
            .parent_order_number
            .as_ref()
            .map(|n| n.as_str().to_string()),
        error_detail: outcome.error_detail,
        oplux_latency_ms: outcome.latency_ms,
        screened_at,
        warnings: serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into()),
        parent_screening: outcome.parent.and_then(|parent| serde_json::to_string(&parent).ok()),
        review_opened_at: outcome.opens_review.then_some(screened_at),
    }
}

/// The finished row, as stored (no need to read it back).
fn done_row(row: &ScreeningRow, finished: &Finished) -> ScreeningRow {
    ScreeningRow {
        state: DONE.to_string(),
        screened: finished.screened,
        skip_reason: finished.skip_reason.clone(),
        result: finished.result.clone(),
        reasons: finished.reasons.clone(),
        decision: Some(finished.decision.clone()),
        redirect_url: finished.redirect_url.clone(),
        forced_by_thanks_offer: finished.forced_by_thanks_offer,
        oplux_event_id: finished.oplux_event_id.clone(),
        parent_order_number: finished.parent_order_number.clone(),
        error_detail: finished.error_detail.clone(),
        oplux_latency_ms: finished.oplux_latency_ms,
        screened_at: Some(finished.screened_at),
        warnings: finished.warnings.clone(),
        parent_screening: finished.parent_screening.clone(),
        review_state: finished.review_opened_at.map(|_| screenings::REVIEW_OPEN.to_string()),
        review_opened_at: finished.review_opened_at,
        ..row.clone()
    }
}

//! `POST /api/v1/fraud-screenings`: check the order, claim its record, decide (calling
//! O-PLUX when the rules say so), store, answer. Idempotent per (shop, order number): a
//! replay gets the stored answer without a call; a concurrent duplicate — on any replica —
//! finds the claimed row and waits for it.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{SubsecRound, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};

use super::{
    decision::{self, Action, MethodFlags, OrderFacts, Settings, Step},
    oplux::{client::OpluxClient, protocol::Credentials},
    record::Screening,
    request::{ScreenedOrder, ScreeningRequest},
};
use crate::{
    accounts::{self, service::Accounts},
    cache::{ShopVersions, Versioned},
    crypto::{random_token, seal::MasterKeys},
    domain::DomainError,
    http::problem::FieldError,
    metrics::Metrics,
    store::{
        payment_methods, provider_accounts,
        screenings::{self, Claim, DONE, Finished, ScreeningRow},
    },
};

/// Extra time a duplicate waits beyond the O-PLUX timeout before taking a claim over.
const CLAIM_GRACE: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT_MS: u64 = 5000;

pub struct Screenings<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
    pub client: &'a OpluxClient,
    pub metrics: &'a Metrics,
    pub versions: &'a ShopVersions,
    pub contexts: &'a Versioned<String, Arc<ScreeningContext>>,
}

/// What screening needs of a shop, cached per config version: its O-PLUX account and
/// its payment methods.
pub struct ScreeningContext {
    oplux: Option<OpluxAccount>,
    methods: HashMap<String, Method>,
}

struct Method {
    kind: String,
    provider: Option<String>,
    flags: MethodFlags,
}

/// The shop's O-PLUX account, as screening uses it.
pub(crate) struct OpluxAccount {
    settings: Settings,
    pub(crate) endpoint: String,
    pub(crate) timeout: Duration,
    merchant_id: String,
    source_id: String,
    model_id: String,
    secret_key: Option<crate::secret::Secret<String>>,
}

impl OpluxAccount {
    /// The shop's O-PLUX account, when configured. Its secret key is opened when the
    /// account is enabled, or always with `open_secret`.
    pub(crate) async fn load(
        accounts: &Accounts<'_>,
        shop_id: &str,
        open_secret: bool,
    ) -> Result<Option<OpluxAccount>, DomainError> {
        let Some(spec) = accounts::find("o-plux") else {
            return Ok(None);
        };
        let Some(row) = provider_accounts::find(accounts.db, shop_id, spec.slug).await? else {
            return Ok(None);
        };
        let settings: Map<String, Value> = serde_json::from_str(&row.settings).unwrap_or_default();
        let text = |name: &str| {
            settings
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let secret_key = if row.enabled || open_secret {
            accounts.open_secret(shop_id, spec, "secret_key").await?
        } else {
            None
        };
        Ok(Some(OpluxAccount {
            settings: Settings {
                enabled: row.enabled,
                screen_existing_customers: settings
                    .get("screen_existing_customers")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                on_hold: action(settings.get("on_hold")),
                on_review: action(settings.get("on_review")),
                on_ng: action(settings.get("on_ng")),
                on_error: action(settings.get("on_error")),
            },
            endpoint: settings
                .get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or("test")
                .to_string(),
            timeout: Duration::from_millis(
                settings
                    .get("timeout_ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(DEFAULT_TIMEOUT_MS),
            ),
            merchant_id: text("merchant_id"),
            source_id: text("source_id"),
            model_id: text("model_id"),
            secret_key,
        }))
    }

    /// The credentials to sign with; `None` without a secret key.
    pub(crate) fn credentials(&self) -> Option<Credentials<'_>> {
        Some(Credentials {
            merchant_id: &self.merchant_id,
            source_id: &self.source_id,
            secret_key: self.secret_key.as_ref()?.expose(),
            model_id: &self.model_id,
        })
    }
}

fn action(value: Option<&Value>) -> Action {
    match value {
        Some(v) if v["action"] == "redirect" => match v["redirect_url"].as_str() {
            Some(url) => Action::Redirect(url.to_string()),
            None => Action::CreateOrder,
        },
        _ => Action::CreateOrder,
    }
}

impl Screenings<'_> {
    /// Screens an order. Returns the record and whether it is new (201) or a replay (200).
    pub async fn screen(&self, shop_id: &str, request: ScreeningRequest) -> Result<(Screening, bool), DomainError> {
        let errors = request.check();
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let context = self.context(shop_id).await?;
        let method = context.methods.get(&request.payment_method).ok_or_else(|| {
            DomainError::Invalid(vec![FieldError::new(
                "payment_method",
                "unknown_payment_method",
                format!(
                    "payment_method '{}' is not a payment method of this shop",
                    request.payment_method
                ),
            )])
        })?;
        let request = request.with_default_delivery();
        let fingerprint =
            crate::screening::oplux::protocol::sha256_upper(&serde_json::to_string(&request).unwrap_or_default());
        let token = random_token::<16>();
        let started = Instant::now();
        let mut row = match screenings::claim(
            self.db,
            shop_id,
            &request.order_number,
            &fingerprint,
            &token,
            Utc::now(),
        )
        .await?
        {
            Claim::Claimed(row) => row,
            Claim::Exists(row) => match self.existing(shop_id, &context, row, &fingerprint, &token).await? {
                Existing::Done(row) => return Ok((Screening::from_row(&row), false)),
                Existing::TakenOver(row) => row,
            },
        };
        row.claim_token = token.clone();
        match self.decide_and_finish(&context, &row, &request, method).await {
            Ok(done) => {
                let screening = Screening::from_row(&done);
                self.metrics.screenings.increment(&[
                    screening.result.map_or("NONE", |r| r.as_str()),
                    if screening.decision == super::record::DecisionKind::Redirect {
                        "redirect"
                    } else {
                        "create_order"
                    },
                ]);
                tracing::info!(
                    order_number = %request.order_number,
                    result = screening.result.map_or("NONE", |r| r.as_str()),
                    skip_reason = screening.skip_reason.map_or("", |r| r.as_str()),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "order screened"
                );
                Ok((screening, true))
            }
            Err(err) => {
                // Let a retry screen at once rather than wait for a claim nobody holds.
                let _ = screenings::release(self.db, row.id, &token).await;
                Err(err)
            }
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
        let timeout = context
            .oplux
            .as_ref()
            .map_or(Duration::from_millis(DEFAULT_TIMEOUT_MS), |a| a.timeout);
        let mut wait = Duration::from_millis(10);
        loop {
            if row.fingerprint != fingerprint {
                return Err(conflict());
            }
            if row.state == DONE {
                return Ok(Existing::Done(row));
            }
            let held_for = (Utc::now() - row.claimed_at).to_std().unwrap_or_default();
            if held_for > timeout + CLAIM_GRACE {
                // The holder is gone (it would have finished by now): take the claim over.
                if screenings::take_over(self.db, &row, token, Utc::now()).await? {
                    return Ok(Existing::TakenOver(row));
                }
            } else {
                tokio::time::sleep(wait.min(timeout + CLAIM_GRACE - held_for)).await;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
            row = match screenings::find(self.db, shop_id, &row.order_number).await? {
                Some(row) => row,
                // Released by a holder that failed: claim it ourselves.
                None => match screenings::claim(self.db, shop_id, &row.order_number, fingerprint, token, Utc::now())
                    .await?
                {
                    Claim::Claimed(row) => return Ok(Existing::TakenOver(row)),
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
            .map(|m| {
                let method = Method {
                    flags: MethodFlags {
                        oplux_screening: m.oplux_screening,
                        thanks_offer_immediate_settlement: m.thanks_offer_immediate_settlement,
                    },
                    kind: m.kind,
                    provider: m.provider,
                };
                (m.code, method)
            })
            .collect();
        let context = Arc::new(ScreeningContext {
            oplux: OpluxAccount::load(
                &Accounts {
                    db: self.db,
                    keys: self.keys,
                    outbound: self.client.outbound(),
                },
                shop_id,
                false,
            )
            .await?,
            methods,
        });
        self.contexts.put(key, version, context.clone());
        Ok(context)
    }

    async fn decide_and_finish(
        &self,
        context: &ScreeningContext,
        row: &ScreeningRow,
        request: &ScreeningRequest,
        method: &Method,
    ) -> Result<ScreeningRow, DomainError> {
        let account = &context.oplux;
        let flags = method.flags;
        let facts = OrderFacts {
            channel: request.channel,
            registered: request.customer.registered,
            previous_order_count: request.customer.previous_order_count,
            ad_url_enabled: request.thanks_offer.ad_url_enabled,
            is_thanks_offer_payment: request.thanks_offer.is_thanks_offer_payment,
        };
        let settings = account.as_ref().map(|a| &a.settings);
        let (decision, error_detail, latency) = match (decision::before_call(settings, flags, facts), account) {
            (Step::Skip(decision), _) => (decision, None, None),
            (Step::Call, None) => unreachable!("before_call calls only with an enabled account"),
            (Step::Call, Some(account)) => {
                let outcome = match account.credentials() {
                    None => (Err("the o-plux account has no secret_key".to_string()), None),
                    Some(credentials) => {
                        let order = ScreenedOrder {
                            request,
                            kind: &method.kind,
                            provider: method.provider.as_deref(),
                        };
                        let call = self
                            .client
                            .register(&row.shop_id, &account.endpoint, account.timeout, &credentials, &order)
                            .await;
                        if call.sent {
                            let label = match &call.outcome {
                                Ok(super::oplux::protocol::Answer::Screened { .. }) => "answered",
                                Ok(_) => "rejected",
                                Err(_) => "failed",
                            };
                            self.metrics.oplux_latency.observe(&[label], call.latency.as_secs_f64());
                        }
                        (call.outcome, Some(call.latency.as_millis() as i64))
                    }
                };
                let (outcome, latency) = outcome;
                let detail = match &outcome {
                    Ok(super::oplux::protocol::Answer::Rejected { status, code, message }) => {
                        Some(format!("O-PLUX refused the event: HTTP {status} {code} {message}"))
                    }
                    Err(reason) => Some(reason.clone()),
                    Ok(_) => None,
                };
                (
                    decision::after_call(&account.settings, flags, facts, &outcome),
                    detail,
                    latency,
                )
            }
        };
        let (decision_text, redirect_url) = match &decision.action {
            Action::CreateOrder => ("create_order", None),
            Action::Redirect(url) => ("redirect", Some(url.clone())),
        };
        let finished = Finished {
            screened: decision.screened,
            skip_reason: decision.skip_reason.map(|r| r.as_str().to_string()),
            result: decision.result.map(|r| r.as_str().to_string()),
            reasons: serde_json::to_string(&decision.reasons).unwrap_or_else(|_| "[]".into()),
            decision: decision_text.to_string(),
            redirect_url,
            forced_by_thanks_offer: decision.forced_by_thanks_offer,
            oplux_event_id: decision.oplux_event_id.clone(),
            parent_order_number: request.thanks_offer.parent_order_number.clone(),
            error_detail,
            oplux_latency_ms: latency,
            // Microseconds: what PostgreSQL keeps, so a replay reads back the same instant.
            screened_at: Utc::now().trunc_subsecs(6),
        };
        // The finished row, as stored (no need to read it back).
        let mut done = row.clone();
        done.state = DONE.to_string();
        done.screened = finished.screened;
        done.skip_reason = finished.skip_reason.clone();
        done.result = finished.result.clone();
        done.reasons = finished.reasons.clone();
        done.decision = Some(finished.decision.clone());
        done.redirect_url = finished.redirect_url.clone();
        done.forced_by_thanks_offer = finished.forced_by_thanks_offer;
        done.oplux_event_id = finished.oplux_event_id.clone();
        done.parent_order_number = finished.parent_order_number.clone();
        done.error_detail = finished.error_detail.clone();
        done.oplux_latency_ms = finished.oplux_latency_ms;
        done.screened_at = Some(finished.screened_at);
        if !screenings::finish(self.db, row.id, &row.claim_token, finished).await? {
            return Err(DomainError::Conflict(
                "the screening of this order was taken over by another request; retry to read its result".into(),
            ));
        }
        Ok(done)
    }
}

enum Existing {
    Done(ScreeningRow),
    TakenOver(ScreeningRow),
}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "screenings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub order_number: String,
    pub state: String,
    pub fingerprint: String,
    pub claim_token: String,
    pub claimed_at: DateTimeUtc,
    pub screened: bool,
    pub skip_reason: Option<String>,
    pub result: Option<String>,
    pub reasons: String,
    pub decision: Option<String>,
    pub redirect_url: Option<String>,
    pub forced_by_thanks_offer: bool,
    pub oplux_event_id: Option<String>,
    pub parent_order_number: Option<String>,
    pub error_detail: Option<String>,
    pub oplux_latency_ms: Option<i64>,
    pub screened_at: Option<DateTimeUtc>,
    /// JSON array of {field, code, message}: buyer data left out of the O-PLUX event.
    pub warnings: String,
    /// JSON {order_number, result, decision}: the screening covering a thanks-offer payment.
    pub parent_screening: Option<String>,
    /// O-PLUX's manual review (`OK`, `NG`, `HOLD`), beside the unchanged automatic result.
    pub manual_result: Option<String>,
    pub manual_memo: Option<String>,
    pub manual_reviewed_at: Option<DateTimeUtc>,
    /// When the manual-review poller last asked O-PLUX about this screening.
    pub sync_checked_at: Option<DateTimeUtc>,
    /// The shop's review (`open`, `closed`); null when the screening needs none.
    pub review_state: Option<String>,
    /// `approved` or `cancelled`, once closed.
    pub review_decision: Option<String>,
    pub review_memo: Option<String>,
    /// The API client that decided.
    pub review_decided_by: Option<String>,
    pub review_decided_at: Option<DateTimeUtc>,
    pub review_opened_at: Option<DateTimeUtc>,
    /// The decision being sent to O-PLUX, by the holder of `review_claim` until
    /// `review_claimed_until`.
    pub review_sending: Option<String>,
    pub review_claim: Option<String>,
    pub review_claimed_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// One exchange with O-PLUX about an order, append-only, without personal data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oplux_exchanges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub order_number: String,
    /// `register`, `sync`, `update` or `verify`.
    pub kind: String,
    pub at: DateTimeUtc,
    pub latency_ms: Option<i64>,
    /// `answered`, `refused` or `failed`.
    pub outcome: String,
    pub http_status: Option<i32>,
    /// JSON array of O-PLUX's codes (error codes, or rule codes of an answer).
    pub codes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

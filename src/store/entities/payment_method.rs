use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_methods")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub code: String,
    pub kind: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub enabled: bool,
    /// JSON array of channels.
    pub available_in: String,
    pub oplux_screening: bool,
    pub thanks_offer_immediate_settlement: bool,
    pub position: i32,
    /// JSON object of carriers, or null.
    pub carriers: Option<String>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

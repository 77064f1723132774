use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub occurred_at: DateTimeUtc,
    /// Client id of the caller, or `cli` for the command line.
    pub actor: String,
    pub request_id: Option<String>,
    pub resource_type: String,
    pub resource_id: String,
    pub action: String,
    /// JSON array of the names of the fields changed (never their values).
    pub fields: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

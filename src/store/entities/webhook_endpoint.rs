use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The id callers see (`we_…`).
    pub public_id: String,
    pub shop_id: String,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of event types.
    pub events: String,
    pub enabled: bool,
    /// Sealed with the master keys.
    pub secret: String,
    /// Sealed; signs alongside `secret` until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    /// JSON array of `{"secret": <sealed>, "until": …}`: secrets rotated out before
    /// `previous_secret`, each signing until its `until`.
    pub older_secrets: Option<String>,
    /// Since when every attempt to it has failed.
    pub failing_since: Option<DateTimeUtc>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

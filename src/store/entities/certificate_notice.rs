use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificate_notices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub provider: String,
    pub field: String,
    pub fingerprint: String,
    pub threshold: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

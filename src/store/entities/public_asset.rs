use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "public_assets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    pub kind: String,
    pub token: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feed_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub shop_id: String,
    /// The shop's own id of the item (the feed's `id` column).
    pub item_id: String,
    pub title: String,
    pub description: String,
    pub availability: String,
    pub condition: String,
    /// Yen.
    pub price: i64,
    pub link: String,
    pub image_link: String,
    pub brand: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

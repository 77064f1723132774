//! Product feed items, and public assets (EPOS banners, generated feeds) served by token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum FeedItems {
    Table,
    Id,
    ShopId,
    ItemId,
    Title,
    Description,
    Availability,
    Condition,
    Price,
    Link,
    ImageLink,
    Brand,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PublicAssets {
    Table,
    Id,
    ShopId,
    /// `epos_banner` or `facebook_feed`: one asset of each kind per shop.
    Kind,
    /// The unguessable part of the public URL.
    Token,
    ContentType,
    Body,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeedItems::Table)
                    .col(big_pk_auto(FeedItems::Id))
                    .col(string_len(FeedItems::ShopId, 64))
                    .col(string_len(FeedItems::ItemId, 100))
                    .col(string_len(FeedItems::Title, 200))
                    .col(text(FeedItems::Description))
                    .col(string_len(FeedItems::Availability, 32))
                    .col(string_len(FeedItems::Condition, 16))
                    .col(big_integer(FeedItems::Price))
                    .col(text(FeedItems::Link))
                    .col(text(FeedItems::ImageLink))
                    .col(string_len(FeedItems::Brand, 100))
                    .col(timestamp_with_time_zone(FeedItems::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feed_items_shop")
                            .from(FeedItems::Table, FeedItems::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_feed_items_shop_item")
                    .table(FeedItems::Table)
                    .col(FeedItems::ShopId)
                    .col(FeedItems::ItemId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PublicAssets::Table)
                    .col(big_pk_auto(PublicAssets::Id))
                    .col(string_len(PublicAssets::ShopId, 64))
                    .col(string_len(PublicAssets::Kind, 32))
                    .col(string_len_uniq(PublicAssets::Token, 64))
                    .col(string_len(PublicAssets::ContentType, 100))
                    .col(blob(PublicAssets::Body))
                    .col(timestamp_with_time_zone(PublicAssets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_public_assets_shop")
                            .from(PublicAssets::Table, PublicAssets::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_public_assets_shop_kind")
                    .table(PublicAssets::Table)
                    .col(PublicAssets::ShopId)
                    .col(PublicAssets::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PublicAssets::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(FeedItems::Table).to_owned())
            .await
    }
}

//! What a screening could not use of the buyer's data (`warnings`, a JSON array of
//! {field, code, message}), and the parent screening that covers a thanks-offer payment
//! (`parent_screening`, JSON {order_number, result, decision}).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Screenings {
    Table,
    Warnings,
    ParentScreening,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Screenings::Table)
                    .add_column(text(Screenings::Warnings).default("[]"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Screenings::Table)
                    .add_column(text_null(Screenings::ParentScreening))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Screenings::ParentScreening, Screenings::Warnings] {
            manager
                .alter_table(Table::alter().table(Screenings::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

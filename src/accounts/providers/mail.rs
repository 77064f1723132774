//! Shared mailbox tools (Re:lation, MailDealer): a link from a customer to their mail
//! timeline.

use crate::accounts::spec::{Category, Field, Kind, ProviderSpec};

const SUBDOMAIN: Field = Field::new("subdomain", "サブドメイン", Kind::DnsLabel)
    .example(r#""example-shop""#)
    .describe("The subdomain registered with the contract.");
const MESSAGE_BOX_ID: Field = Field::new(
    "message_box_id",
    "メッセージボックスID",
    Kind::Integer {
        min: 1,
        max: 2147483647,
    },
)
.example("1")
.describe("The one message box registered with the contract.");

pub const RELATION: ProviderSpec = ProviderSpec {
    slug: "relation",
    schema_name: "Relation",
    display_name: "Re:lation",
    category: Category::Mail,
    summary: "Links from customers to their mail history in the shared mailbox Re:lation.",
    fields: &[
        SUBDOMAIN,
        MESSAGE_BOX_ID,
        Field::new(
            "timeline_base_url",
            "タイムラインへのリンク",
            Kind::Url { https_only: true },
        )
        .computed()
        .example(r#""https://example-shop.relationapp.jp/""#)
        .describe("Where customer pages link to the customer's Re:lation timeline."),
    ],
    rules: &[],
    mode: None,
};

pub const MAILDEALER: ProviderSpec = ProviderSpec {
    slug: "maildealer",
    schema_name: "Maildealer",
    display_name: "MailDealer",
    category: Category::Mail,
    summary: "Links from customers to their mail history in the shared mailbox MailDealer.",
    fields: &[
        SUBDOMAIN,
        MESSAGE_BOX_ID,
        Field::new(
            "timeline_base_url",
            "タイムラインへのリンク",
            Kind::Url { https_only: true },
        )
        .computed()
        .example(r#""https://example-shop.maildealer.jp/""#)
        .describe("Where customer pages link to the customer's MailDealer timeline."),
    ],
    rules: &[],
    mode: None,
};

//! Shared mailbox tools (Re:lation, MailDealer): a link from a customer to their mail
//! timeline, shown while the account is enabled.

use serde_json::{Map, Value};

use crate::accounts::spec::{Category, Derive, Field, Hooks, Kind, ProviderSpec};

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
        .describe(
            "Where customer pages link to the customer's Re:lation timeline (null while the account is disabled).",
        ),
    ],
    hooks: Hooks {
        computed: relation_timeline,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
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
        .describe(
            "Where customer pages link to the customer's MailDealer timeline (null while the account is disabled).",
        ),
    ],
    hooks: Hooks {
        computed: maildealer_timeline,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

/// The base of the links from a customer's page to the mail tool's timeline of that
/// customer; the admin app appends the customer's e-mail address (URL-encoded).
fn timeline(account: &Derive<'_>, out: &mut Map<String, Value>, url: fn(&str, i64) -> String) {
    let subdomain = account.settings.get("subdomain").and_then(Value::as_str);
    let box_id = account.settings.get("message_box_id").and_then(Value::as_i64);
    let link = match (account.enabled, subdomain, box_id) {
        (true, Some(subdomain), Some(box_id)) => Value::from(url(subdomain, box_id)),
        _ => Value::Null,
    };
    out.insert("timeline_base_url".into(), link);
}

fn relation_timeline(account: &Derive<'_>, out: &mut Map<String, Value>) {
    timeline(account, out, |subdomain, box_id| {
        format!("https://{subdomain}.relationapp.jp/tickets/#/{box_id}/customers/timeline?email=")
    })
}

fn maildealer_timeline(account: &Derive<'_>, out: &mut Map<String, Value>) {
    timeline(account, out, |subdomain, box_id| {
        format!("https://{subdomain}.maildealer.jp/app/timeline/?mb_id={box_id}&email=")
    })
}

//! The audit log: who changed what, when, and which fields — never a value.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::entities::audit_event;

pub use audit_event::Model as AuditEvent;

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    pub shop_id: &'a str,
    pub actor: &'a str,
    pub request_id: Option<&'a str>,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub action: &'a str,
    pub fields: &'a [&'a str],
}

pub async fn record(db: &impl ConnectionTrait, record: AuditRecord<'_>) -> Result<AuditEvent, DbErr> {
    let fields = serde_json::to_string(record.fields).unwrap_or_else(|_| "[]".into());
    audit_event::ActiveModel {
        shop_id: Set(record.shop_id.to_string()),
        occurred_at: Set(Utc::now()),
        actor: Set(record.actor.to_string()),
        request_id: Set(record.request_id.map(str::to_string)),
        resource_type: Set(record.resource_type.to_string()),
        resource_id: Set(record.resource_id.to_string()),
        action: Set(record.action.to_string()),
        fields: Set(fields),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The shop's events, newest first, after the event id `before` (exclusive) when given.
pub async fn list(
    db: &impl ConnectionTrait,
    shop_id: &str,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditEvent>, DbErr> {
    let query = audit_event::Entity::find().filter(audit_event::Column::ShopId.eq(shop_id));
    super::newest_first(query, audit_event::Column::Id, before, limit)
        .all(db)
        .await
}

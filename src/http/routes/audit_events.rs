//! `GET /api/v1/audit-events`: the shop's change history, newest first.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::{
        auth::{Authenticated, scope},
        extract::ApiQuery,
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    store::audit::{self, AuditEvent},
};

pagination::page_query!(AuditEventQuery {});

/// One recorded change: who, when, what, and which fields — never a value.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": 42,
    "occurred_at": "2026-11-23T10:00:00Z",
    "actor": "rkc_0123456789abcdef01234567",
    "request_id": "6f1c…",
    "resource_type": "provider_account",
    "resource_id": "gmo-pg",
    "action": "update",
    "fields": ["shop_password", "security_code_required"]
}))]
pub struct AuditEventView {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The client id that made the change, or `cli` for the command line.
    pub actor: String,
    pub request_id: Option<String>,
    pub resource_type: String,
    pub resource_id: String,
    /// `create`, `update`, `delete`, `revoke`, …
    pub action: String,
    /// Names of the fields changed.
    pub fields: Vec<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            occurred_at: event.occurred_at,
            actor: event.actor,
            request_id: event.request_id,
            resource_type: event.resource_type,
            resource_id: event.resource_id,
            action: event.action,
            fields: serde_json::from_str(&event.fields).unwrap_or_default(),
        }
    }
}

pagination::page!(AuditEventPage of AuditEventView);

/// List the shop's audit events, newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditEventQuery),
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "A page of events", body = AuditEventPage),
        problems::Secured,
        problems::Invalid,
    )
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    caller: Authenticated<scope::AuditRead>,
    query: ApiQuery<AuditEventQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<AuditEventPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::id_cursor(query.cursor.as_deref())?;
    let events = audit::list(&state.db, &caller.shop_id, before, limit + 1).await?;
    let (events, next_cursor) = pagination::finish(events, limit, |e| e.id.to_string());
    Ok(web::Json(AuditEventPage {
        items: events.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    }))
}

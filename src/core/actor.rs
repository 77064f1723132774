//! Who is acting, for tenancy and the audit log, and the one way a change is recorded.

use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    cache::ShopVersions,
    store::{
        audit::{self, AuditRecord},
        shops,
    },
};

/// The shop and client a request acts for. Every change goes through `record_change`,
/// which audits it and bumps the shop's config version in the same transaction; when
/// the actor is dropped (after the service committed), this replica's cached version
/// of the shop is forgotten, so its next checkout or screening sees the change at once.
pub struct Actor<'a> {
    pub shop_id: &'a str,
    pub actor: &'a str,
    pub request_id: Option<&'a str>,
    versions: Option<&'a ShopVersions>,
    changed: AtomicBool,
}

impl<'a> Actor<'a> {
    pub fn new(shop_id: &'a str, actor: &'a str, request_id: Option<&'a str>, versions: &'a ShopVersions) -> Self {
        Self {
            shop_id,
            actor,
            request_id,
            versions: Some(versions),
            changed: AtomicBool::new(false),
        }
    }

    /// An actor outside a serving process (start-up, the command line): no cache to tell.
    pub fn offline(shop_id: &'a str, actor: &'a str) -> Self {
        Self {
            shop_id,
            actor,
            request_id: None,
            versions: None,
            changed: AtomicBool::new(false),
        }
    }

    /// Records a change to what checkout and screening see: an audit event (field names,
    /// never values), and the shop's config version bumped so caches notice.
    pub async fn record_change(
        &self,
        txn: &impl ConnectionTrait,
        resource_type: &str,
        resource_id: &str,
        action: &str,
        fields: &[&str],
    ) -> Result<(), DbErr> {
        self.changed.store(true, Ordering::Relaxed);
        shops::bump_config_version(txn, self.shop_id).await?;
        audit::record(
            txn,
            AuditRecord {
                shop_id: self.shop_id,
                actor: self.actor,
                request_id: self.request_id,
                resource_type,
                resource_id,
                action,
                fields,
            },
        )
        .await
        .map(|_| ())
    }
}

impl Drop for Actor<'_> {
    fn drop(&mut self) {
        if self.changed.load(Ordering::Relaxed)
            && let Some(versions) = self.versions
        {
            versions.forget(self.shop_id);
        }
    }
}

impl std::fmt::Debug for Actor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("shop_id", &self.shop_id)
            .field("actor", &self.actor)
            .field("request_id", &self.request_id)
            .finish()
    }
}

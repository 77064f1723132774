//! Provider accounts against the database: read, write (PUT/PATCH), delete and list,
//! with sealed secrets, optimistic concurrency (ETag / If-Match) and the audit log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use serde_json::{Map, Value, json};

use super::{
    derived,
    engine::{self, Current, SecretChange, WriteMode},
    pem,
    spec::{Access, Kind, ProviderSpec, View},
};
use crate::{
    crypto::seal::{MasterKeys, Owner},
    domain::{DomainError, Precondition},
    http::problem::FieldError,
    payment_methods::remise,
    store::{
        self,
        audit::{self, AuditRecord},
        payment_methods,
        provider_accounts::{self, AccountRow, SealedValue, SecretRow},
    },
};

/// Who is acting, for tenancy and the audit log.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub shop_id: &'a str,
    pub actor: &'a str,
    pub request_id: Option<&'a str>,
}

impl Actor<'_> {
    /// Records a change to what checkout and screening see: an audit event (field names,
    /// never values), and the shop's config version bumped so caches notice.
    pub async fn record_change(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        resource_type: &str,
        resource_id: &str,
        action: &str,
        fields: &[&str],
    ) -> Result<(), DbErr> {
        crate::store::shops::bump_config_version(txn, self.shop_id).await?;
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

/// The message of a 404 for an account the shop has not configured.
pub fn not_configured(spec: &ProviderSpec) -> String {
    format!("{} is not configured for this shop", spec.slug)
}

/// A configured account as stored.
pub struct Account {
    pub spec: &'static ProviderSpec,
    pub row: AccountRow,
    pub settings: Map<String, Value>,
    /// Field name → when it was last set.
    pub secrets_set: HashMap<String, DateTime<Utc>>,
}

impl Account {
    fn new(spec: &'static ProviderSpec, row: AccountRow, secrets: &[SecretRow]) -> Self {
        let settings = serde_json::from_str(&row.settings).unwrap_or_default();
        Self {
            spec,
            settings,
            secrets_set: secrets.iter().map(|s| (s.field.clone(), s.updated_at)).collect(),
            row,
        }
    }

    /// A strong entity tag: the row id and its version (a re-created account gets a new id).
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.row.id, self.row.version)
    }

    pub fn mode(&self) -> Option<&'static str> {
        let view = Shown(self);
        self.spec.mode.and_then(|mode| mode(&view)).map(|m| m.as_str())
    }

    /// The response body: meta fields, then every declared field in order.
    pub fn to_json(&self, public_url: &str) -> Value {
        let mut out = Map::new();
        out.insert("provider".into(), self.spec.slug.into());
        out.insert("display_name".into(), self.spec.display_name.into());
        out.insert("category".into(), self.spec.category.as_str().into());
        out.insert("configured".into(), true.into());
        out.insert("enabled".into(), self.row.enabled.into());
        out.insert("mode".into(), self.mode().map_or(Value::Null, Value::from));
        let computed = derived::computed(self.spec, &self.settings, public_url);
        for field in self.spec.fields {
            let value = if field.secret {
                let updated_at = self.secrets_set.get(field.name);
                json!({"set": updated_at.is_some(), "updated_at": updated_at})
            } else {
                match field.access {
                    Access::Constant(value) => Value::from(value),
                    Access::Computed => computed.get(field.name).cloned().unwrap_or(Value::Null),
                    Access::Writable | Access::Linked => match (field.kind, self.settings.get(field.name)) {
                        (Kind::Certificate, Some(Value::String(text))) => {
                            pem::certificate(text).map_or(Value::Null, |info| info.to_json())
                        }
                        (_, value) => value.cloned().unwrap_or(Value::Null),
                    },
                }
            };
            out.insert(field.name.into(), value);
        }
        out.insert("created_at".into(), json!(self.row.created_at));
        out.insert("updated_at".into(), json!(self.row.updated_at));
        Value::Object(out)
    }
}

/// The account as shown: secrets' values are not at hand (nor needed).
struct Shown<'a>(&'a Account);

impl View for Shown<'_> {
    fn value(&self, field: &str) -> Option<&Value> {
        self.0.settings.get(field)
    }
    fn secret_is_set(&self, field: &str) -> bool {
        self.0.secrets_set.contains_key(field)
    }
    fn secret_value(&self, _: &str) -> Option<&str> {
        None
    }
}

/// What an action sees and may change.
pub struct ActionState {
    /// Whether the account existed before the action.
    pub exists: bool,
    pub enabled: bool,
    pub settings: Map<String, Value>,
    pub secret_changes: std::collections::BTreeMap<&'static str, SecretChange>,
    /// Names of the fields the action changed, for the audit log.
    pub changed: Vec<&'static str>,
}

/// What an action does when the account does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// 404.
    Refuse,
    /// Create it (enabled).
    Create,
}

/// One provider in the list of every provider.
pub struct Summary {
    pub spec: &'static ProviderSpec,
    pub account: Option<Account>,
}

pub struct Accounts<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
    /// Where URLs in settings may point (checked on write).
    pub outbound: &'a crate::outbound::OutboundPolicy,
}

impl Accounts<'_> {
    pub async fn get(&self, shop_id: &str, spec: &'static ProviderSpec) -> Result<Option<Account>, DomainError> {
        let Some(row) = provider_accounts::find(self.db, shop_id, spec.slug).await? else {
            return Ok(None);
        };
        let secrets = provider_accounts::secrets(self.db, shop_id, spec.slug).await?;
        Ok(Some(Account::new(spec, row, &secrets)))
    }

    pub async fn list(&self, shop_id: &str) -> Result<Vec<Summary>, DomainError> {
        let mut rows: HashMap<String, AccountRow> = provider_accounts::list(self.db, shop_id)
            .await?
            .into_iter()
            .map(|row| (row.provider.clone(), row))
            .collect();
        Ok(super::ALL
            .iter()
            .map(|spec| Summary {
                spec,
                account: rows.remove(spec.slug).map(|row| Account::new(spec, row, &[])),
            })
            .collect())
    }

    /// PUT or PATCH. Returns the account and whether it was created.
    pub async fn write(
        &self,
        actor: &Actor<'_>,
        spec: &'static ProviderSpec,
        body: Map<String, Value>,
        mode: WriteMode,
        precondition: &Precondition,
    ) -> Result<(Account, bool), DomainError> {
        let txn = store::begin_write(self.db).await?;
        let row = provider_accounts::find(&txn, actor.shop_id, spec.slug).await?;
        let secrets = provider_accounts::secrets(&txn, actor.shop_id, spec.slug).await?;
        let existing = row.clone().map(|row| Account::new(spec, row, &secrets));
        if !precondition.holds(existing.as_ref().map(Account::etag).as_deref()) {
            return Err(DomainError::PreconditionFailed);
        }
        if mode == WriteMode::Patch && existing.is_none() {
            return Err(DomainError::NotFound(not_configured(spec)));
        }
        let current = match &existing {
            Some(account) => Some(Current {
                enabled: account.row.enabled,
                settings: account.settings.clone(),
                secrets: self.open_all(actor.shop_id, spec, &secrets)?,
            }),
            None => None,
        };
        let mut outcome =
            engine::apply(spec, current.as_ref(), body, mode, self.outbound).map_err(DomainError::Invalid)?;
        let cross = cross_rules(&txn, actor.shop_id, spec, &outcome.settings, outcome.enabled).await?;
        if !cross.is_empty() {
            return Err(DomainError::Invalid(cross));
        }
        if existing.as_ref().is_some_and(|a| a.row.enabled) && !outcome.enabled {
            ensure_unused(&txn, actor.shop_id, spec).await?;
        }
        let now = Utc::now();
        let created = row.is_none();
        if created {
            for (name, value) in derived::initial_settings(spec) {
                outcome.settings.entry(name).or_insert(value);
            }
        }
        let settings = Value::Object(outcome.settings.clone()).to_string();
        match &row {
            None => {
                store::shops::ensure(&txn, actor.shop_id).await?;
                provider_accounts::insert(&txn, actor.shop_id, spec.slug, outcome.enabled, &settings, now)
                    .await
                    .map_err(|err| conflict_on_unique(err, spec))?;
            }
            Some(row) => {
                if !outcome.changed.is_empty()
                    && !provider_accounts::update(&txn, row.id, row.version, outcome.enabled, &settings, now).await?
                {
                    return Err(precondition.lost_race("account"));
                }
            }
        }
        self.apply_secrets(&txn, actor.shop_id, spec, &outcome.secret_changes, now)
            .await?;
        if !outcome.changed.is_empty() {
            let fields: Vec<&str> = outcome.changed.iter().map(String::as_str).collect();
            actor
                .record_change(
                    &txn,
                    "provider_account",
                    spec.slug,
                    if created { "create" } else { "update" },
                    &fields,
                )
                .await?;
        }
        let account = reload(&txn, actor.shop_id, spec).await?;
        txn.commit().await?;
        Ok((account, created))
    }

    pub async fn delete(
        &self,
        actor: &Actor<'_>,
        spec: &'static ProviderSpec,
        precondition: &Precondition,
    ) -> Result<(), DomainError> {
        let txn = store::begin_write(self.db).await?;
        let Some(row) = provider_accounts::find(&txn, actor.shop_id, spec.slug).await? else {
            return Err(DomainError::NotFound(not_configured(spec)));
        };
        let account = Account::new(spec, row, &[]);
        if !precondition.holds(Some(&account.etag())) {
            return Err(DomainError::PreconditionFailed);
        }
        ensure_unused(&txn, actor.shop_id, spec).await?;
        if !provider_accounts::delete(&txn, &account.row).await? {
            return Err(precondition.lost_race("account"));
        }
        super::actions::remove_public_assets(&txn, actor.shop_id, spec).await?;
        actor
            .record_change(&txn, "provider_account", spec.slug, "delete", &[])
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Runs an action (link, unlink, upload, generate…) on an account in one transaction:
    /// `change` edits the state (and may write other rows in the transaction) and names
    /// the fields it changed, which are audited as `action`.
    pub async fn act(
        &self,
        actor: &Actor<'_>,
        spec: &'static ProviderSpec,
        action: &str,
        missing: Missing,
        change: impl AsyncFnOnce(&DatabaseTransaction, &mut ActionState) -> Result<(), DomainError>,
    ) -> Result<Account, DomainError> {
        let txn = store::begin_write(self.db).await?;
        let row = provider_accounts::find(&txn, actor.shop_id, spec.slug).await?;
        let mut state = match &row {
            Some(row) => ActionState {
                exists: true,
                enabled: row.enabled,
                settings: serde_json::from_str(&row.settings).unwrap_or_default(),
                secret_changes: Default::default(),
                changed: Vec::new(),
            },
            None if missing == Missing::Create => ActionState {
                exists: false,
                enabled: true,
                settings: derived::initial_settings(spec),
                secret_changes: Default::default(),
                changed: Vec::new(),
            },
            None => return Err(DomainError::NotFound(not_configured(spec))),
        };
        let was_enabled = row.as_ref().is_some_and(|r| r.enabled);
        change(&txn, &mut state).await?;
        if was_enabled && !state.enabled {
            ensure_unused(&txn, actor.shop_id, spec).await?;
        }
        let now = Utc::now();
        let settings = Value::Object(state.settings).to_string();
        match &row {
            Some(row) => {
                if !provider_accounts::update(&txn, row.id, row.version, state.enabled, &settings, now).await? {
                    return Err(Precondition::None.lost_race("account"));
                }
            }
            None => {
                store::shops::ensure(&txn, actor.shop_id).await?;
                provider_accounts::insert(&txn, actor.shop_id, spec.slug, state.enabled, &settings, now)
                    .await
                    .map_err(|err| conflict_on_unique(err, spec))?;
            }
        }
        self.apply_secrets(&txn, actor.shop_id, spec, &state.secret_changes, now)
            .await?;
        actor
            .record_change(&txn, "provider_account", spec.slug, action, &state.changed)
            .await?;
        let account = reload(&txn, actor.shop_id, spec).await?;
        txn.commit().await?;
        Ok(account)
    }

    fn open_all(
        &self,
        shop_id: &str,
        spec: &ProviderSpec,
        secrets: &[SecretRow],
    ) -> Result<HashMap<String, crate::secret::Secret<String>>, DomainError> {
        secrets
            .iter()
            .map(|row| {
                let owner = Owner {
                    shop: shop_id,
                    provider: spec.slug,
                    field: &row.field,
                };
                Ok((row.field.clone(), self.keys.open(owner, &row.sealed)?))
            })
            .collect()
    }

    /// Opens one stored secret of an account (for the code that calls the provider).
    pub async fn open_secret(
        &self,
        shop_id: &str,
        spec: &ProviderSpec,
        field: &str,
    ) -> Result<Option<crate::secret::Secret<String>>, DomainError> {
        let secrets = provider_accounts::secrets(self.db, shop_id, spec.slug).await?;
        Ok(self.open_all(shop_id, spec, &secrets)?.remove(field))
    }

    async fn apply_secrets(
        &self,
        txn: &DatabaseTransaction,
        shop_id: &str,
        spec: &ProviderSpec,
        changes: &std::collections::BTreeMap<&'static str, SecretChange>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        for (field, change) in changes {
            match change {
                SecretChange::Set(value) => {
                    let owner = Owner {
                        shop: shop_id,
                        provider: spec.slug,
                        field,
                    };
                    let sealed = self.keys.seal(owner, value.expose());
                    provider_accounts::put_secret(
                        txn,
                        SealedValue {
                            shop_id,
                            provider: spec.slug,
                            field,
                            sealed: &sealed,
                            key_id: self.keys.current_id(),
                        },
                        now,
                    )
                    .await?;
                }
                SecretChange::Clear => provider_accounts::delete_secret(txn, shop_id, spec.slug, field).await?,
            }
        }
        Ok(())
    }
}

/// A provider account that enabled payment methods use cannot be disabled or deleted.
async fn ensure_unused(txn: &DatabaseTransaction, shop_id: &str, spec: &ProviderSpec) -> Result<(), DomainError> {
    let users = payment_methods::enabled_on_provider(txn, shop_id, spec.slug).await?;
    if users.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "{} is used by the enabled payment method(s) {}; disable them first",
            spec.slug,
            users.join(", ")
        )))
    }
}

/// Rules between an account and the shop's payment methods (remise-tenkey and the
/// credit card method).
async fn cross_rules(
    txn: &DatabaseTransaction,
    shop_id: &str,
    spec: &ProviderSpec,
    settings: &Map<String, Value>,
    enabled: bool,
) -> Result<Vec<FieldError>, DbErr> {
    if spec.slug != "remise-tenkey" {
        return Ok(Vec::new());
    }
    let card =
        payment_methods::enabled_of_kind(txn, shop_id, crate::payment_methods::Kind::CreditCard.as_str()).await?;
    let card_provider = card.first().and_then(|m| m.provider.clone());
    let holder_name_fixed = settings.get("holder_name_fixed").is_some_and(|v| !v.is_null());
    Ok(remise::check(card_provider.as_deref(), enabled, holder_name_fixed)
        .into_iter()
        .map(|problem| {
            let field = match problem {
                remise::Problem::UnsupportedCardProvider(_) => "enabled",
                remise::Problem::HolderNameNeedsZeus(_) => "holder_name_fixed",
            };
            FieldError::new(field, "payment_method_mismatch", problem.message())
        })
        .collect())
}

async fn reload(txn: &DatabaseTransaction, shop_id: &str, spec: &'static ProviderSpec) -> Result<Account, DomainError> {
    let row = provider_accounts::find(txn, shop_id, spec.slug)
        .await?
        .ok_or_else(|| DomainError::NotFound(not_configured(spec)))?;
    let secrets = provider_accounts::secrets(txn, shop_id, spec.slug).await?;
    Ok(Account::new(spec, row, &secrets))
}

fn conflict_on_unique(err: DbErr, spec: &ProviderSpec) -> DomainError {
    if store::is_unique_violation(&err) {
        DomainError::Conflict(format!(
            "{} was created by another request at the same time; retry",
            spec.slug
        ))
    } else {
        DomainError::Database(err)
    }
}

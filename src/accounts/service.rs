//! Provider accounts against the database: read, write (PUT/PATCH), delete and list,
//! with sealed secrets, optimistic concurrency (ETag / If-Match) and the audit log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use serde_json::{Map, Value, json};

use super::{
    certificates::{self, AccountWarning},
    engine::{self, Candidate, Current, SecretChange, WriteMode},
    pem,
    spec::{Access, AccountChange, Derive, Kind, MethodRef, ProviderSpec, View},
    stored::stored_settings,
};
use crate::{
    core::{Actor, DomainError, PaymentKind, Precondition, Secret},
    crypto::seal::{MasterKeys, Owner},
    events::{self, EventType},
    outbound::OutboundPolicy,
    store::{
        self,
        payment_methods::{self, PaymentMethodRow},
        provider_accounts::{self, AccountRow, SealedValue, SecretRow},
        public_assets,
    },
};

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
    fn new(spec: &'static ProviderSpec, row: AccountRow, secrets: &[SecretRow]) -> Result<Self, DomainError> {
        Ok(Self {
            spec,
            settings: stored_settings(&row)?,
            secrets_set: secrets.iter().map(|s| (s.field.clone(), s.updated_at)).collect(),
            row,
        })
    }

    /// Response fields the provider derives from the stored settings (links, statuses).
    pub fn computed(&self, public_url: &str) -> Map<String, Value> {
        computed(self.spec, &self.settings, self.row.enabled, public_url)
    }

    /// A strong entity tag: the row id and its version (a re-created account gets a new id).
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.row.id, self.row.version)
    }

    pub fn mode(&self) -> Option<&'static str> {
        let view = Shown(self);
        self.spec.mode.and_then(|mode| mode(&view)).map(|m| m.as_str())
    }

    /// What needs the operator's attention: certificates expired or expiring within
    /// `within_days`.
    pub fn warnings(&self, within_days: i64) -> Vec<AccountWarning> {
        certificates::warnings(self.spec, &self.settings, within_days, Utc::now())
    }

    /// The response body: meta fields, then every declared field in order, then the
    /// warnings (certificates expiring within `warning_days`).
    pub fn to_json(&self, public_url: &str, warning_days: i64) -> Value {
        let mut out = Map::new();
        out.insert("provider".into(), self.spec.slug.into());
        out.insert("display_name".into(), self.spec.display_name.into());
        out.insert("category".into(), self.spec.category.as_str().into());
        out.insert("configured".into(), true.into());
        out.insert("enabled".into(), self.row.enabled.into());
        out.insert("mode".into(), self.mode().map_or(Value::Null, Value::from));
        let computed = self.computed(public_url);
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
                            pem::stored_certificate(text).map_or(Value::Null, |info| info.to_json())
                        }
                        (_, value) => value.cloned().unwrap_or(Value::Null),
                    },
                }
            };
            out.insert(field.name.into(), value);
        }
        out.insert("created_at".into(), json!(self.row.created_at));
        out.insert("updated_at".into(), json!(self.row.updated_at));
        out.insert("warnings".into(), json!(self.warnings(warning_days)));
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
    pub outbound: &'a OutboundPolicy,
}

impl Accounts<'_> {
    pub async fn get(&self, shop_id: &str, spec: &'static ProviderSpec) -> Result<Option<Account>, DomainError> {
        let Some(row) = provider_accounts::find(self.db, shop_id, spec.slug).await? else {
            return Ok(None);
        };
        let secrets = provider_accounts::secrets(self.db, shop_id, spec.slug).await?;
        Account::new(spec, row, &secrets).map(Some)
    }

    pub async fn list(&self, shop_id: &str) -> Result<Vec<Summary>, DomainError> {
        let mut rows: HashMap<String, AccountRow> = provider_accounts::list(self.db, shop_id)
            .await?
            .into_iter()
            .map(|row| (row.provider.clone(), row))
            .collect();
        super::ALL
            .iter()
            .map(|spec| {
                let account = rows
                    .remove(spec.slug)
                    .map(|row| Account::new(spec, row, &[]))
                    .transpose()?;
                Ok(Summary { spec, account })
            })
            .collect()
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
        if mode == WriteMode::Patch && row.is_none() {
            return Err(DomainError::NotFound(not_configured(spec)));
        }
        let secrets = provider_accounts::secrets(&txn, actor.shop_id, spec.slug).await?;
        let existing = row.map(|row| Account::new(spec, row, &secrets)).transpose()?;
        precondition.check(existing.as_ref().map(Account::etag).as_deref())?;
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
        (spec.hooks.follow)(existing.as_ref().map(|a| &a.settings), &mut outcome.settings);
        let was_enabled = existing.as_ref().is_some_and(|a| a.row.enabled);
        let no_secrets = HashMap::new();
        let view = Candidate {
            settings: &outcome.settings,
            current: current.as_ref().map_or(&no_secrets, |c| &c.secrets),
            changes: &outcome.secret_changes,
        };
        check_consistency(&txn, actor.shop_id, spec, &view, was_enabled, outcome.enabled).await?;
        let created = existing.is_none();
        if created {
            (spec.hooks.initial_settings)(&mut outcome.settings);
        }
        let state = ActionState {
            exists: !created,
            enabled: outcome.enabled,
            settings: outcome.settings,
            secret_changes: outcome.secret_changes,
            changed: Vec::new(),
        };
        if created || !outcome.changed.is_empty() {
            let fields: Vec<&str> = outcome.changed.iter().map(String::as_str).collect();
            let action = if created { "create" } else { "update" };
            self.save(
                &txn,
                actor,
                spec,
                existing.as_ref().map(|a| &a.row),
                &state,
                precondition,
            )
            .await?;
            actor
                .record_change(&txn, "provider_account", spec.slug, action, &fields)
                .await?;
            announce(&txn, actor, spec, action, &fields).await?;
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
        let account = Account::new(spec, row, &[])?;
        precondition.check(Some(&account.etag()))?;
        ensure_unused(&txn, actor.shop_id, spec).await?;
        if !provider_accounts::delete(&txn, &account.row).await? {
            return Err(precondition.lost_race("account"));
        }
        for kind in spec.public_assets {
            public_assets::delete(&txn, actor.shop_id, kind).await?;
        }
        actor
            .record_change(&txn, "provider_account", spec.slug, "delete", &[])
            .await?;
        announce(&txn, actor, spec, "delete", &[]).await?;
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
                settings: stored_settings(row)?,
                secret_changes: Default::default(),
                changed: Vec::new(),
            },
            None if missing == Missing::Create => {
                let mut settings = Map::new();
                (spec.hooks.initial_settings)(&mut settings);
                ActionState {
                    exists: false,
                    enabled: true,
                    settings,
                    secret_changes: Default::default(),
                    changed: Vec::new(),
                }
            }
            None => return Err(DomainError::NotFound(not_configured(spec))),
        };
        let was_enabled = row.as_ref().is_some_and(|r| r.enabled);
        change(&txn, &mut state).await?;
        if was_enabled && !state.enabled {
            ensure_unused(&txn, actor.shop_id, spec).await?;
        }
        self.save(&txn, actor, spec, row.as_ref(), &state, &Precondition::None)
            .await?;
        actor
            .record_change(&txn, "provider_account", spec.slug, action, &state.changed)
            .await?;
        announce(&txn, actor, spec, action, &state.changed).await?;
        let account = reload(&txn, actor.shop_id, spec).await?;
        txn.commit().await?;
        Ok(account)
    }

    /// Writes the account's row (insert or versioned update) and its secret changes.
    async fn save(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor<'_>,
        spec: &ProviderSpec,
        row: Option<&AccountRow>,
        state: &ActionState,
        precondition: &Precondition,
    ) -> Result<(), DomainError> {
        let now = Utc::now();
        let settings = Value::Object(state.settings.clone()).to_string();
        match row {
            Some(row) => {
                if !provider_accounts::update(txn, row.id, row.version, state.enabled, &settings, now).await? {
                    return Err(precondition.lost_race("account"));
                }
            }
            None => {
                store::shops::ensure(txn, actor.shop_id).await?;
                provider_accounts::insert(txn, actor.shop_id, spec.slug, state.enabled, &settings, now)
                    .await
                    .map_err(|err| conflict_on_unique(err, spec))?;
            }
        }
        self.apply_secrets(txn, actor.shop_id, spec, &state.secret_changes, now)
            .await
    }

    fn open_all(
        &self,
        shop_id: &str,
        spec: &ProviderSpec,
        secrets: &[SecretRow],
    ) -> Result<HashMap<String, Secret<String>>, DomainError> {
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
    ) -> Result<Option<Secret<String>>, DomainError> {
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

/// `provider_account.updated`, in the transaction of the change: the provider, the action
/// and the names of the fields changed — never a value.
async fn announce(
    txn: &DatabaseTransaction,
    actor: &Actor<'_>,
    spec: &ProviderSpec,
    action: &str,
    fields: &[&str],
) -> Result<(), DomainError> {
    let data = json!({"provider": spec.slug, "action": action, "fields": fields});
    events::emit(txn, actor.shop_id, EventType::ProviderAccountUpdated, &data).await?;
    Ok(())
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

/// The account as changed agrees with the shop's payment methods: an account in use
/// stays enabled, and the provider's own rules hold (e.g. the ten-key pad and its card).
async fn check_consistency(
    txn: &DatabaseTransaction,
    shop_id: &str,
    spec: &ProviderSpec,
    account: &dyn View,
    was_enabled: bool,
    enabled: bool,
) -> Result<(), DomainError> {
    let methods = enabled_methods(txn, shop_id).await?;
    (spec.hooks.on_account_change)(&AccountChange {
        account,
        enabled,
        methods: &methods,
    })?;
    if was_enabled && !enabled {
        ensure_unused(txn, shop_id, spec).await?;
    }
    Ok(())
}

/// The shop's enabled payment methods, as consistency rules see them.
pub async fn enabled_methods(
    txn: &impl sea_orm::ConnectionTrait,
    shop_id: &str,
) -> Result<Vec<MethodRef>, DomainError> {
    payment_methods::list(txn, shop_id, None, None)
        .await?
        .iter()
        .filter(|row| row.enabled)
        .map(method_ref)
        .collect()
}

/// A stored payment method as consistency rules see it.
pub fn method_ref(row: &PaymentMethodRow) -> Result<MethodRef, DomainError> {
    let kind = PaymentKind::parse(&row.kind)
        .ok_or_else(|| DomainError::Conflict(format!("payment method {} has an unknown kind", row.code)))?;
    Ok(MethodRef {
        code: row.code.clone(),
        kind,
        provider: row.provider.clone(),
        enabled: row.enabled,
    })
}

/// The response fields a provider derives from its stored settings.
pub fn computed(
    spec: &ProviderSpec,
    settings: &Map<String, Value>,
    enabled: bool,
    public_url: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    (spec.hooks.computed)(
        &Derive {
            settings,
            enabled,
            public_url,
        },
        &mut out,
    );
    out
}

async fn reload(txn: &DatabaseTransaction, shop_id: &str, spec: &'static ProviderSpec) -> Result<Account, DomainError> {
    let row = provider_accounts::find(txn, shop_id, spec.slug)
        .await?
        .ok_or_else(|| DomainError::NotFound(not_configured(spec)))?;
    let secrets = provider_accounts::secrets(txn, shop_id, spec.slug).await?;
    Account::new(spec, row, &secrets)
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

//! The EPOS card banner of GMO PG: an uploaded PNG, JPEG or GIF (recognised by its
//! content, at most 256 KiB) served from a public URL, or the default banner. It is part
//! of the account and of checkout only while EPOS is enabled.

use serde_json::{Map, Value};

use super::GMO_PG;
use crate::{
    accounts::{
        service::{Account, Accounts, Missing},
        spec::Derive,
    },
    core::{Actor, DomainError, FieldError},
    crypto::random_token,
    store::public_assets,
};

/// Internal setting: the upload token of the shop's EPOS banner.
pub const EPOS_BANNER: &str = "_epos_banner";
/// The path of the banner shown when a shop has uploaded none.
pub const DEFAULT_BANNER_PATH: &str = "/public/epos-banner-default.png";

/// `epos_banner_url`: the uploaded banner or the default one, while `epos_enabled`.
pub fn banner_url(account: &Derive<'_>, out: &mut Map<String, Value>) {
    let epos_enabled = account.settings.get("epos_enabled").and_then(Value::as_bool) == Some(true);
    let url = match account.settings.get(EPOS_BANNER).and_then(Value::as_str) {
        _ if !epos_enabled => Value::Null,
        Some(token) => format!("{}/public/epos-banners/{token}", account.public_url).into(),
        None => format!("{}{DEFAULT_BANNER_PATH}", account.public_url).into(),
    };
    out.insert("epos_banner_url".into(), url);
}

pub const MAX_BYTES: usize = 256 * 1024;

/// The image type of `bytes`, told by their signature.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

pub async fn upload(accounts: &Accounts<'_>, actor: &Actor<'_>, bytes: Vec<u8>) -> Result<Account, DomainError> {
    let Some(content_type) = image_type(&bytes) else {
        return Err(DomainError::Invalid(vec![FieldError::new(
            "epos_banner",
            "invalid_image",
            "epos_banner must be a PNG, JPEG or GIF image (sent as the request body)",
        )]));
    };
    let shop_id = actor.shop_id.to_string();
    accounts
        .act(
            actor,
            &GMO_PG,
            "upload_epos_banner",
            Missing::Refuse,
            async move |txn, state| {
                // A new token per upload: caches of the old banner's URL do not show it.
                let token = random_token::<18>();
                public_assets::put(txn, &shop_id, public_assets::EPOS_BANNER, &token, content_type, bytes).await?;
                state.settings.insert(EPOS_BANNER.into(), token.into());
                state.changed.push("epos_banner_url");
                Ok(())
            },
        )
        .await
}

/// Back to the default banner.
pub async fn reset(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    let shop_id = actor.shop_id.to_string();
    accounts
        .act(
            actor,
            &GMO_PG,
            "reset_epos_banner",
            Missing::Refuse,
            async move |txn, state| {
                public_assets::delete(txn, &shop_id, public_assets::EPOS_BANNER).await?;
                if state.settings.remove(EPOS_BANNER).is_some() {
                    state.changed.push("epos_banner_url");
                }
                Ok(())
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_content() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(image_type(b"<svg xmlns=...>"), None);
        assert_eq!(image_type(b""), None);
    }
}

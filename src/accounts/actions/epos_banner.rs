//! The EPOS card banner of GMO PG: an uploaded PNG, JPEG or GIF (recognised by its
//! content, at most 256 KiB) served from a public URL, or the default banner.

use super::spec;
use crate::domain::DomainError;
use crate::{
    accounts::{
        derived::EPOS_BANNER,
        service::{Account, Accounts, Actor, Missing},
    },
    crypto::random_token,
    http::problem::FieldError,
    store::public_assets,
};

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
            spec("gmo-pg"),
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
            spec("gmo-pg"),
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

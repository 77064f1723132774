//! The bearer-token extractor. A handler states the scope it needs in its signature:
//! `caller: Authenticated<scope::AuditRead>`.

use std::marker::PhantomData;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;

use super::{observe::RequestId, problem::ApiError, state::AppState};
use crate::{
    auth::{Scope, ScopeSet},
    core::Actor,
};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub shop_id: String,
    pub scopes: ScopeSet,
    pub request_id: Option<String>,
}

impl Caller {
    /// The caller as the actor of a change: audited, and seen at once by this replica's
    /// caches.
    pub fn actor<'a>(&'a self, state: &'a AppState) -> Actor<'a> {
        Actor::new(
            &self.shop_id,
            &self.client_id,
            self.request_id.as_deref(),
            &state.shop_versions,
        )
    }
}

/// A scope an endpoint requires, as a type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

pub mod scope {
    use super::{RequiredScope, Scope};

    macro_rules! scopes {
        ($($name:ident),* $(,)?) => {$(
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }

    scopes!(
        AccountsRead,
        AccountsWrite,
        PaymentMethodsRead,
        PaymentMethodsWrite,
        ScreeningsWrite,
        ScreeningsRead,
        AuditRead,
        WebhooksRead,
        WebhooksWrite
    );
}

/// A caller whose token is valid, whose client is not revoked, and who holds `S`.
pub struct Authenticated<S> {
    pub caller: Caller,
    scope: PhantomData<S>,
}

impl<S> std::ops::Deref for Authenticated<S> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<S: RequiredScope + 'static> FromRequest for Authenticated<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = token?;
            let claims = state
                .tokens
                .verify(&token)
                .map_err(|err| ApiError::Unauthorized(err.to_string()))?;
            if !state.clients.is_active(&state.db, &claims.sub, &claims.shop).await? {
                return Err(ApiError::Unauthorized(
                    "the token's client is revoked or unknown".into(),
                ));
            }
            let scopes = ScopeSet::parse(&claims.scope)
                .map_err(|_| ApiError::Unauthorized("the token names an unknown scope".into()))?;
            if !scopes.contains(S::SCOPE) {
                return Err(ApiError::Forbidden(format!(
                    "this operation needs the scope '{}', which the token does not have",
                    S::SCOPE
                )));
            }
            Ok(Authenticated {
                caller: Caller {
                    client_id: claims.sub,
                    shop_id: claims.shop,
                    scopes,
                    request_id,
                },
                scope: PhantomData,
            })
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("an Authorization: Bearer <token> header is required".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is malformed".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim().to_string())
        }
        _ => Err(ApiError::Unauthorized(
            "the Authorization header must be 'Bearer <token>'".into(),
        )),
    }
}

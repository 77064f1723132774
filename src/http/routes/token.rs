//! `POST /api/v1/auth/token`: OAuth 2.0 client credentials → a bearer access token.

use actix_web::{HttpRequest, HttpResponse, http::header, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::{ScopeSet, clients, source::source_address},
    core::Secret,
    http::{
        extract::{self, JSON_LIMIT},
        openapi::problems,
        problem::{ApiError, FieldError},
        state::AppState,
    },
    store::clients::ApiClient,
};

/// Client credentials, as JSON or as an HTML form (`application/x-www-form-urlencoded`).
///
/// `client_id` and `client_secret` are in the body unless the client authenticates with
/// HTTP Basic (RFC 6749 §2.3.1); a request with both is refused (400).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "grant_type": "client_credentials",
    "client_id": "rkc_0123456789abcdef01234567",
    "client_secret": "rks_…",
    "scope": "accounts:read screenings:write"
}))]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[schema(schema_with = grant_type_schema)]
    pub grant_type: String,
    /// Required unless the client authenticates with HTTP Basic.
    pub client_id: Option<String>,
    /// Required unless the client authenticates with HTTP Basic.
    #[schema(value_type = Option<String>, format = Password)]
    pub client_secret: Option<Secret<String>>,
    /// Space-separated scopes to put in the token; default: every scope of the client.
    pub scope: Option<String>,
}

fn grant_type_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["client_credentials"]))
        .description(Some("Always `client_credentials`."))
        .build()
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0…",
    "token_type": "Bearer",
    "expires_in": 900,
    "scope": "accounts:read screenings:write"
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Space-separated scopes the token carries.
    pub scope: String,
}

/// Issue an access token for an API client (client credentials grant).
///
/// Failed attempts are limited per source address: past the limit a wrong secret is
/// answered 429 with `Retry-After` (after a short delay), while the right secret still
/// gets its token at once.
#[utoipa::path(
    tag = "auth",
    request_body(
        content = TokenRequest,
        description = "The client credentials as JSON. The same fields as an HTML form (`application/x-www-form-urlencoded`, the OAuth 2.0 way that the `oauth2` scheme uses) are taken too; only JSON is described, so that generated clients have one body type. \
            The client may instead authenticate with HTTP Basic (RFC 6749 §2.3.1, what Swagger UI's Authorize dialog and most OAuth libraries send): \
            `Authorization: Basic base64(urlencode(client_id) \":\" urlencode(client_secret))`, with only `grant_type` and `scope` in the body. \
            Credentials in both the header and the body are refused (400 `invalid_request`).",
    ),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        problems::BadRequest,
        problems::Unauthorized,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
        problems::TooManyRequests,
    )
)]
#[post("/auth/token")]
pub async fn issue_token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let basic = basic_credentials(&req)?;
    let used_basic = basic.is_some();
    let answer = issue(&req, payload, &state, basic).await;
    match answer {
        // RFC 6749 §5.2: the challenge names the scheme the client authenticated with.
        Err(error @ ApiError::Unauthorized(_)) if used_basic => {
            let mut response = actix_web::ResponseError::error_response(&error);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"renkei\""),
            );
            Ok(response)
        }
        other => other,
    }
}

async fn issue(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    basic: Option<(String, Secret<String>)>,
) -> Result<HttpResponse, ApiError> {
    let source = source_of(req, state);
    let request = read_request(req, payload).await?;
    let (client_id, client_secret) = credentials(basic, request.client_id, request.client_secret)?;
    if request.grant_type != "client_credentials" {
        return Err(ApiError::field(
            "grant_type",
            "unsupported_grant_type",
            "grant_type must be 'client_credentials'",
        ));
    }
    // Past the limit a wrong secret is a 429, but a right one still gets its token. Only
    // failures below the limit are logged at warn: a flood must not flood the log too.
    let refuse = |what: &str, client_id: Option<&str>| {
        let over_limit = source.and_then(|s| state.token_failures.check(s).err());
        if let Some(s) = source {
            state.token_failures.record_failure(s);
        }
        match over_limit {
            Some(retry_after) => {
                tracing::debug!(client_id, "token refused past the failure limit: {what}");
                ApiError::TooManyRequests { retry_after }
            }
            None => {
                tracing::warn!(client_id, "token refused: {what}");
                ApiError::Unauthorized("invalid client credentials".into())
            }
        }
    };
    // A refusal past the limit is held back a while: a source guessing in a loop then
    // costs a timer per attempt instead of a stream of work (a right secret never waits).
    let throttle = async |error: ApiError| {
        if matches!(error, ApiError::TooManyRequests { .. }) {
            tokio::time::sleep(state.token_failure_delay).await;
        }
        Err(error)
    };
    if !clients::is_plausible_id(&client_id) {
        // Not an id renkei makes: no lookup, no hashing, and not logged (it may be huge).
        return throttle(refuse("a client_id of the wrong shape", None)).await;
    }
    let Some(client) = clients::authenticate(
        &state.db,
        &state.credentials,
        &state.peppers,
        &client_id,
        client_secret.expose(),
    )
    .await?
    else {
        return throttle(refuse("invalid client credentials", Some(&client_id))).await;
    };

    let scopes = granted_scopes(&client, request.scope.as_deref())?;
    let issued = state
        .tokens
        .issue(&client.id, &client.shop_id, scopes)
        .map_err(ApiError::internal)?;
    tracing::info!(client_id = %client.id, shop = %client.shop_id, "token issued");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: scopes.to_string(),
        }))
}

/// The client's credentials from exactly one place: the Basic header or the body.
fn credentials(
    basic: Option<(String, Secret<String>)>,
    client_id: Option<String>,
    client_secret: Option<Secret<String>>,
) -> Result<(String, Secret<String>), ApiError> {
    match (basic, client_id, client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::BadRequest(
            "invalid_request: the client authenticates with HTTP Basic or with client_id and client_secret in the body, not both"
                .into(),
        )),
        (Some(basic), None, None) => Ok(basic),
        (None, Some(id), Some(secret)) => Ok((id, secret)),
        (None, id, secret) => {
            let mut errors = Vec::new();
            if id.is_none() {
                errors.push(FieldError::new(
                    "client_id",
                    "required",
                    "client_id is required (or authenticate with HTTP Basic)",
                ));
            }
            if secret.is_none() {
                errors.push(FieldError::new(
                    "client_secret",
                    "required",
                    "client_secret is required (or authenticate with HTTP Basic)",
                ));
            }
            Err(ApiError::Validation(errors))
        }
    }
}

/// HTTP Basic client authentication (RFC 6749 §2.3.1): `Basic base64(id ":" secret)`,
/// each part form-urlencoded. Another scheme is not client authentication (ignored); a
/// malformed Basic header is a 400.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, Secret<String>)>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::BadRequest(
            "invalid_request: the Authorization header is not valid HTTP Basic (base64 of client_id:client_secret)"
                .into(),
        )
    };
    let Ok(value) = value.to_str() else {
        return Err(malformed());
    };
    let value = value.trim();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return if value.eq_ignore_ascii_case("basic") {
            Err(malformed())
        } else {
            Ok(None)
        };
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| malformed())
    };
    Ok(Some((unescape(id)?, Secret::new(unescape(secret)?))))
}

/// The address failures are counted against: the peer, or the hop a trusted proxy named.
fn source_of(req: &HttpRequest, state: &AppState) -> Option<std::net::IpAddr> {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    source_address(req.peer_addr().map(|a| a.ip()), &forwarded, &state.trusted_proxies)
}

/// The scopes the token gets: the client's, or the subset it asked for.
fn granted_scopes(client: &ApiClient, requested: Option<&str>) -> Result<ScopeSet, ApiError> {
    let allowed = ScopeSet::parse(&client.scopes)
        .map_err(|name| ApiError::internal(anyhow::anyhow!("client {} holds unknown scope {name}", client.id)))?;
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(allowed);
    };
    let requested = ScopeSet::parse(requested)
        .map_err(|name| ApiError::field("scope", "unknown_scope", format!("'{name}' is not a scope")))?;
    if !requested.is_subset_of(allowed) {
        return Err(ApiError::field(
            "scope",
            "scope_not_allowed",
            format!("this client may request only: {allowed}"),
        ));
    }
    Ok(requested)
}

async fn read_request(req: &HttpRequest, payload: web::Payload) -> Result<TokenRequest, ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/x-www-form-urlencoded"));
    if !is_form && !extract::is_json(req) {
        return Err(ApiError::UnsupportedMediaType(
            "send the credentials as application/json or application/x-www-form-urlencoded".into(),
        ));
    }
    let body = extract::read_body(payload.into_inner(), extract::declared_length(req), JSON_LIMIT).await?;
    if is_form {
        let text =
            std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the form body is not valid UTF-8".into()))?;
        extract::parse_query(text)
    } else {
        extract::parse_json(&body)
    }
}

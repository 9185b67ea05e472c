//! Google's OAuth2 token endpoint, `POST /token`, for the JWT bearer grant
//! of service account keys: the assertion must be an RS256 JWT signed by a
//! service account registered in `SimConfig::service_accounts` (`iss`),
//! addressed to this endpoint (`aud` ends in `/token`), not expired, with a
//! `scope`. The access token it issues is accepted by the simulated
//! Compute Engine API like a metadata server's token.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::world::SharedSim;

pub fn router() -> Router<SharedSim> {
    Router::new().route("/token", post(token))
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Deserialize)]
struct Grant {
    grant_type: Option<String>,
    assertion: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    #[serde(default)]
    scope: String,
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(sim): State<SharedSim>, body: axum::body::Bytes) -> Response {
    let Ok(grant) = serde_urlencoded::from_bytes::<Grant>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "malformed form body",
        );
    };
    if grant.grant_type.as_deref() != Some(JWT_BEARER) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        );
    }
    let Some(assertion) = grant.assertion else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "no assertion");
    };
    match check(&sim, &assertion) {
        Ok(()) => {}
        Err(why) => return refuse(StatusCode::BAD_REQUEST, "invalid_grant", &why),
    }
    let token = format!("ya29.sa-{}", uuid::Uuid::new_v4().simple());
    sim.world().gce_tokens.insert(token.clone());
    axum::Json(serde_json::json!({
        "access_token": token,
        "expires_in": sim.config.oauth_token_secs,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Verify the assertion: signature by the issuer's registered key, `aud`,
/// `exp`, a scope.
fn check(sim: &SharedSim, assertion: &str) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let header = decode_header(assertion).map_err(|e| format!("Invalid JWT: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err("Invalid JWT: the algorithm must be RS256.".into());
    }
    // The issuer, unverified, only to pick its key.
    let mut peek = Validation::new(Algorithm::RS256);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims.clear();
    let unverified = decode::<Claims>(assertion, &DecodingKey::from_secret(&[]), &peek)
        .map_err(|e| format!("Invalid JWT: {e}"))?;
    let Some((_, pem)) = sim
        .config
        .service_accounts
        .iter()
        .find(|(email, _)| *email == unverified.claims.iss)
    else {
        return Err(format!(
            "Invalid JWT: no service account {}",
            unverified.claims.iss
        ));
    };
    let key = DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("the registered key is not an RSA public key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 0;
    let claims = decode::<Claims>(assertion, &key, &validation)
        .map_err(|e| format!("Invalid JWT Signature or claims: {e}"))?
        .claims;
    if !claims.aud.ends_with("/token") {
        return Err(format!(
            "Invalid JWT: aud {} is not the token endpoint",
            claims.aud
        ));
    }
    if claims.scope.trim().is_empty() {
        return Err("Invalid JWT: no scope".into());
    }
    Ok(())
}

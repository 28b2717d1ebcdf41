//! Standard Webhooks verification written from the specification, sharing
//! nothing with feedwatch's own signing code: what a receiver would run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::fail::OrFail;
use super::receiver::Delivery;

/// How far `webhook-timestamp` may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The key a sink signs with: after a `whsec_` prefix the base64 of the key
/// bytes, otherwise the secret's own bytes.
pub fn key(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .or_fail("a whsec_ secret is base64 after the prefix"),
        None => secret.as_bytes().to_vec(),
    }
}

/// Checks the three headers and the signature of one request as of `now`.
pub fn verify_at(
    key: &[u8],
    headers: impl Fn(&str) -> Option<String>,
    body: &str,
    now: SystemTime,
) -> Result<(), String> {
    let id = headers("webhook-id").ok_or("no webhook-id header")?;
    let timestamp = headers("webhook-timestamp").ok_or("no webhook-timestamp header")?;
    let signatures = headers("webhook-signature").ok_or("no webhook-signature header")?;
    let seconds: u64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp {timestamp:?} is not unix seconds"))?;
    let sent = UNIX_EPOCH + Duration::from_secs(seconds);
    let skew = now
        .duration_since(sent)
        .or_else(|e| Ok::<_, String>(e.duration()))?;
    if skew > TOLERANCE {
        return Err(format!(
            "webhook-timestamp {timestamp} is {skew:?} away from now"
        ));
    }
    let signed = format!("{id}.{timestamp}.{body}");
    for candidate in signatures.split(' ').filter(|s| !s.is_empty()) {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(b64) else {
            return Err(format!("signature {candidate:?} is not base64"));
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).or_fail("HMAC takes any key");
        mac.update(signed.as_bytes());
        if mac.verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(format!("no v1 signature matches in {signatures:?}"))
}

/// Verifies a request the receiver kept, now.
pub fn verify(secret: &str, delivery: &Delivery) -> Result<(), String> {
    verify_at(
        &key(secret),
        |name| delivery.header(name).map(str::to_owned),
        &delivery.body,
        SystemTime::now(),
    )
}

//! The two signatures every delivery carries.
//!
//! - `X-DriftGuard-Signature`: lowercase hex HMAC-SHA256 of the body, keyed with the
//!   secret string's UTF-8 bytes (the hosted API's scheme; verifiable with nothing but an
//!   HMAC library and a constant-time compare).
//! - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64>`):
//!   HMAC-SHA256 of `"<id>.<timestamp>.<body>"`, keyed with the base64-decoded part of the
//!   secret after `whsec_`, so the official libraries verify it and reject replays.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret` as UTF-8 bytes.
pub fn driftguard_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let mut hex = String::with_capacity(64);
    for byte in tag.as_ref() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `v1,<base64 signature>` in the Standard Webhooks format, or `None` if the secret is not
/// `whsec_<base64>` (ours always are).
pub fn standard_signature(
    secret: &str,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let key_bytes = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    let mut context = hmac::Context::with_key(&key);
    context.update(message_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Some(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driftguard_signature_is_lowercase_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            driftguard_signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_signature_matches_the_reference_vector() {
        // The example from the Standard Webhooks specification.
        let signature = standard_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn generated_secrets_are_valid_standard_webhook_keys() {
        let secret = crate::credentials::generate_webhook_secret();
        assert!(standard_signature(&secret, "dlv_x", 1, b"{}").is_some());
    }
}

//! RS256 JSON Web Tokens, for the two warehouses that sign in with an RSA key:
//! Snowflake's key-pair authentication and Google service accounts.
//!
//! Keys are unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form both
//! vendors document (`openssl pkcs8 -topk8 -nocrypt`; a service account's
//! `private_key`). Signing is ring's; nothing here ever prints key material.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use sha2::{Digest, Sha256};

/// An RSA private key that signs JWTs.
pub struct RsaSigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigner(<private key>)")
    }
}

impl RsaSigner {
    /// Read a PKCS#8 PEM private key. The error says what is wrong with the key's
    /// form, never its content.
    pub fn from_pem(pem: &str) -> Result<RsaSigner, String> {
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(
                "the private key is encrypted; sluice reads unencrypted PKCS#8 keys \
                 (decrypt it with `openssl pkcs8 -in key.p8 -out key_plain.p8`)"
                    .to_owned(),
            );
        }
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            return Err(
                "the private key is PKCS#1 (`BEGIN RSA PRIVATE KEY`); convert it to \
                 PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8`"
                    .to_owned(),
            );
        }
        let der = pem_body(pem, "PRIVATE KEY").ok_or_else(|| {
            "the private key is not PEM: expected `-----BEGIN PRIVATE KEY-----`".to_owned()
        })?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("the private key is not a usable RSA key ({e})"))?;
        Ok(RsaSigner { key })
    }

    /// `header.claims.signature`, signed with RS256.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{body}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "cannot sign with the private key".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// The public key as DER `SubjectPublicKeyInfo` (what `openssl rsa -pubout`
    /// writes). ring exposes the PKCS#1 `RSAPublicKey`; SPKI wraps it with the
    /// rsaEncryption algorithm identifier.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
        const RSA_ALGORITHM: [u8; 15] = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let pkcs1 = self.key.public().as_ref();
        let mut bit_string = vec![0x00];
        bit_string.extend_from_slice(pkcs1);
        let mut inner = RSA_ALGORITHM.to_vec();
        inner.extend(der_tlv(0x03, &bit_string));
        der_tlv(0x30, &inner)
    }

    /// Snowflake's public key fingerprint: `SHA256:` and the base64 of the SHA-256
    /// of the SPKI DER (the `RSA_PUBLIC_KEY_FP` that `describe user` shows).
    pub fn snowflake_fingerprint(&self) -> String {
        let digest = Sha256::digest(self.public_key_spki_der());
        format!("SHA256:{}", STANDARD.encode(digest))
    }
}

/// A DER type-length-value.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// The base64 body between `-----BEGIN {label}-----` and `-----END {label}-----`,
/// decoded. Keys pasted into environment variables often carry `\n` escapes.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let pem = pem.replace("\\n", "\n");
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

/// 16 random bytes as a version-4 UUID: request ids that make retries safe.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    // The system random source only fails when the OS has none at all; a fixed
    // id is then still unique enough within one process's retries.
    if SystemRandom::new().fill(&mut b).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = nanos.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    const KEY: &str = include_str!("../../tests/fixtures/keys/test_rsa_key.p8");
    /// Computed when the key was made, by openssl:
    /// `openssl rsa -in test_rsa_key.p8 -pubout -outform DER | openssl dgst -sha256 -binary | base64`
    const FINGERPRINT: &str = include_str!("../../tests/fixtures/keys/test_rsa_key.fingerprint");

    #[test]
    fn the_fingerprint_is_the_one_openssl_computes() {
        let signer = RsaSigner::from_pem(KEY).unwrap();
        assert_eq!(
            signer.snowflake_fingerprint(),
            format!("SHA256:{}", FINGERPRINT.trim())
        );
    }

    #[test]
    fn a_jwt_verifies_with_the_public_key_and_carries_the_claims() {
        let signer = RsaSigner::from_pem(KEY).unwrap();
        let claims =
            serde_json::json!({"iss": "ACME.BOB.SHA256:x", "sub": "ACME.BOB", "iat": 1, "exp": 61});
        let jwt = signer.sign_jwt(&claims).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(decoded, claims);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let public = UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            signer.key.public().as_ref().to_vec(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &signature).is_ok());
        assert!(public.verify(b"something else", &signature).is_err());
    }

    #[test]
    fn keys_in_other_forms_get_a_fix_not_a_dump() {
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----";
        let e = RsaSigner::from_pem(encrypted).unwrap_err();
        assert!(e.contains("openssl pkcs8"), "{e}");
        assert!(!e.contains("MIIB"));
        let pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----";
        assert!(RsaSigner::from_pem(pkcs1).unwrap_err().contains("-topk8"));
        assert!(RsaSigner::from_pem("not a key")
            .unwrap_err()
            .contains("BEGIN PRIVATE KEY"));
        // Escaped newlines, as a key pasted into an environment variable has them.
        let escaped = KEY.replace('\n', "\\n");
        assert!(RsaSigner::from_pem(&escaped).is_ok());
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let (a, b) = (uuid_v4(), uuid_v4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}

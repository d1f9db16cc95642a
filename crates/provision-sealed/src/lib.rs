//! Sealing secrets for the Bitnami sealed-secrets controller: the cluster's public key, the
//! scopes, the controller's hybrid encryption and the typed `SealedSecret` object.
//!
//! Each value is sealed on its own, as `kubeseal` does: a fresh 32-byte AES-256-GCM session key
//! encrypts the value (the all-zero nonce is safe because the key is used once), RSA-OAEP with
//! SHA-256 encrypts the session key, and the result is the RSA ciphertext's length as two
//! big-endian bytes, the RSA ciphertext, then the GCM ciphertext and tag. The OAEP label binds
//! the value to where it may be unsealed: `<namespace>/<name>` (strict, the default), the
//! namespace (namespace-wide) or nothing (cluster-wide). The controller refuses a value whose
//! label does not match the object it finds it in, so a strict secret copied to another name or
//! namespace stays sealed.
//!
//! Module [`certificate`] reads the controller's certificate from a file or an http(s) URL.

pub mod certificate;

pub use certificate::{CertificateError, CertificateSource, load_key};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use provision_core::{Invalid, Problem};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::rand_core::{CryptoRngCore, OsRng};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPublicKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// The smallest RSA key accepted; the controller makes 4096-bit keys.
pub const MIN_KEY_BITS: usize = 2048;
const SESSION_KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealing certificate is not a PEM certificate or RSA public key: {0}")]
    NotPem(String),
    #[error("the sealing certificate holds no RSA public key: {0}")]
    NotRsa(String),
    #[error("the sealing key has {bits} bits; at least {MIN_KEY_BITS} are required")]
    KeyTooSmall { bits: usize },
    #[error(
        "the sealing certificate expired {expired_secs} seconds ago; fetch the controller's current certificate (kubeseal --fetch-cert)"
    )]
    Expired { expired_secs: u64 },
    #[error("a {len}-byte value is too large to seal (at most 1 MiB, the size of a Secret)")]
    TooLarge { len: usize },
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    #[error("cannot write the SealedSecret {name} as YAML")]
    Yaml {
        name: String,
        #[source]
        source: serde_saphyr::ser::Error,
    },
}

/// The largest value sealed: a whole Secret may hold no more.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// The controller's public key, from its certificate (`kubeseal --fetch-cert`, or the
/// controller's `/v1/cert.pem`) or a bare RSA public key.
#[derive(Clone)]
pub struct SealingKey {
    key: RsaPublicKey,
    not_after: Option<SystemTime>,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey").field("bits", &self.bits()).field("not_after", &self.not_after).finish()
    }
}

impl SealingKey {
    /// Reads a PEM `CERTIFICATE`, `PUBLIC KEY` or `RSA PUBLIC KEY`.
    pub fn from_pem(pem: &str) -> Result<Self, SealError> {
        let pem = pem.trim();
        let label = pem
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-----BEGIN "))
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or_else(|| SealError::NotPem("it does not start with a '-----BEGIN …-----' line".into()))?;
        let (key, not_after) = match label {
            "CERTIFICATE" => {
                let cert = Certificate::from_pem(pem).map_err(|e| SealError::NotPem(e.to_string()))?;
                let spki = cert
                    .tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .map_err(|e| SealError::NotRsa(e.to_string()))?;
                let key = RsaPublicKey::from_public_key_der(&spki).map_err(|e| SealError::NotRsa(e.to_string()))?;
                (key, Some(cert.tbs_certificate.validity.not_after.to_system_time()))
            }
            "PUBLIC KEY" => {
                (RsaPublicKey::from_public_key_pem(pem).map_err(|e| SealError::NotRsa(e.to_string()))?, None)
            }
            "RSA PUBLIC KEY" => {
                (RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| SealError::NotRsa(e.to_string()))?, None)
            }
            other => {
                return Err(SealError::NotPem(format!("a PEM {other:?} is neither a certificate nor a public key")));
            }
        };
        let bits = key.size() * 8;
        if bits < MIN_KEY_BITS {
            return Err(SealError::KeyTooSmall { bits });
        }
        Ok(Self { key, not_after })
    }

    pub fn bits(&self) -> usize {
        self.key.size() * 8
    }

    /// When the certificate stops being valid (none for a bare public key).
    pub fn not_after(&self) -> Option<SystemTime> {
        self.not_after
    }

    /// Refuses a certificate that has expired by `now`: the controller has long since made a
    /// new key, and its certificate is the one to seal with.
    pub fn check_valid_at(&self, now: SystemTime) -> Result<(), SealError> {
        match self.not_after.map(|t| now.duration_since(t)) {
            Some(Ok(expired)) => Err(SealError::Expired { expired_secs: expired.as_secs() }),
            _ => Ok(()),
        }
    }

    /// Seals `value` for `scope`, base64 as in `encryptedData`.
    pub fn seal(
        &self,
        scope: Scope,
        namespace: &str,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<String, SealError> {
        let label = scope.label(namespace, name);
        Ok(STANDARD.encode(hybrid_encrypt(&mut OsRng, &self.key, value.expose(), &label)?))
    }
}

/// A value to seal: never printed (its `Debug` is redacted) and wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// The controller's hybrid encryption of `plaintext` under `label` (the OAEP label).
pub fn hybrid_encrypt(
    rng: &mut impl CryptoRngCore,
    key: &RsaPublicKey,
    plaintext: &[u8],
    label: &str,
) -> Result<Vec<u8>, SealError> {
    if plaintext.len() > MAX_VALUE_LEN {
        return Err(SealError::TooLarge { len: plaintext.len() });
    }
    let mut session_key = [0u8; SESSION_KEY_LEN];
    rng.fill_bytes(&mut session_key);
    let sealed_key = key
        .encrypt(rng, Oaep::new_with_label::<sha2::Sha256, _>(label), &session_key)
        .map_err(|e| SealError::Encrypt(e.to_string()))?;
    let cipher = Aes256Gcm::new_from_slice(&session_key).expect("the session key is 32 bytes");
    let sealed_value =
        cipher.encrypt(&Nonce::default(), plaintext).map_err(|_| SealError::Encrypt("AES-GCM failed".into()))?;
    let len = u16::try_from(sealed_key.len()).map_err(|_| SealError::Encrypt("RSA key too large".into()))?;
    let mut out = Vec::with_capacity(2 + sealed_key.len() + sealed_value.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&sealed_key);
    out.extend_from_slice(&sealed_value);
    Ok(out)
}

/// Where a sealed value may be unsealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Only as the Secret of this name in this namespace.
    #[default]
    Strict,
    /// As any Secret in this namespace.
    NamespaceWide,
    /// As any Secret anywhere in the cluster.
    ClusterWide,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// The OAEP label the controller expects for this scope.
    pub fn label(self, namespace: &str, name: &SecretName) -> String {
        match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_owned(),
            Scope::ClusterWide => String::new(),
        }
    }

    /// The annotation telling the controller the scope (strict needs none).
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some("sealedsecrets.bitnami.com/namespace-wide"),
            Scope::ClusterWide => Some("sealedsecrets.bitnami.com/cluster-wide"),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| {
            Invalid::one(
                "scope",
                "unknown-scope",
                format!("scope {s:?} is none of strict, namespace-wide, cluster-wide"),
            )
        })
    }
}

/// The name of a Secret a service uses: a DNS-1123 label (it also names the pod volume the
/// chart mounts it as).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

/// Longest Secret name: the chart mounts it as volume `secret-<name>`, a 63-character label.
pub const SECRET_NAME_MAX: usize = 56;

impl SecretName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let mut problems = Vec::new();
        let mut push = |rule, message: String| problems.push(Problem::new("", rule, message));
        if value.is_empty() {
            push("required", "secret name must not be empty".into());
        } else {
            if value.len() > SECRET_NAME_MAX {
                push(
                    "too-long",
                    format!(
                        "secret name is {} characters long; at most {SECRET_NAME_MAX} are allowed (the pod volume `secret-<name>` is a 63-character label)",
                        value.len()
                    ),
                );
            }
            if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                push("invalid-character", "secret name may hold only a-z, 0-9 and '-'".into());
            }
            if value.starts_with('-') || value.ends_with('-') {
                push("leading-dash", "secret name must start and end with a letter or digit".into());
            }
        }
        if problems.is_empty() { Ok(Self(value.to_owned())) } else { Err(Invalid::new(problems)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A key in a Secret's data: Kubernetes' rule for Secret and ConfigMap keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    pub const MAX_LEN: usize = 253;

    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let problem = if value.is_empty() {
            Some(("required", "secret key must not be empty".to_owned()))
        } else if value.len() > Self::MAX_LEN {
            Some((
                "too-long",
                format!("secret key is {} characters long; at most {} are allowed", value.len(), Self::MAX_LEN),
            ))
        } else if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            Some(("invalid-character", format!("secret key {value:?} may hold only letters, digits, '-', '_' and '.'")))
        } else if value == "." || value.starts_with("..") {
            Some(("dot-dot", format!("secret key {value:?} must not be '.' or start with '..'")))
        } else {
            None
        };
        match problem {
            Some((rule, message)) => Err(Invalid::one("", rule, message)),
            None => Ok(Self(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `bitnami.com/v1alpha1` `SealedSecret`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecret {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: SealedMeta,
    pub spec: SealedSecretSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct SealedMeta {
    pub name: SecretName,
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    pub encrypted_data: BTreeMap<SecretKey, String>,
    pub template: SecretTemplate,
}

/// What the unsealed Secret looks like.
#[derive(Debug, Clone, Serialize)]
pub struct SecretTemplate {
    pub metadata: TemplateMeta,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateMeta {
    pub name: SecretName,
    pub namespace: String,
}

impl SealedSecret {
    /// The object as a YAML document, each ciphertext on its key's line (block scalars off,
    /// so no value is folded onto the next line).
    pub fn to_yaml(&self) -> Result<String, SealError> {
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        serde_saphyr::to_string_with_options(self, options)
            .map_err(|source| SealError::Yaml { name: self.metadata.name.to_string(), source })
    }

    /// An `Opaque` SealedSecret holding `encrypted_data` sealed for `scope`.
    pub fn new(name: SecretName, namespace: &str, scope: Scope, encrypted_data: BTreeMap<SecretKey, String>) -> Self {
        let annotations =
            scope.annotation().map(|a| BTreeMap::from([(a.to_owned(), "true".to_owned())])).unwrap_or_default();
        Self {
            api_version: "bitnami.com/v1alpha1",
            kind: "SealedSecret",
            metadata: SealedMeta { name: name.clone(), namespace: namespace.to_owned(), annotations },
            spec: SealedSecretSpec {
                encrypted_data,
                template: SecretTemplate {
                    metadata: TemplateMeta { name, namespace: namespace.to_owned() },
                    kind: "Opaque".to_owned(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    const CERT: &str = include_str!("../tests/fixtures/sealing-cert.pem");
    const KEY: &str = include_str!("../tests/fixtures/sealing-key.pem");

    /// What the controller does with one value of `encryptedData`.
    fn unseal(private: &RsaPrivateKey, sealed_b64: &str, label: &str) -> Result<Vec<u8>, String> {
        let sealed = STANDARD.decode(sealed_b64).map_err(|e| e.to_string())?;
        let len = usize::from(u16::from_be_bytes([sealed[0], sealed[1]]));
        let (rsa_part, aes_part) = sealed[2..].split_at(len);
        let session = private
            .decrypt(Oaep::new_with_label::<sha2::Sha256, _>(label), rsa_part)
            .map_err(|e| format!("RSA-OAEP: {e}"))?;
        let cipher = Aes256Gcm::new_from_slice(&session).map_err(|e| e.to_string())?;
        cipher.decrypt(&Nonce::default(), aes_part).map_err(|_| "AES-GCM: authentication failed".to_owned())
    }

    fn name(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    #[test]
    fn a_strict_value_opens_only_under_its_namespace_and_name() {
        let key = SealingKey::from_pem(CERT).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let sealed = key
            .seal(Scope::Strict, "payments-qa", &name("payments-secrets"), &SecretValue::new(b"s3cr3t".to_vec()))
            .unwrap();
        assert_eq!(unseal(&private, &sealed, "payments-qa/payments-secrets").unwrap(), b"s3cr3t");
        for wrong in ["payments-prod/payments-secrets", "payments-qa/other", "payments-qa", ""] {
            assert!(unseal(&private, &sealed, wrong).is_err(), "opened under {wrong:?}");
        }
    }

    #[test]
    fn wider_scopes_bind_less() {
        let key = SealingKey::from_pem(CERT).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let ns = key.seal(Scope::NamespaceWide, "payments-qa", &name("a"), &SecretValue::new(b"v".to_vec())).unwrap();
        assert_eq!(unseal(&private, &ns, "payments-qa").unwrap(), b"v");
        assert!(unseal(&private, &ns, "payments-qa/a").is_err());
        let cluster =
            key.seal(Scope::ClusterWide, "payments-qa", &name("a"), &SecretValue::new(b"v".to_vec())).unwrap();
        assert_eq!(unseal(&private, &cluster, "").unwrap(), b"v");
    }

    #[test]
    fn the_layout_is_length_rsa_then_gcm_with_a_fresh_session_key_each_time() {
        let key = SealingKey::from_pem(CERT).unwrap();
        let a = STANDARD
            .decode(key.seal(Scope::Strict, "n", &name("s"), &SecretValue::new(b"same".to_vec())).unwrap())
            .unwrap();
        let b = STANDARD
            .decode(key.seal(Scope::Strict, "n", &name("s"), &SecretValue::new(b"same".to_vec())).unwrap())
            .unwrap();
        assert_eq!(u16::from_be_bytes([a[0], a[1]]), 256, "a 2048-bit key's ciphertext");
        assert_eq!(a.len(), 2 + 256 + 4 + 16, "GCM adds its 16-byte tag, nothing else");
        assert_ne!(a, b, "each value gets its own session key");
        assert_ne!(a[2 + 256..], b[2 + 256..]);
    }

    #[test]
    fn keys_are_read_from_certificates_and_public_keys_and_checked() {
        let cert = SealingKey::from_pem(CERT).unwrap();
        assert_eq!(cert.bits(), 2048);
        assert!(cert.not_after().is_some());
        assert!(cert.check_valid_at(SystemTime::now()).is_ok());
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(200 * 365 * 86_400);
        assert!(matches!(cert.check_valid_at(far), Err(SealError::Expired { .. })));

        let private = RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let public =
            rsa::pkcs8::EncodePublicKey::to_public_key_pem(&private.to_public_key(), Default::default()).unwrap();
        assert_eq!(SealingKey::from_pem(&public).unwrap().not_after(), None);

        for bad in ["", "hello", KEY, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"] {
            let err = SealingKey::from_pem(bad).unwrap_err();
            assert!(matches!(err, SealError::NotPem(_) | SealError::NotRsa(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn values_are_redacted_in_debug() {
        let value = SecretValue::new(b"hunter2".to_vec());
        assert_eq!(format!("{value:?}"), "SecretValue(<7 bytes redacted>)");
    }

    #[test]
    fn oversized_values_are_refused_before_encrypting() {
        let key = SealingKey::from_pem(CERT).unwrap();
        let err = key.seal(Scope::Strict, "n", &name("s"), &SecretValue::new(vec![0; MAX_VALUE_LEN + 1])).unwrap_err();
        assert!(matches!(err, SealError::TooLarge { .. }));
    }

    #[test]
    fn names_keys_and_scopes_are_parsed() {
        assert!(SecretName::parse("payments-db").is_ok());
        for bad in ["", "Db", "db.prod", "-db", "db-", &"a".repeat(SECRET_NAME_MAX + 1), "dь"] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["PASSWORD", "tls.crt", "db_url", "a-b", ".env"] {
            assert!(SecretKey::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", ".", "..x", "a/b", "a b", "ключ", &"k".repeat(254)] {
            assert!(SecretKey::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!("namespace-wide".parse::<Scope>().unwrap(), Scope::NamespaceWide);
        let err = "global".parse::<Scope>().unwrap_err();
        assert_eq!(err.problems()[0].rule, "unknown-scope");
    }

    #[test]
    fn the_object_carries_the_scope_annotation_and_the_template() {
        let data = BTreeMap::from([(SecretKey::parse("A").unwrap(), "c2VhbGVk".to_owned())]);
        let strict = SealedSecret::new(name("db"), "payments-qa", Scope::Strict, data.clone());
        assert!(strict.metadata.annotations.is_empty());
        let wide = SealedSecret::new(name("db"), "payments-qa", Scope::NamespaceWide, data);
        let yaml = wide.to_yaml().unwrap();
        assert!(yaml.contains("sealedsecrets.bitnami.com/namespace-wide: \"true\"\n"), "{yaml}");
        assert!(yaml.contains("encryptedData:\n    A: c2VhbGVk"), "{yaml}");
        assert!(yaml.contains("type: Opaque"), "{yaml}");
    }
}

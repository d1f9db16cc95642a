//! Sealing secrets for a service: values encrypted with the cluster's sealed-secrets
//! certificate and committed into the service's infra repository, where only the cluster's
//! controller can open them.
//!
//! The sealed values go into `values-<env>.yaml` under `sealedSecrets`, from which the base chart
//! renders the `SealedSecret` in the release's namespace (`<service>-<env>`) and passes the
//! unsealed Secret to the pods as environment. Like bump-image it is one compare-and-swap
//! commit, not a journaled run. Plain values never leave this process: they are not logged,
//! not printed, not in errors, and wiped from memory once sealed.

use super::{Error, MainEdits};
use provision_core::problem::{Collector, Problem};
use provision_core::{EnvName, RepoPath, ServiceName};
use provision_sealed::{CertificateSource, Scope, SealedSecret, SecretKey, SecretName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::SystemTime;

pub use provision_sealed::SecretValue;

/// What to seal, as a frontend read it.
#[derive(Debug, Default)]
pub struct SealInput {
    pub service: String,
    pub env: String,
    /// The Secret's name; default: the service's name.
    pub name: Option<String>,
    /// `strict` (default), `namespace-wide` or `cluster-wide`.
    pub scope: Option<String>,
    /// Keys and plain values, in the order given.
    pub values: Vec<(String, SecretValue)>,
    /// The certificate to seal with instead of the configured one.
    pub certificate: Option<CertificateSource>,
    /// Seal and show the object, commit nothing.
    pub dry_run: bool,
}

/// The answer to secret seal: what was sealed for where, never a plain value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecretReport {
    pub service: String,
    pub env: String,
    /// The Secret (and SealedSecret) name.
    pub name: String,
    /// The namespace it unseals in: `<service>-<env>`.
    pub namespace: String,
    /// `strict`, `namespace-wide` or `cluster-wide`.
    #[schema(value_type = String)]
    pub scope: Scope,
    /// The keys sealed now.
    pub keys: Vec<String>,
    /// The infra repository and the values file holding the sealed values.
    pub repo: String,
    pub file: String,
    /// Where the certificate came from (a URL without credentials).
    pub certificate: String,
    /// When the certificate expires, when it is a certificate (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_expires: Option<String>,
    /// The commit; absent for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The SealedSecret as the chart renders it from these values, as YAML (the keys sealed
    /// now only).
    pub sealed_secret: String,
}

impl MainEdits {
    /// Seals `input.values` into secret `input.name` of `input.service` in `input.env`.
    pub async fn seal_secret(&self, input: SealInput) -> Result<SecretReport, Error> {
        let mut c = Collector::new();
        let env = c.take("env", EnvName::parse(&input.env));
        let service = c.take("service", ServiceName::parse(&input.service));
        let name = match (&input.name, &service) {
            (Some(name), _) => c.take("name", SecretName::parse(name)),
            (None, Some(service)) => c.take("name", SecretName::parse(service.as_str())),
            (None, None) => None,
        };
        let scope = match &input.scope {
            Some(scope) => c.take("scope", scope.parse::<Scope>()),
            None => Some(Scope::Strict),
        };
        if input.values.is_empty() {
            c.push(Problem::new("values", "required", "give at least one KEY=VALUE to seal"));
        }
        let mut values = BTreeMap::new();
        for (key, value) in input.values {
            let field = format!("values.{key}");
            let Some(parsed) = c.take(&field, SecretKey::parse(&key)) else { continue };
            if value.len() > provision_sealed::MAX_VALUE_LEN {
                c.push(Problem::new(&field, "too-large", format!("the value of {key} is larger than 1 MiB")));
            }
            if values.insert(parsed, value).is_some() {
                c.push(Problem::new(&field, "duplicate", format!("{key} is given twice")));
            }
        }
        c.finish()?;
        let (env, service, name, scope) = (
            env.expect("checked by the collector"),
            service.expect("checked by the collector"),
            name.expect("checked by the collector"),
            scope.expect("checked by the collector"),
        );
        self.existing_service(service.as_str()).await?;

        let source = match input.certificate.as_ref().or(self.sealing.for_env(&env)) {
            Some(source) => source.clone(),
            None => return Err(Error::NoSealingCertificate { env: env.to_string() }),
        };
        let key = provision_sealed::load_key(&source, SystemTime::now())
            .await
            .map_err(|error| Error::Certificate { given: input.certificate.is_some(), error })?;
        let namespace = service.namespace(&env);
        let mut encrypted = BTreeMap::new();
        for (k, value) in &values {
            let sealed = key
                .seal(scope, &namespace, &name, value)
                .map_err(|source| Error::Seal { key: k.to_string(), source })?;
            encrypted.insert(k.clone(), sealed);
        }
        drop(values);
        let object = SealedSecret::new(name.clone(), &namespace, scope, encrypted);
        let yaml = object.to_yaml().map_err(|source| Error::Seal { key: String::new(), source })?;
        let keys: Vec<String> = object.spec.encrypted_data.keys().map(ToString::to_string).collect();
        let repo = service.infra_repo();
        let file = format!("values-{env}.yaml");
        let mut report = SecretReport {
            service: service.to_string(),
            env: env.to_string(),
            name: name.to_string(),
            namespace,
            scope,
            keys,
            repo: repo.to_string(),
            file: file.clone(),
            certificate: source.to_string(),
            certificate_expires: key
                .not_after()
                .map(|t| jiff::Timestamp::try_from(t).map(|t| t.to_string()))
                .and_then(Result::ok),
            commit: None,
            sealed_secret: yaml,
        };
        if input.dry_run {
            return Ok(report);
        }

        let by_key: BTreeMap<String, String> =
            object.spec.encrypted_data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let entry =
            provision_helm::SealedValues { name: name.as_str(), scope: scope.as_str(), encrypted_data: &by_key };
        let path = RepoPath::parse(&file).expect("a values file name is a valid path");
        let message = format!(
            "Seal {} into secret {name} of {service} in {env}\n\nScope {scope}: {}.\n",
            report.keys.join(", "),
            match scope {
                Scope::Strict => format!("{}/{name}", report.namespace),
                Scope::NamespaceWide => format!("any secret in {}", report.namespace),
                Scope::ClusterWide => "any namespace".to_owned(),
            }
        );
        let edited = self
            .edit_on_main(&repo, &path, &message, |text| {
                provision_helm::put_sealed_values(text, &self.layout.chart.name, &entry).map(Some).map_err(|source| {
                    Error::SecretsEdit { repo: repo.to_string(), file: file.clone(), source: Box::new(source) }
                })
            })
            .await?;
        report.commit = Some(edited.commit);
        Ok(report)
    }
}

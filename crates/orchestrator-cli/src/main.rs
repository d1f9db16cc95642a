//! `orchestrator`: the command line. Thin: parse arguments, call the application, print the
//! answer as text or JSON. Data goes to stdout, logs and errors to stderr.
//!
//! Exit codes: 0 success, 1 failure (a failed run, an I/O error), 2 bad usage or invalid input.

mod failure;
mod output;
mod remote;

use clap::{Args, Parser, Subcommand, ValueEnum};
use failure::{CliFailure, Unreadable};
use orchestrator_app::auth::Caller;
use orchestrator_app::config::CertificateSource;
use orchestrator_app::edits::{SealInput, SecretValue};
use orchestrator_app::provisioning::CreateOptions;
use orchestrator_app::provisioning::request::CreateServiceInput;
use orchestrator_app::upgrades::{UpgradeMode, UpgradeOptions, UpgradeTarget};
use orchestrator_app::workspaces::{AmountInput, WorkspaceInput, workspace_name};
use orchestrator_app::{ClusterUse, Config, Runtime, Start};
use output::Printer;
use provision_core::Role;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Who the command line acts as on the cluster: an operator, with an admin's rights.
const OPERATOR: &str = "operator@orchestrator.local";

/// Provision services: repositories rendered from blueprints, Helm values and GitOps
/// registration, all recorded as resumable runs.
///
/// With nothing configured everything lives in the data directory (`./.orchestrator` or
/// $ORCHESTRATOR_HOME): bare git repositories you can `git clone`, and a SQLite database of
/// runs. An interrupted run resumes the next time `orchestrator` starts.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// The data directory (repositories, database, config.toml).
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_HOME",
        hide_env_values = true,
        default_value = ".orchestrator",
        value_name = "DIR"
    )]
    home: PathBuf,
    /// Extra blueprint directories, colon-separated; each is a blueprint or a folder of
    /// blueprints. They come after those of config.toml and replace built-ins of the same name.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_BLUEPRINTS",
        hide_env_values = true,
        value_name = "DIRS",
        value_delimiter = ':'
    )]
    blueprints: Vec<PathBuf>,
    /// How to print results.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Human)]
    output: Output,
    /// Print only errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log more (repeat for more detail).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a service: its repository, its infra repository and its GitOps registration.
    #[command(
        after_help = "Example:\n  orchestrator create-service --kind ms --name ms-my-microservice --description \"some cool description\"\n  orchestrator create-service --kind ms --name payments --owner team-pay --set port=9090 --dry-run"
    )]
    CreateService(CreateServiceArgs),
    /// List the blueprints (service kinds) and their parameters, or check a blueprint directory.
    Kinds {
        /// Validate the blueprint in DIR (manifest, parameters, every template) and report
        /// every problem with its file and line, instead of listing.
        #[arg(long, value_name = "DIR")]
        check: Option<PathBuf>,
    },
    /// Upgrade services to the newest version of their blueprint: render it onto each
    /// repository's `orchestrator/template` branch and merge that branch into `main`.
    ///
    /// The merge is a real 3-way merge whose base is the last render `main` holds: local
    /// changes the template did not touch stay, template changes arrive, and a merge with
    /// conflicts is committed on `orchestrator/upgrade-<version>` with conflict markers while
    /// `main` stays as it was (the command then lists the files and exits 1).
    #[command(
        override_usage = "orchestrator upgrade <SERVICE|--all> [OPTIONS]\n       orchestrator upgrade --check [SERVICE] [OPTIONS]",
        after_help = "Examples:\n  orchestrator upgrade payments\n  orchestrator upgrade --all\n  orchestrator upgrade payments --dry-run\n  orchestrator upgrade --check --output json     # in CI: exit 1 when anything is behind\n  orchestrator upgrade payments --set port=9090  # change an answer, recorded for later upgrades"
    )]
    Upgrade(UpgradeArgs),
    /// Set a service's image tag in its infra repository: one commit changing only the tag line
    /// of `values.yaml` (every environment) or of `values-<env>.yaml` (with --env).
    #[command(
        after_help = "Examples:\n  orchestrator bump-image payments 3f2a9c1\n  orchestrator bump-image payments v1.4.0 --env staging\n  orchestrator bump-image payments v1.5.0 --dry-run   # the diff, nothing committed"
    )]
    BumpImage {
        /// The service.
        service: String,
        /// The new tag: letters, digits, '_', '.' and '-', at most 128 characters.
        tag: String,
        /// Only this environment (one of config.toml's `deploy.environments`).
        #[arg(long)]
        env: Option<String>,
        /// Print the diff of the values file instead; commit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Helm charts: `chart publish DIR` packages one into the chart repository.
    #[command(subcommand)]
    Chart(ChartCommand),
    /// Sealed secrets: `secret seal` encrypts values for the cluster and commits them.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// API tokens: `token create --email E [--admin]` prints a new one once; `token list`;
    /// `token revoke ID`. Only their SHA-256 is kept.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Workspaces (developers' boxes): `workspace create|list|show|delete`, through the
    /// orchestrator API with a token (--api), or directly on the cluster as an operator.
    ///
    /// Through the API (--api URL, or ORCHESTRATOR_API_URL): as the owner of a bearer token,
    /// given in ORCHESTRATOR_TOKEN or in a file (--token-file), never on the command line. You
    /// ask for, see and delete only your own workspaces, unless the token is an admin's (`list
    /// --all` then lists everyone's). Nothing local is read or written. An operator issues
    /// tokens with `orchestrator token create`.
    ///
    /// Directly on the cluster (without --api: KUBECONFIG, the in-cluster account or
    /// --kube-url): as an operator, with an admin's rights; requests are checked as the API
    /// checks them.
    ///
    /// Both modes print the same text, and the same JSON with --output json.
    #[command(
        after_help = "Examples, through the API (as the token's owner):\n  export ORCHESTRATOR_API_URL=https://orchestrator.example.com\n  export ORCHESTRATOR_TOKEN_FILE=~/.config/orchestrator/token\n  orchestrator workspace create --email alice@iiitm.ac.in --name devbox --cpu 2 --memory 4Gi \\\n      --ssh-key-file ~/.ssh/id_ed25519.pub\n  orchestrator workspace list\n  orchestrator workspace show alice-devbox-0a1b2c3d\n  orchestrator workspace list --all --token-file admin.token      # an admin's: everyone's\n\nExamples, directly on the cluster (as an operator):\n  orchestrator workspace list --email alice@iiitm.ac.in\n  orchestrator workspace --kube-url http://127.0.0.1:8001 delete alice-devbox-0a1b2c3d"
    )]
    Workspace(WorkspaceArgs),
    /// Print the `Workspace` CustomResourceDefinition as YAML (`orchestrator crd | kubectl apply -f -`).
    Crd,
    /// Run the workspace controller until interrupted: it makes each `Workspace` in
    /// `workspaces.namespace` into a PVC, a Deployment and a NodePort Service, records the port
    /// and phase in its status, and e-mails the owner once when it is ready.
    #[command(
        after_help = "Examples:\n  orchestrator controller                          # KUBECONFIG or in-cluster\n  orchestrator controller --kube-url http://127.0.0.1:8001   # through `kubectl proxy`"
    )]
    Controller {
        /// The Kubernetes API server to use instead of KUBECONFIG or the in-cluster account.
        #[arg(long, env = "ORCHESTRATOR_KUBE_URL", value_name = "URL")]
        kube_url: Option<String>,
    },
    /// List runs, newest first; `runs show ID` for one run's steps.
    Runs(RunsArgs),
    /// List provisioned services; `services show NAME` for one.
    Services(ServicesArgs),
    /// Make a monorepo project NAME, or (with no NAME) describe the project around the
    /// current directory.
    ///
    /// `init NAME` creates ./NAME (or --dir): README.md, the project file orchestrator.toml,
    /// infra/, CONTRIBUTING.md, an issue template, a CI workflow and .gitignore, and a git
    /// repository whose first commit holds exactly those files on `orchestrator/template`
    /// (the pristine render upgrades merge from), with `main` at it and checked out.
    ///
    /// A directory that is not empty is refused (exit 4) unless --force. With --force a file
    /// is never overwritten: files of the project that exist with other content are refused
    /// (exit 4), each named, and nothing is written; files with the same content stay. A
    /// directory that is a git repository already is refused either way.
    ///
    /// With no NAME, inside a project (the first directory from here up holding
    /// orchestrator.toml): its name, Go module, services, plugins, blueprint and version, and
    /// the saved context.
    #[command(
        after_help = "Examples:\n  orchestrator init shop\n  orchestrator init shop --dir ~/src/shop --go-module github.com/acme/shop\n  orchestrator init shop --dir . --force     # into a folder with a few files already\n  cd shop && orchestrator init               # describe the project\n  orchestrator init --output json"
    )]
    Init(InitArgs),
    /// The services you work on in this project: `context set SVC...`, `context show`,
    /// `context clear`. Saved for you alone in the working copy (.orchestrator/context,
    /// ignored by git); empty means every service.
    #[command(subcommand)]
    Context(ContextCommand),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The project: a-z, 0-9 and '-', at most 40 characters. Without it, describe the
    /// project around the current directory.
    name: Option<String>,
    /// Make the project here instead of ./NAME.
    #[arg(long, value_name = "PATH", requires = "name")]
    dir: Option<PathBuf>,
    /// The Go module prefix of the services (default example.com/NAME).
    #[arg(long, value_name = "MODULE", requires = "name")]
    go_module: Option<String>,
    /// Init into a directory that is not empty; existing files are never overwritten.
    #[arg(long, requires = "name")]
    force: bool,
}

#[derive(Debug, Subcommand)]
enum ContextCommand {
    /// Work on these services only; each must be a service of the project (exit 2 otherwise,
    /// naming those that exist).
    #[command(after_help = "Example:\n  orchestrator context set orders payments")]
    Set {
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// The saved context and the services commands act on.
    #[command(after_help = "Example:\n  orchestrator context show --output json")]
    Show,
    /// Forget the saved context: commands act on every service.
    #[command(after_help = "Example:\n  orchestrator context clear")]
    Clear,
}

#[derive(Debug, Args)]
struct CreateServiceArgs {
    /// The blueprint to render (see `orchestrator kinds`).
    #[arg(long)]
    kind: String,
    /// The service name: lowercase letters, digits and '-', starting with a letter, at most 53 characters.
    #[arg(long)]
    name: String,
    /// One line describing the service.
    #[arg(long, default_value = "")]
    description: String,
    /// The owning team.
    #[arg(long)]
    owner: Option<String>,
    /// Answer a blueprint parameter (repeatable): --set port=9090.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, String)>,
    /// Deploy to this environment (repeatable; among config.toml's `deploy.environments`,
    /// all of which are the default).
    #[arg(long = "env", value_name = "ENV")]
    environments: Vec<String>,
    /// Register with argo (an Argo CD Application per environment), flux (Flux
    /// Kustomizations with image automation) or both; default: config.toml's `deploy.gitops`.
    #[arg(long, value_name = "ENGINE", value_parser = ["argo", "flux", "both"])]
    gitops: Option<String>,
    /// Print the plan and the files per repository; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum ChartCommand {
    /// Package the chart in DIR (as `helm package`: `.helmignore` applied, a deterministic
    /// archive) and add it to `index.yaml` in the chart repository (`git.chart_repo`, default
    /// `ms-charts`), keeping older versions. Publishing the same chart again changes nothing;
    /// a published version whose files changed is refused: bump `version` in Chart.yaml.
    #[command(after_help = "Example:\n  orchestrator chart publish templates/charts/ms-base-chart")]
    Publish {
        /// The chart's directory (with Chart.yaml).
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct WorkspaceArgs {
    /// Work through the orchestrator API at URL (`https://orchestrator.example.com`) as the
    /// owner of the token in ORCHESTRATOR_TOKEN or --token-file.
    #[arg(
        long,
        global = true,
        env = "ORCHESTRATOR_API_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = remote::parse_api_url,
        conflicts_with = "kube_url"
    )]
    api: Option<reqwest::Url>,
    /// With --api: read the token from this file (surrounding whitespace is trimmed); it wins
    /// over ORCHESTRATOR_TOKEN.
    #[arg(long, global = true, env = "ORCHESTRATOR_TOKEN_FILE", hide_env_values = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Without --api: the Kubernetes API server instead of KUBECONFIG or the in-cluster account.
    #[arg(long, global = true, env = "ORCHESTRATOR_KUBE_URL", hide_env_values = true, value_name = "URL")]
    kube_url: Option<String>,
    #[command(subcommand)]
    command: WorkspaceCommand,
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Ask for a workspace for EMAIL, checked as the API checks it (allowlist, key, bounds,
    /// quota).
    #[command(
        after_help = "Example:\n  orchestrator workspace create --email alice@iiitm.ac.in --name devbox --cpu 2 --memory 4Gi --ssh-key-file ~/.ssh/id_ed25519.pub"
    )]
    Create(CreateWorkspaceArgs),
    /// List workspaces. Through the API: yours, or with --all everyone's when your token is
    /// an admin's. Directly on the cluster: everyone's, or those of --email.
    List {
        /// Everyone's. Through the API this needs an admin's token (any other token lists its
        /// owner's own); directly on the cluster it is what `list` shows anyway.
        #[arg(long)]
        all: bool,
        /// Directly on the cluster only: the workspaces of this owner.
        #[arg(long, conflicts_with = "all")]
        email: Option<String>,
    },
    /// Show one: phase, node port, access command.
    Show { name: String },
    /// Delete one and everything it owns.
    Delete { name: String },
}

#[derive(Debug, Args)]
struct CreateWorkspaceArgs {
    /// The owner's address (through the API, your own unless your token is an admin's).
    #[arg(long)]
    email: String,
    /// a-z, 0-9 and '-', at most 20 characters.
    #[arg(long)]
    name: String,
    /// `500m`, `2`.
    #[arg(long)]
    cpu: String,
    /// `4Gi`.
    #[arg(long)]
    memory: String,
    /// `20Gi`; default: workspaces.default_storage.
    #[arg(long)]
    storage: Option<String>,
    /// The public key file (`~/.ssh/id_ed25519.pub`).
    #[arg(long, value_name = "PATH")]
    ssh_key_file: PathBuf,
    #[arg(long)]
    image: Option<String>,
}

impl CreateWorkspaceArgs {
    /// The request, with the key read from its file.
    async fn input(self) -> Result<WorkspaceInput, CliFailure> {
        let key = tokio::fs::read_to_string(&self.ssh_key_file)
            .await
            .map_err(|source| Unreadable { path: self.ssh_key_file.clone(), source })?;
        Ok(WorkspaceInput {
            email: self.email,
            name: self.name,
            cpu: Some(AmountInput::Text(self.cpu)),
            memory: Some(AmountInput::Text(self.memory)),
            storage: self.storage.map(AmountInput::Text),
            ssh_public_key: key,
            image: self.image,
        })
    }
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token for EMAIL with a role and print it (once: only its hash is kept). Send it
    /// to its owner; they use it as `Authorization: Bearer <token>`.
    ///
    /// Roles: `reader` reads services, runs, kinds and metrics; `member` (the default) also
    /// creates services, sets image tags, retries runs and asks for workspaces of their own;
    /// `admin` also upgrades services and acts on everyone's workspaces. When
    /// `workspaces.allowed_email_domains` is set, tokens are issued only to addresses there; an
    /// admin's token may go to another address with --outside-allowlist.
    #[command(
        after_help = "Examples:\n  orchestrator token create --email alice@iiitm.ac.in\n  orchestrator token create --email dash@iiitm.ac.in --role reader\n  orchestrator token create --email ops@iiitm.ac.in --role admin\n  orchestrator token create --email oncall@vendor.example --role admin --outside-allowlist"
    )]
    Create {
        #[arg(long)]
        email: String,
        /// reader, member or admin.
        #[arg(long, default_value = "member", value_parser = parse_role, conflicts_with = "admin")]
        role: Role,
        /// The same as --role admin.
        #[arg(long)]
        admin: bool,
        /// Issue an admin's token to an address outside the allowed domains (admins only).
        #[arg(long)]
        outside_allowlist: bool,
    },
    /// List tokens: id, owner, role, where it is configured, whether it was used or revoked,
    /// never their secrets.
    List {
        #[arg(long)]
        email: Option<String>,
    },
    /// Revoke a token by its id (or by its whole text, when it leaked).
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Encrypt values with the cluster's sealed-secrets certificate and commit them into the
    /// service's infra repository (`sealedSecrets` in values-<env>.yaml), from which the base
    /// chart renders the SealedSecret and hands the pods the Secret as environment.
    ///
    /// Only the sealed-secrets controller in the cluster can unseal them. The default scope,
    /// strict, binds every value to the Secret's name and namespace (`<service>-<env>`); keys
    /// sealed before stay unless sealed again. The certificate comes from config.toml
    /// (`[sealed_secrets] certificate`, per environment under `[sealed_secrets.certificates]`)
    /// or --cert: a PEM file or an http(s) URL (`kubeseal --fetch-cert` prints it).
    ///
    /// Values given as KEY=VALUE end up in shell history and the process list; prefer
    /// --from-file KEY=PATH or --from-env-file - (KEY=VALUE lines on stdin).
    #[command(
        after_help = "Examples:\n  orchestrator secret seal --service payments --env qa --from-env-file - < qa.env\n  orchestrator secret seal --service payments --env prod --from-file TLS_KEY=tls.key --name payments-tls\n  orchestrator secret seal --service payments --env qa --cert cert.pem --dry-run DB_USER=app"
    )]
    Seal(SealArgs),
}

#[derive(Debug, Args)]
struct SealArgs {
    /// The service whose infra repository gets the sealed values.
    #[arg(long)]
    service: String,
    /// The environment (the values file values-<ENV>.yaml, the namespace <service>-<ENV>).
    #[arg(long, value_name = "ENV")]
    env: String,
    /// The Secret's name (default: the service's name): a-z, 0-9 and '-', at most 56 characters.
    #[arg(long)]
    name: Option<String>,
    /// Where the values may be unsealed: only as this Secret in this namespace (strict), as
    /// any Secret in the namespace, or anywhere in the cluster.
    #[arg(long, value_parser = ["strict", "namespace-wide", "cluster-wide"], default_value = "strict")]
    scope: String,
    /// The certificate to seal with instead of the configured one: a PEM file or an http(s) URL.
    #[arg(long, value_name = "PATH|URL")]
    cert: Option<String>,
    /// A value read from a file, as is (repeatable); PATH `-` reads stdin.
    #[arg(long = "from-file", value_name = "KEY=PATH", value_parser = parse_key_value)]
    from_file: Vec<(String, String)>,
    /// KEY=VALUE lines from a file (repeatable); `#` starts a comment line; `-` reads stdin.
    #[arg(long = "from-env-file", value_name = "PATH")]
    from_env_file: Vec<PathBuf>,
    /// Seal and print the SealedSecret; commit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Values to seal.
    #[arg(value_name = "KEY=VALUE", value_parser = parse_key_value)]
    values: Vec<(String, String)>,
}

#[derive(Debug, Args)]
struct UpgradeArgs {
    /// The service to upgrade.
    #[arg(required_unless_present_any = ["all", "check"], conflicts_with = "all")]
    service: Option<String>,
    /// Upgrade every service in the inventory.
    #[arg(long)]
    all: bool,
    /// Show, per repository, what would change and what would conflict; write nothing.
    #[arg(long, conflicts_with = "check")]
    dry_run: bool,
    /// Write nothing; exit 0 when every repository (of SERVICE, or of all services) is
    /// current, 1 otherwise.
    #[arg(long)]
    check: bool,
    /// Override an answer (repeatable), recorded for later upgrades: --set port=9090.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, String)>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Show a run: its state, its steps with their attempts, results and errors.
    Show { id: String },
    /// Resume a failed run from its failed step.
    Retry { id: String },
    /// Undo a create-service run: unregister the service, delete its repositories, forget it
    ///
    /// The service's own files leave the GitOps repository by a new commit on top of its history
    /// (never rewritten; the files every service shares stay), the repositories the run made are
    /// deleted, and the inventory forgets the service, so its name is free again.
    ///
    /// Refused, naming the commits, when someone committed to a repository the run made since
    /// (`--force` deletes that work too). The undo is a run of its own: interrupted, it resumes;
    /// `runs show` and `runs retry` take its id. Undoing a run twice answers the first undo.
    #[command(
        after_help = "Examples:\n  orchestrator runs undo 01890a5d-ac96-774b-bcce-b302099a8057 --dry-run\n  orchestrator runs undo 01890a5d-ac96-774b-bcce-b302099a8057\n  orchestrator runs undo 01890a5d-ac96-774b-bcce-b302099a8057 --force"
    )]
    Undo {
        /// The create-service run (`orchestrator runs` lists them).
        id: String,
        /// Delete the run's repositories even though someone committed to them since.
        #[arg(long)]
        force: bool,
        /// Say what the undo would do; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
struct ServicesArgs {
    #[command(subcommand)]
    command: Option<ServicesCommand>,
}

#[derive(Debug, Subcommand)]
enum ServicesCommand {
    /// Show one service with its repositories.
    Show { name: String },
}

/// A role by its name, for `--role`.
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.problems().iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "))
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// What `secret seal` was asked to seal, with the values read from their files and stdin.
fn seal_input(args: SealArgs) -> Result<SealInput, CliFailure> {
    use std::io::Read as _;
    let mut stdin_used = false;
    let mut read = |path: &Path| -> Result<Vec<u8>, CliFailure> {
        if path == Path::new("-") {
            if stdin_used {
                return Err(failure::usage("stdin (`-`) can be read only once"));
            }
            stdin_used = true;
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|source| Unreadable { path: "stdin".into(), source })?;
            return Ok(bytes);
        }
        Ok(std::fs::read(path).map_err(|source| Unreadable { path: path.to_owned(), source })?)
    };
    let mut values = Vec::new();
    for (key, value) in args.values {
        values.push((key, SecretValue::new(value.into_bytes())));
    }
    for (key, path) in &args.from_file {
        values.push((key.clone(), SecretValue::new(read(Path::new(path))?)));
    }
    for path in &args.from_env_file {
        let text = SecretValue::new(read(path)?);
        let text = std::str::from_utf8(text.expose())
            .map_err(|_| failure::usage(format!("{} is not UTF-8 text", path.display())))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                failure::usage(format!(
                    "{} line {}: expected KEY=VALUE (the value is not shown)",
                    path.display(),
                    i + 1
                ))
            })?;
            values.push((key.trim_end().to_owned(), SecretValue::new(value.as_bytes().to_vec())));
        }
    }
    let certificate = match args.cert {
        Some(cert) => {
            let cwd = std::env::current_dir()
                .map_err(|e| failure::internal(format!("cannot read the current directory: {e}")))?;
            Some(CertificateSource::parse(&cert, &cwd).map_err(|e| failure::usage(format!("--cert: {e}")))?)
        }
        None => None,
    };
    Ok(SealInput {
        service: args.service,
        env: args.env,
        name: args.name,
        scope: Some(args.scope),
        values,
        certificate,
        dry_run: args.dry_run,
    })
}

/// `--set` answers as given: raw text, which the blueprint converts by each parameter's
/// declared type (as it does for the API's JSON).
fn answers(set: &[(String, String)]) -> std::collections::BTreeMap<String, serde_json::Value> {
    set.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let printer = Printer::new(cli.global.output == Output::Json, cli.global.quiet);
    let command = match cli.command {
        // Through the API nothing local is read: no config.toml, no data directory.
        Command::Workspace(WorkspaceArgs { api: Some(api), token_file, command, .. }) => {
            return workspace_through_api(api, token_file.as_deref(), command, &printer);
        }
        command => command,
    };
    // Files are read here, before the async runtime exists: no blocking I/O on its threads.
    let config = match Config::load(&cli.global.home, &cli.global.blueprints, &|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => return printer.error(&e.into()),
    };
    // The monorepo commands work on the project around the current directory; they need no
    // store, so they run without the async runtime.
    if let Command::Init(_) | Command::Context(_) = &command {
        return match monorepo(command, &config, &printer) {
            Ok(code) => code,
            Err(e) => printer.error(&e),
        };
    }
    if let Command::Kinds { check: Some(dir) } = &command {
        let diagnostics = provision_template::check_dir(dir);
        printer.diagnostics(dir, &diagnostics);
        return if diagnostics.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    block_on(&printer, run(command, config, &printer))
}

/// `init` and `context`, on the project around the current directory.
fn monorepo(command: Command, config: &Config, printer: &Printer) -> Result<ExitCode, CliFailure> {
    let cwd =
        std::env::current_dir().map_err(|e| failure::internal(format!("cannot read the current directory: {e}")))?;
    let monorepo = Runtime::monorepo(config);
    match command {
        Command::Init(InitArgs { name: Some(name), dir, go_module, force }) => {
            printer.init_report(&monorepo.init(&cwd, &name, dir.as_deref(), go_module.as_deref(), force)?)
        }
        Command::Init(InitArgs { name: None, .. }) => printer.project(&monorepo.describe(&cwd)?),
        Command::Context(ContextCommand::Set { services }) => printer.context(&monorepo.set_context(&cwd, &services)?),
        Command::Context(ContextCommand::Show) => printer.context(&monorepo.context(&cwd)?),
        Command::Context(ContextCommand::Clear) => printer.context(&monorepo.clear_context(&cwd)?),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `work` to its end on an async runtime made for it; an error is reported.
///
/// `work` itself runs on this thread; blocking work goes to tokio's blocking pool. One worker
/// serves the few tasks spawned (the controller's signal watch, the HTTP clients'
/// connections): a command waits on files and the network, and every thread started costs a
/// process that lives milliseconds a noticeable share of its life. Multi-thread all the same,
/// so that the store runs statements in place ([`tokio::task::block_in_place`]).
fn block_on(printer: &Printer, work: impl Future<Output = Result<ExitCode, CliFailure>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return printer.error(&failure::internal(format!("cannot start the async runtime: {e}"))),
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(e) => printer.error(&e),
    }
}

/// `workspace --api`: the command as a call to the orchestrator API, printed as direct mode
/// prints it.
fn workspace_through_api(
    api: reqwest::Url,
    token_file: Option<&Path>,
    command: WorkspaceCommand,
    printer: &Printer,
) -> ExitCode {
    // Not a clap conflict: clap does not see a global --api given before `list`.
    if let WorkspaceCommand::List { email: Some(_), .. } = command {
        return printer.error(&remote::Error::EmailFilter.into());
    }
    // Read before the runtime exists, as every file is.
    let token = match remote::Token::load(std::env::var_os(remote::TOKEN_ENV), token_file) {
        Ok(token) => token,
        Err(e) => return printer.error(&e.into()),
    };
    block_on(printer, async move {
        let client = remote::Client::new(api, &token)?;
        match command {
            WorkspaceCommand::Create(args) => printer.workspace(&client.create(&args.input().await?).await?),
            WorkspaceCommand::List { all, email: _ } => printer.workspaces(&client.list(all).await?),
            WorkspaceCommand::Show { name } => printer.workspace(&client.show(&name).await?),
            WorkspaceCommand::Delete { name } => printer.workspace(&client.delete(&name).await?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn init_logging(global: &Global) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCHESTRATOR_LOG").unwrap_or_else(|_| level.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

/// The cluster a command needs, and how to reach it.
fn cluster_of(command: &Command) -> (ClusterUse, Option<String>) {
    match command {
        Command::Workspace(args) => (ClusterUse::Required, args.kube_url.clone()),
        Command::Controller { kube_url } => (ClusterUse::Required, kube_url.clone()),
        _ => (ClusterUse::Never, None),
    }
}

async fn run(command: Command, config: Config, printer: &Printer) -> Result<ExitCode, CliFailure> {
    // Listing kinds and dry runs only plan: they open no store and write nothing.
    match &command {
        Command::Kinds { .. } => {
            printer.kinds(&Runtime::planner(&config).kinds().await?);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Crd => {
            output::out(&orchestrator_app::workspaces::crd_yaml());
            return Ok(ExitCode::SUCCESS);
        }
        Command::CreateService(args) if args.dry_run => {
            let report = Runtime::planner(&config).dry_run(&create_input(args)).await?;
            printer.service_report(&report);
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let (cluster, kube_url) = cluster_of(&command);
    // A command ends with its process: a run that fails for a transient reason stays failed
    // (`runs retry` resumes it) rather than waiting for a retry nobody would make.
    let start = Start { cluster, kube_url, fault: orchestrator_app::fault::from_env(), retry_in_background: false };
    let runtime = Runtime::start(config, start).await?;
    let result = execute(&runtime, command, printer).await;
    // The process ends now, so the runtime is not torn down: closing the database would
    // checkpoint its log into the file with an fsync, on every command. Every transaction is
    // committed to the log already, and the next process reads it (`wal_autocheckpoint`
    // keeps it short); the API server, which lives long, closes properly.
    std::mem::forget(runtime);
    result
}

fn create_input(args: &CreateServiceArgs) -> CreateServiceInput {
    CreateServiceInput {
        kind: args.kind.clone(),
        name: args.name.clone(),
        description: args.description.clone(),
        owner: args.owner.clone(),
        parameters: answers(&args.set),
        environments: args.environments.clone(),
        gitops: args.gitops.clone(),
    }
}

async fn execute(runtime: &Runtime, command: Command, printer: &Printer) -> Result<ExitCode, CliFailure> {
    match command {
        Command::CreateService(args) => {
            let options = CreateOptions { dry_run: args.dry_run, idempotency_key: None };
            let report = runtime.provisioning.create_service(&create_input(&args), &options).await?;
            printer.service_report(&report);
            report.outcome()?;
        }
        // Answered before the runtime starts.
        Command::Kinds { .. } | Command::Crd | Command::Init(_) | Command::Context(_) => {}
        Command::Token(TokenCommand::Create { email, role, admin, outside_allowlist }) => {
            let role = if admin { Role::Admin } else { role };
            let (token, record) = runtime.auth.issue_token(&email, role, outside_allowlist).await?;
            printer.token_issued(token.expose(), &record);
        }
        Command::Token(TokenCommand::List { email }) => printer.tokens(&runtime.auth.tokens(email.as_deref()).await?),
        Command::Token(TokenCommand::Revoke { id }) => printer.revoked(runtime.auth.revoke_token(&id).await?),
        Command::Workspace(args) => {
            let workspaces = runtime.workspaces()?;
            let operator = |email: Option<&str>| -> Result<Caller, CliFailure> {
                let email = email.unwrap_or(OPERATOR);
                let email = provision_core::EmailAddress::parse(email).map_err(|e| e.within("email"))?;
                Ok(Caller { email, role: Role::Admin })
            };
            match args.command {
                WorkspaceCommand::Create(args) => {
                    let input = args.input().await?;
                    let created = workspaces.create_workspace(&operator(Some(&input.email))?, &input).await?;
                    printer.workspace(&created.into());
                }
                // Everyone's unless --email names one owner; --all (which excludes --email)
                // says it explicitly.
                WorkspaceCommand::List { all: _, email } => {
                    let caller = operator(email.as_deref())?;
                    let all = workspaces.workspaces(&caller, email.is_none()).await?;
                    printer.workspaces(&all.into_iter().map(Into::into).collect::<Vec<_>>());
                }
                WorkspaceCommand::Show { name } => {
                    let name = workspace_name(&name)?;
                    printer.workspace(&workspaces.workspace(&operator(None)?, &name).await?.into())
                }
                WorkspaceCommand::Delete { name } => {
                    let name = workspace_name(&name)?;
                    printer.workspace(&workspaces.delete_workspace(&operator(None)?, &name).await?.into())
                }
            }
        }
        Command::Controller { .. } => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(());
            });
            tracing::info!("workspace controller started");
            runtime
                .run_controller(async move {
                    let _ = stopped.await;
                })
                .await?;
        }
        Command::Chart(ChartCommand::Publish { dir }) => {
            printer.chart_report(&runtime.edits.publish_chart(&dir).await?)
        }
        Command::BumpImage { service, tag, env, dry_run } => {
            printer.image_report(&runtime.edits.bump_image(&service, &tag, env.as_deref(), dry_run).await?)
        }
        Command::Secret(SecretCommand::Seal(args)) => {
            // Reading files and stdin blocks: not on the runtime's threads.
            let input = tokio::task::spawn_blocking(move || seal_input(args))
                .await
                .map_err(|e| failure::internal(format!("reading the values stopped: {e}")))??;
            printer.secret_report(&runtime.edits.seal_secret(input).await?);
        }
        Command::Upgrade(args) => {
            let target = match args.service {
                Some(name) => UpgradeTarget::Service(name),
                None => UpgradeTarget::All,
            };
            let mode = match (args.check, args.dry_run) {
                (true, _) => UpgradeMode::Check,
                (false, true) => UpgradeMode::DryRun,
                (false, false) => UpgradeMode::Upgrade,
            };
            let report = runtime.upgrades.upgrade(&target, &UpgradeOptions { mode, set: answers(&args.set) }).await?;
            printer.upgrade_report(&report);
            let ok = match mode {
                UpgradeMode::Check => report.current(),
                UpgradeMode::DryRun => report.services.iter().all(|s| s.error.is_none()),
                UpgradeMode::Upgrade => report.clean(),
            };
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Runs(args) => match args.command {
            None => printer.runs(&runtime.provisioning.runs(args.limit).await?),
            Some(RunsCommand::Show { id }) => printer.run(&runtime.provisioning.run(&id).await?),
            Some(RunsCommand::Retry { id }) => {
                let view = runtime.provisioning.retry_run(&id).await?;
                printer.run(&view);
                if view.run.state != provision_core::ports::RunState::Succeeded {
                    return Ok(ExitCode::FAILURE);
                }
            }
            Some(RunsCommand::Undo { id, force, dry_run }) => {
                let report = runtime.provisioning.undo(&id, force, dry_run).await?;
                printer.undo_report(&report);
                if report.run.as_ref().is_some_and(|r| r.run.state != provision_core::ports::RunState::Succeeded) {
                    return Ok(ExitCode::FAILURE);
                }
            }
        },
        Command::Services(args) => match args.command {
            None => printer.services(&runtime.provisioning.services().await?),
            Some(ServicesCommand::Show { name }) => printer.service(&runtime.provisioning.service(&name).await?),
        },
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn set_values_go_to_the_blueprint_as_given() {
        let set = [("port".to_owned(), "8080".to_owned()), ("flag".to_owned(), "true".to_owned())];
        let answers = answers(&set);
        assert_eq!((&answers["port"], &answers["flag"]), (&serde_json::json!("8080"), &serde_json::json!("true")));
        assert!(parse_key_value("novalue").is_err());
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    }
}

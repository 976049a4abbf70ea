//! The global options, and the client they make: Vertex AI with Application Default
//! Credentials, a custom endpoint, or an emulator embedded for the command's lifetime; and the
//! commands that have no use for them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::{Audience, JobClient, WaitOptions};

use crate::read;

/// Where and as whom every command runs.
#[derive(clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Globals {
    /// The Google Cloud project.
    #[arg(long, global = true, env = "GOOGLE_CLOUD_PROJECT")]
    pub project: Option<String>,
    /// The location: a region such as us-central1, `global`, or a multi-region `us` / `eu`.
    #[arg(
        long,
        global = true,
        env = "GOOGLE_CLOUD_LOCATION",
        default_value = "us-central1"
    )]
    pub location: String,
    /// A custom endpoint URL (Private Service Connect, a proxy, an emulator) instead of the
    /// location's own, e.g. https://10.0.0.5:443.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// A PEM file of the CA to trust for a custom endpoint.
    #[arg(long, global = true, value_name = "FILE", requires = "endpoint")]
    pub ca_cert: Option<PathBuf>,
    /// A service-account key file; default: Application Default Credentials.
    #[arg(long, global = true, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The project billed for quota (x-goog-user-project).
    #[arg(long, global = true, env = "GOOGLE_CLOUD_QUOTA_PROJECT")]
    pub quota_project: Option<String>,
    /// Run against an emulator embedded for this command's lifetime (TLS, service-account
    /// token flow); nothing reaches Google.
    #[arg(long, global = true, conflicts_with_all = ["endpoint", "credentials"])]
    pub emulator: bool,
    /// Log what happens on stderr: -v for this tool, -vv for everything (or set RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Global options a command has no use for, given on the command line anyway: refused rather
/// than ignored, as `results --project p` would let one think a project mattered. (From the
/// environment they are fine: `GOOGLE_CLOUD_PROJECT` is set for every command.)
pub fn refuse_unused(matches: &ArgMatches) -> Result<(), String> {
    const CONNECTION: [&str; 6] = [
        "project",
        "endpoint",
        "ca_cert",
        "credentials",
        "quota_project",
        "emulator",
    ];
    let Some((command, sub)) = matches.subcommand() else {
        return Ok(());
    };
    let (ignored, why): (&[&str], &str) = match command {
        // A local path is read as it is; a gs:// directory or a job goes through the service.
        "results"
            if sub
                .get_one::<PathBuf>("path")
                .is_some_and(|path| crate::results::reads_local(path)) =>
        {
            (&["location"], "reads local files and calls no service")
        }
        "emulator" => (&[], "is a service, not a client of one"),
        _ => return Ok(()),
    };
    let given = |id: &str| {
        [matches, sub]
            .iter()
            .any(|m| m.value_source(id) == Some(ValueSource::CommandLine))
    };
    match CONNECTION.iter().chain(ignored).find(|id| given(id)) {
        Some(id) => Err(format!(
            "--{} has no effect on `{command}`, which {why}: leave it out",
            id.replace('_', "-")
        )),
        None => Ok(()),
    }
}

/// A connected client, and the embedded emulator it talks to when there is one (kept alive
/// as long as the client is needed).
pub struct Connected {
    pub client: JobClient,
    pub emulator: Option<Emulator>,
}

impl Globals {
    /// Connects as the options say.
    pub async fn connect(&self) -> anyhow::Result<Connected> {
        if self.emulator {
            return self.connect_to_embedded_emulator().await;
        }
        let project = self.project.as_deref().context(
            "no project: pass --project PROJECT or set GOOGLE_CLOUD_PROJECT \
             (or pass --emulator to try it offline)",
        )?;
        let mut builder = JobClient::builder()
            .with_audience(Audience::CommandLine)
            .with_project(project)
            .with_location(&self.location);
        if let Some(url) = &self.endpoint {
            let mut endpoint = Endpoint::custom(url)?;
            if let Some(path) = &self.ca_cert {
                let pem = read::whole("--ca-cert", path, false, read::MAX_CA_CERT_BYTES)?;
                endpoint = endpoint.with_ca_pem(pem);
            }
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(path) = &self.credentials {
            // Read here so that a missing file is an error naming the option.
            std::fs::metadata(path)
                .with_context(|| format!("--credentials {}: could not read it", path.display()))?;
            builder = builder.with_credentials(Credentials::service_account_file(path));
        }
        if let Some(project) = &self.quota_project {
            builder = builder.with_quota_project(project);
        }
        Ok(Connected {
            client: builder.connect().await?,
            emulator: None,
        })
    }

    /// The same path as Vertex AI: TLS with the emulator's CA, a service-account key whose
    /// token endpoint is the emulator's. Jobs pend 1 s and run 2 s.
    async fn connect_to_embedded_emulator(&self) -> anyhow::Result<Connected> {
        let emulator = Emulator::builder()
            .with_location(&self.location)
            .with_tls(true)
            .with_require_auth(true)
            .with_durations(Duration::from_secs(1), Duration::from_secs(2))
            .start()
            .await?;
        tracing::info!(uri = %emulator.uri(), "embedded emulator started");
        let client = JobClient::builder()
            .with_audience(Audience::CommandLine)
            .with_project(self.project.as_deref().unwrap_or("my-project"))
            .with_location(&self.location)
            .with_endpoint(emulator.endpoint()?)
            .with_credentials(emulator.credentials())
            .with_wait_options(
                WaitOptions::default()
                    .with_initial_interval(Duration::from_millis(250))
                    .with_max_interval(Duration::from_secs(1)),
            )
            .connect()
            .await?;
        Ok(Connected {
            client,
            emulator: Some(emulator),
        })
    }
}

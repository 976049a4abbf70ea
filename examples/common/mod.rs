//! What every example shares: where it runs. `--emulator` starts the embedded emulator and
//! connects to it the way a backend connects to Vertex AI (TLS, a service-account key whose
//! token endpoint is the emulator's, the JWT-bearer token flow); otherwise the example uses
//! Application Default Credentials against the location's regional endpoint.
#![allow(dead_code)] // each example uses its own subset

use std::time::Duration;

use anyhow::Context;
use vertex_batch::auth::Credentials;
use vertex_batch::emulator::Emulator;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{JobClient, LocationName, WaitOptions};

/// The options every example takes.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Run against an embedded emulator (TLS, service-account token flow): no Google account
    /// needed, jobs end in seconds.
    #[arg(long)]
    pub emulator: bool,
    /// The Google Cloud project.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub project: Option<String>,
    /// The location, e.g. `us-central1`.
    #[arg(long, env = "GOOGLE_CLOUD_LOCATION", default_value = "us-central1")]
    pub location: String,
}

/// Where an example runs: an endpoint, a credential, and the emulator when there is one (it
/// stops when the session is dropped).
pub struct Session {
    pub parent: LocationName,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    pub wait: WaitOptions,
    pub emulator: Option<Emulator>,
}

impl Target {
    /// Starts the emulator if asked, and says where the example runs.
    pub async fn start(&self) -> anyhow::Result<Session> {
        if !self.emulator {
            let project = self.project.clone().context(
                "no project: pass --project PROJECT or set GOOGLE_CLOUD_PROJECT \
                 (or pass --emulator to run offline)",
            )?;
            return Ok(Session {
                parent: LocationName::new(project, &self.location)?,
                endpoint: Endpoint::for_location(&self.location)?,
                credentials: Credentials::application_default(),
                wait: WaitOptions::default(),
                emulator: None,
            });
        }
        // Real time, short phases: the job is pending 1 s, then runs 2 s.
        let builder = Emulator::builder()
            .with_location(&self.location)
            .with_tls(true)
            .with_require_auth(true)
            .with_durations(Duration::from_secs(1), Duration::from_secs(2));
        // With BIGQUERY_EMULATOR_HOST set (a BigQuery emulator such as bqemulator), BigQuery
        // jobs read their input table and write their output table there.
        #[cfg(feature = "bigquery")]
        let builder = match std::env::var("BIGQUERY_EMULATOR_HOST") {
            Ok(host) if !host.trim().is_empty() => builder.with_bigquery_endpoint(host),
            _ => builder,
        };
        let emulator = builder.start().await?;
        let project = self.project.as_deref().unwrap_or("my-project");
        println!("Started the emulator at {}", emulator.uri());
        Ok(Session {
            parent: LocationName::new(project, &self.location)?,
            endpoint: emulator.endpoint()?,
            credentials: emulator.credentials(),
            // Jobs last seconds here: poll often.
            wait: WaitOptions::default()
                .with_initial_interval(Duration::from_millis(250))
                .with_max_interval(Duration::from_secs(1)),
            emulator: Some(emulator),
        })
    }
}

impl Session {
    /// A [`JobClient`] for this session's project and location.
    pub async fn client(&self) -> anyhow::Result<JobClient> {
        Ok(JobClient::builder()
            .with_project(self.parent.project())
            .with_location(self.parent.location())
            .with_endpoint(self.endpoint.clone())
            .with_credentials(self.credentials.clone())
            .with_wait_options(self.wait.clone())
            .connect()
            .await?)
    }
}

/// Prints the job's name, follows it until it ends printing each change of state, then says how
/// it ended and where the output is: what the documented samples print.
pub async fn follow(client: &JobClient, job: BatchPredictionJob) -> anyhow::Result<()> {
    println!("Job resource name: {}", job.name);
    println!("Model resource name with the job: {}", job.model);
    println!("Job state: {}", job.state().short_name());

    // Polls at a growing interval, and reports each change of state.
    let mut last = job.state();
    let job = client
        .wait_with(&job.name, client.wait_options(), |job| {
            if job.state() != last {
                last = job.state();
                println!("Job state: {} ({})", last.short_name(), job.progress());
            }
        })
        .await?;

    if job.has_succeeded() {
        println!("Job succeeded!");
    } else {
        let why = job.job_error().map(|e| e.message.as_str()).unwrap_or("");
        println!("Job ended {}: {why}", job.state().short_name());
    }
    match job.output_location() {
        Some(location) => println!("Job output location: {location}"),
        None => println!("Job output location: none reported"),
    }
    Ok(())
}

/// The job an example acts on: the one given (an id or a full name), or with `--emulator` a job
/// it submits first, so the example has something to work on.
pub async fn given_or_submitted(
    client: &JobClient,
    session: &Session,
    job: Option<String>,
    display_name: &str,
) -> anyhow::Result<String> {
    match (job, &session.emulator) {
        (Some(job), _) => Ok(client.job_name(&job)?.to_string()),
        (None, Some(_)) => {
            let job = client
                .create(
                    vertex_batch::v1::BatchPredictionJob::builder("gemini-2.0-flash-001")
                        .with_display_name(display_name)
                        .with_input(
                            "gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
                        )
                        .with_output("gs://my-bucket/batch-output"),
                )
                .await?;
            println!("Submitted {} ({})", job.name, job.state().short_name());
            Ok(job.name)
        }
        (None, None) => anyhow::bail!("pass the job: its id or full resource name"),
    }
}

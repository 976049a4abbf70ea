//! [`JobClient`]: the batch-prediction client a Rust backend links. Where each thing is:
//!
//! | file | what |
//! |------|------|
//! | `mod.rs` (here) | [`JobClient`], its accessors, and [`JobClientBuilder`] |
//! | `get_cancel_delete.rs` | [`JobClient::get`], [`JobClient::cancel`], [`JobClient::delete`] |
//! | `create.rs` | [`JobClient::create`], [`JobClient::create_job`]: exactly once, by request-id lookup |
//! | `list.rs` | [`JobClient::list_page`], [`JobClient::list`], [`JobPage`] |
//! | `filter.rs` | [`JobFilter`] |
//! | `wait.rs` | [`JobClient::wait`], [`JobClient::wait_with`], [`JobClient::watch`] |
//! | `call.rs` | the one retry loop every RPC goes through, and what each may resend |
//! | `retry.rs` | [`RetryPolicy`]: attempts, budget, backoff, which failures are retried |
//! | `growth.rs` | the rule for delays that grow (backoff, polling interval): multiplier at least 1, capped |
//! | `poll.rs` | the one polling loop (wait, watch, the delete operation), its rule for errors, [`WaitOptions`] |
//!
//! A new RPC is a method in the file of its group (or a new file) that builds its request and
//! hands it to `call` with an `Rpc` saying its method name, routing and what may be resent.

mod call;
mod create;
mod filter;
mod get_cancel_delete;
mod growth;
mod list;
pub(crate) mod poll;
mod retry;
mod wait;

use std::sync::Arc;

use crate::Audience;
use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::env::Setting;
use crate::error::Result;
use crate::names::{BatchPredictionJobName, LocationName};
use crate::proto::google::longrunning::operations_client::OperationsClient;
use crate::transport::AuthChannel;
use crate::v1::job_service_client::JobServiceClient;

pub use filter::JobFilter;
pub use list::JobPage;
pub use poll::WaitOptions;
pub use retry::RetryPolicy;

/// A client for Vertex AI batch prediction jobs in one project and location.
///
/// Cheap to clone: clones share one connection and one token cache. Every call is
/// authenticated, carries Google's routing and client headers, and is retried per the client's
/// [`RetryPolicy`] (see [`JobClient::with_retry_policy`] to change it for some calls).
///
/// ```no_run
/// use vertex_batch::{GenerationConfig, JobClient, v1::BatchPredictionJob};
///
/// # async fn run() -> vertex_batch::Result<()> {
/// let client = JobClient::builder()
///     .with_project("my-project")
///     .with_location("us-central1")
///     .connect()
///     .await?;
/// let job = client
///     .create(
///         BatchPredictionJob::builder("gemini-2.0-flash-001")
///             .with_input("gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl")
///             .with_output("gs://my-bucket/batch-output")
///             .with_generation_config(
///                 GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200),
///             ),
///     )
///     .await?;
/// let job = client.wait(&job.name).await?;
/// println!("{:?}: {:?}", job.state(), job.output_location());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct JobClient {
    channel: AuthChannel,
    shared: Arc<Shared>,
    retry: RetryPolicy,
}

/// What clones of a client share.
struct Shared {
    location: LocationName,
    wait: WaitOptions,
}

impl std::fmt::Debug for JobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobClient")
            .field("location", &self.shared.location.to_string())
            .field("endpoint", &self.channel.endpoint().uri())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl JobClient {
    /// A builder: project, location or endpoint, credentials, quota project, retries, waiting.
    pub fn builder() -> JobClientBuilder {
        JobClientBuilder::default()
    }

    /// The generated `JobServiceClient` on this client's authenticated channel, for any
    /// JobService RPC (custom jobs, tuning jobs, ...). Add the routing header with
    /// [`crate::routing`].
    pub fn raw(&self) -> JobServiceClient<AuthChannel> {
        JobServiceClient::new(self.channel.clone())
    }

    /// The authenticated channel, for any other generated client.
    pub fn channel(&self) -> &AuthChannel {
        &self.channel
    }

    /// The generated `google.longrunning` Operations client on the same channel.
    pub fn operations(&self) -> OperationsClient<AuthChannel> {
        OperationsClient::new(self.channel.clone())
    }

    /// The project and location this client works in.
    pub fn location(&self) -> &LocationName {
        &self.shared.location
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        self.channel.endpoint()
    }

    /// The client's retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The client's default wait options.
    pub fn wait_options(&self) -> &WaitOptions {
        &self.shared.wait
    }

    /// A clone of this client whose calls use `policy` (same connection and token cache): the
    /// way to change retries for some calls.
    ///
    /// ```no_run
    /// # async fn run(client: vertex_batch::JobClient) -> vertex_batch::Result<()> {
    /// use vertex_batch::RetryPolicy;
    /// let job = client.with_retry_policy(RetryPolicy::none()).get("1234567890").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> JobClient {
        JobClient {
            retry: policy,
            ..self.clone()
        }
    }

    /// The full name of a job of this client's location, from a bare id or a full name.
    pub fn job_name(&self, id_or_name: &str) -> Result<BatchPredictionJobName> {
        self.shared.location.job(id_or_name)
    }
}

/// Builds a [`JobClient`]. Everything has a default: the project, location and quota project
/// come from `GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION` and `GOOGLE_CLOUD_QUOTA_PROJECT`
/// when not given (the rule of [`env`](mod@crate::env): blank is unset, the location defaults to
/// `us-central1`), the credentials are Application Default Credentials.
///
/// ```no_run
/// use std::time::Duration;
/// use vertex_batch::auth::Credentials;
/// use vertex_batch::{JobClient, RetryPolicy, WaitOptions};
///
/// # async fn run() -> vertex_batch::Result<()> {
/// let client = JobClient::builder()
///     .with_project("my-project")
///     .with_location("europe-west4")
///     .with_credentials(Credentials::service_account_file("/secrets/key.json"))
///     .with_quota_project("billing-project")
///     .with_retry_policy(RetryPolicy::default().with_budget(Duration::from_secs(30)))
///     .with_wait_options(WaitOptions::default().with_max_interval(Duration::from_secs(10)))
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until connect()"]
pub struct JobClientBuilder {
    project: Option<String>,
    location: Option<String>,
    endpoint: Option<Endpoint>,
    credentials: Option<Credentials>,
    quota_project: Option<String>,
    retry: Option<RetryPolicy>,
    wait: Option<WaitOptions>,
    audience: Audience,
}

impl JobClientBuilder {
    /// The Google Cloud project (id or number). Default: `GOOGLE_CLOUD_PROJECT`; with neither,
    /// [`connect`](Self::connect) fails saying so.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The location: a region such as `us-central1`, `global`, or a multi-region `us` / `eu`.
    /// Default: `GOOGLE_CLOUD_LOCATION`, else `us-central1`. Unless an endpoint is given, it
    /// also picks the endpoint.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// The endpoint to talk to, when it is not the location's own (Private Service Connect, a
    /// proxy, the emulator).
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Where tokens come from. Default: Application Default Credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The project billed for quota (`x-goog-user-project`). Default:
    /// `GOOGLE_CLOUD_QUOTA_PROJECT`, else none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// How calls are retried. Default: [`RetryPolicy::default`].
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How [`JobClient::wait`] polls. Default: [`WaitOptions::default`].
    pub fn with_wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = Some(options);
        self
    }

    /// Who reads the advice in this client's errors: a program (the default: advice names
    /// functions such as `Endpoint::with_ca_pem`) or a person at the command line (advice
    /// names `vertex-batch` flags such as `--ca-cert`).
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// Checks the settings, then opens the authenticated channel (at once, unless the endpoint
    /// connects lazily). A malformed setting read from a variable is an error naming the
    /// variable.
    pub async fn connect(self) -> Result<JobClient> {
        // The rule of crate::env: given here, else the variable (blank is unset), else the
        // default; an error about a value from a variable names the variable.
        let project = Setting::project(self.project)?;
        let location = Setting::location(self.location);
        let location = LocationName::new(&project.value, &location.value)
            .map_err(|e| location.blame(project.blame(e)))?;
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::for_location(location.location())?,
        };
        let mut connection = AuthChannel::builder()
            .with_audience(self.audience)
            .with_endpoint(endpoint)
            .with_credentials(
                self.credentials
                    .unwrap_or_else(Credentials::application_default),
            );
        if let Some(project) = self.quota_project {
            connection = connection.with_quota_project(project);
        }
        let channel = connection.connect().await?;
        Ok(JobClient {
            channel,
            shared: Arc::new(Shared {
                location,
                wait: self.wait.unwrap_or_default(),
            }),
            retry: self.retry.unwrap_or_default(),
        })
    }
}

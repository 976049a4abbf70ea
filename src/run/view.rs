//! [`RunView`]: a run seen from elsewhere (another terminal, another machine), read from its
//! staging prefix and the service without taking its lease or writing anything.

use std::time::{Duration, SystemTime};

use super::layout::Layout;
use super::lease::{self, LeaseHolder};
use super::manifest::ManifestFile;
use crate::client::JobClient;
use crate::error::Result;
use crate::storage::{ObjectUri, Storage};
use crate::v1::JobState;

/// A batch run as its staging prefix and the service show it now.
///
/// ```no_run
/// # async fn run(client: vertex_batch::JobClient, storage: vertex_batch::storage::Storage) -> vertex_batch::Result<()> {
/// use vertex_batch::run::RunView;
///
/// let view = RunView::read(&client, &storage, &"gs://my-bucket/runs/1".parse()?).await?;
/// if let Some(holder) = &view.lease {
///     println!("running in {}", holder.describe());
/// }
/// for round in &view.rounds {
///     for job in &round.jobs {
///         println!("round {} shard {}: {:?} {} answered", round.round, job.shard, job.state, job.answered);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunView {
    /// The staging prefix.
    pub staging: ObjectUri,
    /// Requests in the run's input.
    pub rows: u64,
    /// Who holds the run's lease now, if anyone: a process running it.
    pub lease: Option<LeaseHolder>,
    /// Set once the run was ended for good: when.
    pub ended: Option<String>,
    /// The rounds staged so far.
    pub rounds: Vec<RoundView>,
}

/// One round of a [`RunView`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RoundView {
    /// 0 for the first round, then each follow-up round.
    pub round: u8,
    /// Requests the round sends.
    pub rows: u64,
    /// Its jobs, one per shard.
    pub jobs: Vec<JobView>,
}

/// One shard's job in a [`RoundView`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct JobView {
    /// The shard's index in its round.
    pub shard: usize,
    /// Requests in the shard.
    pub rows: u64,
    /// The job's name; `None` while it is not created yet.
    pub name: Option<String>,
    /// Its state now; `None` while it is not created, or when the service no longer has it.
    pub state: Option<JobState>,
    /// How long it has existed (by this machine's clock).
    pub age: Option<Duration>,
    /// Rows it answered so far (the service's count).
    pub answered: u64,
    /// Rows it failed so far (the service's count).
    pub failed: u64,
}

impl RunView {
    /// Reads the run staged at `staging`: its manifest, its lease and each job's state.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when no run is staged there (or
    /// not one this version can read); the errors of the storage and job calls.
    pub async fn read(
        client: &JobClient,
        storage: &Storage,
        staging: &ObjectUri,
    ) -> Result<RunView> {
        let layout = Layout::new(staging.clone());
        let manifest_uri = layout.manifest()?;
        let Some(manifest) = ManifestFile::load(storage, manifest_uri.clone()).await?.1 else {
            return Err(crate::Error::invalid(
                "staging",
                format!("{staging}: no batch run is staged there (no {manifest_uri})"),
            ));
        };
        let lease = lease::holder(storage, &layout.lease()?).await?;
        let mut rounds = Vec::with_capacity(manifest.rounds.len());
        for round in &manifest.rounds {
            let mut jobs = Vec::with_capacity(round.shards.len());
            for (shard, staged) in round.shards.iter().enumerate() {
                let mut view = JobView {
                    shard,
                    rows: staged.rows,
                    name: staged.job.as_ref().map(|record| record.name.clone()),
                    state: None,
                    age: None,
                    answered: 0,
                    failed: 0,
                };
                if let Some(name) = &view.name {
                    match client.get(name).await {
                        Ok(job) => {
                            let progress = job.progress();
                            view.state = Some(job.state());
                            view.answered = progress.successful;
                            view.failed = progress.failed;
                            view.age = job
                                .create_time
                                .and_then(|t| SystemTime::try_from(t).ok())
                                .and_then(|t| SystemTime::now().duration_since(t).ok());
                        }
                        Err(err) if err.is_not_found() => {}
                        Err(err) => return Err(err),
                    }
                }
                jobs.push(view);
            }
            rounds.push(RoundView {
                round: round.number,
                rows: round.rows,
                jobs,
            });
        }
        Ok(RunView {
            staging: staging.clone(),
            rows: manifest.rows,
            lease,
            ended: manifest.ended,
            rounds,
        })
    }
}

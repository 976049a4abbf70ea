//! The JobService: the five batch-prediction RPCs. Every other RPC keeps the generated default,
//! UNIMPLEMENTED.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tonic::{Request, Response, Status};
use tonic_types::FieldViolation;

use super::clock::lock;
use super::filter::{Filter, Subject};
use super::gcs_folder::FolderJob;
use super::lifecycle::{ROWS_PER_JOB, StoredJob};
use super::operations::DeleteOperation;
use super::outcome::{OUTCOME_LABEL, Outcome};
use super::server::Config;
use super::state::EmulatorState;
use super::validate;
use crate::proto::google::longrunning::Operation;
use crate::v1::job_service_server::JobService;
use crate::v1::{
    BatchPredictionJob, CancelBatchPredictionJobRequest, CreateBatchPredictionJobRequest,
    DeleteBatchPredictionJobRequest, GetBatchPredictionJobRequest, JobState,
    ListBatchPredictionJobsRequest, ListBatchPredictionJobsResponse,
};

/// The page size when a List asks for none (0), and the most a page holds.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// The JobService over the emulator's state.
#[derive(Debug, Clone)]
pub(crate) struct JobServiceImpl {
    pub(crate) state: EmulatorState,
    pub(crate) config: Arc<Config>,
}

fn not_found(name: &str) -> Status {
    Status::not_found(format!("The BatchPredictionJob `{name}` does not exist."))
}

fn one(field: &str, description: impl Into<String>) -> Status {
    validate::bad_request(vec![FieldViolation::new(field, description)])
}

fn ended_name(state: JobState) -> &'static str {
    state.as_str_name()
}

impl JobServiceImpl {
    async fn admit<T>(&self, method: &str, request: &Request<T>) -> Result<(), Status> {
        self.state
            .admit(method, request.metadata(), &self.config)
            .await
    }
}

/// A page token: the position after the last job returned, bound to the parent and filter
/// it was made for, so a token cannot be replayed against another query.
fn page_token(after_seq: u64, query: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{after_seq}:{query:x}"))
}

fn read_page_token(token: &str, query: u64) -> Result<Option<u64>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        one(
            "page_token",
            "not a page token from a previous List with the same parent and filter",
        )
    };
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let (seq, hash) = text.split_once(':').ok_or_else(invalid)?;
    if hash != format!("{query:x}") {
        return Err(invalid());
    }
    seq.parse().map(Some).map_err(|_| invalid())
}

fn query_hash(parent: &str, filter: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (parent, filter).hash(&mut hasher);
    hasher.finish()
}

#[tonic::async_trait]
impl JobService for JobServiceImpl {
    async fn create_batch_prediction_job(
        &self,
        request: Request<CreateBatchPredictionJobRequest>,
    ) -> Result<Response<BatchPredictionJob>, Status> {
        self.admit("CreateBatchPredictionJob", &request).await?;
        let request = request.into_inner();
        let location = &self.config.location;
        let mut violations = Vec::new();
        let parent = validate::parent(&request.parent, "parent", location)
            .map_err(|v| violations.push(v))
            .ok();
        let Some(submitted) = request.batch_prediction_job else {
            violations.push(FieldViolation::new(
                "batch_prediction_job",
                "required: the job to create",
            ));
            return Err(validate::bad_request(violations));
        };
        violations.extend(validate::job(&submitted, location));
        let Some((project, location)) = parent.filter(|_| violations.is_empty()) else {
            return Err(validate::bad_request(violations));
        };

        let now = self.state.inner.clock.now();
        let outcome = submitted
            .labels
            .get(OUTCOME_LABEL)
            .and_then(|value| Outcome::from_label(value))
            .unwrap_or_else(|| lock(&self.state.inner.outcome).clone());
        let model_version_id = submitted
            .model
            .split_once('@')
            .map_or("1", |(_, version)| version)
            .to_string();
        // Counted before the job table is locked: reading files takes a while.
        let rows =
            super::gcs_folder::input_rows(&self.config.store, &submitted).unwrap_or(ROWS_PER_JOB);
        let mut jobs = lock(&self.state.inner.jobs);
        let (seq, id) = jobs.next_id();
        // Output-only fields a client sent are ignored, as the service does.
        let created_as = BatchPredictionJob {
            name: format!("projects/{project}/locations/{location}/batchPredictionJobs/{id}"),
            model_version_id,
            output_info: None,
            state: JobState::Pending as i32,
            error: None,
            partial_failures: Vec::new(),
            resources_consumed: None,
            completion_stats: None,
            create_time: Some(now.into()),
            start_time: None,
            end_time: None,
            update_time: Some(now.into()),
            ..submitted
        };
        let folder = FolderJob::new(
            self.config.store.clone(),
            self.config.row_faults.clone(),
            self.config.truth,
            seq,
            &created_as,
        );
        #[cfg(feature = "bigquery")]
        let table = super::table_job::TableJob::new(
            self.config.bigquery.as_ref(),
            &self.config.row_faults,
            self.config.truth,
            seq,
            &self.config.location,
            &created_as,
        );
        let stored = StoredJob {
            #[cfg(feature = "bigquery")]
            table,
            created_as,
            created: now,
            durations: self.config.durations,
            outcome,
            cancel_requested: None,
            folder: Some(folder),
            rows,
            stuck: self.state.take_stuck(),
        };
        let answer = stored.render(now);
        jobs.insert(seq, stored);
        drop(jobs);

        if let Some(lost) = lock(&self.state.inner.faults).lost_create() {
            return Err(lost);
        }
        Ok(Response::new(answer))
    }

    async fn get_batch_prediction_job(
        &self,
        request: Request<GetBatchPredictionJobRequest>,
    ) -> Result<Response<BatchPredictionJob>, Status> {
        self.admit("GetBatchPredictionJob", &request).await?;
        let name = &request.get_ref().name;
        validate::job_name(name, &self.config.location)?;
        let now = self.state.inner.clock.now();
        let mut jobs = lock(&self.state.inner.jobs);
        let job = jobs.get_mut(name).ok_or_else(|| not_found(name))?;
        Ok(Response::new(job.render(now)))
    }

    async fn list_batch_prediction_jobs(
        &self,
        request: Request<ListBatchPredictionJobsRequest>,
    ) -> Result<Response<ListBatchPredictionJobsResponse>, Status> {
        self.admit("ListBatchPredictionJobs", &request).await?;
        let request = request.into_inner();
        let (project, location) =
            validate::parent(&request.parent, "parent", &self.config.location)
                .map_err(|v| validate::bad_request(vec![v]))?;
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) => size.min(MAX_PAGE_SIZE),
            Err(_) => return Err(one("page_size", "must not be negative")),
        };
        let filter = Filter::parse(&request.filter).map_err(|reason| one("filter", reason))?;
        let query = query_hash(&request.parent, &request.filter);
        let after = read_page_token(&request.page_token, query)?;

        let prefix = format!("projects/{project}/locations/{location}/batchPredictionJobs/");
        let now = self.state.inner.clock.now();
        let jobs = lock(&self.state.inner.jobs);
        // Newest first, as the service lists them.
        let mut matching = jobs
            .by_seq
            .range(..after.unwrap_or(u64::MAX))
            .rev()
            .filter(|(_, job)| job.created_as.name.starts_with(&prefix))
            .filter(|(_, job)| {
                filter.matches(&Subject {
                    state: job.state(now),
                    display_name: &job.created_as.display_name,
                    labels: &job.created_as.labels,
                    model: &job.created_as.model,
                    create_time: job.created.into(),
                })
            });
        let page: Vec<(u64, BatchPredictionJob)> = matching
            .by_ref()
            .take(page_size)
            .map(|(seq, job)| (*seq, job.render(now)))
            .collect();
        let more = matching.next().is_some();
        let next_page_token = match page.last() {
            Some((seq, _)) if more => page_token(*seq, query),
            _ => String::new(),
        };
        Ok(Response::new(ListBatchPredictionJobsResponse {
            batch_prediction_jobs: page.into_iter().map(|(_, job)| job).collect(),
            next_page_token,
        }))
    }

    async fn delete_batch_prediction_job(
        &self,
        request: Request<DeleteBatchPredictionJobRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.admit("DeleteBatchPredictionJob", &request).await?;
        let name = &request.get_ref().name;
        validate::job_name(name, &self.config.location)?;
        let now = self.state.inner.clock.now();
        let mut jobs = lock(&self.state.inner.jobs);
        let job = jobs.get_mut(name).ok_or_else(|| not_found(name))?;
        if !job.has_ended(now) {
            return Err(Status::failed_precondition(format!(
                "The BatchPredictionJob `{name}` is {}: only a job that has ended can be \
                 deleted; cancel it and wait until it is JOB_STATE_CANCELLED",
                ended_name(job.state(now))
            )));
        }
        jobs.remove(name);
        drop(jobs);

        let (project_and_location, _) = name
            .split_once("/batchPredictionJobs/")
            .ok_or_else(|| not_found(name))?;
        let operation = DeleteOperation {
            name: format!(
                "{project_and_location}/operations/{}",
                self.state.next_operation_id()
            ),
            created: now,
            done_at: now + self.config.operation_duration,
        };
        let answer = operation.render(now);
        lock(&self.state.inner.operations).insert(operation.name.clone(), operation);
        Ok(Response::new(answer))
    }

    async fn cancel_batch_prediction_job(
        &self,
        request: Request<CancelBatchPredictionJobRequest>,
    ) -> Result<Response<()>, Status> {
        self.admit("CancelBatchPredictionJob", &request).await?;
        let name = &request.get_ref().name;
        validate::job_name(name, &self.config.location)?;
        let now = self.state.inner.clock.now();
        let mut jobs = lock(&self.state.inner.jobs);
        let job = jobs.get_mut(name).ok_or_else(|| not_found(name))?;
        if job.has_ended(now) {
            return Err(Status::failed_precondition(format!(
                "The BatchPredictionJob `{name}` has already ended in {}: only a pending or \
                 running job can be cancelled",
                ended_name(job.state(now))
            )));
        }
        job.cancel(now);
        Ok(Response::new(()))
    }
}

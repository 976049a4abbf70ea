//! `create`: a job from a REST request body (proto3 JSON), as in the Vertex AI docs.

use std::path::PathBuf;

use anyhow::Context;
use vertex_batch::json::MAX_BODY_BYTES;

use crate::connect::Globals;
use crate::exit::Exit;
use crate::print::Format;
use crate::read;
use crate::wait::{self, WaitAfter};

#[derive(clap::Args)]
#[command(after_help = r#"Examples:
  vertex-batch --project my-project create --request request.json
  echo '{"displayName": "my-cloud-storage-batch-prediction-job",
        "model": "publishers/google/models/gemini-2.0-flash-001",
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": "gs://my-bucket/in.jsonl"}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://my-bucket/out"}}}' \
    | vertex-batch --project my-project create --request -"#)]
pub struct CreateArgs {
    /// The request body as in the REST docs (a BatchPredictionJob in proto3 JSON; `uris` may be
    /// a single string), from a file or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    request: PathBuf,
    #[command(flatten)]
    then: WaitAfter,
    #[command(flatten)]
    format: Format,
}

pub async fn run(globals: &Globals, args: CreateArgs) -> anyhow::Result<Exit> {
    let body = read::whole("--request", &args.request, true, MAX_BODY_BYTES)?;
    let job = vertex_batch::json::job_from_json(&body).context("--request")?;
    let connected = globals.connect().await?;
    let job = connected.client.create_job(job).await?;
    wait::print_or_follow(&connected.client, job, &args.then, &args.format).await
}

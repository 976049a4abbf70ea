//! The generated `JobServiceClient`, used directly: every JobService RPC is there.
//!
//! ```text
//! cargo run --example raw_stub -- PROJECT LOCATION
//! ```
//!
//! The regional endpoint is `https://{location}-aiplatform.googleapis.com:443`. This first
//! version sends no credentials, so the real service answers UNAUTHENTICATED; the crate's
//! authenticated channel adds them.

use tonic::transport::{Channel, ClientTlsConfig};
use vertex_batch::v1::ListBatchPredictionJobsRequest;
use vertex_batch::v1::job_service_client::JobServiceClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let project = args.next().unwrap_or_else(|| "my-project".into());
    let location = args.next().unwrap_or_else(|| "us-central1".into());

    let endpoint = format!("https://{location}-aiplatform.googleapis.com:443");
    let channel = Channel::from_shared(endpoint)?
        .tls_config(ClientTlsConfig::new().with_webpki_roots())?
        .connect()
        .await?;
    let mut client = JobServiceClient::new(channel);

    let page = client
        .list_batch_prediction_jobs(ListBatchPredictionJobsRequest {
            parent: format!("projects/{project}/locations/{location}"),
            page_size: 10,
            ..Default::default()
        })
        .await?
        .into_inner();
    for job in page.batch_prediction_jobs {
        println!("{}  {:?}  {}", job.name, job.state(), job.display_name);
    }
    Ok(())
}

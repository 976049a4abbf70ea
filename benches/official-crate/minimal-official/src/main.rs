//! Make a client, get a job: `get-job-official projects/P/locations/L/batchPredictionJobs/ID`.

use google_cloud_aiplatform_v1::client::JobService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: get-job-official JOB_NAME")?;
    let client = JobService::builder()
        .with_endpoint("https://us-central1-aiplatform.googleapis.com")
        .build()
        .await?;
    let job = client
        .get_batch_prediction_job()
        .set_name(name)
        .send()
        .await?;
    println!("{:?}", job.state);
    Ok(())
}

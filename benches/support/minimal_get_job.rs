//! Make a client, get a job: `get-job-job-client projects/P/locations/L/batchPredictionJobs/ID`.

use vertex_batch::JobClient;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: get-job-job-client JOB_NAME")?;
    let client = JobClient::builder()
        .with_project("my-project")
        .with_location("us-central1")
        .connect()
        .await?;
    let job = client.get(&name).await?;
    println!("{:?}", job.state());
    Ok(())
}

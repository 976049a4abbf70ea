//! A job's whole life on the manual clock, over plain TCP and TLS.

use std::time::Duration;

use crate::support::stub::{PARENT, client, create, get, job};
use vertex_batch::emulator::{Emulator, OUTCOME_LABEL, Outcome};
use vertex_batch::v1::batch_prediction_job::output_info::OutputLocation;
use vertex_batch::v1::{BatchPredictionJob, JobState};

async fn emulator(tls: bool) -> Emulator {
    Emulator::builder()
        .with_tls(tls)
        .with_manual_clock(true)
        .with_durations(Duration::from_secs(10), Duration::from_secs(100))
        .start()
        .await
        .expect("start the emulator")
}

fn state(job: &BatchPredictionJob) -> JobState {
    JobState::try_from(job.state).expect("a known state")
}

async fn whole_lifecycle(tls: bool) {
    let emu = emulator(tls).await;
    assert_eq!(emu.uri().starts_with("https://"), tls);
    let mut client = client(&emu).await;

    let created = client
        .create_batch_prediction_job(create(job("life")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        created
            .name
            .starts_with(&format!("{PARENT}/batchPredictionJobs/"))
    );
    let id = created.name.rsplit('/').next().unwrap();
    assert!(
        id.len() >= 19 && id.chars().all(|c| c.is_ascii_digit()),
        "numeric id: {id}"
    );
    assert_eq!(state(&created), JobState::Pending);
    assert_eq!(created.model_version_id, "1");
    assert!(created.create_time.is_some() && created.update_time.is_some());
    assert!(created.start_time.is_none() && created.end_time.is_none());
    assert_eq!(emu.job_count(), 1);

    // Time stands still: still pending.
    let same = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&same), JobState::Pending);

    assert!(emu.advance(Duration::from_secs(10)));
    let running = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&running), JobState::Running);
    assert!(running.start_time.is_some() && running.end_time.is_none());
    assert_eq!(running.completion_stats.unwrap().successful_count, 0);

    emu.advance(Duration::from_secs(50));
    let halfway = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    let stats = halfway.completion_stats.unwrap();
    assert_eq!((stats.successful_count, stats.incomplete_count), (50, 50));

    emu.advance(Duration::from_secs(50));
    let done = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&done), JobState::Succeeded);
    assert!(done.end_time.is_some());
    assert_eq!(done.update_time, done.end_time);
    let stats = done.completion_stats.unwrap();
    assert_eq!((stats.successful_count, stats.failed_count), (100, 0));
    let Some(OutputLocation::GcsOutputDirectory(dir)) = done.output_info.unwrap().output_location
    else {
        panic!("a gcs output directory");
    };
    assert!(
        dir.starts_with("gs://bucket/out/prediction-model-20"),
        "{dir}"
    );
    assert!(done.error.is_none());

    let calls = emu.calls();
    assert_eq!(calls[0].method, "CreateBatchPredictionJob");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.method == "GetBatchPredictionJob")
            .count(),
        4
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn whole_lifecycle_over_plain_tcp() {
    whole_lifecycle(false).await;
}

#[tokio::test]
async fn whole_lifecycle_over_tls() {
    whole_lifecycle(true).await;
}

#[tokio::test]
async fn outcomes_set_globally_and_by_label() {
    let emu = emulator(false).await;
    let mut client = client(&emu).await;
    emu.set_outcome(Outcome::Failed {
        message: "out of quota".into(),
    });
    let failed = client
        .create_batch_prediction_job(create(job("failed")))
        .await
        .unwrap()
        .into_inner();
    emu.set_outcome(Outcome::Succeeded);
    let mut labelled = job("partial");
    labelled
        .labels
        .insert(OUTCOME_LABEL.into(), "partially-succeeded".into());
    let partial = client
        .create_batch_prediction_job(create(labelled))
        .await
        .unwrap()
        .into_inner();
    let mut labelled = job("expired");
    labelled
        .labels
        .insert(OUTCOME_LABEL.into(), "expired".into());
    let expired = client
        .create_batch_prediction_job(create(labelled))
        .await
        .unwrap()
        .into_inner();

    emu.advance(Duration::from_secs(110));

    let failed = client
        .get_batch_prediction_job(get(&failed.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&failed), JobState::Failed);
    assert_eq!(failed.error.unwrap().message, "out of quota");
    assert!(failed.output_info.is_none());

    let partial = client
        .get_batch_prediction_job(get(&partial.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&partial), JobState::PartiallySucceeded);
    let stats = partial.completion_stats.unwrap();
    assert_eq!((stats.successful_count, stats.failed_count), (90, 10));
    assert_eq!(partial.partial_failures.len(), 1);
    assert!(partial.output_info.is_some());

    let expired = client
        .get_batch_prediction_job(get(&expired.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&expired), JobState::Expired);
    assert_eq!(expired.completion_stats.unwrap().incomplete_count, 100);
}

#[tokio::test]
async fn bigquery_output_names_dataset_and_table() {
    use vertex_batch::v1::BigQueryDestination;
    use vertex_batch::v1::batch_prediction_job::{OutputConfig, output_config};
    let emu = emulator(false).await;
    let mut client = client(&emu).await;
    let mut bq = job("bq");
    bq.output_config = Some(OutputConfig {
        predictions_format: "bigquery".into(),
        destination: Some(output_config::Destination::BigqueryDestination(
            BigQueryDestination {
                output_uri: "bq://my-project.results.predictions_today".into(),
            },
        )),
    });
    let created = client
        .create_batch_prediction_job(create(bq))
        .await
        .unwrap()
        .into_inner();
    emu.advance(Duration::from_secs(110));
    let done = client
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    let info = done.output_info.unwrap();
    assert_eq!(info.bigquery_output_table, "predictions_today");
    assert_eq!(
        info.output_location,
        Some(OutputLocation::BigqueryOutputDataset(
            "bq://my-project.results".into()
        ))
    );
}

#[tokio::test]
async fn a_restarted_emulator_keeps_its_jobs() {
    let first = emulator(false).await;
    let mut client_a = client(&first).await;
    let created = client_a
        .create_batch_prediction_job(create(job("kept")))
        .await
        .unwrap()
        .into_inner();
    let (addr, saved) = (first.local_addr(), first.state());
    first.shutdown().await;

    let second = Emulator::builder()
        .with_addr(addr)
        .with_state(saved)
        .start()
        .await
        .unwrap();
    assert_eq!(second.local_addr(), addr);
    let mut client_b = client(&second).await;
    let again = client_b
        .get_batch_prediction_job(get(&created.name))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.display_name, "kept");
}

#[tokio::test]
async fn calls_are_recorded_unless_turned_off() {
    for record in [true, false] {
        let emu = Emulator::builder()
            .with_manual_clock(true)
            .with_record_calls(record)
            .start()
            .await
            .unwrap();
        let mut client = client(&emu).await;
        let created = client
            .create_batch_prediction_job(create(job("r")))
            .await
            .unwrap();
        let name = created.into_inner().name;
        client.get_batch_prediction_job(get(&name)).await.unwrap();
        assert_eq!(emu.calls().len(), if record { 2 } else { 0 });
    }
}

//! Each Create/Get rule: INVALID_ARGUMENT with a google.rpc.BadRequest naming the field,
//! NOT_FOUND for unknown jobs, UNIMPLEMENTED for the other RPCs.

use crate::support::stub::{MODEL, PARENT, client, create, get, job};
use tonic::Code;
use tonic_types::StatusExt;
use vertex_batch::emulator::Emulator;
use vertex_batch::v1::batch_prediction_job::{
    InputConfig, OutputConfig, input_config, output_config,
};
use vertex_batch::v1::{
    BatchPredictionJob, BigQueryDestination, BigQuerySource, CreateBatchPredictionJobRequest,
    GcsSource, GetCustomJobRequest,
};

async fn emulator() -> Emulator {
    Emulator::builder()
        .with_manual_clock(true)
        .start()
        .await
        .unwrap()
}

/// Creates `request` and returns the fields its BadRequest names.
async fn violated_fields(emu: &Emulator, request: CreateBatchPredictionJobRequest) -> Vec<String> {
    let status = client(emu)
        .await
        .create_batch_prediction_job(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    let details = status.get_error_details();
    let bad = details.bad_request().expect("a BadRequest detail");
    bad.field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

async fn fields_for(emu: &Emulator, edit: impl FnOnce(&mut BatchPredictionJob)) -> Vec<String> {
    let mut submitted = job("rules");
    edit(&mut submitted);
    violated_fields(emu, create(submitted)).await
}

#[tokio::test]
async fn parent_must_be_a_location_name_of_this_endpoint() {
    let emu = emulator().await;
    for parent in [
        "",
        "projects/p",
        "projects/p/locations/",
        "projects/P Q/locations/us-central1",
        "locations/us-central1",
    ] {
        let request = CreateBatchPredictionJobRequest {
            parent: parent.into(),
            batch_prediction_job: Some(job("x")),
        };
        assert_eq!(
            violated_fields(&emu, request).await,
            ["parent"],
            "{parent:?}"
        );
    }
    let wrong = CreateBatchPredictionJobRequest {
        parent: "projects/p/locations/europe-west4".into(),
        batch_prediction_job: Some(job("x")),
    };
    let status = client(&emu)
        .await
        .create_batch_prediction_job(wrong)
        .await
        .unwrap_err();
    assert!(
        status.message().contains("europe-west4") && status.message().contains("us-central1"),
        "{}",
        status.message()
    );
    assert_eq!(emu.job_count(), 0);
}

#[tokio::test]
async fn the_job_itself_is_required() {
    let emu = emulator().await;
    let request = CreateBatchPredictionJobRequest {
        parent: PARENT.into(),
        batch_prediction_job: None,
    };
    assert_eq!(
        violated_fields(&emu, request).await,
        ["batch_prediction_job"]
    );
}

#[tokio::test]
async fn display_name_is_required_and_bounded() {
    let emu = emulator().await;
    assert_eq!(
        fields_for(&emu, |j| j.display_name.clear()).await,
        ["batch_prediction_job.display_name"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.display_name = "x".repeat(129)).await,
        ["batch_prediction_job.display_name"]
    );
}

#[tokio::test]
async fn model_must_have_an_accepted_form() {
    let emu = emulator().await;
    for bad in [
        "",
        "gemini-2.0-flash",
        "models/gemini",
        "publishers/google/models/",
        "projects/p/locations/europe-west4/models/123",
        "projects/p/locations/us-central1/models/abc",
        "publishers/google/models/a b",
    ] {
        assert_eq!(
            fields_for(&emu, |j| j.model = bad.into()).await,
            ["batch_prediction_job.model"],
            "{bad:?}"
        );
    }
    let mut client = client(&emu).await;
    for good in [
        MODEL,
        "projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001",
        "projects/p/locations/us-central1/models/123@2",
    ] {
        let mut submitted = job("ok");
        submitted.model = good.into();
        let created = client
            .create_batch_prediction_job(create(submitted))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(created.model, good);
        if good.ends_with("@2") {
            assert_eq!(created.model_version_id, "2");
        }
    }
}

#[tokio::test]
async fn input_needs_one_source_with_a_matching_format() {
    let emu = emulator().await;
    assert_eq!(
        fields_for(&emu, |j| j.input_config = None).await,
        ["batch_prediction_job.input_config"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.input_config.as_mut().unwrap().source = None).await,
        ["batch_prediction_job.input_config.source"]
    );
    assert_eq!(
        fields_for(&emu, |j| j
            .input_config
            .as_mut()
            .unwrap()
            .instances_format = "bigquery".into())
        .await,
        ["batch_prediction_job.input_config.instances_format"]
    );
    let gcs = |uris: Vec<&str>| InputConfig {
        instances_format: "jsonl".into(),
        source: Some(input_config::Source::GcsSource(GcsSource {
            uris: uris.into_iter().map(String::from).collect(),
        })),
    };
    assert_eq!(
        fields_for(&emu, |j| j.input_config = Some(gcs(vec![]))).await,
        ["batch_prediction_job.input_config.gcs_source.uris"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.input_config =
            Some(gcs(vec!["gs://bucket/a.jsonl", "s3://bucket/b"])))
        .await,
        ["batch_prediction_job.input_config.gcs_source.uris[1]"]
    );
    let bq = |uri: &str, format: &str| InputConfig {
        instances_format: format.into(),
        source: Some(input_config::Source::BigquerySource(BigQuerySource {
            input_uri: uri.into(),
        })),
    };
    assert_eq!(
        fields_for(&emu, |j| j.input_config = Some(bq("bq://p.d.t", "jsonl"))).await,
        ["batch_prediction_job.input_config.instances_format"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.input_config = Some(bq("bq://p.d", "bigquery"))).await,
        ["batch_prediction_job.input_config.bigquery_source.input_uri"]
    );
}

#[tokio::test]
async fn output_needs_one_destination_with_a_matching_format() {
    let emu = emulator().await;
    assert_eq!(
        fields_for(&emu, |j| j.output_config = None).await,
        ["batch_prediction_job.output_config"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.output_config.as_mut().unwrap().destination =
            None)
        .await,
        ["batch_prediction_job.output_config.destination"]
    );
    assert_eq!(
        fields_for(&emu, |j| j
            .output_config
            .as_mut()
            .unwrap()
            .predictions_format = "tf-record".into())
        .await,
        ["batch_prediction_job.output_config.predictions_format"]
    );
    let bq = |uri: &str, format: &str| OutputConfig {
        predictions_format: format.into(),
        destination: Some(output_config::Destination::BigqueryDestination(
            BigQueryDestination {
                output_uri: uri.into(),
            },
        )),
    };
    assert_eq!(
        fields_for(&emu, |j| j.output_config = Some(bq("bq://p.d", "jsonl"))).await,
        ["batch_prediction_job.output_config.predictions_format"]
    );
    assert_eq!(
        fields_for(&emu, |j| j.output_config = Some(bq("gs://p.d", "bigquery"))).await,
        ["batch_prediction_job.output_config.bigquery_destination.output_uri"]
    );
}

#[tokio::test]
async fn model_parameters_must_be_a_struct() {
    let emu = emulator().await;
    let number = prost_types::Value {
        kind: Some(prost_types::value::Kind::NumberValue(0.2)),
    };
    assert_eq!(
        fields_for(&emu, |j| j.model_parameters = Some(number)).await,
        ["batch_prediction_job.model_parameters"]
    );
}

#[tokio::test]
async fn labels_follow_the_service_rules() {
    let emu = emulator().await;
    for (key, value) in [
        ("Upper", "v"),
        ("1starts-with-digit", "v"),
        ("ok", "Has Space"),
        ("emulator-outcome", "exploded"),
    ] {
        let fields = fields_for(&emu, |j| {
            j.labels.insert(key.into(), value.into());
        })
        .await;
        assert_eq!(fields, [format!("batch_prediction_job.labels[{key}]")]);
    }
    let too_many = fields_for(&emu, |j| {
        for i in 0..65 {
            j.labels.insert(format!("k{i}"), "v".into());
        }
    })
    .await;
    assert_eq!(too_many, ["batch_prediction_job.labels"]);
}

/// International letters (lower-case ones of any script, and letters of scripts without case)
/// are label letters to GCP, to the client and to the emulator alike: whatever one accepts,
/// the other does.
#[tokio::test]
async fn labels_with_international_letters_pass_the_client_and_the_emulator_alike() {
    let emu = emulator().await;
    let parent = vertex_batch::LocationName::parse(PARENT).unwrap();
    for (key, value, accepted) in [
        ("team", "ünï", true),
        ("équipe", "données", true),
        ("ключ", "значение", true),
        ("ß", "straße", true),
        ("team", "Ünï", false),
        ("Équipe", "ml", false),
        // Letters without case (\p{Lo}) are label letters to GCP.
        ("team", "日本", true),
        ("チーム", "数据", true),
        ("team", &"é".repeat(63), true),
        ("team", &"é".repeat(64), false),
    ] {
        let built = BatchPredictionJob::builder(MODEL)
            .with_input("gs://bucket/prompts.jsonl")
            .with_output("gs://bucket/out")
            .with_label(key, value)
            .build(&parent);
        assert_eq!(built.is_ok(), accepted, "client: {key}={value}");
        let mut submitted = job("labels");
        submitted.labels.insert(key.into(), value.into());
        if accepted {
            let created = client(&emu)
                .await
                .create_batch_prediction_job(create(submitted))
                .await;
            assert!(created.is_ok(), "emulator: {key}={value}: {created:?}");
        } else {
            assert_eq!(
                violated_fields(&emu, create(submitted)).await,
                [format!("batch_prediction_job.labels[{key}]")]
            );
        }
    }
}

#[tokio::test]
async fn every_violation_is_reported_at_once() {
    let emu = emulator().await;
    let fields = fields_for(&emu, |j| {
        j.display_name.clear();
        j.model.clear();
        j.output_config = None;
    })
    .await;
    assert_eq!(
        fields,
        [
            "batch_prediction_job.display_name",
            "batch_prediction_job.model",
            "batch_prediction_job.output_config"
        ]
    );
}

#[tokio::test]
async fn get_rejects_malformed_names_and_misses_unknown_jobs() {
    let emu = emulator().await;
    let mut client = client(&emu).await;
    for name in [
        "",
        "jobs/1",
        &format!("{PARENT}/batchPredictionJobs/abc"),
        &format!("{PARENT}/customJobs/1"),
    ] {
        let status = client
            .get_batch_prediction_job(get(name))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}");
        assert_eq!(
            status
                .get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "name"
        );
    }
    let elsewhere = client
        .get_batch_prediction_job(get("projects/p/locations/asia-east1/batchPredictionJobs/1"))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::InvalidArgument);
    assert!(elsewhere.message().contains("asia-east1"));
    let missing = client
        .get_batch_prediction_job(get(&format!("{PARENT}/batchPredictionJobs/42")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn other_job_service_rpcs_are_unimplemented() {
    let emu = emulator().await;
    let status = client(&emu)
        .await
        .get_custom_job(GetCustomJobRequest {
            name: format!("{PARENT}/customJobs/1"),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

//! The emulator over REST, with a real HTTP/1.1 client: the reference page's request bodies and
//! calls (create from Cloud Storage and BigQuery, GET until JOB_STATE_SUCCEEDED), list with a
//! filter and page tokens, cancel, delete and its operation, each kind of error in Google's JSON
//! shape, malformed bodies, TLS, bearer tokens, and one job seen from both protocols.

use std::time::Duration;

use crate::support::process::Launched;
use crate::support::reference::{BIGQUERY_BODY, GCS_BODY};
use crate::support::rest::{Answer, Rest};
use crate::support::stub::{PARENT, client, create, get, job};
use serde_json::{Value as Json, json};
use tonic::Code;
use vertex_batch::emulator::{Emulator, Fault};
use vertex_batch::v1::ListBatchPredictionJobsRequest;

const JOBS: &str = "/v1/projects/my-project/locations/us-central1/batchPredictionJobs";

async fn emulator() -> Emulator {
    Emulator::builder()
        .with_manual_clock(true)
        .start()
        .await
        .unwrap()
}

/// `/v1/{name}`.
fn path_of(name: &str) -> String {
    format!("/v1/{name}")
}

fn ok(answer: Answer) -> Json {
    assert_eq!(answer.status, 200, "{:#}", answer.json);
    assert_eq!(answer.content_type, "application/json; charset=UTF-8");
    answer.json
}

fn name_of(job: &Json) -> String {
    job["name"].as_str().expect("a name").to_string()
}

/// GETs the job, moving the clock a second between polls, until it has ended; the states seen.
async fn poll_until_ended(emu: &Emulator, rest: &Rest, name: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..10 {
        let job = ok(rest.get(&path_of(name)).await);
        let state = job["state"].as_str().unwrap().to_string();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state == "JOB_STATE_SUCCEEDED" {
            return seen;
        }
        emu.advance(Duration::from_secs(1));
    }
    panic!("the job did not end: {seen:?}");
}

#[tokio::test]
async fn the_docs_cloud_storage_body_creates_a_job_that_a_get_poll_sees_succeed() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let created = ok(rest.post(JOBS, GCS_BODY).await);
    assert_eq!(
        created["displayName"],
        "my-cloud-storage-batch-prediction-job"
    );
    assert_eq!(created["state"], "JOB_STATE_PENDING");
    assert_eq!(
        created["inputConfig"]["gcsSource"]["uris"],
        json!(["gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl"])
    );
    let name = name_of(&created);
    assert!(
        name.starts_with(&format!("{PARENT}/batchPredictionJobs/")),
        "{name}"
    );

    let seen = poll_until_ended(&emu, &rest, &name).await;
    assert_eq!(
        seen,
        [
            "JOB_STATE_PENDING",
            "JOB_STATE_RUNNING",
            "JOB_STATE_SUCCEEDED"
        ]
    );
    let done = ok(rest.get(&path_of(&name)).await);
    let output = done["outputInfo"]["gcsOutputDirectory"].as_str().unwrap();
    assert!(
        output.starts_with("gs://mybucket/path/to/output/prediction-model-"),
        "{output}"
    );
    assert!(done["createTime"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_docs_bigquery_body_creates_a_job_that_a_get_poll_sees_succeed() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let created = ok(rest.post(JOBS, BIGQUERY_BODY).await);
    assert_eq!(created["inputConfig"]["instancesFormat"], "bigquery");
    let seen = poll_until_ended(&emu, &rest, &name_of(&created)).await;
    assert_eq!(seen.last().map(String::as_str), Some("JOB_STATE_SUCCEEDED"));
    let done = ok(rest.get(&path_of(&name_of(&created))).await);
    assert!(
        done["outputInfo"]["bigqueryOutputTable"].is_string()
            || done["outputInfo"]["bigqueryOutputDataset"].is_string(),
        "{done:#}"
    );
}

#[tokio::test]
async fn snake_case_bodies_and_enum_numbers_on_request() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let body = json!({
        "display_name": "snake",
        "model": "publishers/google/models/gemini-2.0-flash-001",
        "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": ["gs://bucket/in.jsonl"]}},
        "output_config": {"predictions_format": "jsonl", "gcs_destination": {"output_uri_prefix": "gs://bucket/out"}},
    });
    let created = ok(rest.post(JOBS, &body.to_string()).await);
    // Answers are camelCase whatever the request used.
    assert_eq!(created["displayName"], "snake");
    let name = name_of(&created);
    // What Google's Rust crate sends: enums come back as numbers (JOB_STATE_PENDING is 2).
    let numbered = ok(rest
        .get(&format!(
            "{}?%24alt=json%3Benum-encoding%3Dint",
            path_of(&name)
        ))
        .await);
    assert_eq!(numbered["state"], 2);
    let named = ok(rest.get(&format!("{}?$alt=json", path_of(&name))).await);
    assert_eq!(named["state"], "JOB_STATE_PENDING");
}

#[tokio::test]
async fn list_filters_and_pages_with_page_tokens() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let mut nightly = Vec::new();
    for i in 0..5 {
        let mut body: Json = serde_json::from_str(GCS_BODY).unwrap();
        body["displayName"] = json!(if i % 2 == 0 { "nightly" } else { "adhoc" });
        let created = ok(rest.post(JOBS, &body.to_string()).await);
        if i % 2 == 0 {
            nightly.push(name_of(&created));
        }
    }
    nightly.reverse(); // newest first, as the service lists

    let filter = "filter=display_name%3D%22nightly%22";
    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = ok(rest
            .get(&format!("{JOBS}?pageSize=2&{filter}&pageToken={token}"))
            .await);
        pages += 1;
        for job in page["batchPredictionJobs"].as_array().unwrap() {
            assert_eq!(job["displayName"], "nightly");
            listed.push(name_of(job));
        }
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(listed, nightly);
    assert_eq!(pages, 2);

    // snake_case parameters too, and a state filter.
    let all_pending = ok(rest
        .get(&format!(
            "{JOBS}?page_size=10&filter=state%3DJOB_STATE_PENDING"
        ))
        .await);
    assert_eq!(
        all_pending["batchPredictionJobs"].as_array().unwrap().len(),
        5
    );

    // A page token belongs to its query.
    let first = ok(rest.get(&format!("{JOBS}?pageSize=2&{filter}")).await);
    let token = first["nextPageToken"].as_str().unwrap();
    let replayed = rest
        .get(&format!("{JOBS}?pageSize=2&pageToken={token}"))
        .await;
    assert_eq!(replayed.status, 400);
    assert_eq!(replayed.violated_fields(), ["page_token"]);
}

#[tokio::test]
async fn cancel_then_delete_and_its_operation() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let name = name_of(&ok(rest.post(JOBS, GCS_BODY).await));

    // curl -X POST .../NAME:cancel, with no body or an empty object.
    let cancelled = ok(rest
        .send("POST", &format!("{}:cancel", path_of(&name)), None)
        .await);
    assert_eq!(cancelled, json!({}));
    let again = ok(rest.post(&format!("{}:cancel", path_of(&name)), "{}").await);
    assert_eq!(again, json!({}));
    assert_eq!(
        ok(rest.get(&path_of(&name)).await)["state"],
        "JOB_STATE_CANCELLING"
    );
    emu.advance(Duration::from_secs(1));
    assert_eq!(
        ok(rest.get(&path_of(&name)).await)["state"],
        "JOB_STATE_CANCELLED"
    );

    let operation = ok(rest.delete(&path_of(&name)).await);
    let operation_name = name_of(&operation);
    assert!(
        operation_name.starts_with(&format!("{PARENT}/operations/")),
        "{operation_name}"
    );
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata"
    );
    assert!(operation["metadata"]["genericMetadata"]["createTime"].is_string());
    assert!(operation.get("done").is_none(), "{operation:#}");

    emu.advance(Duration::from_secs(1));
    let done = ok(rest.get(&path_of(&operation_name)).await);
    assert_eq!(done["done"], true);
    assert_eq!(
        done["response"],
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
    );

    let gone = rest.get(&path_of(&name)).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json["error"]["status"], "NOT_FOUND");
    assert!(gone.message().contains(&name), "{}", gone.message());
}

#[tokio::test]
async fn invalid_arguments_carry_the_same_field_violations_as_over_grpc() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let body = json!({
        "displayName": "",
        "model": "publishers/google/models/gemini-2.0-flash-001",
        "inputConfig": {"instancesFormat": "bigquery", "gcsSource": {"uris": ["gs://b/in.jsonl"]}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "s3://b/out"}},
    });
    let answer = rest.post(JOBS, &body.to_string()).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json["error"]["code"], 400);
    assert_eq!(answer.json["error"]["status"], "INVALID_ARGUMENT");
    let over_rest = answer.violated_fields();

    let mut same = job("");
    let input = same.input_config.as_mut().unwrap();
    input.instances_format = "bigquery".into();
    input.source = Some(
        vertex_batch::v1::batch_prediction_job::input_config::Source::GcsSource(
            vertex_batch::v1::GcsSource {
                uris: vec!["gs://b/in.jsonl".into()],
            },
        ),
    );
    if let Some(
        vertex_batch::v1::batch_prediction_job::output_config::Destination::GcsDestination(gcs),
    ) = &mut same.output_config.as_mut().unwrap().destination
    {
        gcs.output_uri_prefix = "s3://b/out".into();
    }
    let status = client(&emu)
        .await
        .create_batch_prediction_job(create(same))
        .await
        .unwrap_err();
    let details = tonic_types::StatusExt::get_error_details(&status);
    let over_grpc: Vec<String> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(over_rest, over_grpc);
    assert!(over_rest.len() >= 3, "{over_rest:?}");
    assert_eq!(answer.message(), status.message());

    // A parent of another location: INVALID_ARGUMENT naming `parent`.
    let elsewhere = rest
        .post(
            "/v1/projects/my-project/locations/europe-west4/batchPredictionJobs",
            GCS_BODY,
        )
        .await;
    assert_eq!(elsewhere.status, 400);
    assert_eq!(elsewhere.violated_fields(), ["parent"]);
}

#[tokio::test]
async fn not_found_failed_precondition_and_unknown_urls() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let missing = rest.get(&format!("{JOBS}/123")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["error"]["status"], "NOT_FOUND");

    let name = name_of(&ok(rest.post(JOBS, GCS_BODY).await));
    let running = rest.delete(&path_of(&name)).await;
    assert_eq!(running.status, 400);
    assert_eq!(running.json["error"]["status"], "FAILED_PRECONDITION");
    assert!(
        running.message().contains("cancel it"),
        "{}",
        running.message()
    );

    emu.advance(Duration::from_secs(60));
    let ended = rest.post(&format!("{}:cancel", path_of(&name)), "").await;
    assert_eq!(ended.status, 400);
    assert_eq!(ended.json["error"]["status"], "FAILED_PRECONDITION");

    for (method, path) in [
        (
            "GET",
            "/v1/projects/my-project/locations/us-central1/customJobs",
        ),
        ("PUT", &path_of(&name) as &str),
        ("GET", "/"),
    ] {
        let answer = rest.send(method, path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.json["error"]["status"], "NOT_FOUND");
        assert!(answer.message().contains(path), "{}", answer.message());
    }
}

#[tokio::test]
async fn injected_faults_answer_with_their_http_status_and_retry_info() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let name = name_of(&ok(rest.post(JOBS, GCS_BODY).await));
    emu.fault(
        Fault::fail_next("GetBatchPredictionJob", 1, Code::Unavailable)
            .with_retry_delay(Duration::from_millis(2500)),
    );
    let unavailable = rest.get(&path_of(&name)).await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.json["error"]["status"], "UNAVAILABLE");
    assert_eq!(
        unavailable.json["error"]["details"][0],
        json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"})
    );
    emu.fault(Fault::fail_next(
        "ListBatchPredictionJobs",
        1,
        Code::ResourceExhausted,
    ));
    assert_eq!(rest.get(JOBS).await.status, 429);
    // Faults are spent: the next calls succeed.
    ok(rest.get(&path_of(&name)).await);
    ok(rest.get(JOBS).await);
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_a_clear_400_and_the_emulator_keeps_serving() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    for (body, field, says) in [
        (r#"{"displayName": "#, "", "Invalid JSON payload received."),
        (
            "[1, 2]",
            "batch_prediction_job",
            "Invalid value at 'batch_prediction_job'",
        ),
        (
            r#"{"displayName": 5}"#,
            "batch_prediction_job.display_name",
            "(TYPE_STRING), 5",
        ),
        (
            r#"{"inputConfig": {"gcsSource": {"uris": [true]}}}"#,
            "batch_prediction_job.input_config.gcs_source.uris",
            "Invalid value at 'batch_prediction_job.input_config.gcs_source.uris'",
        ),
        (
            r#"{"labels": {"team": 1}}"#,
            "batch_prediction_job.labels",
            "Invalid value at 'batch_prediction_job.labels'",
        ),
        (
            r#"{"displayNam": "x"}"#,
            "batch_prediction_job",
            "Unknown name \"displayNam\" at 'batch_prediction_job': Cannot find field.",
        ),
        (
            r#"{"outputConfig": {"gcsDestination": {"outputUriPrefx": "gs://b"}}}"#,
            "batch_prediction_job.output_config.gcs_destination",
            "Unknown name \"outputUriPrefx\"",
        ),
    ] {
        let answer = rest.post(JOBS, body).await;
        assert_eq!(answer.status, 400, "{body}: {:#}", answer.json);
        assert_eq!(answer.json["error"]["status"], "INVALID_ARGUMENT", "{body}");
        assert!(
            answer.message().contains(says),
            "{body}: {}",
            answer.message()
        );
        assert_eq!(answer.violated_fields(), [field], "{body}");
    }
    let bad_size = rest.get(&format!("{JOBS}?pageSize=ten")).await;
    assert_eq!(bad_size.status, 400);
    assert_eq!(bad_size.violated_fields(), ["page_size"]);
    let unknown = rest.get(&format!("{JOBS}?pageSise=10")).await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.message().contains("\"pageSise\""),
        "{}",
        unknown.message()
    );

    // Still serving, over both protocols.
    ok(rest.post(JOBS, GCS_BODY).await);
    let listed = client(&emu)
        .await
        .list_batch_prediction_jobs(ListBatchPredictionJobsRequest {
            parent: PARENT.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.batch_prediction_jobs.len(), 1);
}

#[tokio::test]
async fn a_body_too_large_is_a_413_with_googles_json_error() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    // A 5 MB job: its display name alone.
    let body = format!(r#"{{"displayName": "{}"}}"#, "x".repeat(5 * 1024 * 1024));
    let answer = rest.post(JOBS, &body).await;
    assert_eq!(answer.status, 413, "{:#}", answer.json);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.json["error"]["code"], 413);
    assert_eq!(answer.json["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        answer.message().contains("larger than the 2 MiB"),
        "{}",
        answer.message()
    );
    // Just under the limit is read (and refused for what it says, not its size).
    let body = format!(
        r#"{{"displayNam": "{}"}}"#,
        "x".repeat(2 * 1024 * 1024 - 100)
    );
    assert_eq!(rest.post(JOBS, &body).await.status, 400);
    ok(rest.post(JOBS, GCS_BODY).await);
}

#[tokio::test]
async fn one_job_seen_from_both_protocols() {
    let emu = emulator().await;
    let rest = Rest::new(&emu);
    let mut grpc = client(&emu).await;

    let over_rest = ok(rest.post(JOBS, GCS_BODY).await);
    let seen_over_grpc = grpc
        .get_batch_prediction_job(get(&name_of(&over_rest)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        seen_over_grpc.display_name,
        "my-cloud-storage-batch-prediction-job"
    );

    let over_grpc = grpc
        .create_batch_prediction_job(create(job("made over gRPC")))
        .await
        .unwrap()
        .into_inner();
    let seen_over_rest = ok(rest.get(&path_of(&over_grpc.name)).await);
    assert_eq!(seen_over_rest["displayName"], "made over gRPC");
    let listed = ok(rest.get(JOBS).await);
    assert_eq!(listed["batchPredictionJobs"].as_array().unwrap().len(), 2);

    // Both calls are recorded under the RPC's name, the REST one with its own headers.
    let creates = emu.calls_of("CreateBatchPredictionJob");
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].user_agent.as_deref(), Some("rest-test/1"));
}

#[tokio::test]
async fn tls_and_bearer_tokens_on_the_shared_port() {
    let emu = Emulator::builder()
        .with_manual_clock(true)
        .with_tls(true)
        .with_require_auth(true)
        .start()
        .await
        .unwrap();
    assert!(emu.rest_uri().starts_with("https://127.0.0.1:"));
    assert_eq!(emu.rest_uri(), emu.uri());
    let anonymous = Rest::new(&emu);
    let refused = anonymous.get(JOBS).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json["error"]["status"], "UNAUTHENTICATED");
    let forged = anonymous
        .clone()
        .with_token("ya29.not-issued-here")
        .get(JOBS)
        .await;
    assert_eq!(forged.status, 401);
    assert!(
        forged.message().contains("did not issue"),
        "{}",
        forged.message()
    );

    let rest = anonymous.with_token(emu.issue_token());
    let created = ok(rest.post(JOBS, GCS_BODY).await);

    // gRPC over h2 on the same TLS port sees it, with a token of its own.
    let mut grpc = tonic::Request::new(get(&name_of(&created)));
    grpc.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", emu.issue_token()).parse().unwrap(),
    );
    let seen = client(&emu)
        .await
        .get_batch_prediction_job(grpc)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.name, name_of(&created));
}

/// Starts `program` with `args` and reads its banner: the REST base URL (the `rest: ` line)
/// and the token (`token: `).
fn launch(program: &str, args: &[&str]) -> (Launched, String, String) {
    let mut command = std::process::Command::new(program);
    command.args(args);
    let child = Launched::start(command);
    let (rest, token) = (child.line("rest: "), child.line("token: "));
    (child, rest, token)
}

/// The launcher's `rest:` URL and `--print-token` token are all a curl user needs.
async fn the_banner_is_enough_for_rest(rest_uri: &str, token: &str, parent: &str) {
    assert!(rest_uri.starts_with("http://127.0.0.1:"), "{rest_uri}");
    let jobs = format!("/v1/{parent}/batchPredictionJobs");
    let anonymous = Rest::plain(rest_uri);
    assert_eq!(anonymous.get(&jobs).await.status, 401);
    let rest = anonymous.with_token(token);
    let created = ok(rest.post(&jobs, GCS_BODY).await);
    let listed = ok(rest.get(&jobs).await);
    assert_eq!(listed["batchPredictionJobs"][0]["name"], created["name"]);
}

#[tokio::test]
async fn the_emulator_binary_prints_its_rest_url_and_a_token() {
    let (_child, rest_uri, token) = launch(
        env!("CARGO_BIN_EXE_vertex-batch-emulator"),
        &["--port", "0", "--require-auth", "--print-token"],
    );
    the_banner_is_enough_for_rest(&rest_uri, &token, PARENT).await;
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_emulator_command_prints_its_rest_url_and_a_token() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("emulator-rest-{}", std::process::id()));
    let (_child, rest_uri, token) = launch(
        env!("CARGO_BIN_EXE_vertex-batch"),
        &[
            "--location",
            "us-central1",
            "emulator",
            "--port",
            "0",
            "--require-auth",
            "--print-token",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
    );
    the_banner_is_enough_for_rest(&rest_uri, &token, PARENT).await;
}

/// `with_rest(false)`: the port speaks gRPC over HTTP/2 alone, as Vertex AI's gRPC endpoint
/// does; an HTTP/1.1 request gets no HTTP answer, and gRPC calls are served as ever.
#[tokio::test]
async fn a_grpc_only_emulator_serves_grpc_and_answers_no_http1_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let emu = Emulator::builder()
        .with_manual_clock(true)
        .with_rest(false)
        .start()
        .await
        .unwrap();
    let mut stub = client(&emu).await;
    let created = stub
        .create_batch_prediction_job(create(job("grpc-only")))
        .await
        .expect("gRPC create")
        .into_inner();
    let seen = stub
        .get_batch_prediction_job(get(&created.name))
        .await
        .expect("gRPC get")
        .into_inner();
    assert_eq!(seen.name, created.name);

    let mut tcp = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .expect("connect");
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
        path_of(&created.name)
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    // The server closes the connection (an HTTP/2 GOAWAY at most): read to the end.
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(
        !answer.starts_with(b"HTTP/1."),
        "an HTTP/1.1 answer from a gRPC-only port: {}",
        String::from_utf8_lossy(&answer)
    );
}

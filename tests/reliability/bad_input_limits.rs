//! Bad input at and past the limits: nesting, token sums, what is read whole (a predictions
//! line, a run's input line, a REST body, a key file), integers beyond 2^53, and phase lengths
//! past what a clock can add.

use super::bad_input::{good, nested, nested_lists};
use serde_json::Value as Json;
use serde_json::json;
use vertex_batch::auth::Credentials;
use vertex_batch::params::{json_to_value, value_to_json};
use vertex_batch::{Error, GenerationConfig, JobClient};
#[test]
fn deep_values_are_refused_not_overflowed() {
    // Far past the limit, both ways: the converters stop at MAX_DEPTH instead of recursing on.
    let deep_json = nested(1_000);
    let err = json_to_value(&deep_json).unwrap_err();
    assert!(err.to_string().contains("nesting is deeper"), "{err}");
    let mut deep_value = prost_types::Value {
        kind: Some(prost_types::value::Kind::NumberValue(1.0)),
    };
    for _ in 0..1_000 {
        deep_value = prost_types::Value {
            kind: Some(prost_types::value::Kind::ListValue(
                prost_types::ListValue {
                    values: vec![deep_value],
                },
            )),
        };
    }
    let err = value_to_json(&deep_value).unwrap_err();
    assert!(err.to_string().contains("nesting is deeper"), "{err}");
}

/// Token counts whose sum passes `u64::MAX` stay at `u64::MAX` instead of wrapping (release)
/// or panicking (debug): in each of the three totals, and from rows that reach it together.
#[test]
fn token_sums_saturate_instead_of_overflowing() {
    use vertex_batch::batch_file::{PredictionReader, Summary};
    let row = |prompt: u64, candidates: u64, total: u64| {
        format!(
            r#"{{"response": {{"usageMetadata": {{"promptTokenCount": {prompt}, "candidatesTokenCount": {candidates}, "totalTokenCount": {total}}}}}, "status": ""}}"#
        )
    };
    let max = u64::MAX;
    for (rows, expected) in [
        (vec![row(0, 0, max), row(0, 0, max)], (0, 0, max)),
        (vec![row(max, 0, 0), row(1, 0, 0)], (max, 0, 0)),
        (
            vec![row(0, max / 2 + 1, 0), row(0, max / 2 + 1, 0)],
            (0, max, 0),
        ),
        (vec![row(max, max, max); 3], (max, max, max)),
        (
            vec![row(max - 1, 1, 2), row(0, 1, max - 2)],
            (max - 1, 2, max),
        ),
    ] {
        let file = rows.join("\n");
        let summary = Summary::from_reader(PredictionReader::new(file.as_bytes()))
            .expect("the rows are predictions");
        assert_eq!(
            (
                summary.usage.prompt_token_count,
                summary.usage.candidates_token_count,
                summary.usage.total_token_count
            ),
            expected,
            "{file}"
        );
        assert_eq!(summary.total, rows.len() as u64);
    }
}

/// What is read whole is read up to a limit, and past it refused with an error naming the file,
/// the line and the limit: a predictions line, a REST request body, a service-account key file.
/// `/dev/zero` stands for every file that is not what it should be.
#[cfg(unix)]
#[tokio::test]
async fn what_is_read_whole_is_capped_naming_the_file_line_and_limit() {
    use vertex_batch::batch_file::{MAX_LINE_BYTES, PredictionReader, Summary};
    use vertex_batch::run::{InputFormat, InputLines};

    let err = Summary::from_reader(PredictionReader::open("/dev/zero").expect("opens"))
        .expect_err("no line ends");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid /dev/zero line 1: is longer than the limit of 64 MiB ({MAX_LINE_BYTES} bytes) \
             a line may have"
        )
    );

    // A run's input, in both formats.
    for format in [InputFormat::Jsonl, InputFormat::Text] {
        let err = InputLines::open("/dev/zero", format)
            .expect("opens")
            .find_map(Result::err)
            .expect("no line ends");
        assert_eq!(
            err.to_string(),
            format!(
                "invalid input line 1: is longer than the limit of 64 MiB ({MAX_LINE_BYTES} \
                 bytes) a line may have"
            )
        );
    }

    // At the limit, one byte past it, on a later line, and on a last line with no newline.
    let row = r#"{"status": "x"}"#;
    let limit = row.len();
    let read = |text: String| -> Vec<Result<String, String>> {
        PredictionReader::new(text.as_bytes())
            .with_max_line_bytes(limit)
            .map(|row| row.map(|p| p.status).map_err(|e| e.to_string()))
            .collect()
    };
    assert_eq!(
        read(format!("{row}\n{row}")),
        [Ok("x".into()), Ok("x".into())]
    );
    let too_long = |line: u64| {
        Err(format!(
            "invalid line {line}: is longer than the limit of {limit} bytes a line may have"
        ))
    };
    assert_eq!(read(format!("{row} \n{row}\n")), [too_long(1)]);
    assert_eq!(
        read(format!("{row}\n\n{row}  \n{row}\n")),
        [Ok("x".into()), too_long(3)]
    );
    assert_eq!(
        read(format!("{row}\n{row}  ")),
        [Ok("x".into()), too_long(2)]
    );

    // A REST request body.
    #[cfg(feature = "json")]
    {
        use vertex_batch::json::{MAX_BODY_BYTES, job_from_json};
        let body = format!(r#"{{"displayName": "{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let err = job_from_json(&body).expect_err("too long");
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().ends_with(&format!(
                "longer than the limit of 4 MiB ({MAX_BODY_BYTES} bytes)"
            )),
            "{err}"
        );
    }

    // A service-account key file, read when the first token is fetched.
    #[cfg(feature = "emulator")]
    {
        let emulator = vertex_batch::emulator::Emulator::builder()
            .start()
            .await
            .expect("an emulator");
        let err = JobClient::builder()
            .with_project("my-project")
            .with_endpoint(emulator.endpoint().expect("its endpoint"))
            .with_credentials(Credentials::service_account_file("/dev/zero"))
            .connect()
            .await
            .expect_err("no key");
        assert!(err.is_auth(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("/dev/zero") && text.contains("limit of 64 KiB (65536 bytes)"),
            "{text}"
        );
    }
}

/// What the checks on integers let through: up to 2^53 exactly, floats as written (they are
/// f64s already), and 64-bit integers written as strings, as proto3 JSON writes them.
#[test]
fn integers_within_2_pow_53_floats_and_strings_pass() {
    use vertex_batch::params::json_from_str;
    for text in [
        "9007199254740992",
        "-9007199254740992",
        "1e300",
        "12345678901234567890123.5",
        r#"{"seed": "12345678901234567890123"}"#,
    ] {
        json_from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    #[cfg(feature = "json")]
    {
        let job = vertex_batch::json::job_from_json(
            r#"{"modelParameters": {"seed": 9007199254740992, "big": 1e30},
                "completionStats": {"successfulCount": "12345678901234567"}}"#,
        )
        .expect("accepted");
        assert_eq!(
            job.completion_stats.expect("stats").successful_count,
            12_345_678_901_234_567
        );
    }
}

/// A batch input line's generation config keeps the promise the job's parameters keep.
#[test]
fn a_request_lines_generation_config_refuses_integers_beyond_2_pow_53() {
    use vertex_batch::batch_file::BatchRequest;
    let line = |config: GenerationConfig| {
        BatchRequest::new()
            .with_user_text("hi")
            .with_generation_config(config)
            .to_json()
    };
    for (config, field) in [
        (
            GenerationConfig::new().with_param("seed", u64::MAX),
            "request.generationConfig.seed",
        ),
        (
            GenerationConfig::new().with_param("x", json!({"y": [0, i64::MIN]})),
            "request.generationConfig.x.y[1]",
        ),
    ] {
        match line(config) {
            Err(Error::InvalidInput { field: got, reason }) => {
                assert_eq!(got, field);
                assert!(reason.contains("beyond 2^53"), "{reason}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    line(GenerationConfig::new().with_param("seed", 9_007_199_254_740_992u64))
        .expect("2^53 is exact");
}

/// At the deepest nesting the client accepts, the emulator decodes the job and answers it back
/// whole, by the builder and by a REST body alike; one level deeper, the client refuses it
/// before any call (it used to reach the server's decoder and come back as a 1 KB `Internal`).
#[cfg(all(feature = "emulator", feature = "json"))]
#[tokio::test]
async fn what_the_client_accepts_the_emulator_decodes() {
    let emulator = vertex_batch::emulator::Emulator::builder()
        .start()
        .await
        .expect("an emulator");
    let client = JobClient::builder()
        .with_project("my-project")
        .with_endpoint(emulator.endpoint().expect("its endpoint"))
        .with_credentials(Credentials::none())
        .connect()
        .await
        .expect("connects");
    // model_parameters is an object: its own level counts.
    let deepest = [
        nested(32),
        json!({ "a": nested_lists(47) }),
        json!({ "a": [{ "b": nested(30) }] }),
    ];
    for parameters in deepest {
        let job = client
            .create(good().with_model_parameters(parameters.clone()))
            .await
            .unwrap_or_else(|e| panic!("{parameters}: {e}"));
        let got = client.get(&job.name).await.expect("read back");
        let params =
            value_to_json(got.model_parameters.as_ref().expect("parameters")).expect("JSON");
        assert_eq!(params, parameters);

        // The same through a REST body, and one object deeper refused: in the body, and in a
        // job made by hand, before any call.
        let body = |parameters: &Json| {
            json!({
                "displayName": "deep",
                "model": "publishers/google/models/gemini-2.0-flash-001",
                "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://bucket/i.jsonl"]}},
                "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://bucket/o"}},
                "modelParameters": parameters,
            })
            .to_string()
        };
        let job = vertex_batch::json::job_from_json(&body(&parameters)).expect("a job");
        client
            .create_job(job.clone())
            .await
            .expect("created from REST");
        let deeper = json!({ "x": parameters });
        let err = vertex_batch::json::job_from_json(&body(&deeper)).expect_err("too deep");
        assert!(
            err.to_string()
                .starts_with("invalid request body: at `modelParameters.x"),
            "{err}"
        );
        let mut job = job;
        let inner = job.model_parameters.take().expect("parameters");
        job.model_parameters = Some(prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                fields: [("x".to_owned(), inner)].into(),
            })),
        });
        let calls = emulator.calls().len();
        let err = client.create_job(job).await.expect_err("too deep");
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().starts_with("invalid model_parameters.x"),
            "{err}"
        );
        assert_eq!(emulator.calls().len(), calls, "no call went out");
    }
}

/// Phase lengths past what a clock can add (`Duration::MAX`) are taken as about a thousand
/// years: a Create answers PENDING instead of panicking in the job's phase, the clock can be
/// moved as far as asked, and the job then runs and ends.
#[cfg(feature = "emulator")]
#[tokio::test]
async fn phase_lengths_past_any_clock_saturate() {
    use std::time::Duration;
    use vertex_batch::v1::JobState;

    let emulator = vertex_batch::emulator::Emulator::builder()
        .with_manual_clock(true)
        .with_durations(Duration::MAX, Duration::MAX)
        .with_cancel_duration(Duration::MAX)
        .start()
        .await
        .expect("an emulator");
    let client = JobClient::builder()
        .with_project("my-project")
        .with_endpoint(emulator.endpoint().expect("its endpoint"))
        .with_credentials(vertex_batch::auth::Credentials::none())
        .connect()
        .await
        .expect("a client");
    let job = client.create(good()).await.expect("created");
    assert_eq!(job.state(), JobState::Pending);
    for (advance, state) in [
        (Duration::from_secs(3600), JobState::Pending),
        (Duration::MAX, JobState::Succeeded),
        (Duration::MAX, JobState::Succeeded),
    ] {
        emulator.advance(advance);
        let job = client.get(&job.name).await.expect("the job");
        assert_eq!(job.state(), state);
    }
    emulator.shutdown().await;
}

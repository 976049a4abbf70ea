//! Bad input, as a table: each malformed location, project, name, model, URI, label, model
//! parameter, option and REST body gives `Error::InvalidInput` naming its own field, before
//! any call. Property tests of the same are in `bad_input_props.rs`, limits on sizes, depths
//! and numbers in `bad_input_limits.rs`.

use serde_json::{Value as Json, json};
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::names::{BatchPredictionJobName, LocationName, ModelName};
use vertex_batch::params::{MAX_DEPTH, json_to_value, value_to_json};
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{BatchJobBuilder, Error, GenerationConfig, JobClient, JobFilter};

pub(super) fn parent() -> LocationName {
    LocationName::new("my-project", "us-central1").expect("a valid parent")
}

/// A job that builds; each case spoils one thing.
pub(super) fn good() -> BatchJobBuilder {
    BatchPredictionJob::builder("gemini-2.0-flash-001")
        .with_input("gs://bucket/prompts.jsonl")
        .with_output("gs://bucket/out")
}

/// `depth` objects, one inside the other.
pub(super) fn nested(depth: usize) -> Json {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

/// `depth` lists, one inside the other.
pub(super) fn nested_lists(depth: usize) -> Json {
    (0..depth).fold(json!(1), |inner, _| json!([inner]))
}

/// Collects (case, expected field, outcome) and checks them all at the end, so one run lists
/// every case that went wrong.
#[derive(Default)]
struct Table {
    cases: Vec<(String, String, Result<(), Error>)>,
}

impl Table {
    fn case<T>(&mut self, case: impl Into<String>, field: &str, outcome: Result<T, Error>) {
        self.cases
            .push((case.into(), field.to_owned(), outcome.map(|_| ())));
    }

    fn job(&mut self, case: &str, field: &str, job: BatchJobBuilder) {
        self.case(case, field, job.build(&parent()));
    }

    /// Every case is an InvalidInput whose field starts with the expected one and whose
    /// message names it; returns how many cases there were.
    fn check(self) -> usize {
        let mut wrong = Vec::new();
        let count = self.cases.len();
        for (case, field, outcome) in self.cases {
            match outcome {
                Err(Error::InvalidInput { field: got, reason })
                    if got.to_string().starts_with(&field) && !reason.is_empty() =>
                {
                    let text = Error::invalid(got.clone(), reason).to_string();
                    assert!(
                        text.starts_with(&format!("invalid {field}")),
                        "{case}: {text}"
                    );
                }
                Err(other) => wrong.push(format!("{case}: expected field {field}, got {other}")),
                Ok(()) => wrong.push(format!("{case}: expected field {field}, got Ok")),
            }
        }
        assert!(
            wrong.is_empty(),
            "{} cases wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        count
    }
}

#[test]
fn every_malformed_input_names_its_field() {
    let mut t = Table::default();

    // Locations: anything that could change the host name it goes into.
    for location in [
        "",
        "US-Central1",
        "us-central1.evil.com",
        "a/b",
        "x:80",
        "x@y",
        "us central1",
        "-us",
        "us-",
        "us-centrål1",
        "us-central1\n",
        &"a".repeat(64),
    ] {
        t.case(
            format!("location {location:?}"),
            "location",
            LocationName::new("my-project", location),
        );
        t.case(
            format!("endpoint for {location:?}"),
            "location",
            Endpoint::for_location(location),
        );
    }

    // Projects.
    for project in [
        "",
        "My_Project",
        "abc",
        "p/q",
        "proj-",
        "1project",
        &"p".repeat(31),
        "example.com:",
        ":my-project",
        "Example.com:my-project",
        "example..com:my-project",
        "example.com/x:my-project",
        "a:b:my-project",
        "example.com:1project",
    ] {
        t.case(
            format!("project {project:?}"),
            "project",
            LocationName::new(project, "us-central1"),
        );
    }

    // Resource names.
    t.case(
        "parent with no location",
        "parent",
        LocationName::parse("projects/my-project"),
    );
    t.case(
        "parent with extra parts",
        "parent",
        LocationName::parse("projects/p/locations/l/x"),
    );
    for name in [
        "projects/my-project/locations/us-central1/batchPredictionJobs",
        "projects/my-project/locations/us-central1/customJobs/1",
        "batchPredictionJobs/1",
    ] {
        t.case(
            format!("job name {name:?}"),
            "name",
            BatchPredictionJobName::parse(name),
        );
    }
    for id in ["", "12 34", "1?x=2", "é"] {
        t.case(format!("job id {id:?}"), "job_id", parent().job(id));
    }
    t.case(
        "job name in another location",
        "name",
        parent().job("projects/my-project/locations/europe-west4/batchPredictionJobs/1"),
    );
    t.case(
        "job name with a bad location",
        "location",
        BatchPredictionJobName::parse("projects/my-project/locations/x:80/batchPredictionJobs/1"),
    );

    // Models.
    for model in [
        "",
        "..",
        "gemini?x=1",
        "gemini&x",
        "gemini 2.0",
        "publishers//models/x",
        "models/",
        "projects/p/locations/us-central1/models/",
        "a/b/c",
        "gemini\t",
        // Publishers and model ids are lower case: the service finds no such model.
        "GEMINI-2.0-FLASH",
        "Gemini-2.0-flash-001",
        "publishers/Google/models/gemini-2.0-flash-001",
        "projects/my-project/locations/us-central1/publishers/google/models/GEMINI",
    ] {
        t.case(format!("model {model:?}"), "model", ModelName::parse(model));
        t.job(
            &format!("job with model {model:?}"),
            "model",
            BatchPredictionJob::builder(model)
                .with_input("gs://bucket/i")
                .with_output("gs://bucket/o"),
        );
    }
    t.job(
        "tuned model of another location",
        "model",
        BatchPredictionJob::builder("projects/my-project/locations/europe-west4/models/123")
            .with_input("gs://bucket/i")
            .with_output("gs://bucket/o"),
    );

    // Sources and destinations.
    let no_input = BatchPredictionJob::builder("gemini-2.0-flash-001").with_output("gs://bucket/o");
    t.job("no input", "input_config", no_input);
    let only_output =
        || BatchPredictionJob::builder("gemini-2.0-flash-001").with_output("gs://bucket/o");
    for (uri, field) in [
        ("s3://bucket/i", "inputs[0]"),
        ("http://example.com/i", "inputs[0]"),
        ("", "inputs[0]"),
        ("gs://", "input_config.gcs_source.uris[0]"),
        ("gs://b/i.jsonl", "input_config.gcs_source.uris[0]"),
        ("gs://bucket/i\u{0}", "input_config.gcs_source.uris[0]"),
        ("bq://project", "input_config.bigquery_source.input_uri"),
    ] {
        t.job(
            &format!("input {uri:?}"),
            field,
            only_output().with_inputs([uri]),
        );
    }
    t.job(
        "second input bad",
        "inputs[1]",
        only_output().with_inputs(["gs://bucket/a.jsonl", "ftp://bucket/b.jsonl"]),
    );
    t.job(
        "mixed BigQuery and Cloud Storage inputs",
        "input_config",
        good().with_inputs(["gs://bucket/a.jsonl", "bq://p.d.t"]),
    );
    let no_output = BatchPredictionJob::builder("gemini-2.0-flash-001").with_input("gs://bucket/i");
    t.job("no output", "output_config", no_output);
    for uri in [
        "s3://bucket/o",
        "gs://",
        "bq://",
        "file:///tmp/o",
        // White space in an output prefix, which the service refuses.
        "gs://bucket/runs/a b",
        "gs://bucket/o\u{3000}",
        "gs://bucket/o /",
    ] {
        t.job(
            &format!("output {uri:?}"),
            "output_config",
            good().with_output(uri),
        );
    }
    t.job(
        "bigquery format for gs input",
        "input_config.instances_format",
        good().with_instances_format("bigquery"),
    );
    t.job(
        "blank output format",
        "output_config.predictions_format",
        good().with_predictions_format(" "),
    );

    // Labels, display name, service account, encryption key.
    t.job(
        "label key with a space",
        "labels",
        good().with_label("Bad Key", "v"),
    );
    t.job("empty label key", "labels", good().with_label("", "v"));
    t.job(
        "label key starting with a digit",
        "labels",
        good().with_label("1team", "v"),
    );
    t.job(
        "label value with upper case",
        "labels",
        good().with_label("team", "ML"),
    );
    t.job(
        "label value with international upper case",
        "labels",
        good().with_label("team", "Ünï"),
    );
    // Letters without case (`日本`, \p{Lo}) are GCP label characters: accepted.
    good()
        .with_label("チーム", "日本")
        .build(&parent())
        .expect("letters without case are label characters");
    t.job(
        "label value too long",
        "labels",
        good().with_label("team", "x".repeat(64)),
    );
    t.job(
        "the reserved request-id label",
        "labels",
        good().with_label(vertex_batch::REQUEST_ID_LABEL, "x"),
    );
    t.job(
        "65 labels",
        "labels",
        good().with_labels((0..65).map(|i| (format!("k{i}"), "v".to_owned()))),
    );
    t.job(
        "display name too long",
        "display_name",
        good().with_display_name("x".repeat(200)),
    );
    t.job(
        "service account with no domain",
        "service_account",
        good().with_service_account("robot"),
    );
    t.job(
        "KMS key of the wrong shape",
        "encryption_spec.kms_key_name",
        good().with_encryption_key("projects/p/keys/k"),
    );

    // Model parameters: non-finite floats, integers an f64 cannot hold, deep nesting, wrong kinds.
    t.job(
        "NaN temperature",
        "generation_config.temperature",
        good().with_generation_config(GenerationConfig::new().with_temperature(f64::NAN)),
    );
    t.job(
        "infinite topP",
        "generation_config.topP",
        good().with_generation_config(GenerationConfig::new().with_top_p(f64::INFINITY)),
    );
    t.job(
        "-infinite presencePenalty",
        "generation_config.presencePenalty",
        good().with_generation_config(
            GenerationConfig::new().with_presence_penalty(f64::NEG_INFINITY),
        ),
    );
    t.job(
        "NaN frequencyPenalty",
        "generation_config.frequencyPenalty",
        good().with_generation_config(GenerationConfig::new().with_frequency_penalty(f32::NAN)),
    );
    t.job(
        "seed beyond 2^53",
        "model_parameters.seed",
        good().with_model_parameters(json!({"seed": 9_007_199_254_740_993u64})),
    );
    t.job(
        "u64::MAX deep inside",
        "model_parameters.a.b[1]",
        good().with_model_parameters(json!({"a": {"b": [0, u64::MAX]}})),
    );
    t.job(
        "i64::MIN",
        "model_parameters.x",
        good().with_model_parameters(json!({"x": i64::MIN})),
    );
    t.job(
        "nesting past the limit",
        "model_parameters",
        good().with_model_parameters(nested(MAX_DEPTH + 5)),
    );
    // Nesting as protobuf decoders count it: a list takes 2 message levels, an object 3.
    for (case, parameters, field) in [
        ("33 objects", nested(33), "model_parameters.a"),
        ("99 objects", nested(99), "model_parameters.a"),
        (
            "50 lists",
            json!({ "a": nested_lists(49) }),
            "model_parameters.a[0]",
        ),
        (
            "an object of 48 lists",
            json!({ "a": nested_lists(48) }),
            "model_parameters.a[0]",
        ),
        (
            "lists and objects, one level too many",
            json!({ "a": [{ "b": nested(31) }] }),
            "model_parameters.a[0].b",
        ),
    ] {
        t.job(
            &format!("model parameters nested {case}"),
            field,
            good().with_model_parameters(parameters),
        );
    }
    t.job(
        "parameters that are a list",
        "model_parameters",
        good().with_model_parameters(json!([1, 2])),
    );
    t.job(
        "parameters that are a string",
        "model_parameters",
        good().with_model_parameters(json!("hot")),
    );
    t.job(
        "extra param beyond 2^53",
        "model_parameters.big",
        good().with_generation_config(GenerationConfig::new().with_param("big", u64::MAX)),
    );
    for key in ["", " ", "\t"] {
        t.job(
            &format!("extra param named {key:?}"),
            "generation_config",
            good().with_generation_config(GenerationConfig::new().with_param(key, 1)),
        );
        t.job(
            &format!("model parameter named {key:?}"),
            "model_parameters",
            good().with_model_parameters(json!({ key: 1 })),
        );
    }
    t.case(
        "a bare value beyond 2^53",
        "value",
        json_to_value(&json!(-9_007_199_254_740_993i64)),
    );
    t.case(
        "a bare value nested too deep",
        "value",
        json_to_value(&nested(MAX_DEPTH + 1)),
    );
    // Integers beyond 2^53 as text, also beyond 64 bits (which parsing alone would round).
    for (text, field) in [
        (r#"{"seed": 18446744073709551616}"#, "value.seed"),
        (r#"{"seed": 12345678901234567890123}"#, "value.seed"),
        (r#"{"seed": 9007199254740993}"#, "value.seed"),
        ("-18446744073709551617", "value"),
        (
            r#"{"a": [0, {"b c": [1, 99999999999999999999999999999]}]}"#,
            "value.a[1][\"b c\"][1]",
        ),
    ] {
        t.case(
            format!("JSON text {text}"),
            field,
            vertex_batch::params::json_from_str(text),
        );
    }
    t.case(
        "JSON text that is not JSON",
        "value",
        vertex_batch::params::json_from_str("{seed: 1}"),
    );
    let nan = prost_types::Value {
        kind: Some(prost_types::value::Kind::NumberValue(f64::NAN)),
    };
    t.case("a Value holding NaN", "value", value_to_json(&nan));
    t.case(
        "a Value with no kind",
        "value",
        value_to_json(&prost_types::Value { kind: None }),
    );

    // Endpoints, ports that no socket has among them (they would fall back to 443 or 80).
    for url in [
        "",
        "not a url",
        "ftp://example.com",
        "http://",
        "https://127.0.0.1:99999",
        "https://127.0.0.1:65536",
        "http://localhost:4294967297",
        "https://[::1]:70000",
        "https://127.0.0.1:0",
        "https://127.0.0.1:",
        "https://127.0.0.1:+80",
        "https://127.0.0.1:-1",
        "https://127.0.0.1:8o",
    ] {
        t.case(
            format!("endpoint {url:?}"),
            "endpoint",
            Endpoint::custom(url),
        );
    }

    // REST request bodies (proto3 JSON) with wrong types, names and shapes.
    #[cfg(feature = "json")]
    {
        use vertex_batch::json::job_from_json;
        let bodies: [(&str, &str); 12] = [
            ("{", "request body"),
            (r#"{"displayName": 5}"#, "displayName"),
            (r#"{"model": ["gemini"]}"#, "model"),
            (r#"{"inputConfig": "gs://bucket/i"}"#, "inputConfig"),
            (r#"{"inputConfig": {"gcsSource": {"uris": 5}}}"#, "uris"),
            (r#"{"labels": {"team": 1}}"#, "labels"),
            (r#"{"labels": ["team"]}"#, "labels"),
            (r#"{"state": "JOB_STATE_BORED"}"#, "state"),
            (r#"{"createTime": "yesterday"}"#, "createTime"),
            (
                r#"{"completionStats": {"successfulCount": "many"}}"#,
                "successfulCount",
            ),
            (r#"{"displayNmae": "typo"}"#, "displayNmae"),
            (r#"[]"#, "request body"),
        ];
        // Integers beyond 2^53 anywhere in a body, as written: in a protobuf number they would
        // change value, and a 64-bit integer field takes them as strings.
        let big = [
            (
                r#"{"modelParameters": {"seed": 12345678901234567890123}}"#,
                "at `modelParameters.seed`: 12345678901234567890123 is beyond 2^53",
            ),
            (
                r#"{"modelParameters": {"seed": 18446744073709551615}}"#,
                "at `modelParameters.seed`: 18446744073709551615 is beyond 2^53",
            ),
            (
                r#"{"modelParameters": {"stop": [1, -9007199254740993]}}"#,
                "at `modelParameters.stop[1]`: -9007199254740993",
            ),
            (
                r#"{"completionStats": {"successfulCount": 9007199254740993}}"#,
                "at `completionStats.successfulCount`",
            ),
        ];
        for (body, named) in big.into_iter().chain(bodies) {
            let outcome = job_from_json(body);
            if let Err(err) = &outcome {
                assert!(
                    err.to_string().contains(named),
                    "{body}: {err} does not name {named}"
                );
            }
            t.case(format!("REST body {body}"), "request body", outcome);
        }
        t.case(
            "a parsed REST body with u64::MAX",
            "request body",
            vertex_batch::json::job_from_json_value(json!({"modelParameters": {"seed": u64::MAX}})),
        );
    }

    let count = t.check();
    assert!(count >= 50, "only {count} cases");
    println!("{count} malformed inputs, each refused naming its field");
}

/// Older organisations' projects are scoped by a domain, `example.com:my-project`; the service
/// takes them wherever it takes a project, and so does every check here.
#[tokio::test]
async fn domain_scoped_projects_pass_wherever_a_project_appears() {
    const PROJECT: &str = "example.com:my-project";
    let parent = LocationName::new(PROJECT, "us-central1").expect("a domain-scoped parent");
    let text = "projects/example.com:my-project/locations/us-central1";
    assert_eq!(parent.to_string(), text);
    assert_eq!(LocationName::parse(text).expect("parses"), parent);
    let job = BatchPredictionJobName::parse(&format!("{text}/batchPredictionJobs/42"))
        .expect("a domain-scoped job name");
    assert_eq!(job.project(), PROJECT);
    assert_eq!(parent.job("42").expect("an id"), job);

    let built = BatchPredictionJob::builder(format!("{text}/models/7@2"))
        .with_input("bq://example.com:my-project.dataset.table")
        .with_output("bq://example.com:my-project.dataset")
        .build(&parent)
        .expect("a domain-scoped BigQuery job builds");
    assert_eq!(built.model, format!("{text}/models/7@2"));

    let client = JobClient::builder()
        .with_project(PROJECT)
        .with_location("us-central1")
        .with_endpoint(
            Endpoint::custom("http://127.0.0.1:9")
                .expect("a URL")
                .with_lazy_connect(true),
        )
        .with_credentials(Credentials::none())
        .connect()
        .await
        .expect("a client for a domain-scoped project");
    assert_eq!(
        client.job_name("42").expect("an id").to_string(),
        job.to_string()
    );
}

#[tokio::test]
async fn a_client_refuses_bad_arguments_before_dialling() {
    // Nothing listens on port 9 and the endpoint is lazy: any call that went out would fail
    // with a transport error, not InvalidInput.
    let endpoint = Endpoint::custom("http://127.0.0.1:9")
        .expect("a URL")
        .with_lazy_connect(true);
    let client = JobClient::builder()
        .with_project("my-project")
        .with_location("us-central1")
        .with_endpoint(endpoint.clone())
        .with_credentials(Credentials::none())
        .connect()
        .await
        .expect("a lazy client");
    let mut t = Table::default();
    t.case(
        "get of a name with a slash",
        "name",
        client.get("a/b").await,
    );
    t.case("get of an empty id", "job_id", client.get("").await);
    t.case(
        "cancel of an id with a space",
        "job_id",
        client.cancel("1 2").await,
    );
    t.case(
        "delete in another location",
        "name",
        client
            .delete("projects/my-project/locations/eu/batchPredictionJobs/1")
            .await,
    );
    t.case(
        "page size beyond i32",
        "page_size",
        client.list_page(&JobFilter::new(), u32::MAX, None).await,
    );
    t.case(
        "create with no output",
        "output_config",
        client
            .create(BatchPredictionJob::builder("gemini-2.0-flash-001").with_input("gs://bucket/i"))
            .await,
    );
    let builder = || {
        JobClient::builder()
            .with_endpoint(endpoint.clone())
            .with_credentials(Credentials::none())
    };
    t.case(
        "client with a bad project",
        "project",
        builder()
            .with_project("P")
            .with_location("us-central1")
            .connect()
            .await,
    );
    t.case(
        "client with a bad location",
        "location",
        builder()
            .with_project("my-project")
            .with_location("us-central1.evil.com")
            .connect()
            .await,
    );
    t.case(
        "quota project with a newline",
        "quota_project",
        builder()
            .with_project("my-project")
            .with_quota_project("a\nb")
            .connect()
            .await,
    );
    assert_eq!(t.check(), 9);
}

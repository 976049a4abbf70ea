//! Bad input, as a table: each malformed location, project, name, model, URI, label, model
//! parameter, option and REST body gives `Error::InvalidInput` naming its own field, before
//! any call. Then property tests: no input makes the parsers or converters panic, and what they
//! accept keeps the promises the docs make (a location never changes the host it goes into).
//! Goes beyond the unit proptests in src/params.rs and src/names.rs: full-range numbers,
//! nesting past the limit, the job builder, endpoints and REST bodies.

use proptest::prelude::*;
use serde_json::{Value as Json, json};
use vertex_batch::auth::Credentials;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::names::{BatchPredictionJobName, LocationName, ModelName, resolve_model};
use vertex_batch::params::{MAX_DEPTH, json_to_value, value_to_json};
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{BatchJobBuilder, Error, GenerationConfig, JobClient, JobFilter};

fn parent() -> LocationName {
    LocationName::new("my-project", "us-central1").expect("a valid parent")
}

/// A job that builds; each case spoils one thing.
fn good() -> BatchJobBuilder {
    BatchPredictionJob::builder("gemini-2.0-flash-001")
        .with_input("gs://bucket/prompts.jsonl")
        .with_output("gs://bucket/out")
}

/// `depth` objects, one inside the other.
fn nested(depth: usize) -> Json {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

/// `depth` lists, one inside the other.
fn nested_lists(depth: usize) -> Json {
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
                    if got.starts_with(&field) && !reason.is_empty() =>
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
    for uri in ["s3://bucket/o", "gs://", "bq://", "file:///tmp/o"] {
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
    t.job(
        "label value of letters without case",
        "labels",
        good().with_label("team", "日本"),
    );
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

/// JSON of any shape, with full-range numbers (beyond 2^53, negative, floats of every size)
/// and nesting up to twice the limit.
fn wild_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from), // NaN and infinities become null, as serde_json does
        ".{0,12}".prop_map(Json::String),
    ];
    leaf.prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// A REST body built from the job's real field names with values of any type.
fn wild_body() -> impl Strategy<Value = Json> {
    let keys = prop::sample::select(vec![
        "displayName",
        "model",
        "inputConfig",
        "outputConfig",
        "gcsSource",
        "uris",
        "instancesFormat",
        "labels",
        "modelParameters",
        "state",
        "createTime",
        "completionStats",
        "successfulCount",
        "encryptionSpec",
        "outputInfo",
        "error",
        "code",
        "details",
    ]);
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        "[a-zA-Z0-9_:./-]{0,12}".prop_map(Json::String),
        Just(json!("JOB_STATE_RUNNING")),
        Just(json!("2024-01-01T00:00:00Z")),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| Json::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_converts_or_is_refused_for_a_documented_reason(json in wild_json()) {
        match json_to_value(&json) {
            Ok(value) => {
                // What converts reads back without error.
                prop_assert!(value_to_json(&value).is_ok());
            }
            Err(err) => {
                let text = err.to_string();
                prop_assert!(err.is_invalid_input());
                prop_assert!(
                    text.contains("nesting is deeper") || text.contains("2^53") || text.contains("exactly"),
                    "undocumented refusal: {}", text
                );
            }
        }
    }

    #[test]
    fn any_generation_config_encodes_or_names_the_bad_float(t in any::<f64>(), p in any::<f32>(), k in any::<u32>(), seed in any::<i32>()) {
        let config = GenerationConfig::new().with_temperature(t).with_top_p(p).with_top_k(k).with_seed(seed);
        match config.to_value() {
            Ok(value) => prop_assert!(t.is_finite() && p.is_finite() && value_to_json(&value).is_ok()),
            Err(err) => {
                let text = err.to_string();
                prop_assert!(!t.is_finite() || !p.is_finite());
                prop_assert!(text.contains("temperature") || text.contains("topP"), "{}", text);
            }
        }
    }

    #[test]
    fn any_rest_body_parses_or_is_refused_without_panic(body in wild_body()) {
        #[cfg(feature = "json")]
        {
            let text = body.to_string();
            if let Err(err) = vertex_batch::json::job_from_json(&text) {
                prop_assert!(err.is_invalid_input());
            }
        }
        #[cfg(not(feature = "json"))]
        let _ = body;
    }

    #[test]
    fn any_text_as_a_rest_body_is_refused_or_parsed_without_panic(text in ".{0,64}") {
        #[cfg(feature = "json")]
        let _ = vertex_batch::json::job_from_json(&text);
        #[cfg(not(feature = "json"))]
        let _ = text;
    }

    #[test]
    fn a_location_that_passes_never_changes_the_host(location in "[a-zA-Z0-9.:/@ _%-]{0,24}") {
        if let Ok(endpoint) = Endpoint::for_location(&location) {
            let host = endpoint.host().to_owned();
            prop_assert!(host.ends_with(".googleapis.com"), "{}", host);
            prop_assert!(!host.contains(['/', '@', ':', ' ', '%']), "{}", host);
            prop_assert_eq!(host.matches(".googleapis.com").count(), 1);
            prop_assert!(LocationName::new("my-project", &location).is_ok());
        }
    }

    #[test]
    fn any_url_as_an_endpoint_is_refused_or_accepted_without_panic(url in "(https?://)?[a-z0-9.:/@\\[\\]%-]{0,30}") {
        if let Ok(endpoint) = Endpoint::custom(&url) {
            prop_assert!(endpoint.uri().starts_with("http"));
        }
    }

    #[test]
    fn any_builder_input_builds_or_names_a_field(
        model in "[a-z0-9./@?&-]{0,24}",
        input in "(gs|bq|s3)://[a-z0-9._/-]{0,16}",
        output in "(gs|bq|s3)://[a-z0-9._/-]{0,16}",
        key in "[a-zA-Z0-9_ -]{0,8}",
        value in "[a-zA-Z0-9_ -]{0,8}",
        display in ".{0,8}",
    ) {
        let job = BatchPredictionJob::builder(model.clone())
            .with_input(input)
            .with_output(output)
            .with_label(key, value)
            .with_display_name(display)
            .build(&parent());
        match job {
            Ok(job) => {
                // An accepted model is one of the documented full forms.
                prop_assert!(job.model.starts_with("publishers/") || job.model.starts_with("projects/"), "{}", job.model);
                prop_assert_eq!(resolve_model(&model).unwrap(), job.model);
            }
            Err(Error::InvalidInput { field, .. }) => prop_assert!(!field.is_empty()),
            Err(other) => prop_assert!(false, "not an input error: {}", other),
        }
    }
}

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
                summary.prompt_tokens,
                summary.candidates_tokens,
                summary.total_tokens
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

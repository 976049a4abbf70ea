//! Property tests of bad input: no input makes the parsers or converters panic, and what they
//! accept keeps the promises the docs make (a location never changes the host it goes into).
//! Goes beyond the unit proptests in src/params.rs and src/names.rs: full-range numbers,
//! nesting past the limit, the job builder, endpoints and REST bodies.

use proptest::prelude::*;
use serde_json::Value as Json;

use super::bad_input::parent;
use serde_json::json;
use vertex_batch::endpoint::Endpoint;
use vertex_batch::names::{LocationName, resolve_model};
use vertex_batch::params::{json_to_value, value_to_json};
use vertex_batch::v1::BatchPredictionJob;
use vertex_batch::{Error, GenerationConfig};
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
            Err(Error::InvalidInput { field, .. }) => prop_assert!(!field.to_string().is_empty()),
            Err(other) => prop_assert!(false, "not an input error: {}", other),
        }
    }
}

//! Model parameters to `google.protobuf.Value` and back: the documented GenerationConfig, and a
//! 1,000-key JSON object (a generous stand-in for a large response schema).
//!
//! ```text
//! cargo bench --bench params
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value as Json, json};
use vertex_batch::GenerationConfig;
use vertex_batch::params::{json_to_value, value_to_json};

/// Every documented parameter set.
fn generation_config() -> GenerationConfig {
    GenerationConfig::new()
        .with_temperature(0.2)
        .with_top_p(0.95)
        .with_top_k(40)
        .with_max_output_tokens(200)
        .with_candidate_count(1)
        .with_stop_sequences(["\n\n", "END"])
        .with_presence_penalty(0.1)
        .with_frequency_penalty(0.2)
        .with_seed(42)
        .with_response_mime_type("application/json")
}

/// 1,000 keys with a mix of numbers, strings, booleans, lists and small objects.
fn thousand_keys() -> Json {
    let mut map = Map::new();
    for i in 0..1000 {
        let value = match i % 5 {
            0 => json!(i),
            1 => json!(format!("value number {i}")),
            2 => json!(i % 2 == 0),
            3 => json!([i, i as f64 + 0.25, "x"]), // not whole: whole floats read back as integers
            _ => json!({"nested": i, "label": "k"}),
        };
        map.insert(format!("key{i:04}"), value);
    }
    Json::Object(map)
}

fn bench(c: &mut Criterion) {
    let config = generation_config();
    let config_value = config.to_value().expect("a finite config");
    c.bench_function("generation_config_to_value", |b| {
        b.iter(|| black_box(&config).to_value().expect("encodes"))
    });
    c.bench_function("generation_config_value_to_json", |b| {
        b.iter(|| value_to_json(black_box(&config_value)).expect("decodes"))
    });

    let object = thousand_keys();
    let object_value = json_to_value(&object).expect("encodes");
    assert_eq!(value_to_json(&object_value).expect("decodes"), object);
    c.bench_function("json_1000_keys_to_value", |b| {
        b.iter(|| json_to_value(black_box(&object)).expect("encodes"))
    });
    c.bench_function("json_1000_keys_value_to_json", |b| {
        b.iter(|| value_to_json(black_box(&object_value)).expect("decodes"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);

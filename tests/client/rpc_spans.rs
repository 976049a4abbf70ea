//! Every RPC attempt is a `vertex_batch.rpc` span with its method, resource, attempt, status code
//! and duration; no token and no request body ever appear in it.
//!
//! The test runs alone in a process of its own (`support::isolation`): tracing caches, for the
//! whole process, whether any subscriber wants a span, and other tests' threads reaching the same
//! spans while this test's subscriber is being set can leave them switched off for it.
#![cfg(feature = "emulator")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::support::client::*;
use tonic::Code;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use vertex_batch::emulator::Fault;

/// The fields of every `vertex_batch.rpc` span, as text.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "vertex_batch.rpc" {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().insert(id.into_u64(), fields);
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(fields) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

#[tokio::test]
async fn each_attempt_is_a_span_with_its_outcome_and_no_secret() {
    if crate::support::isolation::rerun_alone(
        module_path!(),
        "each_attempt_is_a_span_with_its_outcome_and_no_secret",
    ) {
        return;
    }
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    let (emu, client) = start().await;
    let job = client.create(gcs_job("traced")).await.unwrap();
    emu.fault(Fault::fail_next(
        "GetBatchPredictionJob",
        1,
        Code::Unavailable,
    ));
    client.get(&job.name).await.unwrap();

    let spans = spans
        .0
        .lock()
        .unwrap()
        .values()
        .cloned()
        .collect::<Vec<_>>();
    let gets: Vec<_> = spans
        .iter()
        .filter(|s| s["method"] == "GetBatchPredictionJob")
        .collect();
    assert_eq!(gets.len(), 2, "{spans:#?}");
    assert_eq!(gets[0]["attempt"], "1");
    assert_eq!(gets[0]["code"], "Unavailable");
    assert_eq!(gets[1]["attempt"], "2");
    assert_eq!(gets[1]["code"], "Ok");
    assert_eq!(gets[1]["resource"], job.name);
    assert!(gets[1].contains_key("duration_ms"));
    let create = spans
        .iter()
        .find(|s| s["method"] == "CreateBatchPredictionJob")
        .unwrap();
    assert_eq!(
        create["resource"],
        "projects/test-project/locations/us-central1"
    );

    let text = format!("{spans:?}");
    assert!(
        !text.contains("Bearer") && !text.contains("authorization"),
        "{text}"
    );
    assert!(!text.contains("gs://"), "no request body in spans: {text}");
}

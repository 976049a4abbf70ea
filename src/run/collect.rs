//! Reading a job's output into the join: every `predictions*.jsonl` file of its output
//! directory, streamed.

use futures_util::TryStreamExt;

use super::lines::LineSplitter;
use super::rows::{JobRows, RowTable, Tally};
use super::spool::LineSpool;
use crate::batch_file::is_predictions_file;
use crate::error::Result;
use crate::storage::{ObjectUri, Storage};

/// Reads every output file under `dir` (the job's `gcs_output_directory`, or the prefix it was
/// given when the job names none) into `table`. Gives the bytes read.
pub(crate) async fn collect_job(
    storage: &Storage,
    dir: &ObjectUri,
    rows: JobRows,
    table: &mut RowTable,
    spool: &mut LineSpool,
    tally: &mut Tally,
) -> Result<u64> {
    let mut files: Vec<ObjectUri> = storage
        .list(dir)
        .try_filter_map(|object| async move {
            Ok(is_predictions_file(object.uri.name()).then_some(object.uri))
        })
        .try_collect()
        .await?;
    files.sort();
    let mut bytes = 0;
    for file in files {
        let mut stream = storage.download(&file, ..).await?;
        let mut splitter = LineSplitter::default();
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
            splitter.feed(&chunk, |line| table.take_line(line, rows, spool, tally))?;
        }
        splitter.finish(|line| table.take_line(line, rows, spool, tally))?;
        tracing::info!(target: "vertex_batch::run::step", file = %file, "output file read");
    }
    Ok(bytes)
}

#[cfg(all(test, feature = "emulator"))]
mod tests {
    use super::*;
    use crate::auth::Credentials;
    use crate::run::isolate::{Apart, RowGroup};
    use crate::run::rows::RowState;
    use crate::run::spool::ScratchDir;

    /// Output lines as a service might re-serialise them: rows out of order and across two
    /// files, repeated, keys in another order, snake_case, numbers written another way, the
    /// row id as a number, in the key or in the labels, a row of no job of this run, a row
    /// missing, and a line echoing another row's request.
    const FILE_1: &str = r#"{"status":"","processed_time":"t","request":{"contents":[],"labels":{"vertex_batch_row":5}},"response":{"candidates":[],"usage_metadata":{"prompt_token_count":1,"total_token_count":3}}}
{"key":"0","status":"Too Many Requests: {\"error\": {\"code\": 429}}","request":{"labels":{"vertex_batch_row":"0"},"contents":[]}}
{"response":{"usageMetadata":{"promptTokenCount":2,"totalTokenCount":4}},"request":{"generation_config":{"temperature":2e-1},"labels":{"team":"x","vertex_batch_row":"3"}},"status":null}
{"status":"","key":0,"request":{"contents":[]},"response":{"usageMetadata":{"totalTokenCount":10}}}
"#;
    const FILE_2: &str = r#"{"status":"","request":{"labels":{"vertex_batch_row":"3","team":"x"},"generation_config":{"temperature":0.2}},"response":{"usageMetadata":{"totalTokenCount":100}}}
{"status":"","request":{"labels":{"vertex_batch_row":"1","a":"b"},"contents":[]},"response":{"usageMetadata":{"totalTokenCount":20}}}
{"status":"","request":{"labels":{"vertex_batch_row":"9"}},"response":{}}
{"status":"","request":{"labels":{"vertex_batch_row":"4"},"contents":[{"parts":[{"text":"another prompt"}]}]},"response":{"usageMetadata":{"totalTokenCount":1000}}}
{"key":"2","status":"Bad Request: {\"error\": {\"code\": 400}}","request":{"contents":[]}}"#;

    /// The requests staged for rows 0 to 5 of the lines above.
    fn staged_hashes() -> Vec<u64> {
        use crate::run::rows::tests::hash_of;
        [
            r#"{"contents": []}"#,
            r#"{"contents": [], "labels": {"a": "b"}}"#,
            r#"{"contents": []}"#,
            r#"{"generation_config": {"temperature": 0.2}, "labels": {"team": "x"}}"#,
            r#"{"contents": [{"parts": [{"text": "row 4's prompt"}]}]}"#,
            r#"{"contents": []}"#,
        ]
        .iter()
        .map(|request| hash_of(request))
        .collect()
    }

    /// Uploads `files` (name, text) to `dir` on an emulator and collects it as the output of
    /// one job sent a row for each of `staged`, then closes the job.
    async fn collect_files(
        dir: &str,
        files: &[(&str, &str)],
        staged: Vec<u64>,
    ) -> (RowTable, Tally) {
        let emu = crate::emulator::Emulator::builder().start().await.unwrap();
        let storage = Storage::builder()
            .with_endpoint(emu.storage_uri())
            .with_credentials(Credentials::none())
            .build()
            .unwrap();
        let dir: ObjectUri = dir.parse().unwrap();
        for (name, text) in files {
            storage
                .upload_bytes(&dir.join(name).unwrap(), text.as_bytes().to_vec())
                .await
                .unwrap();
        }
        let scratch = ScratchDir::new(&std::env::temp_dir(), "collecttest").unwrap();
        let mut spool = LineSpool::create(scratch.file("lines")).unwrap();
        let rows = JobRows {
            round: 0,
            shard: 0,
            first: 0,
            last: staged.len() as u64 - 1,
            group: RowGroup::Importable,
        };
        let mut table = RowTable::new(staged, Apart::default());
        let mut tally = Tally::default();
        collect_job(&storage, &dir, rows, &mut table, &mut spool, &mut tally)
            .await
            .unwrap();
        table.close_job(rows, true, &mut tally);
        emu.shutdown().await;
        (table, tally)
    }

    #[tokio::test]
    async fn outputs_in_any_order_across_files_with_repeats_join_by_row_id() {
        let (table, tally) = collect_files(
            "gs://bucket/out/prediction-model-1/",
            &[
                ("predictions_00002.jsonl", FILE_2),
                ("predictions_00001.jsonl", FILE_1),
                ("errors_stats.json", "not rows"),
            ],
            staged_hashes(),
        )
        .await;
        let states: Vec<RowState> = (0..6).map(|row| table.slot(row).state).collect();
        assert_eq!(
            states,
            [
                RowState::Answered, // a failure, then a good answer
                RowState::Answered,
                RowState::Failed,
                RowState::Answered,   // seen twice: the first answer kept
                RowState::Mismatched, // its only line echoed another prompt
                RowState::Answered,
            ]
        );
        assert!(!table.slot(2).transient);
        assert!(table.slot(4).transient, "a mismatched row is sent again");
        assert_eq!(
            tally,
            Tally {
                repeated: 2,
                unexpected: 1,
                unreadable: 0,
                missing: 0,
                mismatched: 1,
            }
        );
        assert_eq!(
            table.usage.total_token_count,
            3 + 4 + 10 + 20,
            "each answer counted once"
        );
    }

    /// Output lines typed in from public samples of Vertex AI's output (each line's source in
    /// `tests/data/golden_predictions.md`).
    const GOLDEN: &str = include_str!("../../tests/data/golden_predictions.jsonl");

    /// The requests of the golden lines as a user would have sent them: in their order, camel
    /// or snake case as the line has it, no null-filled parts (the inputs of the notebook and
    /// of the "Batch inference from Cloud Storage" page).
    fn golden_staged_hashes() -> Vec<u64> {
        use crate::run::rows::tests::hash_of;
        [
            r#"{"contents": [{"role": "user", "parts": [{"text": "List objects in this image."}, {"file_data": {"file_uri": "gs://cloud-samples-data/generative-ai/image/gardening-tools.jpeg", "mime_type": "image/jpeg"}}]}], "generationConfig": {"temperature": 0.4}}"#,
            r#"{"contents": [{"role": "user", "parts": [{"text": "What is the relation between the following video and image samples?"}, {"fileData": {"fileUri": "gs://cloud-samples-data/generative-ai/video/animals.mp4", "mimeType": "video/mp4"}}, {"fileData": {"fileUri": "gs://cloud-samples-data/generative-ai/image/cricket.jpeg", "mimeType": "image/jpeg"}}]}], "generationConfig": {"temperature": 0.9, "topP": 1.0, "maxOutputTokens": 256}}"#,
            r#"{"contents": [{"role": "assistant", "parts": [{"text": "Hello"}]}]}"#,
            r#"{"contents": [{"role": "assistant", "parts": [{"text": "Hello"}]}]}"#,
            r#"{"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}"#,
        ]
        .iter()
        .map(|request| hash_of(request))
        .collect()
    }

    /// Collects `text` as the one output file of a job sent rows 0..=4.
    async fn collect_text(text: &str) -> (RowTable, Tally) {
        collect_files(
            "gs://bucket/out/prediction-model-2025-12-26T20:29:02.829566Z/",
            &[("predictions.jsonl", text)],
            golden_staged_hashes(),
        )
        .await
    }

    #[tokio::test]
    async fn golden_lines_without_a_row_id_are_counted_not_joined() {
        let (table, tally) = collect_text(GOLDEN).await;
        assert_eq!(
            tally,
            Tally {
                repeated: 0,
                unexpected: 5,
                unreadable: 0,
                missing: 5,
                mismatched: 0,
            }
        );
        assert_eq!(table.counts(), (0, 5));
    }

    /// The golden lines with this run's row id added to each echoed request, the rest of
    /// each line as the service wrote it.
    #[tokio::test]
    async fn golden_lines_join_by_row_id() {
        let labelled: String = GOLDEN
            .lines()
            .enumerate()
            .map(|(row, line)| {
                let with_id = line.replacen(
                    "\"request\": {",
                    &format!("\"request\": {{\"labels\": {{\"vertex_batch_row\": \"{row}\"}}, "),
                    1,
                );
                assert_ne!(with_id, line);
                with_id + "\n"
            })
            .collect();
        let (table, tally) = collect_text(&labelled).await;
        assert_eq!(tally, Tally::default());
        let states: Vec<RowState> = (0..5).map(|row| table.slot(row).state).collect();
        assert_eq!(
            states,
            [
                RowState::Answered,
                RowState::Answered,
                RowState::Failed, // no response
                RowState::Failed, // "response": {}
                RowState::Answered,
            ]
        );
        assert!(
            !table.slot(2).transient && !table.slot(3).transient,
            "400 is final"
        );
        assert_eq!(table.usage.prompt_token_count, 264 + 29180 + 6);
        assert_eq!(table.usage.total_token_count, 374 + 29216 + 10);
    }
}

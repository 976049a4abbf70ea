//! Every statement a run over tables sends to BigQuery, written in one place so that each can be
//! read (and was tried, against bqemulator 1.4.0 and the BigQuery documentation) as a whole.
//!
//! No statement brings rows to the client: the run reads back only counts, bucket sizes and
//! sums. The row id is the user's key column (checked unique and not NULL first); a row's
//! *bucket* is `MOD(ABS(FARM_FINGERPRINT(CAST(key AS STRING))), buckets)`, and a shard is a range
//! of buckets, so shards are made where the rows are, under the per-job limit, from the bucket
//! sizes alone. Each staged request carries the key's fingerprint as its `labels` row id
//! ([`ROW_LABEL`]); an output row counts for a request only when the output's key column (which
//! the service copies from the input, "Batch inference from BigQuery") and the label inside the
//! echoed request both name that request, in that job.

use crate::bigquery::TableUri;
use crate::run::ROW_LABEL;

/// The key and request columns of an input, and how to read them.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) input: TableUri,
    /// The key column's name, as the schema spells it.
    pub(crate) key: String,
    /// The `request` column is `JSON` (else `STRING` holding JSON text).
    pub(crate) request_is_json: bool,
}

/// The column of a staged table that holds a row's bucket.
const BUCKET: &str = "vertex_batch_bucket";

/// A column name quoted for Standard SQL (the checks refuse a name with a backquote).
pub(crate) fn column(name: &str) -> String {
    format!("`{name}`")
}

/// A string literal for Standard SQL.
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl Source {
    fn key(&self) -> String {
        column(&self.key)
    }

    /// The request as JSON.
    fn request(&self) -> &'static str {
        if self.request_is_json {
            "request"
        } else {
            "SAFE.PARSE_JSON(request)"
        }
    }

    /// What the run checks before anything is made, in one pass over the input: rows, rows
    /// with no key, rows whose request is missing or not JSON, requests that already carry
    /// the run's row label, and a hash of every key and request whatever their order (a run
    /// started again on a changed input is refused, as a file run's is).
    pub(crate) fn facts(&self) -> String {
        format!(
            "SELECT COUNT(*) AS rows_total, COUNTIF({key} IS NULL) AS null_keys, \
             COUNTIF({request} IS NULL) AS bad_requests, \
             COUNTIF(JSON_VALUE({request}, '$.labels.{ROW_LABEL}') IS NOT NULL) AS labelled, \
             BIT_XOR(FARM_FINGERPRINT(CONCAT(CAST({key} AS STRING), '|', \
             TO_JSON_STRING({request})))) AS content FROM {input}",
            key = self.key(),
            request = self.request(),
            input = self.input.sql(),
        )
    }

    /// Up to three keys that more than one row has, with how many.
    pub(crate) fn duplicate_keys(&self) -> String {
        format!(
            "SELECT CAST({key} AS STRING) AS duplicate, COUNT(*) AS n FROM {input} \
             WHERE {key} IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1 ORDER BY 2 DESC, 1 LIMIT 3",
            key = self.key(),
            input = self.input.sql(),
        )
    }

    /// A row's bucket, from its key.
    fn bucket(&self, key: &str, buckets: u64) -> String {
        format!("MOD(ABS(FARM_FINGERPRINT(CAST({key} AS STRING))), {buckets})")
    }

    /// Round 0's rows: every input row's key, its request with the row label, its bucket;
    /// clustered by bucket, so that each shard's statement reads only its buckets' blocks.
    pub(crate) fn first_rows(&self, rows: &TableUri, buckets: u64) -> String {
        let key = self.key();
        format!(
            "CREATE TABLE IF NOT EXISTS {rows} CLUSTER BY {BUCKET} AS SELECT {key}, \
             JSON_SET({request}, '$.labels.{ROW_LABEL}', \
             CAST(FARM_FINGERPRINT(CAST({key} AS STRING)) AS STRING)) AS request, \
             {bucket} AS {BUCKET} FROM {input}",
            rows = rows.sql(),
            request = self.request(),
            bucket = self.bucket(&key, buckets),
            input = self.input.sql(),
        )
    }

    /// The rows of a round by bucket: `(bucket, rows)`, in bucket order.
    pub(crate) fn bucket_sizes(rows: &TableUri) -> String {
        format!(
            "SELECT {BUCKET}, COUNT(*) AS n FROM {rows} GROUP BY 1 ORDER BY 1",
            rows = rows.sql()
        )
    }

    /// A shard: the rows of buckets `first..=last`, with only the key and the request (the
    /// service copies the input's columns into its output).
    pub(crate) fn shard(&self, rows: &TableUri, shard: &TableUri, first: u64, last: u64) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {shard} AS SELECT {key}, request FROM {rows} \
             WHERE {BUCKET} BETWEEN {first} AND {last}",
            shard = shard.sql(),
            key = self.key(),
            rows = rows.sql(),
        )
    }

    /// The rows a round sent, each with its round, shard and row label.
    fn sent(&self, round: &Sent) -> String {
        let key = self.key();
        let mut parts = Vec::new();
        for shard in &round.shards {
            parts.push(format!(
                "SELECT {r} AS vb_round, {s} AS vb_shard, {key} AS vb_key, request AS vb_request, \
                 JSON_VALUE(request, '$.labels.{ROW_LABEL}') AS vb_label, \
                 {retriable} AS vb_missing_retriable, {job} AS vb_job FROM {table}",
                r = round.round,
                s = shard.index,
                retriable = shard.missing_retriable,
                job = shard.job,
                table = shard.input.sql(),
            ));
        }
        union(parts)
    }

    /// The output rows of a round's jobs (those that wrote a table), each with its round and
    /// shard.
    fn lines(&self, round: &Sent) -> String {
        let key = self.key();
        let mut parts = Vec::new();
        for shard in &round.shards {
            if let Some(output) = &shard.output {
                parts.push(format!(
                    "SELECT {r} AS vb_round, {s} AS vb_shard, {key} AS vb_key, \
                     JSON_VALUE(request, '$.labels.{ROW_LABEL}') AS vb_label, \
                     CAST(status AS STRING) AS vb_status, response AS vb_response FROM {table}",
                    r = round.round,
                    s = shard.index,
                    table = output.sql(),
                ));
            }
        }
        if parts.is_empty() {
            // No job wrote anything: no lines, with the right columns.
            return format!(
                "SELECT * FROM (SELECT 0 AS vb_round, 0 AS vb_shard, {key} AS vb_key, \
                 CAST(NULL AS STRING) AS vb_label, CAST(NULL AS STRING) AS vb_status, \
                 CAST(NULL AS JSON) AS vb_response FROM {input} LIMIT 0)",
                key = self.key(),
                input = self.input.sql(),
            );
        }
        union(parts)
    }

    /// The common table expressions over rounds: `sent` (every row sent, by round and shard),
    /// `lines` (every output row), `matched` (output rows of a row their job was sent, the
    /// key and the echoed row label agreeing), `good`.
    fn rounds(&self, rounds: &[Sent]) -> String {
        let sent = rounds.iter().map(|r| self.sent(r)).collect::<Vec<_>>();
        let lines = rounds.iter().map(|r| self.lines(r)).collect::<Vec<_>>();
        format!(
            "sent AS ({sent}), lines AS ({lines}), \
             matched AS (SELECT l.vb_round, l.vb_shard, l.vb_key, l.vb_status, l.vb_response, \
             (l.vb_status IS NULL OR l.vb_status = '') AS vb_good FROM lines l JOIN sent s \
             ON s.vb_round = l.vb_round AND s.vb_shard = l.vb_shard AND s.vb_key = l.vb_key \
             AND s.vb_label = l.vb_label)",
            sent = union(sent),
            lines = union(lines),
        )
    }

    /// The next round's rows, from what `round` left: rows with no good answer whose last
    /// failure is transient, or that got no output row from a job whose missing rows may be
    /// answered by another (it expired, was cancelled, partly succeeded).
    pub(crate) fn retry_rows(&self, round: &Sent, next: &TableUri, buckets: u64) -> String {
        let key = self.key();
        format!(
            "CREATE TABLE IF NOT EXISTS {next} CLUSTER BY {BUCKET} AS WITH {ctes}, \
             seen AS (SELECT vb_key, LOGICAL_OR(vb_good) AS good, \
             LOGICAL_OR(NOT vb_good AND NOT ({transient})) AS permanent \
             FROM matched GROUP BY vb_key) \
             SELECT s.vb_key AS {key}, s.vb_request AS request, {bucket} AS {BUCKET} \
             FROM sent s LEFT JOIN seen ON seen.vb_key = s.vb_key \
             WHERE (seen.vb_key IS NULL AND s.vb_missing_retriable) \
             OR (seen.vb_key IS NOT NULL AND NOT seen.good AND NOT seen.permanent)",
            next = next.sql(),
            ctes = self.rounds(std::slice::from_ref(round)),
            transient = transient("vb_status"),
            bucket = self.bucket("s.vb_key", buckets),
        )
    }

    /// Rows in a table.
    pub(crate) fn count(table: &TableUri) -> String {
        format!("SELECT COUNT(*) AS n FROM {}", table.sql())
    }

    /// The results table: every input row with its columns, then `text`, `response` (the
    /// whole `GenerateContentResponse`) and `error` (`code`, `message`, `transient`, `status`
    /// as the service wrote it), one row per input row: the best output row of each (a good
    /// one, else the latest failure), or why its last job wrote none.
    pub(crate) fn results(&self, rounds: &[Sent], results: &TableUri, run_id: &str) -> String {
        let missing = rounds
            .iter()
            .flat_map(|round| {
                round.shards.iter().map(move |shard| {
                    format!(
                        "WHEN last.vb_round = {r} AND last.vb_shard = {s} THEN {error}",
                        r = round.round,
                        s = shard.index,
                        error = error_struct(
                            &shard.missing.0.to_string(),
                            &literal(&shard.missing.1),
                            &shard.missing_retriable.to_string(),
                            "CAST(NULL AS STRING)"
                        ),
                    )
                })
            })
            .collect::<Vec<_>>()
            .join(" ");
        let no_reason = error_struct(
            "500",
            &literal("no output row for this request"),
            "TRUE",
            "CAST(NULL AS STRING)",
        );
        let failed = error_struct(
            &code("b.vb_status"),
            &message("b.vb_status"),
            &transient("b.vb_status"),
            "b.vb_status",
        );
        format!(
            "CREATE OR REPLACE TABLE {results} OPTIONS (description = {description}, \
             labels = [('vertex_batch_run', {run})]) AS WITH {ctes}, \
             best AS (SELECT * FROM matched QUALIFY ROW_NUMBER() OVER \
             (PARTITION BY vb_key ORDER BY vb_good DESC, vb_round DESC) = 1), \
             last AS (SELECT vb_key, vb_round, vb_shard FROM sent QUALIFY ROW_NUMBER() OVER \
             (PARTITION BY vb_key ORDER BY vb_round DESC) = 1) \
             SELECT i.*, IF(b.vb_good, {text}, CAST(NULL AS STRING)) AS text, \
             IF(b.vb_good, b.vb_response, CAST(NULL AS JSON)) AS response, \
             CASE WHEN b.vb_good THEN NULL \
             WHEN b.vb_key IS NOT NULL AND b.vb_round = last.vb_round THEN {failed} \
             {missing} ELSE {no_reason} END AS error \
             FROM {input} i LEFT JOIN best b ON b.vb_key = i.{key} \
             LEFT JOIN last ON last.vb_key = i.{key}",
            results = results.sql(),
            description = literal(&description(run_id)),
            run = literal(run_id),
            ctes = self.rounds(rounds),
            text = text("b.vb_response"),
            input = self.input.sql(),
            key = self.key(),
        )
    }

    /// What the run reports of its rounds, in one row: output rows that repeated a row of
    /// their job, output rows of no row their job was sent, and rows sent that their job wrote
    /// nothing for (rows whose job an end kept from being made are not missing from it). Read before the run's tables are dropped.
    pub(crate) fn round_facts(&self, rounds: &[Sent]) -> String {
        format!(
            "WITH {ctes} SELECT \
             (SELECT IFNULL(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM matched \
             GROUP BY vb_round, vb_shard, vb_key HAVING COUNT(*) > 1)) AS repeated, \
             (SELECT COUNT(*) FROM lines) - (SELECT COUNT(*) FROM matched) AS unexpected, \
             (SELECT COUNT(*) FROM sent s LEFT JOIN (SELECT DISTINCT vb_round, vb_shard, vb_key \
             FROM matched) m ON m.vb_round = s.vb_round AND m.vb_shard = s.vb_shard \
             AND m.vb_key = s.vb_key WHERE m.vb_key IS NULL AND s.vb_job) AS missing",
            ctes = self.rounds(rounds),
        )
    }

    /// What the run reports of its results table, in one row: rows, answered, tokens by kind.
    pub(crate) fn result_facts(results: &TableUri) -> String {
        let tokens = |field: &str| {
            format!(
                "(SELECT IFNULL(SUM(CAST(JSON_VALUE(response, '$.usageMetadata.{field}') AS INT64)), 0) \
                 FROM {results})",
                results = results.sql()
            )
        };
        format!(
            "SELECT (SELECT COUNT(*) FROM {results}) AS rows_total, \
             (SELECT COUNTIF(error IS NULL) FROM {results}) AS answered, \
             {prompt} AS prompt_tokens, {candidates} AS candidates_tokens, \
             {thoughts} AS thoughts_tokens, {total} AS total_tokens",
            results = results.sql(),
            prompt = tokens("promptTokenCount"),
            candidates = tokens("candidatesTokenCount"),
            thoughts = tokens("thoughtsTokenCount"),
            total = tokens("totalTokenCount"),
        )
    }

    /// The description of `table`, if it has one (bqemulator keeps descriptions, not labels).
    pub(crate) fn description_of(table: &TableUri) -> String {
        format!(
            "SELECT option_value FROM `{project}.{dataset}`.INFORMATION_SCHEMA.TABLE_OPTIONS \
             WHERE table_name = {name} AND option_name = 'description'",
            project = table.project(),
            dataset = table.dataset(),
            name = literal(table.table()),
        )
    }

    /// Failed rows of the results table by code.
    pub(crate) fn failed_by_code(results: &TableUri) -> String {
        format!(
            "SELECT error.code AS code, COUNT(*) AS n FROM {} WHERE error IS NOT NULL \
             GROUP BY 1 ORDER BY 1",
            results.sql()
        )
    }
}

/// The description a results table is made with; the run that made it is found by it
/// (bqemulator keeps a table's description but not its labels).
pub(crate) fn description(run_id: &str) -> String {
    format!("vertex-batch run {run_id}: one row per input row (text, response, error)")
}

/// One round as the statements see it.
#[derive(Clone, Debug)]
pub(crate) struct Sent {
    pub(crate) round: u8,
    pub(crate) shards: Vec<SentShard>,
}

/// One shard of a round: its input table, its job's output table (when the job wrote one),
/// whether rows its job wrote nothing for may go again, and the code and message they get
/// when they do not.
#[derive(Clone, Debug)]
pub(crate) struct SentShard {
    pub(crate) index: usize,
    pub(crate) input: TableUri,
    pub(crate) output: Option<TableUri>,
    /// A job was made for it (an end can keep one from being made).
    pub(crate) job: bool,
    pub(crate) missing_retriable: bool,
    pub(crate) missing: (u16, String),
}

fn union(parts: Vec<String>) -> String {
    parts.join(" UNION ALL ")
}

fn error_struct(code: &str, message: &str, transient: &str, status: &str) -> String {
    format!(
        "STRUCT(CAST({code} AS INT64) AS code, CAST({message} AS STRING) AS message, \
         CAST({transient} AS BOOL) AS transient, CAST({status} AS STRING) AS status)"
    )
}

/// The HTTP-style code of a failed row's status text (`status.rs` reads the same shapes): the
/// JSON error's `code`, else 503 for a service agent being provisioned, else 0.
fn code(status: &str) -> String {
    format!(
        "COALESCE(CAST(REGEXP_EXTRACT({status}, r'\"code\":\\s*(\\d+)') AS INT64), \
         IF(LOWER({status}) LIKE '%service agents are being provisioned%', 503, 0))"
    )
}

/// The JSON error's `message`, else the whole text.
fn message(status: &str) -> String {
    format!(
        "COALESCE(REGEXP_EXTRACT({status}, r'\"message\":\\s*\"((?:[^\"\\\\]|\\\\.)*)\"'), {status})"
    )
}

/// Whether a failed row's status may pass: 408, 429, 500, 502, 503, 504, or a service agent
/// being provisioned (`status.rs`'s `TRANSIENT_CODES`).
fn transient(status: &str) -> String {
    format!(
        "IFNULL(CAST(REGEXP_EXTRACT({status}, r'\"code\":\\s*(\\d+)') AS INT64) \
         IN (408, 429, 500, 502, 503, 504), FALSE) \
         OR IFNULL(LOWER({status}) LIKE '%service agents are being provisioned%', FALSE)"
    )
}

/// The first candidate's text parts joined, thoughts left out (as `batch_file`'s
/// `GenerateContentResponse::text` reads it).
fn text(response: &str) -> String {
    format!(
        "(SELECT STRING_AGG(JSON_VALUE(p, '$.text'), '') FROM \
         UNNEST(JSON_QUERY_ARRAY({response}, '$.candidates[0].content.parts')) AS p \
         WHERE IFNULL(JSON_VALUE(p, '$.thought'), 'false') != 'true')"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_backslashes_and_controls() {
        assert_eq!(literal("a'b\\c\nd"), "'a\\'b\\\\c\\nd'");
        assert_eq!(literal("\u{1}"), "'\\u0001'");
    }

    #[test]
    fn a_shard_is_a_range_of_buckets_of_its_round() {
        let source = Source {
            input: "bq://my-proj.d.input".parse().unwrap(),
            key: "id".to_owned(),
            request_is_json: false,
        };
        let rows: TableUri = "bq://my-proj.d.r0".parse().unwrap();
        let shard: TableUri = "bq://my-proj.d.r0_s1".parse().unwrap();
        assert_eq!(
            source.shard(&rows, &shard, 3, 9),
            "CREATE TABLE IF NOT EXISTS `my-proj.d.r0_s1` AS SELECT `id`, request FROM `my-proj.d.r0` \
             WHERE vertex_batch_bucket BETWEEN 3 AND 9"
        );
        assert!(
            source
                .first_rows(&rows, 40)
                .contains("SAFE.PARSE_JSON(request)")
        );
    }
}

//! Input and output URIs of a batch job: `gs://` for Cloud Storage, `bq://` for BigQuery.
//! Each is checked for its shape here, so a typo fails before any call with the field named.

use crate::error::{Error, Result};
use crate::names::{
    is_project_domain, split_bigquery_path, split_project_domain, validate_project,
};

const INPUT_FORMS: &str = "inputs are Cloud Storage files `gs://bucket/path/prompts.jsonl` \
     (one or more, wildcards allowed) or one BigQuery table `bq://project.dataset.table`";
const OUTPUT_FORMS: &str = "an output is a Cloud Storage prefix `gs://bucket/path/` or a \
     BigQuery project, dataset or table `bq://project[.dataset[.table]]`";

/// Where a job reads its prompts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Input {
    /// A `gs://` file (or wildcard).
    Gcs(String),
    /// A `bq://project.dataset.table` table.
    BigQuery(String),
}

/// Where a job writes its predictions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Output {
    /// A `gs://` prefix.
    Gcs(String),
    /// A `bq://project[.dataset[.table]]` location.
    BigQuery(String),
}

/// Parses the input at `index` of the builder's list.
pub(super) fn parse_input(uri: &str, index: usize) -> Result<Input> {
    if let Some(rest) = uri.strip_prefix("gs://") {
        let field = format!("input_config.gcs_source.uris[{index}]");
        let object = check_gcs(uri, rest, &field)?;
        if object.is_empty() {
            return Err(Error::invalid(
                field,
                format!(
                    "{uri:?} names a bucket but no file; an input is a file like \
                     `gs://bucket/path/prompts.jsonl`"
                ),
            ));
        }
        Ok(Input::Gcs(uri.to_owned()))
    } else if let Some(rest) = uri.strip_prefix("bq://") {
        let field = "input_config.bigquery_source.input_uri";
        let parts = check_bigquery(uri, rest, field)?;
        if parts != 3 {
            return Err(Error::invalid(
                field,
                format!(
                    "{uri:?} is not a table; a BigQuery input is a table \
                     `bq://project.dataset.table`"
                ),
            ));
        }
        Ok(Input::BigQuery(uri.to_owned()))
    } else {
        Err(Error::invalid(
            format!("inputs[{index}]"),
            format!("{uri:?} is neither `gs://` nor `bq://`; {INPUT_FORMS}"),
        ))
    }
}

/// Parses the output URI.
///
/// `bq://project` alone is accepted: the service then creates the dataset and the table
/// (see `BigQueryDestination.output_uri` in the proto).
pub(super) fn parse_output(uri: &str) -> Result<Output> {
    if let Some(rest) = uri.strip_prefix("gs://") {
        const FIELD: &str = "output_config.gcs_destination.output_uri_prefix";
        check_gcs(uri, rest, FIELD)?;
        // The service refuses an output prefix with white space in it (the emulator as it
        // does), which a batch run would learn only at job creation, after its upload.
        if let Some(c) = uri.chars().find(|c| c.is_whitespace()) {
            return Err(Error::invalid(
                FIELD,
                format!("{uri:?} contains {c:?}: an output prefix has no white space"),
            ));
        }
        Ok(Output::Gcs(uri.to_owned()))
    } else if let Some(rest) = uri.strip_prefix("bq://") {
        check_bigquery(uri, rest, "output_config.bigquery_destination.output_uri")?;
        Ok(Output::BigQuery(uri.to_owned()))
    } else {
        Err(Error::invalid(
            "output_config",
            format!("{uri:?} is neither `gs://` nor `bq://`; {OUTPUT_FORMS}"),
        ))
    }
}

/// Checks `gs://BUCKET[/OBJECT]` and returns the object part (possibly empty).
fn check_gcs<'a>(uri: &str, rest: &'a str, field: &str) -> Result<&'a str> {
    let (bucket, object) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::invalid(
            field,
            format!("{uri:?} has no bucket; a Cloud Storage URI is `gs://bucket/path`"),
        ));
    }
    let max = if bucket.contains('.') { 222 } else { 63 };
    let bucket_ok = (3..=max).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(Error::invalid(
            field,
            format!(
                "{uri:?}: `{bucket}` is not a bucket name; bucket names are 3 to 63 lower-case \
                 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
            ),
        ));
    }
    if let Some(c) = object.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("{uri:?} contains the control character {c:?}"),
        ));
    }
    Ok(object)
}

/// Checks `bq://[DOMAIN:]PROJECT[.DATASET[.TABLE]]` and returns how many dot-separated parts
/// it has (1 to 3). Domain-scoped projects (`example.com:project`) are BigQuery's own form.
pub(crate) fn check_bigquery(uri: &str, rest: &str, field: &str) -> Result<usize> {
    let bad = |why: String| {
        Error::invalid(
            field,
            format!("{uri:?} {why}; a BigQuery URI is `bq://project.dataset.table`"),
        )
    };
    // The project's rules are the ones of names.rs, domain-scoped projects included.
    let parts = split_bigquery_path(rest);
    if parts.len() > 3 {
        return Err(bad("has more than three parts".to_owned()));
    }
    if let (Some(domain), _) = split_project_domain(parts[0])
        && !is_project_domain(domain)
    {
        return Err(bad(format!("has a bad project domain `{domain}`")));
    }
    validate_project(parts[0]).map_err(|e| bad(format!("has a bad project: {e}")))?;
    if let Some(dataset) = parts.get(1) {
        let ok = !dataset.is_empty()
            && dataset.len() <= 1024
            && dataset
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(bad(format!(
                "has a bad dataset `{dataset}` (letters, digits and underscores)"
            )));
        }
    }
    if let Some(table) = parts.get(2) {
        let ok = !table.is_empty()
            && table.len() <= 1024
            && table
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
        if !ok {
            return Err(bad(format!(
                "has a bad table `{table}` (letters, digits, `_`, `-` and spaces)"
            )));
        }
    }
    Ok(parts.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_and_reason(err: Error) -> (String, String) {
        match err {
            Error::InvalidInput { field, reason } => (field.to_string(), reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn gcs_inputs_need_a_bucket_and_a_file() {
        assert_eq!(
            parse_input("gs://my-bucket/prompts.jsonl", 0).unwrap(),
            Input::Gcs("gs://my-bucket/prompts.jsonl".into())
        );
        parse_input("gs://cloud-samples-data/batch/*.jsonl", 0).unwrap();
        parse_input("gs://my.bucket.example.com/a b.jsonl", 0).unwrap();
        for (uri, why) in [
            ("gs://", "has no bucket"),
            ("gs:///x.jsonl", "has no bucket"),
            ("gs://my-bucket", "names a bucket but no file"),
            ("gs://my-bucket/", "names a bucket but no file"),
            ("gs://My-Bucket/x", "is not a bucket name"),
            ("gs://ab/x", "is not a bucket name"),
            ("gs://-ab/x", "is not a bucket name"),
            ("gs://b@d/x", "is not a bucket name"),
            ("gs://bucket/x\n", "control character"),
        ] {
            let (field, reason) = field_and_reason(parse_input(uri, 1).unwrap_err());
            assert_eq!(field, "input_config.gcs_source.uris[1]", "{uri}");
            assert!(reason.contains(why), "{uri}: {reason}");
        }
    }

    #[test]
    fn bigquery_inputs_are_tables() {
        let uri = "bq://storage-samples.generative_ai.batch_requests_for_multimodal_input";
        assert_eq!(parse_input(uri, 0).unwrap(), Input::BigQuery(uri.into()));
        parse_input("bq://example.com:my-project.ds.t", 0).unwrap();
        parse_input("bq://example.com:my-project.dataset.table", 0).unwrap();
        for (uri, why) in [
            ("bq://my-project.dataset", "is not a table"),
            ("bq://my-project", "is not a table"),
            ("bq://", "bad project"),
            ("bq://My_Project.d.t", "bad project"),
            ("bq://my-project..t", "bad dataset"),
            ("bq://my-project.da-ta.t", "bad dataset"),
            ("bq://my-project.d.", "bad table"),
            ("bq://my-project.d.t/x", "bad table"),
            ("bq://my-project.d.t.u", "more than three parts"),
            ("bq://Ex:my-project.d.t", "bad project domain"),
        ] {
            let (field, reason) = field_and_reason(parse_input(uri, 0).unwrap_err());
            assert_eq!(field, "input_config.bigquery_source.input_uri", "{uri}");
            assert!(reason.contains(why), "{uri}: {reason}");
        }
    }

    #[test]
    fn domain_scoped_bigquery_projects_follow_the_project_rules() {
        for (uri, why) in [
            ("bq://example.com:.ds.t", "bad project"),
            ("bq://:my-project.ds.t", "bad project domain"),
            ("bq://ex_ample.com:my-project.ds.t", "bad project domain"),
            ("bq://example.com:My-project.ds.t", "bad project"),
            (
                "bq://example.com:my-project.ds.t.u",
                "more than three parts",
            ),
            ("bq://example.com:my-project.d-s.t", "bad dataset"),
        ] {
            let (field, reason) = field_and_reason(parse_input(uri, 0).unwrap_err());
            assert_eq!(field, "input_config.bigquery_source.input_uri", "{uri}");
            assert!(reason.contains(why), "{uri}: {reason}");
        }
    }

    #[test]
    fn other_schemes_list_the_accepted_ones() {
        for uri in [
            "s3://bucket/x",
            "https://storage.googleapis.com/b/x",
            "/tmp/x.jsonl",
            "GS://b/x",
            "",
        ] {
            let (field, reason) = field_and_reason(parse_input(uri, 2).unwrap_err());
            assert_eq!(field, "inputs[2]");
            assert!(
                reason.contains("`gs://bucket/path/prompts.jsonl`"),
                "{reason}"
            );
            assert!(reason.contains("`bq://project.dataset.table`"), "{reason}");
            let (field, reason) = field_and_reason(parse_output(uri).unwrap_err());
            assert_eq!(field, "output_config");
            assert!(reason.contains("`gs://bucket/path/`"), "{reason}");
            assert!(
                reason.contains("`bq://project[.dataset[.table]]`"),
                "{reason}"
            );
        }
    }

    #[test]
    fn outputs_are_prefixes_or_bigquery_locations() {
        assert_eq!(
            parse_output("gs://my-bucket").unwrap(),
            Output::Gcs("gs://my-bucket".into())
        );
        parse_output("gs://my-bucket/out/").unwrap();
        for uri in [
            "bq://my-project",
            "bq://my-project.ds",
            "bq://my-project.ds.table",
        ] {
            assert_eq!(parse_output(uri).unwrap(), Output::BigQuery(uri.into()));
        }
        for uri in [
            "bq://example.com:my-project",
            "bq://example.com:my-project.ds",
            "bq://example.com:my-project.dataset.table",
        ] {
            assert_eq!(parse_output(uri).unwrap(), Output::BigQuery(uri.into()));
        }
        let (field, reason) = field_and_reason(parse_output("gs://").unwrap_err());
        assert_eq!(field, "output_config.gcs_destination.output_uri_prefix");
        assert!(reason.contains("has no bucket"));
        for spaced in [
            "gs://my-bucket/runs/a b",
            "gs://my-bucket/out\u{3000}/",
            "gs://my-bucket/x\u{a0}y",
        ] {
            let (field, reason) = field_and_reason(parse_output(spaced).unwrap_err());
            assert_eq!(field, "output_config.gcs_destination.output_uri_prefix");
            assert!(reason.contains("no white space"), "{reason}");
        }
        let (field, _) = field_and_reason(parse_output("bq://my-project.d.t.x").unwrap_err());
        assert_eq!(field, "output_config.bigquery_destination.output_uri");
    }
}

//! [`Field`]: what an [`Error::InvalidInput`](super::Error::InvalidInput) is about, typed, so a
//! program (or the `vertex-batch` tool, which names its flags) can tell one setting from
//! another without reading the message. Its `Display` is the name the library's messages use.

use std::fmt;

/// The setting, argument or input an [`Error::InvalidInput`](super::Error::InvalidInput) is
/// about. It displays as the library's name for it (`max_requests_per_job`, `input line 3`,
/// `input_config.gcs_source.uris[0]`), the text of the error's message.
///
/// The typed variants are the settings and inputs a caller may want to tell apart; every other
/// field (a proto field path, a parameter, a builder option) is [`Field::Other`]. Made from
/// text ([`From<&str>`]), a typed variant's own name gives that variant, so a field has one
/// value however it was made:
///
/// ```
/// use vertex_batch::error::Field;
///
/// assert_eq!(Field::from("model"), Field::Model);
/// assert_eq!(Field::from("input line 7"), Field::InputLine(7));
/// assert_eq!(Field::InputLine(7).to_string(), "input line 7");
/// assert_eq!(Field::from("labels").to_string(), "labels");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The project (`JobClientBuilder::with_project`), `project`.
    Project,
    /// The location (`JobClientBuilder::with_location`), `location`.
    Location,
    /// A custom endpoint URL (`Endpoint::custom`, `StorageBuilder::with_endpoint`), `endpoint`.
    Endpoint,
    /// The Cloud Storage emulator's address read from `STORAGE_EMULATOR_HOST`
    /// (`Storage::from_env`), `STORAGE_EMULATOR_HOST`.
    StorageEmulatorHost,
    /// The BigQuery emulator's address read from `BIGQUERY_EMULATOR_HOST`
    /// (`BigQuery::from_env`), `BIGQUERY_EMULATOR_HOST`.
    BigQueryEmulatorHost,
    /// An extra CA certificate (`Endpoint::with_ca_pem`, `StorageBuilder::with_ca_pem`),
    /// `ca_pem`.
    CaPem,
    /// A model name, `model`.
    Model,
    /// A batch run's staging prefix (`BatchRun::new`), `staging`.
    Staging,
    /// `BatchRun::with_max_requests_per_job`, `max_requests_per_job`.
    MaxRequestsPerJob,
    /// `BatchRun::with_max_bytes_per_file`, `max_bytes_per_file`.
    MaxBytesPerFile,
    /// `BatchRun::with_max_running_jobs`, `max_running_jobs`.
    MaxRunningJobs,
    /// `BatchRun::with_retry_rounds`, `retry_rounds`.
    RetryRounds,
    /// A batch run's input as a whole (e.g. one with no requests, or a table without a
    /// `request` column), `input`.
    Input,
    /// A run over tables' key column (`Tables::key_column`), `key_column`.
    KeyColumn,
    /// A run over tables' results table (`Tables::results`), `results`.
    Results,
    /// A line of a batch run's input file, counted from 1: `input line N`.
    InputLine(u64),
    /// A request of a batch run's input stream by its position, counted from 1, when it came
    /// from no file line: `request N`.
    Request(u64),
    /// Any other field, by its name or path: `labels`, `input_config.gcs_source.uris[0]`,
    /// `request.generationConfig.temperature`, an environment variable.
    Other(String),
}

/// The typed variants without a number, with their names.
const NAMED: [(Field, &str); 15] = [
    (Field::Project, "project"),
    (Field::Location, "location"),
    (Field::Endpoint, "endpoint"),
    (Field::StorageEmulatorHost, "STORAGE_EMULATOR_HOST"),
    (Field::BigQueryEmulatorHost, "BIGQUERY_EMULATOR_HOST"),
    (Field::CaPem, "ca_pem"),
    (Field::Model, "model"),
    (Field::Staging, "staging"),
    (Field::MaxRequestsPerJob, "max_requests_per_job"),
    (Field::MaxBytesPerFile, "max_bytes_per_file"),
    (Field::MaxRunningJobs, "max_running_jobs"),
    (Field::RetryRounds, "retry_rounds"),
    (Field::Input, "input"),
    (Field::KeyColumn, "key_column"),
    (Field::Results, "results"),
];

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::InputLine(line) => write!(f, "input line {line}"),
            Field::Request(n) => write!(f, "request {n}"),
            Field::Other(name) => f.write_str(name),
            named => {
                let name = NAMED
                    .iter()
                    .find(|(field, _)| field == named)
                    .map_or("", |(_, name)| name);
                f.write_str(name)
            }
        }
    }
}

impl From<&str> for Field {
    fn from(name: &str) -> Self {
        if let Some((field, _)) = NAMED.iter().find(|(_, n)| *n == name) {
            return field.clone();
        }
        if let Some(line) = number(name, "input line ") {
            return Field::InputLine(line);
        }
        if let Some(n) = number(name, "request ") {
            return Field::Request(n);
        }
        Field::Other(name.to_owned())
    }
}

/// The number after `prefix` in `name`, written as `Display` writes it (no sign, no leading 0).
fn number(name: &str, prefix: &str) -> Option<u64> {
    name.strip_prefix(prefix)
        .filter(|n| *n == "0" || !n.starts_with(['0', '+']))
        .and_then(|n| n.parse::<u64>().ok())
}

impl From<String> for Field {
    fn from(name: String) -> Self {
        match Field::from(name.as_str()) {
            Field::Other(_) => Field::Other(name),
            typed => typed,
        }
    }
}

impl From<&String> for Field {
    fn from(name: &String) -> Self {
        Field::from(name.as_str())
    }
}

/// A field equals the text it displays as (for tests and quick checks).
impl PartialEq<str> for Field {
    fn eq(&self, other: &str) -> bool {
        match self {
            Field::Other(name) => name == other && matches!(Field::from(other), Field::Other(_)),
            Field::InputLine(line) => number(other, "input line ") == Some(*line),
            Field::Request(n) => number(other, "request ") == Some(*n),
            named => NAMED
                .iter()
                .any(|(field, name)| field == named && *name == other),
        }
    }
}

impl PartialEq<&str> for Field {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_displays_as_the_name_it_is_made_from() {
        let mut all: Vec<Field> = NAMED.iter().map(|(field, _)| field.clone()).collect();
        all.extend([
            Field::InputLine(0),
            Field::InputLine(1),
            Field::InputLine(u64::MAX),
            Field::Request(42),
            Field::Other("input_config.gcs_source.uris[0]".into()),
            Field::Other("GOOGLE_CLOUD_LOCATION".into()),
        ]);
        for field in all {
            let name = field.to_string();
            assert!(!name.is_empty(), "{field:?}");
            assert_eq!(Field::from(name.as_str()), field, "{name}");
            assert_eq!(Field::from(name.clone()), field, "{name}");
            assert!(field == name.as_str(), "{name}");
        }
        // Not quite a typed name: free text.
        for text in [
            "input line 07",
            "input line -1",
            "request x",
            "Model",
            "input line",
        ] {
            assert_eq!(Field::from(text), Field::Other(text.into()), "{text}");
        }
    }

    /// The library's messages name its own API: settings by their builder's name, input by its
    /// line; never a `vertex-batch` flag.
    #[test]
    fn the_library_names_api_fields_not_flags() {
        use crate::Error;
        let cases = [
            (Field::MaxRequestsPerJob, "invalid max_requests_per_job: 0"),
            (Field::MaxBytesPerFile, "invalid max_bytes_per_file: 0"),
            (Field::MaxRunningJobs, "invalid max_running_jobs: 0"),
            (Field::RetryRounds, "invalid retry_rounds: 0"),
            (Field::Staging, "invalid staging: 0"),
            (Field::Model, "invalid model: 0"),
            (Field::Location, "invalid location: 0"),
            (Field::Endpoint, "invalid endpoint: 0"),
            (
                Field::StorageEmulatorHost,
                "invalid STORAGE_EMULATOR_HOST: 0",
            ),
            (Field::InputLine(3), "invalid input line 3: 0"),
            (Field::Request(4), "invalid request 4: 0"),
        ];
        for (field, text) in cases {
            let err = Error::invalid(field.clone(), "0");
            assert_eq!(err.to_string(), text);
            assert!(!text.contains("--") && !text.contains("INPUT"), "{text}");
            assert_eq!(err.field(), Some(&field));
        }
    }
}

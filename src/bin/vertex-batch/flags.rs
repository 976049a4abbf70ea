//! The one table from the library's fields to this tool's words. The library names what it
//! refuses by its own API ([`Field`]: `max_requests_per_job`, `input line 3`, `endpoint`);
//! here each becomes the flag or argument a user typed (`--max-requests-per-job`,
//! `INPUT line 3`, `--endpoint` or `--storage-endpoint`). Every command's errors pass through
//! [`in_words`] (in `main.rs`); the Cloud Storage client's through [`storage_words`] first,
//! where an endpoint is `--storage-endpoint`.

use vertex_batch::error::Field;

/// Whose words: an endpoint is `--endpoint` unless it is Cloud Storage's; a model is `--model`
/// to `run` and the positional `MODEL` to `submit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Any command's Vertex AI settings and input.
    Command,
    /// `submit`, whose model is its first argument.
    Submit,
    /// The Cloud Storage client of `run`, `results` and `status`.
    Storage,
}

/// The flag or argument that gives `field` in `context`; `None` where the tool has no word of
/// its own (a field inside a request, a label, an environment variable), and the library's name
/// is the right one.
pub fn flag(field: &Field, context: Context) -> Option<String> {
    let flag = match field {
        Field::Project => "--project",
        Field::Location => "--location",
        Field::Endpoint if context == Context::Storage => "--storage-endpoint",
        Field::Endpoint => "--endpoint",
        Field::CaPem => "--ca-cert",
        Field::Model if context == Context::Submit => "MODEL",
        Field::Model => "--model",
        Field::Staging => "--staging",
        Field::MaxRequestsPerJob => "--max-requests-per-job",
        Field::MaxBytesPerFile => "--max-bytes-per-file",
        Field::MaxRunningJobs => "--max-running-jobs",
        Field::RetryRounds => "--retry-rounds",
        Field::Input => "INPUT",
        Field::KeyColumn => "--key-column",
        Field::Results => "--out",
        Field::InputLine(line) => return Some(format!("INPUT line {line}")),
        _ => return None,
    };
    Some(flag.to_owned())
}

/// `error` in the tool's words: an invalid setting named by its flag. An error with context
/// added (a chain of more than one) already says where it was, and is left as it is.
pub fn in_words(error: anyhow::Error, context: Context) -> anyhow::Error {
    if error.chain().count() > 1 {
        return error;
    }
    match error.downcast::<vertex_batch::Error>() {
        Ok(error) => library_in_words(error, context),
        Err(error) => error,
    }
}

/// A library error in the tool's words (see [`in_words`]).
pub fn library_in_words(error: vertex_batch::Error, context: Context) -> anyhow::Error {
    match error.field().and_then(|field| flag(field, context)) {
        Some(flag) => match error {
            vertex_batch::Error::InvalidInput { reason, .. } => {
                anyhow::anyhow!("invalid {flag}: {reason}")
            }
            other => other.into(),
        },
        None => error.into(),
    }
}

/// The Cloud Storage client's errors in the tool's words: its endpoint is `--storage-endpoint`.
pub fn storage_words(error: vertex_batch::Error) -> anyhow::Error {
    library_in_words(error, Context::Storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(field: Field, context: Context) -> String {
        in_words(vertex_batch::Error::invalid(field, "why").into(), context).to_string()
    }

    #[test]
    fn every_setting_is_named_by_its_flag() {
        use Context::*;
        for (field, context, text) in [
            (Field::Project, Command, "invalid --project: why"),
            (Field::Location, Command, "invalid --location: why"),
            (Field::Endpoint, Command, "invalid --endpoint: why"),
            (Field::Endpoint, Storage, "invalid --storage-endpoint: why"),
            (Field::CaPem, Storage, "invalid --ca-cert: why"),
            (Field::Model, Command, "invalid --model: why"),
            (Field::Model, Submit, "invalid MODEL: why"),
            (Field::Staging, Command, "invalid --staging: why"),
            (
                Field::MaxRequestsPerJob,
                Command,
                "invalid --max-requests-per-job: why",
            ),
            (
                Field::MaxBytesPerFile,
                Command,
                "invalid --max-bytes-per-file: why",
            ),
            (
                Field::MaxRunningJobs,
                Command,
                "invalid --max-running-jobs: why",
            ),
            (Field::RetryRounds, Command, "invalid --retry-rounds: why"),
            (Field::Input, Command, "invalid INPUT: why"),
            (Field::InputLine(7), Command, "invalid INPUT line 7: why"),
            // No word of the tool's own: the library's.
            (Field::Request(3), Command, "invalid request 3: why"),
            (
                Field::StorageEmulatorHost,
                Storage,
                "invalid STORAGE_EMULATOR_HOST: why",
            ),
            (Field::from("inputs[0]"), Submit, "invalid inputs[0]: why"),
        ] {
            assert_eq!(said(field, context), text);
        }
    }

    #[test]
    fn errors_with_context_and_other_errors_are_left_as_they_are() {
        let with_context = anyhow::Error::from(vertex_batch::Error::invalid(Field::Model, "why"))
            .context("--request");
        assert_eq!(
            format!("{:#}", in_words(with_context, Context::Command)),
            "--request: invalid model: why"
        );
        let other = anyhow::anyhow!("invalid model: why");
        assert_eq!(
            in_words(other, Context::Command).to_string(),
            "invalid model: why"
        );
    }
}

//! The environment variables this crate reads, all of them read here, and the one rule every
//! builder ([`JobClientBuilder`](crate::JobClientBuilder),
//! [`AuthChannelBuilder`](crate::transport::AuthChannelBuilder)) follows for the settings they
//! stand for.
//!
//! | variable | setting | when neither given in code nor set |
//! |----------|---------|-----------------------------------|
//! | `GOOGLE_CLOUD_PROJECT` | the project | an error saying how to give one |
//! | `GOOGLE_CLOUD_LOCATION` | the location, and so the endpoint | [`DEFAULT_LOCATION`], `us-central1` |
//! | `GOOGLE_CLOUD_QUOTA_PROJECT` | the project billed for quota | none |
//! | `GOOGLE_APPLICATION_CREDENTIALS` | Application Default Credentials' key file | the rest of ADC |
//!
//! The rule: a value given in code wins; else the variable's, where a blank value (empty or
//! only whitespace) counts as unset; else the default above. A malformed value from a variable
//! is an error that names the variable (`invalid GOOGLE_CLOUD_LOCATION: ...`).
//!
//! Why `us-central1` rather than an error: it is the location Google's Vertex AI SDKs default to
//! and the one the CLI's `--location` defaults to, so a program and the CLI with the same
//! environment talk to the same place. [`Endpoint::from_env`](crate::endpoint::Endpoint::from_env)
//! is the one strict reader: it is asked for the environment's location, so it fails when none
//! is set rather than picking one.
//!
//! ```
//! use vertex_batch::env;
//!
//! assert_eq!(env::LOCATION_VAR, "GOOGLE_CLOUD_LOCATION");
//! // With GOOGLE_CLOUD_LOCATION unset or blank, a builder's location is:
//! assert_eq!(env::DEFAULT_LOCATION, "us-central1");
//! ```

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The variable naming the project, as in Google's SDKs.
pub const PROJECT_VAR: &str = "GOOGLE_CLOUD_PROJECT";

/// The variable naming the location (a region such as `us-central1`, `global`, `us`, `eu`).
pub const LOCATION_VAR: &str = "GOOGLE_CLOUD_LOCATION";

/// The variable naming the project billed for quota (`x-goog-user-project`).
pub const QUOTA_PROJECT_VAR: &str = "GOOGLE_CLOUD_QUOTA_PROJECT";

/// The variable naming a service-account key file for Application Default Credentials.
pub const CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// The location a builder uses when none is given in code and [`LOCATION_VAR`] is unset.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The project in [`PROJECT_VAR`], if set and not blank.
pub fn project() -> Option<String> {
    var(PROJECT_VAR)
}

/// The location in [`LOCATION_VAR`], if set and not blank. Builders fall back to
/// [`DEFAULT_LOCATION`].
pub fn location() -> Option<String> {
    var(LOCATION_VAR)
}

/// The quota project in [`QUOTA_PROJECT_VAR`], if set and not blank.
pub fn quota_project() -> Option<String> {
    var(QUOTA_PROJECT_VAR)
}

/// The key file in [`CREDENTIALS_VAR`], if set and not blank. Read as an OS string: a path
/// need not be Unicode.
pub(crate) fn credentials_file() -> Option<PathBuf> {
    std::env::var_os(CREDENTIALS_VAR)
        .filter(|path| !path.to_string_lossy().trim().is_empty())
        .map(PathBuf::from)
}

/// A variable's value; blank (empty, only whitespace, or not Unicode) counts as unset.
fn var(name: &str) -> Option<String> {
    non_blank(std::env::var(name).ok())
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A builder's setting after the rule: its value, and where the value came from, so that an
/// error about it names what to fix.
#[derive(Debug)]
pub(crate) struct Setting {
    pub(crate) value: String,
    /// The field errors about this setting name when it was given in code, e.g. `location`.
    field: &'static str,
    /// The variable it came from, if it did.
    from_var: Option<&'static str>,
}

impl Setting {
    /// `given`, else `from_var`'s value (already read, blank counting as unset).
    fn resolve(
        field: &'static str,
        given: Option<String>,
        var: &'static str,
        from_var: Option<String>,
    ) -> Option<Setting> {
        match (given, non_blank(from_var)) {
            (Some(value), _) => Some(Setting {
                value,
                field,
                from_var: None,
            }),
            (None, Some(value)) => Some(Setting {
                value,
                field,
                from_var: Some(var),
            }),
            (None, None) => None,
        }
    }

    /// The project: given, else [`PROJECT_VAR`]; an error saying how to give one when neither.
    pub(crate) fn project(given: Option<String>) -> Result<Setting> {
        Setting::resolve("project", given, PROJECT_VAR, project()).ok_or_else(|| {
            Error::invalid(
                "project",
                format!("no project given; call with_project(\"my-project\") or set {PROJECT_VAR}"),
            )
        })
    }

    /// The location: given, else [`LOCATION_VAR`], else [`DEFAULT_LOCATION`].
    pub(crate) fn location(given: Option<String>) -> Setting {
        Setting::location_from(given, location())
    }

    fn location_from(given: Option<String>, from_var: Option<String>) -> Setting {
        Setting::resolve("location", given, LOCATION_VAR, from_var).unwrap_or(Setting {
            value: DEFAULT_LOCATION.to_owned(),
            field: "location",
            from_var: None,
        })
    }

    /// The quota project: given, else [`QUOTA_PROJECT_VAR`], else none.
    pub(crate) fn quota_project(given: Option<String>) -> Option<Setting> {
        Setting::resolve("quota_project", given, QUOTA_PROJECT_VAR, quota_project())
    }

    /// `error`, naming the variable instead of the field when it is about this setting and the
    /// value came from the variable.
    pub(crate) fn blame(&self, error: Error) -> Error {
        match (error, self.from_var) {
            (Error::InvalidInput { field, reason }, Some(var)) if field == self.field => {
                Error::invalid(var, reason)
            }
            (error, _) => error,
        }
    }
}

/// `error` about a location read from [`LOCATION_VAR`], naming the variable: for
/// [`Endpoint::from_env`](crate::endpoint::Endpoint::from_env).
pub(crate) fn blame_location_var(error: Error) -> Error {
    let setting = Setting {
        value: String::new(),
        field: "location",
        from_var: Some(LOCATION_VAR),
    };
    setting.blame(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_wins_then_the_variable_then_the_default_and_blank_is_unset() {
        let given = Setting::location_from(Some("europe-west4".into()), Some("asia-east1".into()));
        assert_eq!(given.value, "europe-west4");
        let from_var = Setting::location_from(None, Some("asia-east1".into()));
        assert_eq!(from_var.value, "asia-east1");
        for blank in [None, Some(String::new()), Some(" \t".to_owned())] {
            assert_eq!(Setting::location_from(None, blank).value, DEFAULT_LOCATION);
        }
    }

    #[test]
    fn an_error_about_a_value_from_a_variable_names_the_variable() {
        let bad = || Error::invalid("location", "\"Europe/West4\" contains '/'");
        let from_var = Setting::location_from(None, Some("Europe/West4".into()));
        assert!(
            from_var
                .blame(bad())
                .to_string()
                .starts_with("invalid GOOGLE_CLOUD_LOCATION: "),
        );
        let given = Setting::location_from(Some("Europe/West4".into()), None);
        assert!(
            given
                .blame(bad())
                .to_string()
                .starts_with("invalid location: ")
        );
        // An error about another field is left alone.
        let other = from_var.blame(Error::invalid("project", "x"));
        assert!(other.to_string().starts_with("invalid project: "));
    }
}

//! Resource names: locations, batch prediction jobs and models. Parsed, formatted and validated
//! here, before any of them goes into a host name, a URL path or a routing header.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// What a location looks like, for error messages.
const LOCATION_EXAMPLES: &str = "a location is lower-case letters, digits and hyphens starting with a letter, \
     like `us-central1`, `europe-west4`, `global`, `us` or `eu`";

/// What a project looks like, for error messages.
const PROJECT_RULES: &str = "a project is a project id (6 to 30 lower-case letters, digits and \
     hyphens, starting with a letter and not ending with a hyphen, like `my-project`), a \
     domain-scoped project id (`example.com:my-project`) or a project number (digits only, like \
     `123456789012`)";

/// What a model name looks like, for error messages.
const MODEL_FORMS: &str = "a model is a bare id (`gemini-2.0-flash-001`), `models/ID`, \
     `PUBLISHER/MODEL`, `publishers/PUBLISHER/models/MODEL`, \
     `projects/P/locations/L/publishers/PUBLISHER/models/MODEL` or a tuned model \
     `projects/P/locations/L/models/ID[@VERSION]`";

/// Checks that `location` can safely become part of a host name and a resource name.
///
/// A location is lower-case ASCII letters, digits and hyphens, starts with a letter and is at
/// most 63 characters long (one DNS label). Anything else — a dot, a slash, a colon, an `@`,
/// upper case — is refused, so a location can never redirect a request to another host.
///
/// ```
/// use vertex_batch::names::validate_location;
///
/// assert!(validate_location("us-central1").is_ok());
/// assert!(validate_location("global").is_ok());
/// let err = validate_location("us-central1.evil.com").unwrap_err();
/// assert!(err.to_string().contains("like `us-central1`"));
/// assert!(validate_location("x:80").is_err());
/// ```
pub fn validate_location(location: &str) -> Result<()> {
    let reason = if location.is_empty() {
        "is empty".to_owned()
    } else if location.len() > 63 {
        "is longer than 63 characters".to_owned()
    } else if location.chars().any(|c| c.is_ascii_uppercase()) {
        "has upper case letters".to_owned()
    } else if let Some(c) = location
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        format!("contains {c:?}")
    } else if !location.starts_with(|c: char| c.is_ascii_lowercase()) {
        "does not start with a letter".to_owned()
    } else if location.ends_with('-') {
        "ends with a hyphen".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::invalid(
        "location",
        format!("{location:?} {reason}; {LOCATION_EXAMPLES}"),
    ))
}

/// Checks a Google Cloud project id (`my-project`), domain-scoped project id
/// (`example.com:my-project`) or project number (`123456789012`).
///
/// Project ids are 6 to 30 lower-case letters, digits and hyphens, start with a letter and do
/// not end with a hyphen. Projects made by some older organisations are scoped by a domain,
/// `DOMAIN:ID`, where `DOMAIN` is a host name (lower-case labels joined by dots); the service
/// takes them wherever it takes a project. The service itself answers with project numbers in
/// the names it returns, so an all-digit value is accepted too.
///
/// A project never goes into a host name (the location does), so these rules refuse only what
/// the service refuses: a `/`, `?`, `#` or space could change the meaning of a resource name
/// or URL, and none can get through.
///
/// ```
/// use vertex_batch::names::validate_project;
///
/// assert!(validate_project("my-project").is_ok());
/// assert!(validate_project("example.com:my-project").is_ok());
/// assert!(validate_project("123456789012").is_ok());
/// assert!(validate_project("My_Project").is_err());
/// assert!(validate_project("example.com:").is_err());
/// ```
pub fn validate_project(project: &str) -> Result<()> {
    let is_number =
        !project.is_empty() && project.len() <= 20 && project.chars().all(|c| c.is_ascii_digit());
    let (domain, id) = split_project_domain(project);
    let is_id = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if is_number || (is_id && domain.is_none_or(is_project_domain)) {
        Ok(())
    } else {
        Err(Error::invalid(
            "project",
            format!("{project:?} is not a project; {PROJECT_RULES}"),
        ))
    }
}

/// Splits a domain-scoped project, `example.com:my-project`, into its domain and its id; a
/// project without a domain is all id.
///
/// ```
/// use vertex_batch::names::split_project_domain;
///
/// assert_eq!(split_project_domain("example.com:my-project"), (Some("example.com"), "my-project"));
/// assert_eq!(split_project_domain("my-project"), (None, "my-project"));
/// ```
pub fn split_project_domain(project: &str) -> (Option<&str>, &str) {
    match project.split_once(':') {
        Some((domain, id)) => (Some(domain), id),
        None => (None, project),
    }
}

/// Whether `domain` can scope a project: a host name, lower-case labels of letters, digits
/// and hyphens (1 to 63 each, no hyphen at either end) joined by dots, 253 characters at most.
pub(crate) fn is_project_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Splits what follows `bq://` into its parts: the project (domain-scoped or not), then the
/// dataset and the table when there are. The domain of a domain-scoped project has dots of its
/// own (`example.com:my-project.dataset.table`), so the project ends at the first dot after
/// its last colon; datasets and tables have no colon.
pub(crate) fn split_bigquery_path(path: &str) -> Vec<&str> {
    let id_start = path.rfind(':').map_or(0, |colon| colon + 1);
    match path[id_start..].find('.') {
        Some(dot) => {
            let end = id_start + dot;
            std::iter::once(&path[..end])
                .chain(path[end + 1..].split('.'))
                .collect()
        }
        None => vec![path],
    }
}

/// Checks a batch prediction job id: the last segment of a job's name. The service makes
/// numeric ids; letters, digits, hyphens and underscores are accepted.
fn validate_job_id(job_id: &str) -> Result<()> {
    let ok = !job_id.is_empty()
        && job_id.len() <= 128
        && job_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "job_id",
            format!(
                "{job_id:?} is not a job id; a job id is the last part of \
                 `projects/P/locations/L/batchPredictionJobs/ID`, like `1234567890123456789`"
            ),
        ))
    }
}

/// A location of a project: `projects/{project}/locations/{location}`, the parent of every
/// batch prediction job.
///
/// ```
/// use vertex_batch::names::LocationName;
///
/// let parent = LocationName::new("my-project", "us-central1")?;
/// assert_eq!(parent.to_string(), "projects/my-project/locations/us-central1");
/// assert_eq!(parent, "projects/my-project/locations/us-central1".parse()?);
/// assert_eq!(parent.location(), "us-central1");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocationName {
    project: String,
    location: String,
}

impl LocationName {
    /// A location name from a project id (or number) and a location, both validated.
    ///
    /// ```
    /// use vertex_batch::names::LocationName;
    ///
    /// assert!(LocationName::new("my-project", "europe-west4").is_ok());
    /// assert!(LocationName::new("my-project", "europe-west4.example.com").is_err());
    /// ```
    pub fn new(project: impl Into<String>, location: impl Into<String>) -> Result<Self> {
        let (project, location) = (project.into(), location.into());
        validate_project(&project)?;
        validate_location(&location)?;
        Ok(Self { project, location })
    }

    /// Parses `projects/{project}/locations/{location}`.
    ///
    /// ```
    /// use vertex_batch::names::LocationName;
    ///
    /// let parent = LocationName::parse("projects/123456789012/locations/global")?;
    /// assert_eq!(parent.project(), "123456789012");
    /// assert!(LocationName::parse("projects/my-project").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        match name.split('/').collect::<Vec<_>>().as_slice() {
            ["projects", project, "locations", location] => Self::new(*project, *location),
            _ => Err(Error::invalid(
                "parent",
                format!(
                    "{name:?} is not a location name; expected \
                     `projects/{{project}}/locations/{{location}}`, like \
                     `projects/my-project/locations/us-central1`"
                ),
            )),
        }
    }

    /// The project id or number.
    ///
    /// ```
    /// # let parent = vertex_batch::names::LocationName::new("my-project", "us")?;
    /// assert_eq!(parent.project(), "my-project");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The location, e.g. `us-central1`.
    ///
    /// ```
    /// # let parent = vertex_batch::names::LocationName::new("my-project", "us")?;
    /// assert_eq!(parent.location(), "us");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether this is the `global` location, whose endpoint serves neither BigQuery batch jobs
    /// nor tuned models.
    ///
    /// ```
    /// # use vertex_batch::names::LocationName;
    /// assert!(LocationName::new("my-project", "global")?.is_global());
    /// assert!(!LocationName::new("my-project", "us-central1")?.is_global());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn is_global(&self) -> bool {
        self.location == "global"
    }

    /// The name of a job in this location, from a bare job id or a full job name.
    ///
    /// A full name is accepted as it is when it is in this location, even under another
    /// project spelling: the service answers with project numbers where users write project
    /// ids. A full name in another location is an error, because this location's endpoint
    /// would not find it.
    ///
    /// ```
    /// use vertex_batch::names::LocationName;
    ///
    /// let parent = LocationName::new("my-project", "us-central1")?;
    /// let job = parent.job("123")?;
    /// assert_eq!(job.to_string(), "projects/my-project/locations/us-central1/batchPredictionJobs/123");
    /// let same = parent.job("projects/42/locations/us-central1/batchPredictionJobs/123")?;
    /// assert_eq!(same.project(), "42");
    /// assert!(parent.job("projects/my-project/locations/europe-west4/batchPredictionJobs/123").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn job(&self, id_or_full_name: &str) -> Result<BatchPredictionJobName> {
        if !id_or_full_name.contains('/') {
            validate_job_id(id_or_full_name)?;
            return Ok(BatchPredictionJobName {
                parent: self.clone(),
                job_id: id_or_full_name.to_owned(),
            });
        }
        let name = BatchPredictionJobName::parse(id_or_full_name)?;
        if name.location() != self.location {
            return Err(Error::invalid(
                "name",
                format!(
                    "{id_or_full_name:?} is in location `{}` but this client works in `{}`; \
                     use a client for location `{}`",
                    name.location(),
                    self.location,
                    name.location()
                ),
            ));
        }
        Ok(name)
    }
}

impl fmt::Display for LocationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "projects/{}/locations/{}", self.project, self.location)
    }
}

impl FromStr for LocationName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// The full name of a batch prediction job:
/// `projects/{project}/locations/{location}/batchPredictionJobs/{job_id}`.
///
/// ```
/// use vertex_batch::names::BatchPredictionJobName;
///
/// let name: BatchPredictionJobName =
///     "projects/my-project/locations/us-central1/batchPredictionJobs/987".parse()?;
/// assert_eq!(name.job_id(), "987");
/// assert_eq!(name.parent().to_string(), "projects/my-project/locations/us-central1");
/// assert_eq!(name.to_string(), "projects/my-project/locations/us-central1/batchPredictionJobs/987");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BatchPredictionJobName {
    parent: LocationName,
    job_id: String,
}

impl BatchPredictionJobName {
    /// A job name from its parts, each validated.
    ///
    /// ```
    /// use vertex_batch::names::BatchPredictionJobName;
    ///
    /// let name = BatchPredictionJobName::new("my-project", "us-central1", "987")?;
    /// assert_eq!(name.location(), "us-central1");
    /// assert!(BatchPredictionJobName::new("my-project", "us-central1", "9/8").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn new(
        project: impl Into<String>,
        location: impl Into<String>,
        job_id: impl Into<String>,
    ) -> Result<Self> {
        LocationName::new(project, location)?.job(&job_id.into())
    }

    /// Parses `projects/{project}/locations/{location}/batchPredictionJobs/{job_id}`.
    ///
    /// ```
    /// use vertex_batch::names::BatchPredictionJobName;
    ///
    /// assert!(BatchPredictionJobName::parse("projects/my-project/locations/us/batchPredictionJobs/1").is_ok());
    /// let err = BatchPredictionJobName::parse("projects/my-project/locations/us/customJobs/1").unwrap_err();
    /// assert!(err.to_string().contains("batchPredictionJobs"));
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        match name.split('/').collect::<Vec<_>>().as_slice() {
            [
                "projects",
                project,
                "locations",
                location,
                "batchPredictionJobs",
                job_id,
            ] => {
                let parent = LocationName::new(*project, *location)?;
                validate_job_id(job_id)?;
                Ok(Self {
                    parent,
                    job_id: (*job_id).to_owned(),
                })
            }
            _ => Err(Error::invalid(
                "name",
                format!(
                    "{name:?} is not a batch prediction job name; expected \
                     `projects/{{project}}/locations/{{location}}/batchPredictionJobs/{{job_id}}`"
                ),
            )),
        }
    }

    /// The location the job lives in, its parent.
    ///
    /// ```
    /// # let name = vertex_batch::names::BatchPredictionJobName::new("my-project", "us", "1")?;
    /// assert_eq!(name.parent().to_string(), "projects/my-project/locations/us");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn parent(&self) -> &LocationName {
        &self.parent
    }

    /// The project id or number.
    ///
    /// ```
    /// # let name = vertex_batch::names::BatchPredictionJobName::new("my-project", "us", "1")?;
    /// assert_eq!(name.project(), "my-project");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn project(&self) -> &str {
        self.parent.project()
    }

    /// The location, e.g. `us-central1`.
    ///
    /// ```
    /// # let name = vertex_batch::names::BatchPredictionJobName::new("my-project", "us", "1")?;
    /// assert_eq!(name.location(), "us");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn location(&self) -> &str {
        self.parent.location()
    }

    /// The job id, the last segment of the name.
    ///
    /// ```
    /// # let name = vertex_batch::names::BatchPredictionJobName::new("my-project", "us", "1")?;
    /// assert_eq!(name.job_id(), "1");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn job_id(&self) -> &str {
        &self.job_id
    }
}

impl fmt::Display for BatchPredictionJobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/batchPredictionJobs/{}", self.parent, self.job_id)
    }
}

impl FromStr for BatchPredictionJobName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Resolves what a user writes as a model into the name the service expects.
///
/// | written | sent |
/// |---|---|
/// | `gemini-2.0-flash-001` (any bare id) | `publishers/google/models/gemini-2.0-flash-001` |
/// | `models/X` | `publishers/google/models/X` |
/// | `PUB/MODEL` | `publishers/PUB/models/MODEL` |
/// | `publishers/PUB/models/MODEL` | unchanged |
/// | `projects/P/locations/L/publishers/PUB/models/MODEL` | unchanged |
/// | `projects/P/locations/L/models/ID[@VERSION]` (tuned) | unchanged |
///
/// Empty names, empty segments, `..`, `?`, `&`, `#`, `%` and whitespace are errors naming the
/// field `model`.
///
/// ```
/// use vertex_batch::names::resolve_model;
///
/// assert_eq!(resolve_model("gemini-2.0-flash-001")?, "publishers/google/models/gemini-2.0-flash-001");
/// assert_eq!(resolve_model("anthropic/claude-3-5-sonnet@20240620")?,
///            "publishers/anthropic/models/claude-3-5-sonnet@20240620");
/// let err = resolve_model("gemini?alt=1").unwrap_err();
/// assert!(err.to_string().starts_with("invalid model:"));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn resolve_model(name: &str) -> Result<String> {
    Ok(ModelName::parse(name)?.to_string())
}

/// A model name, resolved (see [`resolve_model`]) and classified.
///
/// ```
/// use vertex_batch::names::ModelName;
///
/// let tuned = ModelName::parse("projects/my-project/locations/us-central1/models/123@2")?;
/// assert!(tuned.is_tuned());
/// assert_eq!(tuned.location(), Some("us-central1"));
/// let gemini = ModelName::parse("gemini-2.0-flash-001")?;
/// assert!(!gemini.is_tuned());
/// assert_eq!(gemini.as_str(), "publishers/google/models/gemini-2.0-flash-001");
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelName {
    resolved: String,
    location: Option<String>,
    tuned: bool,
}

impl ModelName {
    /// Resolves and validates a model name; see [`resolve_model`] for the accepted forms.
    ///
    /// ```
    /// use vertex_batch::names::ModelName;
    ///
    /// assert_eq!(ModelName::parse("models/gemini-pro")?.as_str(), "publishers/google/models/gemini-pro");
    /// assert!(ModelName::parse("publishers/google/models/../x").is_err());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        check_model_text(name)?;
        let segments: Vec<&str> = name.split('/').collect();
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            // A project may be domain-scoped (`example.com:my-project`): the project rules
            // check it below, in model_location.
            let is_project = i == 1 && segments[0] == "projects" && last > 1;
            if !is_project {
                check_model_segment(name, segment, i == last)?;
            }
        }
        let (resolved, location, tuned) = match segments.as_slice() {
            [model] => (format!("publishers/google/models/{model}"), None, false),
            ["models", model] => (format!("publishers/google/models/{model}"), None, false),
            [first, _] if is_collection(first) => return Err(model_form_error(name)),
            [publisher, model] => (
                format!("publishers/{publisher}/models/{model}"),
                None,
                false,
            ),
            ["publishers", _, "models", _] => (name.to_owned(), None, false),
            ["projects", project, "locations", location, "models", _] => {
                model_location(name, project, location)?;
                (name.to_owned(), Some((*location).to_owned()), true)
            }
            [
                "projects",
                project,
                "locations",
                location,
                "publishers",
                _,
                "models",
                _,
            ] => {
                model_location(name, project, location)?;
                (name.to_owned(), Some((*location).to_owned()), false)
            }
            _ => return Err(model_form_error(name)),
        };
        if !tuned {
            check_publisher_model_case(name, &resolved)?;
        }
        Ok(Self {
            resolved,
            location,
            tuned,
        })
    }

    /// The resolved name, as the service expects it.
    ///
    /// ```
    /// # use vertex_batch::names::ModelName;
    /// assert_eq!(ModelName::parse("google/gemini-pro")?.as_str(), "publishers/google/models/gemini-pro");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.resolved
    }

    /// Whether this is a tuned (project-owned) model, `projects/P/locations/L/models/ID`.
    /// The global endpoint does not serve tuned models.
    ///
    /// ```
    /// # use vertex_batch::names::ModelName;
    /// assert!(ModelName::parse("projects/my-project/locations/us-central1/models/42")?.is_tuned());
    /// assert!(!ModelName::parse("projects/my-project/locations/us-central1/publishers/google/models/gemini-pro")?.is_tuned());
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn is_tuned(&self) -> bool {
        self.tuned
    }

    /// The location written in the name, for `projects/P/locations/L/...` forms. A job must
    /// be created in the same location as such a model.
    ///
    /// ```
    /// # use vertex_batch::names::ModelName;
    /// assert_eq!(ModelName::parse("gemini-pro")?.location(), None);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.resolved)
    }
}

impl FromStr for ModelName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Whether `name` is a tuned model, `projects/P/locations/L/models/ID[@VERSION]`, after
/// resolution. Names that do not resolve are not tuned models.
///
/// ```
/// use vertex_batch::names::is_tuned_model;
///
/// assert!(is_tuned_model("projects/p-123456/locations/us-central1/models/42@1"));
/// assert!(!is_tuned_model("gemini-2.0-flash-001"));
/// ```
pub fn is_tuned_model(name: &str) -> bool {
    ModelName::parse(name).is_ok_and(|m| m.is_tuned())
}

/// Segment words that start a full resource name; `projects/x` or `publishers/x` alone is an
/// incomplete name, not a `PUBLISHER/MODEL` shorthand.
fn is_collection(segment: &str) -> bool {
    matches!(segment, "projects" | "publishers" | "locations")
}

fn model_form_error(name: &str) -> Error {
    Error::invalid(
        "model",
        format!("{name:?} is not a model name; {MODEL_FORMS}"),
    )
}

/// Whole-text checks, with a reason naming the offending character.
fn check_model_text(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("model", format!("is empty; {MODEL_FORMS}")));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '&' | '#' | '%'))
    {
        return Err(Error::invalid(
            "model",
            format!("{name:?} contains {c:?}, which cannot be in a model name; {MODEL_FORMS}"),
        ));
    }
    if name.contains("..") {
        return Err(Error::invalid(
            "model",
            format!("{name:?} contains `..`; {MODEL_FORMS}"),
        ));
    }
    Ok(())
}

/// A segment is ASCII letters, digits, `-`, `_` and `.`; the last one may carry one
/// `@VERSION` (tuned model versions, publisher model versions like `claude-3-5-sonnet@20240620`).
fn check_model_segment(name: &str, segment: &str, is_last: bool) -> Result<()> {
    if segment.is_empty() {
        return Err(Error::invalid(
            "model",
            format!("{name:?} has an empty segment; {MODEL_FORMS}"),
        ));
    }
    let (id, version) = match segment.split_once('@') {
        Some((id, version)) if is_last => (id, Some(version)),
        _ => (segment, None),
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s != "."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if plain(id) && version.is_none_or(plain) {
        Ok(())
    } else {
        Err(Error::invalid(
            "model",
            format!(
                "{name:?} has a bad segment {segment:?}: segments are letters, digits, `-`, \
                 `_` and `.`, with an optional `@VERSION` at the end; {MODEL_FORMS}"
            ),
        ))
    }
}

/// Publishers and their model ids are lower case (`google`, `gemini-2.0-flash-001`): the
/// service finds no `GEMINI-2.0-FLASH`, so it is refused here rather than at job creation,
/// after a batch run has uploaded its input. A version after `@` keeps its case.
fn check_publisher_model_case(name: &str, resolved: &str) -> Result<()> {
    let segments: Vec<&str> = resolved.split('/').collect();
    let Some(at) = segments.iter().position(|s| *s == "publishers") else {
        return Ok(());
    };
    let publisher = segments.get(at + 1).copied().unwrap_or_default();
    let model = segments.get(at + 3).copied().unwrap_or_default();
    let model = model.split('@').next().unwrap_or(model);
    if publisher.contains(|c: char| c.is_ascii_uppercase())
        || model.contains(|c: char| c.is_ascii_uppercase())
    {
        return Err(Error::invalid(
            "model",
            format!(
                "{name:?} has upper-case letters: publishers and their model ids are lower \
                 case (did you mean {:?}?); {MODEL_FORMS}",
                name.to_ascii_lowercase()
            ),
        ));
    }
    Ok(())
}

/// The project and location inside a model name must be valid too.
fn model_location(name: &str, project: &str, location: &str) -> Result<()> {
    validate_project(project)
        .and_then(|()| validate_location(location))
        .map_err(|e| Error::invalid("model", format!("{name:?}: {e}")))
}

/// Whether `bucket` is a bucket name as Cloud Storage takes it: 3 to 63 characters (222 with
/// dots, at most 63 between two), lower-case letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit. The one rule for the storage client's URIs and the
/// emulator's storage alike.
#[cfg(any(feature = "storage", feature = "emulator"))]
pub(crate) fn is_bucket_name(bucket: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let max = if bucket.contains('.') { 222 } else { 63 };
    (3..=max).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && edge(bucket.chars().next())
        && edge(bucket.chars().last())
        && bucket.split('.').all(|part| (1..=63).contains(&part.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(err: Error) -> (String, String) {
        match err {
            Error::InvalidInput { field, reason } => (field.to_string(), reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn locations_accept_regions_multi_regions_and_global() {
        for loc in [
            "us-central1",
            "europe-west4",
            "global",
            "us",
            "eu",
            "asia-northeast1",
        ] {
            validate_location(loc).unwrap();
        }
    }

    #[test]
    fn locations_refuse_anything_that_could_change_the_host() {
        for (loc, why) in [
            ("us-central1.evil.com", "contains '.'"),
            ("a/b", "contains '/'"),
            ("x:80", "contains ':'"),
            ("x@y", "contains '@'"),
            ("US-central1", "upper case"),
            ("", "is empty"),
            ("1us", "does not start with a letter"),
            ("-us", "does not start with a letter"),
            ("us-", "ends with a hyphen"),
            ("us central1", "contains ' '"),
        ] {
            let (field, reason) = reason(validate_location(loc).unwrap_err());
            assert_eq!(field, "location");
            assert!(reason.contains(why), "{loc}: {reason}");
            assert!(
                reason.contains("`us-central1`, `europe-west4`, `global`, `us` or `eu`"),
                "{reason}"
            );
        }
        assert!(validate_location(&"a".repeat(64)).is_err());
        validate_location(&"a".repeat(63)).unwrap();
    }

    #[test]
    fn projects_follow_gcp_rules() {
        for ok in [
            "my-project",
            "abcdef",
            "a12345",
            &"a".repeat(30),
            "123456789012",
            "1",
        ] {
            validate_project(ok).unwrap();
        }
        for bad in [
            "",
            "abcde",
            &"a".repeat(31),
            "My-project",
            "my_project",
            "1project",
            "my-project-",
            "my.project",
            "projects/x",
        ] {
            let (field, reason) = reason(validate_project(bad).unwrap_err());
            assert_eq!(field, "project");
            assert!(reason.contains("6 to 30"), "{reason}");
        }
    }

    #[test]
    fn domain_scoped_projects_are_projects() {
        for ok in [
            "example.com:my-project",
            "google.com:abcdef",
            "a.b.c.example.co.uk:my-project-2",
            "xn--bcher-kva.example:my-project",
            "example:my-project",
        ] {
            validate_project(ok).unwrap();
        }
        for bad in [
            "example.com:",
            ":my-project",
            "example.com:abc",
            "Example.com:my-project",
            "example..com:my-project",
            "-example.com:my-project",
            "example-.com:my-project",
            "example.com:My-project",
            "example.com:my-project:x",
            "a:b:my-project",
            "example.com/x:my-project",
            "example.com:123456789012",
        ] {
            let (field, reason) = reason(validate_project(bad).unwrap_err());
            assert_eq!(field, "project", "{bad}");
            assert!(reason.contains("`example.com:my-project`"), "{reason}");
        }
        assert!(!is_project_domain(&format!("{}.com", "a".repeat(250))));
        assert!(!is_project_domain(&format!("{}.com", "a".repeat(64))));
        assert!(is_project_domain(&format!("{}.com", "a".repeat(63))));
    }

    #[test]
    fn domain_scoped_names_parse_and_format() {
        let text = "projects/example.com:my-project/locations/us-central1";
        let parent = LocationName::parse(text).unwrap();
        assert_eq!(parent.project(), "example.com:my-project");
        assert_eq!(parent.to_string(), text);
        assert_eq!(
            parent,
            LocationName::new("example.com:my-project", "us-central1").unwrap()
        );
        let job = parent.job("42").unwrap();
        assert_eq!(job.to_string(), format!("{text}/batchPredictionJobs/42"));
        assert_eq!(
            BatchPredictionJobName::parse(&job.to_string()).unwrap(),
            job
        );
        let tuned = "projects/example.com:my-project/locations/us-central1/models/7@2";
        assert_eq!(resolve_model(tuned).unwrap(), tuned);
        // The location stays as strict as it is, whatever the project.
        assert!(LocationName::new("example.com:my-project", "us-central1.example.com").is_err());
    }

    #[test]
    fn bigquery_paths_split_after_the_project_domain() {
        assert_eq!(
            split_bigquery_path("p-123456.ds.t"),
            ["p-123456", "ds", "t"]
        );
        assert_eq!(split_bigquery_path("p-123456"), ["p-123456"]);
        assert_eq!(
            split_bigquery_path("example.com:my-project.ds.t"),
            ["example.com:my-project", "ds", "t"]
        );
        assert_eq!(
            split_bigquery_path("example.com:my-project"),
            ["example.com:my-project"]
        );
        assert_eq!(split_bigquery_path(""), [""]);
        assert_eq!(split_bigquery_path("a..b"), ["a", "", "b"]);
    }

    #[test]
    fn location_name_round_trips() {
        let name = LocationName::parse("projects/my-project/locations/us-central1").unwrap();
        assert_eq!(name.project(), "my-project");
        assert_eq!(name.location(), "us-central1");
        assert_eq!(
            name.to_string(),
            "projects/my-project/locations/us-central1"
        );
        assert_eq!(
            name,
            LocationName::new("my-project", "us-central1").unwrap()
        );
    }

    #[test]
    fn location_name_refuses_other_shapes() {
        for bad in [
            "",
            "projects/my-project",
            "projects/my-project/locations/",
            "projects/my-project/locations/us-central1/",
            "project/my-project/locations/us-central1",
            "projects/my-project/locations/us-central1/batchPredictionJobs/1",
        ] {
            assert!(LocationName::parse(bad).is_err(), "{bad}");
        }
        let (field, _) =
            reason(LocationName::parse("projects/my-project/locations/x.evil.com").unwrap_err());
        assert_eq!(field, "location");
        let (field, reason) = reason(LocationName::parse("locations/us").unwrap_err());
        assert_eq!(field, "parent");
        assert!(reason.contains("projects/{project}/locations/{location}"));
    }

    #[test]
    fn job_name_round_trips() {
        let text = "projects/123/locations/europe-west4/batchPredictionJobs/456";
        let name: BatchPredictionJobName = text.parse().unwrap();
        assert_eq!(
            (name.project(), name.location(), name.job_id()),
            ("123", "europe-west4", "456")
        );
        assert_eq!(name.to_string(), text);
        assert_eq!(
            name.parent(),
            &LocationName::new("123", "europe-west4").unwrap()
        );
    }

    #[test]
    fn job_name_refuses_bad_ids_and_shapes() {
        for bad in [
            "projects/123/locations/us/batchPredictionJobs/",
            "projects/123/locations/us/batchPredictionJobs/a b",
            "projects/123/locations/us/batchPredictionJobs/1/x",
            "projects/123/locations/us/customJobs/1",
            "projects/123/locations/us/batchPredictionJobs/1?x=y",
        ] {
            assert!(BatchPredictionJobName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn location_job_takes_id_or_full_name() {
        let parent = LocationName::new("my-project", "us-central1").unwrap();
        assert_eq!(
            parent.job("77").unwrap().to_string(),
            "projects/my-project/locations/us-central1/batchPredictionJobs/77"
        );
        let full = "projects/555/locations/us-central1/batchPredictionJobs/77";
        assert_eq!(parent.job(full).unwrap().to_string(), full);
        let (field, reason) = reason(
            parent
                .job("projects/my-project/locations/europe-west4/batchPredictionJobs/77")
                .unwrap_err(),
        );
        assert_eq!(field, "name");
        assert!(reason.contains("is in location `europe-west4`"), "{reason}");
        assert!(
            reason.contains("this client works in `us-central1`"),
            "{reason}"
        );
        let (field, _) = reason_of(parent.job(""));
        assert_eq!(field, "job_id");
        let (field, _) = reason_of(parent.job("a.b"));
        assert_eq!(field, "job_id");
    }

    fn reason_of<T: fmt::Debug>(r: Result<T>) -> (String, String) {
        reason(r.unwrap_err())
    }

    #[test]
    fn models_resolve_to_the_documented_forms() {
        for (written, sent) in [
            (
                "gemini-2.0-flash-001",
                "publishers/google/models/gemini-2.0-flash-001",
            ),
            ("text-bison", "publishers/google/models/text-bison"),
            (
                "models/gemini-1.5-pro-002",
                "publishers/google/models/gemini-1.5-pro-002",
            ),
            (
                "google/gemini-1.5-pro-002",
                "publishers/google/models/gemini-1.5-pro-002",
            ),
            (
                "anthropic/claude-3-5-sonnet@20240620",
                "publishers/anthropic/models/claude-3-5-sonnet@20240620",
            ),
            (
                "publishers/meta/models/llama3",
                "publishers/meta/models/llama3",
            ),
            (
                "projects/my-project/locations/us-central1/publishers/google/models/gemini-1.5-flash-002",
                "projects/my-project/locations/us-central1/publishers/google/models/gemini-1.5-flash-002",
            ),
            (
                "projects/my-project/locations/us-central1/models/123",
                "projects/my-project/locations/us-central1/models/123",
            ),
            (
                "projects/my-project/locations/us-central1/models/123@2",
                "projects/my-project/locations/us-central1/models/123@2",
            ),
            (
                "projects/my-project/locations/us-central1/models/123@golden",
                "projects/my-project/locations/us-central1/models/123@golden",
            ),
        ] {
            assert_eq!(resolve_model(written).unwrap(), sent, "{written}");
        }
    }

    #[test]
    fn bad_models_are_errors_naming_the_field() {
        for (bad, why) in [
            ("", "is empty"),
            ("gemini..x", "`..`"),
            ("publishers/google/models/..", "`..`"),
            ("GEMINI-2.0-FLASH", "upper-case letters"),
            (
                "publishers/Google/models/gemini-2.0-flash",
                "upper-case letters",
            ),
            (
                "projects/p-123456/locations/us-central1/publishers/google/models/Gemini",
                "did you mean",
            ),
            ("gemini?x=1", "'?'"),
            ("gemini&x", "'&'"),
            ("gemini#x", "'#'"),
            ("gemini%2F", "'%'"),
            ("gemini pro", "' '"),
            ("gemini\tpro", "'\\t'"),
            (" gemini", "' '"),
            ("/gemini", "empty segment"),
            ("models/", "empty segment"),
            ("publishers//models/x", "empty segment"),
            ("a/b/c", "is not a model name"),
            ("publishers/google", "is not a model name"),
            ("projects/x", "is not a model name"),
            ("publishers/google/models/x/y", "is not a model name"),
            (
                "projects/my-project/locations/us-central1/models",
                "is not a model name",
            ),
            ("gemini@", "bad segment"),
            ("a@b/c", "bad segment"),
            ("x@1@2", "bad segment"),
            ("gemini:pro", "bad segment"),
            ("projects/my-project/locations/US/models/1", "upper case"),
            ("projects/P/locations/us/models/1", "is not a project"),
        ] {
            let (field, reason) = reason_of(resolve_model(bad));
            assert_eq!(field, "model", "{bad}");
            assert!(reason.contains(why), "{bad:?}: {reason}");
        }
    }

    #[test]
    fn tuned_models_are_recognised() {
        assert!(is_tuned_model(
            "projects/my-project/locations/us-central1/models/1@3"
        ));
        assert!(!is_tuned_model("gemini-2.0-flash-001"));
        assert!(!is_tuned_model(
            "projects/my-project/locations/us-central1/publishers/google/models/gemini-pro"
        ));
        assert!(!is_tuned_model("not a model"));
        let tuned = ModelName::parse("projects/my-project/locations/us-east4/models/1").unwrap();
        assert_eq!(tuned.location(), Some("us-east4"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn project() -> impl Strategy<Value = String> {
            prop_oneof!["[a-z][a-z0-9-]{4,28}[a-z0-9]", "[0-9]{1,20}"]
        }

        fn location() -> impl Strategy<Value = String> {
            "[a-z]([a-z0-9-]{0,20}[a-z0-9])?"
        }

        proptest! {
            #[test]
            fn parsers_never_panic(text in ".*") {
                let _ = LocationName::parse(&text);
                let _ = BatchPredictionJobName::parse(&text);
                let _ = validate_location(&text);
                let _ = validate_project(&text);
                if let Ok(model) = resolve_model(&text) {
                    // Resolving is idempotent: a resolved name resolves to itself.
                    prop_assert_eq!(resolve_model(&model).unwrap(), model);
                }
            }

            #[test]
            fn slashy_text_never_panics(text in "[a-z/@.?#& ]{0,40}") {
                let _ = resolve_model(&text);
                let _ = LocationName::parse(&text);
                let _ = BatchPredictionJobName::parse(&text);
            }

            #[test]
            fn names_round_trip(project in project(), location in location(), id in "[0-9]{1,19}") {
                let name = BatchPredictionJobName::new(&project, &location, &id).unwrap();
                let text = name.to_string();
                prop_assert_eq!(&text, &format!("projects/{project}/locations/{location}/batchPredictionJobs/{id}"));
                prop_assert_eq!(BatchPredictionJobName::parse(&text).unwrap(), name.clone());
                prop_assert_eq!(LocationName::parse(&name.parent().to_string()).unwrap(), name.parent().clone());
                prop_assert_eq!(name.parent().job(&text).unwrap(), name.clone());
                prop_assert_eq!(name.parent().job(&id).unwrap(), name);
            }

            #[test]
            fn model_ids_resolve_to_google_publisher(id in "[a-z0-9][a-z0-9._-]{0,30}") {
                prop_assume!(!id.contains(".."));
                prop_assert_eq!(resolve_model(&id).unwrap(), format!("publishers/google/models/{id}"));
            }
        }
    }
}

//! Model parameters: the typed [`GenerationConfig`], and conversions between
//! [`serde_json::Value`] and [`prost_types::Value`] / [`prost_types::Struct`].
//!
//! `BatchPredictionJob.model_parameters` is a `google.protobuf.Value` holding a struct with
//! camelCase keys. A protobuf number is an `f64`: NaN and infinity have no JSON form, and
//! integers beyond 2^53 in magnitude would silently change value, so all three are errors
//! naming the key path (e.g. `model_parameters.foo.bar[2]`), never panics.

mod big_integers;

pub(crate) use big_integers::BigInteger;

use std::fmt::Write as _;

use prost_types::value::Kind;
use serde_json::{Map, Number, Value as Json};

use crate::error::{Error, Result};
#[cfg(feature = "json")]
pub(crate) use big_integers::in_text as big_integer_in_text;
pub(crate) use big_integers::in_value as big_integer_in_value;
use big_integers::{MAX_SAFE_INTEGER, Step};

/// How deep a `google.protobuf.Value` may be, in protobuf message levels, counted as decoders
/// count them: a number, string, bool or null is 1 level (its `Value`); a list is 2 levels
/// (`Value`, `ListValue`) above its deepest item; an object 3 (`Value`, `Struct`, and the map
/// entry holding each field) above its deepest field. So 49 lists, or 32 objects, inside one
/// another around a number.
///
/// Decoders stop at 100 message levels (prost's recursion limit, and other languages' protobuf
/// libraries have the same), and a job's `model_parameters` starts at the third level of a
/// request (`CreateBatchPredictionJobRequest`, the job, the value) and of a List response:
/// anything deeper than 99 here could be sent, but the service, the emulator and this client
/// could never decode it.
pub const MAX_DEPTH: usize = 99;

/// A float model parameter: `f32` or `f64`.
///
/// An `f32` goes through its shortest decimal form, so `0.2f32` is sent as `0.2`, not as
/// `0.20000000298023224` (what `0.2f32 as f64` gives).
///
/// ```
/// use vertex_batch::params::FloatParam;
///
/// assert_eq!(0.2f32.to_f64(), 0.2f64);
/// assert_eq!(0.7f64.to_f64(), 0.7f64);
/// ```
pub trait FloatParam: Copy + sealed::Sealed {
    /// The value as the `f64` a user would write for it.
    fn to_f64(self) -> f64;
}

impl FloatParam for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

impl FloatParam for f32 {
    fn to_f64(self) -> f64 {
        // Display gives the shortest decimal that reads back as the same f32; NaN and the
        // infinities print as `NaN`/`inf`, which parse back to themselves.
        self.to_string().parse().unwrap_or(f64::from(self))
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The documented generation parameters of a Gemini batch job, plus any other key.
///
/// Encoded with camelCase keys (`temperature`, `topP`, `topK`, `maxOutputTokens`,
/// `candidateCount`, `stopSequences`, `presencePenalty`, `frequencyPenalty`, `seed`,
/// `responseMimeType`); unset fields are left out. Keys set with [`GenerationConfig::with_param`]
/// are sent as written and win over a typed field of the same key.
///
/// ```
/// use vertex_batch::params::GenerationConfig;
///
/// let config = GenerationConfig::new().with_temperature(0.2).with_max_output_tokens(200);
/// assert_eq!(
///     config.to_json()?,
///     serde_json::json!({"temperature": 0.2, "maxOutputTokens": 200})
/// );
/// let value = config.to_value()?; // a google.protobuf.Value holding a struct
/// assert!(matches!(value.kind, Some(prost_types::value::Kind::StructValue(_))));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct GenerationConfig {
    /// `temperature`: randomness of sampling.
    pub temperature: Option<f64>,
    /// `topP`: nucleus sampling probability mass.
    pub top_p: Option<f64>,
    /// `topK`: number of highest-probability tokens considered.
    pub top_k: Option<u32>,
    /// `maxOutputTokens`: most tokens in a response.
    pub max_output_tokens: Option<u32>,
    /// `candidateCount`: responses to generate per prompt.
    pub candidate_count: Option<u32>,
    /// `stopSequences`: texts that stop generation (left out when empty).
    pub stop_sequences: Vec<String>,
    /// `presencePenalty`: penalty on tokens already present.
    pub presence_penalty: Option<f64>,
    /// `frequencyPenalty`: penalty growing with a token's frequency.
    pub frequency_penalty: Option<f64>,
    /// `seed`: sampling seed.
    pub seed: Option<i32>,
    /// `responseMimeType`: e.g. `application/json`.
    pub response_mime_type: Option<String>,
    /// Any other key, sent as written (camelCase on the wire).
    pub extra: Map<String, Json>,
}

impl GenerationConfig {
    /// An empty configuration: the model's defaults.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().to_json()?, serde_json::json!({}));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `temperature`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// let config = GenerationConfig::new().with_temperature(0.2f32);
    /// assert_eq!(config.temperature, Some(0.2));
    /// ```
    pub fn with_temperature(mut self, temperature: impl FloatParam) -> Self {
        self.temperature = Some(temperature.to_f64());
        self
    }

    /// Sets `topP`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_top_p(0.95).to_json()?["topP"], 0.95);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_top_p(mut self, top_p: impl FloatParam) -> Self {
        self.top_p = Some(top_p.to_f64());
        self
    }

    /// Sets `topK`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_top_k(40).to_json()?["topK"], 40);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_top_k(mut self, top_k: u32) -> Self {
        self.top_k = Some(top_k);
        self
    }

    /// Sets `maxOutputTokens`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_max_output_tokens(200).to_json()?["maxOutputTokens"], 200);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_max_output_tokens(mut self, max_output_tokens: u32) -> Self {
        self.max_output_tokens = Some(max_output_tokens);
        self
    }

    /// Sets `candidateCount`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_candidate_count(2).to_json()?["candidateCount"], 2);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_candidate_count(mut self, candidate_count: u32) -> Self {
        self.candidate_count = Some(candidate_count);
        self
    }

    /// Sets `stopSequences`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// let config = GenerationConfig::new().with_stop_sequences(["END", "STOP"]);
    /// assert_eq!(config.to_json()?["stopSequences"], serde_json::json!(["END", "STOP"]));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_stop_sequences<I, S>(mut self, stop_sequences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stop_sequences = stop_sequences.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `presencePenalty`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_presence_penalty(0.5).to_json()?["presencePenalty"], 0.5);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_presence_penalty(mut self, presence_penalty: impl FloatParam) -> Self {
        self.presence_penalty = Some(presence_penalty.to_f64());
        self
    }

    /// Sets `frequencyPenalty`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_frequency_penalty(-0.5).to_json()?["frequencyPenalty"], -0.5);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_frequency_penalty(mut self, frequency_penalty: impl FloatParam) -> Self {
        self.frequency_penalty = Some(frequency_penalty.to_f64());
        self
    }

    /// Sets `seed`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert_eq!(GenerationConfig::new().with_seed(7).to_json()?["seed"], 7);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_seed(mut self, seed: i32) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets `responseMimeType`, e.g. `application/json`.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// let config = GenerationConfig::new().with_response_mime_type("application/json");
    /// assert_eq!(config.to_json()?["responseMimeType"], "application/json");
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_response_mime_type(mut self, response_mime_type: impl Into<String>) -> Self {
        self.response_mime_type = Some(response_mime_type.into());
        self
    }

    /// Sets any other key, sent as written (use the camelCase wire name). It wins over a typed
    /// field of the same key.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// use serde_json::json;
    ///
    /// let config = GenerationConfig::new()
    ///     .with_param("responseSchema", json!({"type": "OBJECT"}))
    ///     .with_param("temperature", json!(1));
    /// assert_eq!(config.with_temperature(0.5).to_json()?["temperature"], 1);
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<Json>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Whether nothing is set.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// assert!(GenerationConfig::new().is_empty());
    /// assert!(!GenerationConfig::new().with_seed(1).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The configuration as a JSON object with camelCase keys, as a JSONL request line's
    /// `generationConfig` wants it.
    ///
    /// Fails on a NaN or infinite float (JSON has no such numbers), naming the key, and on a
    /// parameter with an empty name.
    ///
    /// ```
    /// # use vertex_batch::params::GenerationConfig;
    /// let err = GenerationConfig::new().with_top_p(f64::NAN).to_json().unwrap_err();
    /// assert!(err.to_string().starts_with("invalid generation_config.topP:"));
    /// ```
    pub fn to_json(&self) -> Result<Json> {
        let mut map = Map::new();
        let floats = [
            ("temperature", self.temperature),
            ("topP", self.top_p),
            ("presencePenalty", self.presence_penalty),
            ("frequencyPenalty", self.frequency_penalty),
        ];
        for (key, value) in floats {
            if let Some(value) = value {
                let number = Number::from_f64(value).ok_or_else(|| {
                    Error::invalid(
                        format!("generation_config.{key}"),
                        format!("{value} is not a finite number"),
                    )
                })?;
                map.insert(key.to_owned(), Json::Number(number));
            }
        }
        let integers = [
            ("topK", self.top_k),
            ("maxOutputTokens", self.max_output_tokens),
            ("candidateCount", self.candidate_count),
        ];
        for (key, value) in integers {
            if let Some(value) = value {
                map.insert(key.to_owned(), Json::from(value));
            }
        }
        if let Some(seed) = self.seed {
            map.insert("seed".to_owned(), Json::from(seed));
        }
        if !self.stop_sequences.is_empty() {
            map.insert(
                "stopSequences".to_owned(),
                Json::from(self.stop_sequences.clone()),
            );
        }
        if let Some(mime) = &self.response_mime_type {
            map.insert("responseMimeType".to_owned(), Json::from(mime.as_str()));
        }
        if self.extra.keys().any(|key| key.trim().is_empty()) {
            return Err(Error::invalid(
                "generation_config",
                "a parameter's name is empty; parameters are named like `seed` or \
                 `responseMimeType`",
            ));
        }
        map.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Json::Object(map))
    }

    /// The configuration as a `google.protobuf.Value` holding a struct, as
    /// `BatchPredictionJob.model_parameters` wants it.
    ///
    /// ```
    /// # use vertex_batch::params::{GenerationConfig, value_to_json};
    /// let value = GenerationConfig::new().with_temperature(0.2f32).to_value()?;
    /// assert_eq!(value_to_json(&value)?, serde_json::json!({"temperature": 0.2}));
    /// # Ok::<(), vertex_batch::Error>(())
    /// ```
    pub fn to_value(&self) -> Result<prost_types::Value> {
        json_to_value_at(&self.to_json()?, "generation_config")
    }
}

impl TryFrom<&GenerationConfig> for prost_types::Value {
    type Error = Error;

    fn try_from(config: &GenerationConfig) -> Result<Self> {
        config.to_value()
    }
}

/// Parses JSON text that is to become a `google.protobuf.Value` (a command-line parameter,
/// say), as `serde_json::from_str` does but refusing, naming its path under `value`, an integer
/// beyond 2^53 in magnitude: [`json_to_value`] refuses those that fit in 64 bits, but parsing
/// alone would turn one beyond 64 bits into a rounded `f64` without a word.
///
/// ```
/// use vertex_batch::params::json_from_str;
///
/// assert_eq!(json_from_str(r#"{"seed": 42}"#)?, serde_json::json!({"seed": 42}));
/// let err = json_from_str(r#"{"seed": 18446744073709551616}"#).unwrap_err();
/// assert!(err.to_string().starts_with("invalid value.seed: 18446744073709551616 is beyond 2^53"));
/// assert!(json_from_str("1e300").is_ok()); // a float as written
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn json_from_str(text: &str) -> Result<Json> {
    json_from_str_at(text, "value")
}

/// [`json_from_str`], naming paths under `root` instead of `value` (a parameter's name, say).
///
/// ```
/// use vertex_batch::params::json_from_str_at;
///
/// let err = json_from_str_at(r#"{"a": [18446744073709551616]}"#, "seed").unwrap_err();
/// assert_eq!(err.field().map(ToString::to_string).as_deref(), Some("seed.a[0]"));
/// ```
pub fn json_from_str_at(text: &str, root: &str) -> Result<Json> {
    let json =
        serde_json::from_str(text).map_err(|e| Error::invalid(root, format!("not JSON: {e}")))?;
    match big_integers::in_text(text) {
        Some(big) => Err(big_integer_error(root, &big)),
        None => Ok(json),
    }
}

/// The error for an integer beyond 2^53, at its path under `root`.
pub(crate) fn big_integer_error(root: &str, big: &BigInteger) -> Error {
    Error::invalid(path_text(root, &big.path), too_big_reason(&big.literal))
}

/// Why an integer beyond 2^53 is refused, and what to do instead.
pub(crate) fn too_big_reason(literal: &str) -> String {
    format!(
        "{literal} is beyond 2^53 in magnitude and would change value as a protobuf number (an \
         f64); send it as a string"
    )
}

/// `root` and `path` as the converters name places: `value.foo.bar[2]`.
pub(crate) fn path_text(root: &str, path: &[Step]) -> String {
    let mut text = root.to_owned();
    for step in path {
        match step {
            Step::Key(key) => push_key(&mut text, key),
            Step::Index(i) => {
                let _ = write!(text, "[{i}]");
            }
        }
    }
    text
}

/// Converts JSON into a `google.protobuf.Value`.
///
/// Errors (naming the key path under `value`, e.g. `value.foo.bar[2]`) for an integer beyond
/// 2^53 in magnitude, which an `f64` cannot hold exactly, and for nesting deeper than
/// [`MAX_DEPTH`] message levels (49 lists or 32 objects inside one another).
///
/// ```
/// use vertex_batch::params::json_to_value;
/// use serde_json::json;
///
/// let value = json_to_value(&json!({"topK": 40, "stop": ["a"]}))?;
/// assert!(matches!(value.kind, Some(prost_types::value::Kind::StructValue(_))));
/// let err = json_to_value(&json!({"foo": {"bar": [0, 1, 9007199254740993u64]}})).unwrap_err();
/// assert!(err.to_string().starts_with("invalid value.foo.bar[2]:"));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn json_to_value(json: &Json) -> Result<prost_types::Value> {
    json_to_value_at(json, "value")
}

/// [`json_to_value`] with errors naming paths under `root` (e.g. `model_parameters`).
pub(crate) fn json_to_value_at(json: &Json, root: &str) -> Result<prost_types::Value> {
    let mut path = root.to_owned();
    to_value(json, &mut path, 0)
}

/// Converts a JSON object into a `google.protobuf.Struct`; errors as [`json_to_value`].
///
/// ```
/// use vertex_batch::params::json_to_struct;
///
/// let json = serde_json::json!({"temperature": 0.2});
/// let object = json.as_object().expect("an object");
/// let fields = json_to_struct(object)?.fields;
/// assert_eq!(fields["temperature"].kind, Some(prost_types::value::Kind::NumberValue(0.2)));
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn json_to_struct(map: &Map<String, Json>) -> Result<prost_types::Struct> {
    let mut path = "value".to_owned();
    to_struct(map, &mut path, 0)
}

/// Converts a `google.protobuf.Value` into JSON.
///
/// A whole number within 2^53 becomes a JSON integer (`200`, not `200.0`), as protobuf JSON
/// printers do. NaN, infinity and a value with no kind set have no JSON form: errors naming the
/// path under `value`.
///
/// ```
/// use prost_types::{Value, value::Kind};
/// use vertex_batch::params::value_to_json;
///
/// let value = Value { kind: Some(Kind::NumberValue(200.0)) };
/// assert_eq!(value_to_json(&value)?, serde_json::json!(200));
/// let nan = Value { kind: Some(Kind::NumberValue(f64::NAN)) };
/// assert!(value_to_json(&nan).is_err());
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn value_to_json(value: &prost_types::Value) -> Result<Json> {
    let mut path = "value".to_owned();
    to_json(value, &mut path, 0)
}

/// Converts a `google.protobuf.Struct` into a JSON object; errors as [`value_to_json`].
///
/// ```
/// use vertex_batch::params::{json_to_struct, struct_to_json};
///
/// let json = serde_json::json!({"a": [1, "x", null, true, {"b": 0.5}]});
/// let object = json.as_object().expect("an object");
/// assert_eq!(&struct_to_json(&json_to_struct(object)?)?, object);
/// # Ok::<(), vertex_batch::Error>(())
/// ```
pub fn struct_to_json(value: &prost_types::Struct) -> Result<Map<String, Json>> {
    let mut path = "value".to_owned();
    struct_json(value, &mut path, 0)
}

/// Appends `.key`, or `["key"]` when the key is not a plain identifier, to `path`.
fn push_key(path: &mut String, key: &str) {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        let _ = write!(path, ".{key}");
    } else {
        let _ = write!(path, "[{key:?}]");
    }
}

fn too_deep(path: &str) -> Error {
    Error::invalid(
        path,
        format!(
            "nesting is deeper than protobuf decoders read: at most {MAX_DEPTH} message levels, \
             where a list takes 2 and an object 3 (49 lists or 32 objects inside one another)"
        ),
    )
}

/// Checks that a message `levels` deep has a level to itself (see [`MAX_DEPTH`]).
fn fits(levels: usize, path: &str) -> Result<()> {
    if levels > MAX_DEPTH {
        return Err(too_deep(path));
    }
    Ok(())
}

/// Checks that `value` is no deeper than [`MAX_DEPTH`], naming the path under `root` of the
/// first place too deep: for a value made by hand or from proto3 JSON, before it is sent.
pub(crate) fn check_depth(value: &prost_types::Value, root: &str) -> Result<()> {
    fn walk(value: &prost_types::Value, path: &mut String, above: usize) -> Result<()> {
        fits(above + 1, path)?;
        match &value.kind {
            Some(Kind::ListValue(list)) => {
                fits(above + 2, path)?;
                for (i, item) in list.values.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    walk(item, path, above + 2)?;
                    path.truncate(len);
                }
            }
            Some(Kind::StructValue(s)) => {
                fits(above + 2, path)?;
                for (key, item) in &s.fields {
                    let len = path.len();
                    push_key(path, key);
                    walk(item, path, above + 3)?;
                    path.truncate(len);
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(value, &mut root.to_owned(), 0)
}

// The converters below take `above`: the message levels above the value (or struct) they
// convert, so it sits at level `above + 1`.

fn to_value(json: &Json, path: &mut String, above: usize) -> Result<prost_types::Value> {
    fits(above + 1, path)?;
    let kind = match json {
        Json::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Number(n) => Kind::NumberValue(number_to_f64(n, path)?),
        Json::Array(items) => {
            fits(above + 2, path)?; // the ListValue
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                values.push(to_value(item, path, above + 2)?);
                path.truncate(len);
            }
            Kind::ListValue(prost_types::ListValue { values })
        }
        Json::Object(map) => Kind::StructValue(to_struct(map, path, above + 1)?),
    };
    Ok(prost_types::Value { kind: Some(kind) })
}

fn to_struct(
    map: &Map<String, Json>,
    path: &mut String,
    above: usize,
) -> Result<prost_types::Struct> {
    fits(above + 1, path)?;
    let mut fields = std::collections::BTreeMap::new();
    for (key, item) in map {
        let len = path.len();
        push_key(path, key);
        // Each field is a map entry, a level of its own, holding the value.
        fields.insert(key.clone(), to_value(item, path, above + 2)?);
        path.truncate(len);
    }
    Ok(prost_types::Struct { fields })
}

fn number_to_f64(n: &Number, path: &str) -> Result<f64> {
    let too_big = |text: String| Error::invalid(path, too_big_reason(&text));
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(too_big(i.to_string()));
        }
        // Exact: |i| <= 2^53.
        return Ok(i as f64);
    }
    if let Some(u) = n.as_u64() {
        return Err(too_big(u.to_string()));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(Error::invalid(path, format!("{n} is not a finite number"))),
    }
}

fn to_json(value: &prost_types::Value, path: &mut String, above: usize) -> Result<Json> {
    fits(above + 1, path)?;
    Ok(match &value.kind {
        None => {
            return Err(Error::invalid(
                path.as_str(),
                "a google.protobuf.Value with no kind set has no JSON form",
            ));
        }
        Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::NumberValue(f)) => Json::Number(f64_to_number(*f, path)?),
        Some(Kind::ListValue(list)) => {
            fits(above + 2, path)?;
            let mut items = Vec::with_capacity(list.values.len());
            for (i, item) in list.values.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                items.push(to_json(item, path, above + 2)?);
                path.truncate(len);
            }
            Json::Array(items)
        }
        Some(Kind::StructValue(s)) => Json::Object(struct_json(s, path, above + 1)?),
    })
}

fn struct_json(
    value: &prost_types::Struct,
    path: &mut String,
    above: usize,
) -> Result<Map<String, Json>> {
    fits(above + 1, path)?;
    let mut map = Map::new();
    for (key, item) in &value.fields {
        let len = path.len();
        push_key(path, key);
        map.insert(key.clone(), to_json(item, path, above + 2)?);
        path.truncate(len);
    }
    Ok(map)
}

fn f64_to_number(f: f64, path: &str) -> Result<Number> {
    if !f.is_finite() {
        return Err(Error::invalid(
            path,
            format!("{f} is not a finite number and has no JSON form"),
        ));
    }
    // Whole numbers print as integers, as protobuf JSON printers do; -0.0 keeps its sign.
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 && !(f == 0.0 && f.is_sign_negative())
    {
        // Exact: a whole f64 within 2^53.
        return Ok(Number::from(f as i64));
    }
    Number::from_f64(f).ok_or_else(|| Error::invalid(path, format!("{f} is not a finite number")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_and_reason(err: Error) -> (String, String) {
        match err {
            Error::InvalidInput { field, reason } => (field.to_string(), reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn number(v: f64) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::NumberValue(v)),
        }
    }

    #[test]
    fn every_documented_key_is_camel_case() {
        let config = GenerationConfig::new()
            .with_temperature(0.2)
            .with_top_p(0.9)
            .with_top_k(40)
            .with_max_output_tokens(200)
            .with_candidate_count(1)
            .with_stop_sequences(["END"])
            .with_presence_penalty(0.1)
            .with_frequency_penalty(0.3)
            .with_seed(42)
            .with_response_mime_type("application/json");
        assert_eq!(
            config.to_json().unwrap(),
            json!({
                "temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 200,
                "candidateCount": 1, "stopSequences": ["END"], "presencePenalty": 0.1,
                "frequencyPenalty": 0.3, "seed": 42, "responseMimeType": "application/json"
            })
        );
        let value = config.to_value().unwrap();
        let Some(Kind::StructValue(s)) = &value.kind else {
            panic!("not a struct: {value:?}")
        };
        assert_eq!(s.fields.len(), 10);
        assert_eq!(s.fields["temperature"], number(0.2));
        assert_eq!(s.fields["maxOutputTokens"], number(200.0));
        assert_eq!(s.fields["seed"], number(42.0));
        assert_eq!(
            s.fields["responseMimeType"].kind,
            Some(Kind::StringValue("application/json".into()))
        );
    }

    #[test]
    fn f32_parameters_keep_their_decimal_value() {
        let config = GenerationConfig::new()
            .with_temperature(0.2f32)
            .with_top_p(0.95f32)
            .with_presence_penalty(-1.1f32);
        assert_eq!(config.temperature, Some(0.2));
        assert_eq!(config.top_p, Some(0.95));
        assert_eq!(config.presence_penalty, Some(-1.1));
        let json = config.to_json().unwrap();
        let wire = |key: &str| serde_json::to_string(&json[key]).unwrap();
        assert_eq!(
            (wire("temperature"), wire("topP"), wire("presencePenalty")),
            ("0.2".into(), "0.95".into(), "-1.1".into())
        );
    }

    #[test]
    fn non_finite_parameters_are_errors_naming_the_key() {
        for (config, key) in [
            (
                GenerationConfig::new().with_temperature(f64::NAN),
                "temperature",
            ),
            (GenerationConfig::new().with_top_p(f32::INFINITY), "topP"),
            (
                GenerationConfig::new().with_presence_penalty(f64::NEG_INFINITY),
                "presencePenalty",
            ),
            (
                GenerationConfig::new().with_frequency_penalty(f32::NAN),
                "frequencyPenalty",
            ),
        ] {
            let (field, reason) = field_and_reason(config.to_value().unwrap_err());
            assert_eq!(field, format!("generation_config.{key}"));
            assert!(reason.contains("not a finite number"), "{reason}");
        }
    }

    #[test]
    fn extra_params_are_sent_as_written_and_win() {
        let config = GenerationConfig::new()
            .with_temperature(0.5)
            .with_param("temperature", 1)
            .with_param("thinkingConfig", json!({"thinkingBudget": 0}));
        assert_eq!(
            config.to_json().unwrap(),
            json!({"temperature": 1, "thinkingConfig": {"thinkingBudget": 0}})
        );
        let bad = GenerationConfig::new().with_param("x", json!({"y": [1, u64::MAX]}));
        let (field, _) = field_and_reason(bad.to_value().unwrap_err());
        assert_eq!(field, "generation_config.x.y[1]");
    }

    #[test]
    fn try_from_matches_to_value() {
        let config = GenerationConfig::new().with_seed(3);
        assert_eq!(
            prost_types::Value::try_from(&config).unwrap(),
            config.to_value().unwrap()
        );
    }

    #[test]
    fn integers_beyond_2_pow_53_are_errors_with_the_path() {
        json_to_value(&json!(9_007_199_254_740_992u64)).unwrap();
        json_to_value(&json!(-9_007_199_254_740_992i64)).unwrap();
        for (json, path) in [
            (json!(9_007_199_254_740_993u64), "value"),
            (json!(-9_007_199_254_740_993i64), "value"),
            (
                json!({"foo": {"bar": [1, 2, u64::MAX]}}),
                "value.foo.bar[2]",
            ),
            (json!({"a b": [i64::MIN]}), "value[\"a b\"][0]"),
        ] {
            let (field, reason) = field_and_reason(json_to_value(&json).unwrap_err());
            assert_eq!(field, path);
            assert!(reason.contains("beyond 2^53"), "{reason}");
        }
        // A float beyond 2^53 is already an f64: nothing changes, nothing to refuse.
        json_to_value(&json!(1e300)).unwrap();
    }

    /// `n` lists, one inside the other, around a number.
    fn lists(n: usize) -> Json {
        (0..n).fold(json!(1), |inner, _| json!([inner]))
    }

    /// `n` objects, one inside the other, around a number.
    fn objects(n: usize) -> Json {
        (0..n).fold(json!(1), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn nesting_is_limited_as_decoders_count_message_levels() {
        for deep in [lists(49), objects(32), json!({ "k": lists(47) })] {
            let value = json_to_value(&deep).unwrap();
            assert_eq!(value_to_json(&value).unwrap(), deep);
        }
        for (deeper, at) in [
            (lists(50), "value[0][0]"),
            (objects(33), "value.a.a"),
            (json!({ "k": lists(48) }), "value.k[0][0]"),
        ] {
            let (field, reason) = field_and_reason(json_to_value(&deeper).unwrap_err());
            assert!(field.starts_with(at), "{field}");
            assert!(reason.contains("nesting is deeper than"), "{reason}");
            assert!(reason.contains("99 message levels"), "{reason}");
        }

        // Read back, the same count.
        let mut value = number(1.0);
        for _ in 0..50 {
            value = prost_types::Value {
                kind: Some(Kind::ListValue(prost_types::ListValue {
                    values: vec![value],
                })),
            };
        }
        assert!(
            value_to_json(&value)
                .unwrap_err()
                .to_string()
                .contains("deeper")
        );
    }

    /// The count is the decoder's own: at the deepest nesting accepted, a Create request and
    /// a List response decode; one level deeper (built by hand, as the converters refuse it),
    /// they do not.
    #[test]
    fn what_the_converters_accept_is_what_prost_decodes() {
        use crate::v1::{
            BatchPredictionJob, CreateBatchPredictionJobRequest, ListBatchPredictionJobsResponse,
        };
        use prost::Message;

        let decodes = |value: prost_types::Value| {
            let job = BatchPredictionJob {
                model_parameters: Some(value),
                ..BatchPredictionJob::default()
            };
            let list = ListBatchPredictionJobsResponse {
                batch_prediction_jobs: vec![job.clone()],
                next_page_token: String::new(),
            };
            let create = CreateBatchPredictionJobRequest {
                parent: "projects/p/locations/l".into(),
                batch_prediction_job: Some(job),
            };
            let create_ok =
                CreateBatchPredictionJobRequest::decode(create.encode_to_vec().as_slice()).is_ok();
            let list_ok =
                ListBatchPredictionJobsResponse::decode(list.encode_to_vec().as_slice()).is_ok();
            assert_eq!(create_ok, list_ok);
            create_ok
        };
        let wrap_list = |value: prost_types::Value| prost_types::Value {
            kind: Some(Kind::ListValue(prost_types::ListValue {
                values: vec![value],
            })),
        };
        let wrap_object = |value: prost_types::Value| prost_types::Value {
            kind: Some(Kind::StructValue(prost_types::Struct {
                fields: [("a".to_owned(), value)].into(),
            })),
        };
        let deepest = json_to_value(&lists(49)).unwrap();
        assert!(decodes(deepest.clone()));
        assert!(!decodes(wrap_list(deepest)));
        let deepest = json_to_value(&objects(32)).unwrap();
        assert!(decodes(deepest.clone()));
        assert!(!decodes(wrap_object(deepest)));
    }

    #[test]
    fn values_without_json_form_are_errors() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let list = prost_types::Value {
                kind: Some(Kind::ListValue(prost_types::ListValue {
                    values: vec![number(1.0), number(v)],
                })),
            };
            let (field, _) = field_and_reason(value_to_json(&list).unwrap_err());
            assert_eq!(field, "value[1]");
        }
        let (field, reason) =
            field_and_reason(value_to_json(&prost_types::Value { kind: None }).unwrap_err());
        assert_eq!(field, "value");
        assert!(reason.contains("no kind"));
    }

    #[test]
    fn numbers_print_as_protobuf_json_does() {
        assert_eq!(value_to_json(&number(200.0)).unwrap(), json!(200));
        assert_eq!(value_to_json(&number(0.2)).unwrap(), json!(0.2));
        assert_eq!(value_to_json(&number(-0.0)).unwrap(), json!(-0.0));
        assert_eq!(value_to_json(&number(1e300)).unwrap(), json!(1e300));
    }

    #[test]
    fn struct_round_trip() {
        let json = json!({"s": "x", "n": null, "b": false, "l": [1, 2.5, "z"], "o": {"": 1}});
        let map = json.as_object().unwrap();
        assert_eq!(&struct_to_json(&json_to_struct(map).unwrap()).unwrap(), map);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Any JSON that has a protobuf form: integers within 2^53, finite floats.
        fn json() -> impl Strategy<Value = Json> {
            let safe = MAX_SAFE_INTEGER as i64;
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::Bool),
                (-safe..=safe).prop_map(Json::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Json::from),
                ".*".prop_map(Json::String),
            ];
            leaf.prop_recursive(6, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
                    prop::collection::btree_map(".*", inner, 0..8)
                        .prop_map(|m| Json::Object(m.into_iter().collect())),
                ]
            })
        }

        /// What a JSON value reads back as: whole floats within 2^53 print as integers.
        fn normalized(json: &Json) -> Json {
            match json {
                Json::Number(n) => match n.as_f64() {
                    Some(f)
                        if n.is_f64()
                            && f.fract() == 0.0
                            && f.abs() <= MAX_SAFE_INTEGER as f64
                            && !(f == 0.0 && f.is_sign_negative()) =>
                    {
                        Json::from(f as i64)
                    }
                    _ => json.clone(),
                },
                Json::Array(items) => Json::Array(items.iter().map(normalized).collect()),
                Json::Object(map) => Json::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), normalized(v)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }

        fn any_value() -> impl Strategy<Value = prost_types::Value> {
            let leaf = prop_oneof![
                Just(None),
                any::<f64>().prop_map(|f| Some(Kind::NumberValue(f))),
                any::<i32>().prop_map(|n| Some(Kind::NullValue(n))),
                ".*".prop_map(|s| Some(Kind::StringValue(s))),
            ]
            .prop_map(|kind| prost_types::Value { kind });
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(|values| {
                        prost_types::Value {
                            kind: Some(Kind::ListValue(prost_types::ListValue { values })),
                        }
                    }),
                    prop::collection::btree_map(".*", inner, 0..6).prop_map(|fields| {
                        prost_types::Value {
                            kind: Some(Kind::StructValue(prost_types::Struct { fields })),
                        }
                    }),
                ]
            })
        }

        proptest! {
            #[test]
            fn json_round_trips_through_value(json in json()) {
                let value = json_to_value(&json).unwrap();
                prop_assert_eq!(value_to_json(&value).unwrap(), normalized(&json));
            }

            #[test]
            fn any_integer_converts_or_is_refused(n in any::<i64>(), u in any::<u64>()) {
                let ok = n.unsigned_abs() <= MAX_SAFE_INTEGER;
                prop_assert_eq!(json_to_value(&Json::from(n)).is_ok(), ok);
                prop_assert_eq!(json_to_value(&Json::from(u)).is_ok(), u <= MAX_SAFE_INTEGER);
            }

            #[test]
            fn any_value_converts_or_is_refused(value in any_value()) {
                if let Ok(json) = value_to_json(&value) {
                    // What converts comes back the same, apart from null's enum number.
                    let again = value_to_json(&json_to_value(&json).unwrap()).unwrap();
                    prop_assert_eq!(again, json);
                }
            }

            #[test]
            fn float_params_keep_their_decimal(f in any::<f32>().prop_filter("finite", |f| f.is_finite())) {
                let sent = GenerationConfig::new().with_temperature(f).to_json().unwrap();
                prop_assert_eq!(sent["temperature"].to_string().parse::<f32>().unwrap(), f);
            }
        }
    }
}

//! The query string: Google's system parameters (`$alt`, `prettyPrint`) and the request fields
//! given as parameters (`pageSize=10&filter=...`).

use percent_encoding::percent_decode_str;
use tonic_types::FieldViolation;

use super::error::invalid_json;
use super::json::Output;

/// A parsed query string.
#[derive(Debug, Default)]
pub(super) struct Query {
    /// How the answer is written.
    pub(super) output: Output,
    /// The other parameters, decoded, in order: request fields.
    pub(super) fields: Vec<(String, String)>,
}

/// `application/x-www-form-urlencoded` text: `+` is a space, then percent-decoding.
fn decode(text: &str) -> Result<String, String> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| format!("`{text}` is not UTF-8 once percent-decoded"))
}

fn refused(parameter: &str, description: impl Into<String>) -> tonic::Status {
    invalid_json(FieldViolation::new(parameter, description))
}

/// Parses the query of a call (none is an empty one).
pub(super) fn parse(query: Option<&str>) -> Result<Query, tonic::Status> {
    let mut parsed = Query::default();
    for pair in query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key).map_err(|reason| refused("", reason))?;
        let value = decode(value).map_err(|reason| refused(&key, reason))?;
        match key.as_str() {
            // Google's Rust crate sends `$alt=json;enum-encoding=int`.
            "$alt" | "alt" => parsed.output.enum_numbers = alt(&key, &value)?,
            "prettyPrint" | "$prettyPrint" => {
                parsed.output.compact = match value.as_str() {
                    "false" | "0" => true,
                    "true" | "1" | "" => false,
                    _ => return Err(refused(&key, format!("`{value}`: expected true or false"))),
                }
            }
            // They identify a caller to Google's quota system, which the emulator does not have.
            "key" | "quotaUser" | "$quotaUser" => {}
            _ => parsed.fields.push((key, value)),
        }
    }
    Ok(parsed)
}

/// Whether `$alt` asks for enums as numbers. Only JSON is served.
fn alt(key: &str, value: &str) -> Result<bool, tonic::Status> {
    let mut options = value.split(';');
    if options.next() != Some("json") {
        return Err(refused(
            key,
            format!(
                "`{value}`: the emulator answers JSON only (`json`, or `json;enum-encoding=int`)"
            ),
        ));
    }
    let mut numbers = false;
    for option in options {
        match option {
            "enum-encoding=int" => numbers = true,
            "enum-encoding=string" => numbers = false,
            other => {
                return Err(refused(
                    key,
                    format!(
                        "`{other}`: the one option is enum-encoding=int or enum-encoding=string"
                    ),
                ));
            }
        }
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_parameters_set_the_output_and_the_rest_are_fields() {
        let query = parse(Some(
            "%24alt=json%3Benum-encoding%3Dint&pageSize=2&filter=state%3DJOB+x",
        ))
        .unwrap();
        assert!(query.output.enum_numbers);
        assert!(!query.output.compact);
        assert_eq!(
            query.fields,
            [
                ("pageSize".to_string(), "2".to_string()),
                ("filter".to_string(), "state=JOB x".to_string())
            ]
        );
        assert!(parse(Some("prettyPrint=false")).unwrap().output.compact);
        assert!(parse(None).unwrap().fields.is_empty());
    }

    #[test]
    fn other_encodings_are_refused_by_name() {
        for query in [
            "alt=proto",
            "$alt=json;enum-encoding=hex",
            "prettyPrint=maybe",
        ] {
            let status = parse(Some(query)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{query}");
        }
    }
}

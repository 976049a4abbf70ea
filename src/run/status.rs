//! What a failed row's `status` says: an HTTP-style code, a message, and whether trying the row
//! again in a later job can help.
//!
//! The service writes a failed row's status as text, a reason phrase and the JSON error of the
//! online API: `Too Many Requests: {"error": {"code": 429, "message": "Resource exhausted...",
//! "status": "RESOURCE_EXHAUSTED"}}`, `Bad Request: {"error": {"code": 400, ...}}` (the emulator
//! writes the same texts, see `emulator::gcs_folder`). Some rows carry only a sentence, such as
//! "Service agents are being provisioned ...", which the service writes while a new project's
//! service agent is set up and which goes away by itself. Other shapes seen from batch APIs, a
//! bare `{"code": 429, "message": ...}` object or a gRPC code number, read too.

use serde_json::Value;

/// HTTP codes after which the same request may well succeed: timeouts, quota, server errors.
const TRANSIENT_CODES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// The sentence of a row refused while the project's service agent is being made.
const PROVISIONING: &str = "service agents are being provisioned";

/// A failed row's status, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowStatus {
    /// HTTP-style code (429, 400, ...); 0 when the text names none.
    pub(crate) code: u16,
    /// The message: the JSON error's `message`, or the whole text when it has none.
    pub(crate) message: String,
    /// Whether a later job may answer the row.
    pub(crate) transient: bool,
}

impl RowStatus {
    /// The one reading of an output line's `status` (as it was written: a JSON string, or
    /// anything else): `None` when the row succeeded (absent, empty, `null` or `{}`), else
    /// the failure read.
    pub(crate) fn of(status: Option<&serde_json::value::RawValue>) -> Option<RowStatus> {
        let raw = status?.get().trim();
        if matches!(raw, "\"\"" | "null" | "{}") {
            return None;
        }
        // A JSON string unescaped; anything else as written.
        let text = serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
        Some(RowStatus::parse(&text))
    }

    /// Reads a status text.
    pub(crate) fn parse(text: &str) -> RowStatus {
        let json = text
            .find('{')
            .and_then(|start| serde_json::from_str::<Value>(&text[start..]).ok());
        let error = json.as_ref().map(|v| v.get("error").unwrap_or(v));
        let status_name = error
            .and_then(|e| e.get("status"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let code = error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_u64)
            .map(|code| match u16::try_from(code) {
                // A gRPC code number (1 to 16) rather than an HTTP one.
                Ok(code @ 1..=16) => http_code_of_grpc(code as i32),
                Ok(code) => code,
                Err(_) => 0,
            })
            .filter(|code| *code != 0)
            .or_else(|| code_of_status_name(status_name))
            .or_else(|| code_of_reason_phrase(text))
            .unwrap_or(0);
        let message = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        let provisioning = text.to_ascii_lowercase().contains(PROVISIONING);
        RowStatus {
            code: if code == 0 && provisioning { 503 } else { code },
            transient: provisioning || TRANSIENT_CODES.contains(&code),
            message,
        }
    }
}

/// The HTTP code Google's APIs give a gRPC code (google/rpc/code.proto).
pub(crate) fn http_code_of_grpc(code: i32) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        // UNKNOWN, INTERNAL, DATA_LOSS and anything else.
        _ => 500,
    }
}

fn code_of_status_name(name: &str) -> Option<u16> {
    let code = match name {
        "CANCELLED" => 1,
        "INVALID_ARGUMENT" => 3,
        "DEADLINE_EXCEEDED" => 4,
        "NOT_FOUND" => 5,
        "ALREADY_EXISTS" => 6,
        "PERMISSION_DENIED" => 7,
        "RESOURCE_EXHAUSTED" => 8,
        "FAILED_PRECONDITION" => 9,
        "ABORTED" => 10,
        "OUT_OF_RANGE" => 11,
        "UNIMPLEMENTED" => 12,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 13,
        "UNAVAILABLE" => 14,
        "UNAUTHENTICATED" => 16,
        _ => return None,
    };
    Some(http_code_of_grpc(code))
}

/// The code of a leading HTTP reason phrase, `Too Many Requests: ...`.
fn code_of_reason_phrase(text: &str) -> Option<u16> {
    const PHRASES: [(&str, u16); 10] = [
        ("Bad Request", 400),
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("Not Found", 404),
        ("Request Timeout", 408),
        ("Too Many Requests", 429),
        ("Internal Server Error", 500),
        ("Bad Gateway", 502),
        ("Service Unavailable", 503),
        ("Gateway Timeout", 504),
    ];
    PHRASES
        .iter()
        .find(|(phrase, _)| text.trim_start().starts_with(phrase))
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_texts_read_as_code_message_and_kind() {
        let quota = RowStatus::parse(
            r#"Too Many Requests: {"error": {"code": 429, "message": "Resource exhausted. Please try again later.", "status": "RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(
            quota,
            RowStatus {
                code: 429,
                message: "Resource exhausted. Please try again later.".into(),
                transient: true
            }
        );
        let bad = RowStatus::parse(
            r#"Bad Request: {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}"#,
        );
        assert_eq!((bad.code, bad.transient), (400, false));
        assert_eq!(bad.message, "Request contains an invalid argument.");
    }

    #[test]
    fn other_shapes_read_too() {
        let agents = RowStatus::parse(
            "Service agents are being provisioned (https://cloud.google.com/vertex-ai/docs/general/access-control#service-agents). Please try again in a few minutes.",
        );
        assert_eq!((agents.code, agents.transient), (503, true));
        assert!(agents.message.starts_with("Service agents"));
        let grpc = RowStatus::parse(r#"{"code": 14, "message": "The service is unavailable."}"#);
        assert_eq!((grpc.code, grpc.transient), (503, true));
        let named = RowStatus::parse(r#"{"error": {"status": "INTERNAL", "message": "oops"}}"#);
        assert_eq!((named.code, named.transient), (500, true));
        let phrase = RowStatus::parse("Gateway Timeout");
        assert_eq!((phrase.code, phrase.transient), (504, true));
        let unknown = RowStatus::parse("the image could not be read");
        assert_eq!(
            unknown,
            RowStatus {
                code: 0,
                message: "the image could not be read".into(),
                transient: false
            }
        );
    }
}

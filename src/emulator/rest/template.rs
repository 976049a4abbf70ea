//! `google.api.http` path templates (`/v1/{name=projects/*/locations/*}/batchPredictionJobs`,
//! `...:cancel`): parsed once, then matched against request paths.
//!
//! The grammar is the one google/api/http.proto documents: literal segments, `*` (one segment),
//! `**` (the rest, last only), variables `{field}` or `{field=segments}`, and a final `:verb`.

use percent_encoding::percent_decode_str;

/// One segment pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: every remaining segment (only last).
    Rest,
}

/// One part of a template: a segment, or a variable binding a run of segments to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Segment(Segment),
    Variable {
        field: String,
        pattern: Vec<Segment>,
    },
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathTemplate {
    parts: Vec<Part>,
    verb: Option<String>,
}

fn segment(text: &str) -> Result<Segment, String> {
    match text {
        "" => Err("an empty segment".to_string()),
        "*" => Ok(Segment::One),
        "**" => Ok(Segment::Rest),
        literal if literal.contains(['{', '}', '=', '*']) => {
            Err(format!("`{literal}` is not a literal segment"))
        }
        literal => Ok(Segment::Literal(literal.to_string())),
    }
}

/// Splits on `/` outside braces.
fn top_level_segments(text: &str) -> Result<Vec<&str>, String> {
    let (mut depth, mut start, mut found) = (0u32, 0, Vec::new());
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.checked_sub(1).ok_or("an unmatched `}`")?,
            '/' if depth == 0 => {
                found.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("an unclosed `{`".to_string());
    }
    found.push(&text[start..]);
    Ok(found)
}

impl PathTemplate {
    /// Parses `template`, e.g. `/v1/{name=projects/*/locations/*/batchPredictionJobs/*}:cancel`.
    pub(super) fn parse(template: &str) -> Result<Self, String> {
        let at = |reason: String| format!("path template `{template}`: {reason}");
        let path = template
            .strip_prefix('/')
            .ok_or_else(|| at("does not start with `/`".to_string()))?;
        // The verb follows the last segment, after the last `}` if a variable ends the path.
        let tail_from = path.rfind(['/', '}']).map_or(0, |i| i + 1);
        let (path, verb) = match path[tail_from..].find(':') {
            Some(colon) => (
                &path[..tail_from + colon],
                Some(path[tail_from + colon + 1..].to_string()),
            ),
            None => (path, None),
        };
        let mut parts = Vec::new();
        for text in top_level_segments(path).map_err(at)? {
            let part = match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(variable) => {
                    let (field, pattern) = variable.split_once('=').unwrap_or((variable, "*"));
                    let pattern = pattern
                        .split('/')
                        .map(segment)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(at)?;
                    Part::Variable {
                        field: field.to_string(),
                        pattern,
                    }
                }
                None => Part::Segment(segment(text).map_err(at)?),
            };
            parts.push(part);
        }
        let rest_at = parts.iter().flat_map(|part| match part {
            Part::Segment(segment) => std::slice::from_ref(segment),
            Part::Variable { pattern, .. } => pattern.as_slice(),
        });
        let rests = rest_at.clone().filter(|s| **s == Segment::Rest).count();
        if rests > 1 || (rests == 1 && rest_at.last() != Some(&Segment::Rest)) {
            return Err(at("`**` may only end the path".to_string()));
        }
        Ok(PathTemplate { parts, verb })
    }

    /// The fields a matching `path` binds, `(field, value)` in template order, or `None` when
    /// the path does not match. `path` is as on the wire: segments are percent-decoded here.
    pub(super) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.verb {
            Some(verb) => path.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let segments: Vec<String> = path
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()))
            .collect::<Result<_, _>>()
            .ok()?;
        let mut next = 0;
        let mut bound = Vec::new();
        for part in &self.parts {
            match part {
                Part::Segment(pattern) => {
                    let taken = take(pattern, &segments[next..])?;
                    next += taken;
                }
                Part::Variable { field, pattern } => {
                    let start = next;
                    for pattern in pattern {
                        next += take(pattern, &segments[next..])?;
                    }
                    bound.push((field.clone(), segments[start..next].join("/")));
                }
            }
        }
        (next == segments.len()).then_some(bound)
    }
}

/// How many of `segments` one `pattern` takes, or `None` when it does not match.
fn take(pattern: &Segment, segments: &[String]) -> Option<usize> {
    match pattern {
        Segment::Rest if !segments.is_empty() => Some(segments.len()),
        Segment::Rest => None,
        _ => {
            let first = segments.first().filter(|s| !s.is_empty())?;
            match pattern {
                Segment::Literal(literal) if literal != first => None,
                _ => Some(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANCEL: &str = "/v1/{name=projects/*/locations/*/batchPredictionJobs/*}:cancel";
    const LIST: &str = "/v1/{parent=projects/*/locations/*}/batchPredictionJobs";

    fn bound(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template).unwrap().matches(path)
    }

    #[test]
    fn a_variable_binds_its_segments_and_the_verb_must_be_there() {
        let name = "projects/p/locations/us-central1/batchPredictionJobs/123";
        assert_eq!(
            bound(CANCEL, &format!("/v1/{name}:cancel")),
            Some(vec![("name".to_string(), name.to_string())])
        );
        assert_eq!(bound(CANCEL, &format!("/v1/{name}")), None);
        assert_eq!(bound(CANCEL, &format!("/v1/{name}:pause")), None);
    }

    #[test]
    fn literals_and_segment_counts_must_match() {
        let parent = "projects/p/locations/us-central1";
        assert_eq!(
            bound(LIST, &format!("/v1/{parent}/batchPredictionJobs")),
            Some(vec![("parent".to_string(), parent.to_string())])
        );
        assert_eq!(bound(LIST, &format!("/v1/{parent}/customJobs")), None);
        assert_eq!(bound(LIST, "/v1/projects/p/batchPredictionJobs"), None);
        assert_eq!(
            bound(LIST, "/v1/projects//locations/l/batchPredictionJobs"),
            None
        );
        assert_eq!(
            bound(LIST, &format!("/v1/{parent}/batchPredictionJobs/extra")),
            None
        );
        assert_eq!(
            bound(LIST, &format!("/v2/{parent}/batchPredictionJobs")),
            None
        );
    }

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(
            bound(
                LIST,
                "/v1/projects/my%2Dproject/locations/l/batchPredictionJobs"
            ),
            Some(vec![(
                "parent".to_string(),
                "projects/my-project/locations/l".to_string()
            )])
        );
    }

    #[test]
    fn double_star_takes_the_rest_and_only_ends_a_path() {
        assert_eq!(
            bound("/v1/{name=operations/**}", "/v1/operations/a/b/c"),
            Some(vec![("name".to_string(), "operations/a/b/c".to_string())])
        );
        assert!(PathTemplate::parse("/v1/{name=**}/x").is_err());
        assert!(PathTemplate::parse("v1/x").is_err());
        assert!(PathTemplate::parse("/v1/{name=x").is_err());
        assert!(PathTemplate::parse("/v1//x").is_err());
    }
}

//! One pass over a request's JSON text that finds, at once, everything a batch run needs to
//! know of it before it is staged and after it is echoed: the canonical hash ([`hash`]), what
//! the service's import refuses ([`import`]), and where its `labels` are (the row id goes
//! there). A hand tokenizer over the bytes, strict to the JSON grammar, that builds no value:
//! a `serde_json::Value` per line made staging cost 1.5 times the upload of the same bytes
//! (issue 20), and the run only needs a few facts of each line.
//!
//! The run uses it on every input line (`run::input`, `run::label`) and on every echoed
//! request it joins (`run::rows`); the emulator's import (`emulator::import`) runs the same
//! rule over the same scan, so the run and the service it stands in for agree by one
//! definition.

pub(crate) mod hash;
pub(crate) mod import;

use std::ops::Range;

use hash::{ArrayHash, ObjectHash};
use import::{Finding, Kind, MAX_LEVEL};

/// The label key that carries a request's row id (re-exported as `run::ROW_LABEL`).
pub const ROW_LABEL: &str = "vertex_batch_row";

/// The deepest nesting the scanner follows (serde_json's own limit): a deeper text is an error.
const MAX_NESTING: usize = 128;

/// What is being scanned, which decides the paths, levels and labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Root {
    /// A request object as a run stages it: its fields are `request.*`, it is the first level
    /// of records, and its `labels` will get the run's row label (so an empty `labels` is no
    /// empty record).
    Request,
    /// A whole input line as the service imports it (`{"key": ..., "request": {...}}`): the
    /// line is level 0. Only the emulator's import scans whole lines.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    Line,
}

/// What one scan found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The canonical hash ([`hash`]); for a [`Root::Line`], of the whole line.
    pub(crate) hash: u64,
    /// The byte range of a request's top-level `labels` value ([`Root::Request`]).
    pub(crate) labels: Option<Range<usize>>,
    /// Whether a request's `labels` has the run's row label.
    pub(crate) has_row_label: bool,
    /// The row id under the run's row label, as text (`"42"`) or as a number (`42`).
    pub(crate) row_label: Option<u64>,
    /// The deepest level of records (the line is 0, `request` 1).
    pub(crate) max_level: usize,
    /// The first thing the import refuses for certain (nesting, an empty record, a name).
    pub(crate) refusal: Option<Finding>,
}

/// Why a text is not JSON, at which byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NotJson {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// One step of the path being scanned, to name a finding.
#[derive(Clone, Copy, Debug)]
enum Step {
    Key {
        start: usize,
        end: usize,
        escaped: bool,
    },
    Index(usize),
}

/// Where the scanner stands in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// The root object of a [`Root::Request`].
    RequestRoot,
    /// The root object of a [`Root::Line`].
    LineRoot,
    /// `labels` at the top of a request.
    Labels,
    /// The value of the run's row label.
    RowLabel,
    Other,
}

/// The scanner's buffers, kept across lines so that a scan allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// A string unescaped.
    scratch: Vec<u8>,
    /// The path being scanned.
    path: Vec<Step>,
    /// Whether to record `kinds` (the import's types, for type conflicts) and look for what
    /// the import refuses, naming where (the path kept as the scan goes). Off, a scan gives
    /// the hash, the labels and the row label only: what the join needs of an echo.
    pub(crate) record_kinds: bool,
    /// The type of every field of the last text, by path hash: for an array, its elements'
    /// under the array's path with `[]`.
    pub(crate) kinds: Vec<(u64, Kind)>,
}

/// The path hash of a request's root (`request`), as a line's `request` field has it.
pub(crate) fn request_path() -> u64 {
    hash::field_path(LINE_PATH, hash::key(b"request"))
}

/// The path hash of a line's root.
const LINE_PATH: u64 = 0;

impl Scanner {
    /// A scanner that records the fields' types too.
    pub(crate) fn with_kinds() -> Self {
        Scanner {
            record_kinds: true,
            ..Scanner::default()
        }
    }

    /// Scans `text`, one JSON object (surrounding white space allowed) as `root` says.
    pub(crate) fn scan(&mut self, text: &[u8], root: Root) -> Result<Facts, NotJson> {
        self.walk(text, root, None).map(|(facts, _)| facts)
    }

    /// The path (BigQuery's column name, `request.contents.parts.text`, and the JSON path,
    /// `request.contents[0].parts[1].text`) of the first field in `text` whose path hash is
    /// `target`: to name a type conflict, found again in the text that has it.
    pub(crate) fn path_of(&mut self, text: &[u8], root: Root, target: u64) -> Option<FieldPath> {
        let record = std::mem::replace(&mut self.record_kinds, true);
        let found = self
            .walk(text, root, Some(target))
            .ok()
            .and_then(|(_, found)| found);
        self.record_kinds = record;
        found
    }

    #[cfg(feature = "storage")]
    /// Scans an input line of a run, `{"request": {...}, "key": "..."}` (the key optional, in
    /// either order), in one pass: where the request is, the key, and the request's facts
    /// (as [`Root::Request`]). `None` for anything else (not JSON, another field, a request that
    /// is not an object, a key that is not a string): the caller's slow way says what.
    pub(crate) fn scan_input_line(&mut self, text: &[u8]) -> Option<InputLine> {
        let mut walk = Walk::new(self, text, Root::Request, None);
        let mut request = None;
        let mut key = None;
        walk.expect(b'{', "").ok()?;
        walk.ws();
        if walk.peek() == Some(b'}') {
            return None;
        }
        loop {
            walk.expect(b'"', "").ok()?;
            let name = walk.string().ok()?;
            let name = walk.bytes_of(name);
            let is_request = match name {
                b"request" if request.is_none() => true,
                b"key" if key.is_none() => false,
                _ => return None,
            };
            walk.expect(b':', "").ok()?;
            walk.ws();
            if is_request {
                if walk.peek() != Some(b'{') {
                    return None;
                }
                let start = walk.pos;
                walk.pos += 1;
                let (hash, _) = walk.object(request_path(), 1, Ctx::RequestRoot, 0).ok()?;
                walk.facts.hash = hash;
                request = Some(start..walk.pos);
            } else {
                walk.expect(b'"', "").ok()?;
                let token = walk.string().ok()?;
                key = Some(if token.escaped {
                    Key::Unescaped(String::from_utf8(walk.scanner.scratch.clone()).ok()?)
                } else {
                    Key::Plain(token.start..token.end)
                });
            }
            walk.ws();
            match walk.peek() {
                Some(b',') => walk.pos += 1,
                Some(b'}') => {
                    walk.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        walk.ws();
        if walk.pos != text.len() {
            return None;
        }
        let mut facts = walk.facts;
        if let Some(Finding::TooDeep { level, .. }) = &mut facts.refusal {
            *level = facts.max_level;
        }
        // The labels' range is within the line: make it the request's.
        let request = request?;
        if let Some(labels) = &mut facts.labels {
            *labels = labels.start - request.start..labels.end - request.start;
        }
        Some(InputLine {
            request,
            key,
            facts,
        })
    }

    fn walk(
        &mut self,
        text: &[u8],
        root: Root,
        target: Option<u64>,
    ) -> Result<(Facts, Option<FieldPath>), NotJson> {
        let mut walk = Walk::new(self, text, root, target);
        walk.ws();
        if walk.peek() != Some(b'{') {
            return Err(walk.error("expected a JSON object"));
        }
        walk.pos += 1;
        let (path, level, ctx) = match root {
            Root::Request => (request_path(), 1, Ctx::RequestRoot),
            Root::Line => (LINE_PATH, 0, Ctx::LineRoot),
        };
        let (hash, _) = walk.object(path, level, ctx, 0)?;
        walk.ws();
        if walk.pos != text.len() {
            return Err(walk.error("trailing characters after the JSON value"));
        }
        let mut facts = walk.facts;
        facts.hash = hash;
        if let Some(Finding::TooDeep { level, .. }) = &mut facts.refusal {
            *level = facts.max_level;
        }
        Ok((facts, walk.found))
    }
}

/// An input line of a run, scanned.
#[cfg(feature = "storage")]
#[derive(Debug)]
pub(crate) struct InputLine {
    /// Where the request object is in the line.
    pub(crate) request: Range<usize>,
    /// The line's key, if it has one.
    pub(crate) key: Option<Key>,
    /// The request's facts; `labels` relative to the request.
    pub(crate) facts: Facts,
}

/// An input line's key: where it is in the line, or unescaped when it has escapes.
#[cfg(feature = "storage")]
#[derive(Debug)]
pub(crate) enum Key {
    Plain(Range<usize>),
    Unescaped(String),
}

/// A field's path, both ways.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath {
    /// As BigQuery names the column: dotted, no array indices.
    pub(crate) column: String,
    /// As a JSON path: `request.tools[0].google_search`.
    pub(crate) json: String,
}

struct Walk<'t, 's> {
    text: &'t [u8],
    pos: usize,
    scanner: &'s mut Scanner,
    facts: Facts,
    root: Root,
    /// A path hash to name ([`Scanner::path_of`]), and its name once met.
    target: Option<u64>,
    found: Option<FieldPath>,
}

/// A string token: its text between the quotes, and whether it has escapes.
#[derive(Clone, Copy)]
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

impl<'t, 's> Walk<'t, 's> {
    /// A walk from the start of `text`, with `scanner`'s buffers emptied.
    fn new(scanner: &'s mut Scanner, text: &'t [u8], root: Root, target: Option<u64>) -> Self {
        scanner.path.clear();
        scanner.kinds.clear();
        Walk {
            text,
            pos: 0,
            scanner,
            facts: Facts::default(),
            root,
            target,
            found: None,
        }
    }

    fn error(&self, what: &'static str) -> NotJson {
        NotJson { at: self.pos, what }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), NotJson> {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// A value's hash (`None` for `null`), its field path `path`, inside a record at `level`.
    fn value(
        &mut self,
        path: u64,
        level: usize,
        ctx: Ctx,
        nesting: usize,
    ) -> Result<Option<u64>, NotJson> {
        if nesting > MAX_NESTING {
            return Err(self.error("nested too deeply"));
        }
        self.ws();
        let Some(byte) = self.peek() else {
            return Err(self.error("a value was expected"));
        };
        let (hash, kind) = match byte {
            b'{' => {
                self.pos += 1;
                let (hash, counted) = self.object(path, level + 1, ctx, nesting + 1)?;
                // The run's own label is not hashed, nor `labels` when it was all there was.
                if ctx == Ctx::Labels && counted == 0 {
                    self.kind(path, Kind::Record);
                    return Ok(None);
                }
                (hash, Kind::Record)
            }
            b'[' => {
                self.pos += 1;
                (self.array(path, level, nesting + 1)?, Kind::Repeated)
            }
            b'"' => {
                self.pos += 1;
                let token = self.string()?;
                let text = self.bytes_of(token);
                if ctx == Ctx::RowLabel {
                    self.facts.row_label = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.trim().parse().ok());
                }
                (hash::string(self.bytes_of(token)), Kind::String)
            }
            b't' => {
                self.literal(b"true")?;
                (hash::TRUE, Kind::Bool)
            }
            b'f' => {
                self.literal(b"false")?;
                (hash::FALSE, Kind::Bool)
            }
            b'n' => {
                self.literal(b"null")?;
                return Ok(None);
            }
            b'-' | b'0'..=b'9' => {
                let (value, whole) = self.number()?;
                if ctx == Ctx::RowLabel {
                    self.facts.row_label = whole.or_else(|| {
                        (value.fract() == 0.0 && (0.0..9.0e15).contains(&value))
                            .then_some(value as u64)
                    });
                }
                (hash::number(value), Kind::Number)
            }
            _ => return Err(self.error("a value was expected")),
        };
        self.kind(path, kind);
        Ok(Some(hash))
    }

    #[inline]
    fn kind(&mut self, path: u64, kind: Kind) {
        if self.scanner.record_kinds {
            self.scanner.kinds.push((path, kind));
            if self.target == Some(path) && self.found.is_none() {
                self.found = Some(self.field_path());
            }
        }
    }

    /// An object (after its `{`), a record at `level`; its hash and how many members it
    /// hashed.
    fn object(
        &mut self,
        path: u64,
        level: usize,
        ctx: Ctx,
        nesting: usize,
    ) -> Result<(u64, u64), NotJson> {
        if level > self.facts.max_level {
            self.facts.max_level = level;
            if level == MAX_LEVEL + 1 && self.scanner.record_kinds && self.facts.refusal.is_none() {
                self.facts.refusal = Some(Finding::TooDeep {
                    path: self.field_path(),
                    level,
                });
            }
        }
        let mut hash = ObjectHash::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            // The run adds its row label to a request's `labels` (and so `labels` to the
            // request): neither is an empty record once staged.
            let filled =
                self.root == Root::Request && matches!(ctx, Ctx::Labels | Ctx::RequestRoot);
            if !filled && self.scanner.record_kinds && self.facts.refusal.is_none() {
                self.facts.refusal = Some(Finding::EmptyRecord {
                    path: self.field_path(),
                });
            }
            return Ok((hash.finish(), 0));
        }
        loop {
            self.expect(b'"', "a key in quotes was expected")?;
            let key = self.string()?;
            let name = self.bytes_of(key);
            let key_hash = hash::key(name);
            let child = match ctx {
                Ctx::RequestRoot if name == b"labels" => Ctx::Labels,
                Ctx::LineRoot if name == b"request" => Ctx::RequestRoot,
                Ctx::Labels if name == ROW_LABEL.as_bytes() => Ctx::RowLabel,
                _ => Ctx::Other,
            };
            // A line's own fields (`key`, `request`) are the service's columns, not the
            // user's; a label key is a map key, which the import stores as a field too.
            let tracked = self.scanner.record_kinds;
            if tracked {
                let name_refused = !import::is_field_name(name);
                self.scanner.path.push(Step::Key {
                    start: key.start,
                    end: key.end,
                    escaped: key.escaped,
                });
                if name_refused && self.facts.refusal.is_none() {
                    self.facts.refusal = Some(Finding::BadName {
                        name: String::from_utf8_lossy(self.bytes_of(key)).into_owned(),
                        path: self.field_path(),
                    });
                }
            }
            self.expect(b':', "a ':' after the key was expected")?;
            let value_start = self.pos;
            let child_path = hash::field_path(path, key_hash);
            let value = self.value(child_path, level, child, nesting)?;
            if tracked {
                self.scanner.path.pop();
            }
            match child {
                Ctx::RowLabel => self.facts.has_row_label = true,
                Ctx::Labels if self.root == Root::Request => {
                    let start = value_start + count_ws(&self.text[value_start..]);
                    self.facts.labels = Some(start..self.pos);
                    if let Some(value) = value {
                        hash.member(key_hash, value);
                    }
                }
                _ => {
                    if let Some(value) = value {
                        hash.member(key_hash, value);
                    }
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    let counted = hash.count();
                    return Ok((hash.finish(), counted));
                }
                _ => return Err(self.error("a ',' or '}' was expected")),
            }
        }
    }

    /// An array (after its `[`) at field path `path`: its elements' types are recorded at
    /// `path[]`, and an element record's fields below `path` (arrays add no level).
    fn array(&mut self, path: u64, level: usize, nesting: usize) -> Result<u64, NotJson> {
        let mut hash = ArrayHash::new();
        let elements = hash::element_path(path);
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(hash.finish());
        }
        let mut index = 0;
        loop {
            if self.scanner.record_kinds {
                self.scanner.path.push(Step::Index(index));
            }
            self.ws();
            let value = if self.peek() == Some(b'{') {
                self.pos += 1;
                if nesting + 1 > MAX_NESTING {
                    return Err(self.error("nested too deeply"));
                }
                let (value, _) = self.object(path, level + 1, Ctx::Other, nesting + 1)?;
                self.kind(elements, Kind::Record);
                Some(value)
            } else {
                let value = self.value(elements, level, Ctx::Other, nesting)?;
                // `value` recorded the element's type under `path[]` already.
                value
            };
            if self.scanner.record_kinds {
                self.scanner.path.pop();
            }
            hash.element(value.unwrap_or(hash::NULL));
            index += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(hash.finish());
                }
                _ => return Err(self.error("a ',' or ']' was expected")),
            }
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), NotJson> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("a value was expected"))
        }
    }

    /// A number: its value, and the value as a whole number when it is written as one.
    fn number(&mut self) -> Result<(f64, Option<u64>), NotJson> {
        let start = self.pos;
        let text = self.text;
        let mut i = self.pos;
        if text.get(i) == Some(&b'-') {
            i += 1;
        }
        match text.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = text.get(i) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.error("a digit was expected"));
            }
        }
        let int_end = i;
        if text.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(text.get(i), Some(b'0'..=b'9')) {
                self.pos = i;
                return Err(self.error("a digit after '.' was expected"));
            }
            while let Some(b'0'..=b'9') = text.get(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = text.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = text.get(i) {
                i += 1;
            }
            if !matches!(text.get(i), Some(b'0'..=b'9')) {
                self.pos = i;
                return Err(self.error("a digit in the exponent was expected"));
            }
            while let Some(b'0'..=b'9') = text.get(i) {
                i += 1;
            }
        }
        self.pos = i;
        let digits = &text[start..i];
        // Whole numbers of up to 15 digits are exact as f64: no float parsing.
        if int_end == i && digits.len() <= 15 && digits[0] != b'-' {
            let n = digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            return Ok((n as f64, Some(n)));
        }
        // The grammar was checked: std reads the rest (ASCII).
        let text = std::str::from_utf8(digits).unwrap_or("0");
        let value = text.parse::<f64>().unwrap_or(0.0);
        let whole = if int_end == i && digits[0] != b'-' {
            text.parse::<u64>().ok()
        } else {
            None
        };
        Ok((value, whole))
    }

    /// A string (after its opening quote): where its text is; unescaped into the scratch
    /// buffer when it has escapes.
    fn string(&mut self) -> Result<Str, NotJson> {
        let start = self.pos;
        let end = start + plain_run(&self.text[start..]);
        match self.text.get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                return Ok(Str {
                    start,
                    end,
                    escaped: false,
                });
            }
            Some(b'\\') => {}
            Some(_) => {
                self.pos = end;
                return Err(self.error("a control character in a string"));
            }
            None => {
                self.pos = end;
                return Err(self.error("a string without its closing quote"));
            }
        }
        let scratch = &mut self.scanner.scratch;
        scratch.clear();
        scratch.extend_from_slice(&self.text[start..end]);
        let mut i = end;
        loop {
            match self.text.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Str {
                        start,
                        end: i,
                        escaped: true,
                    });
                }
                Some(b'\\') => {
                    let Some(&escape) = self.text.get(i + 1) else {
                        self.pos = i;
                        return Err(self.error("a string without its closing quote"));
                    };
                    i += 2;
                    let byte = match escape {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let Some(unit) = hex4(self.text.get(i..i + 4)) else {
                                self.pos = i;
                                return Err(self.error("four hex digits after \\u were expected"));
                            };
                            i += 4;
                            let mut code = u32::from(unit);
                            // A surrogate pair is one character; a lone surrogate is kept as
                            // its code unit (the same on both sides of the join).
                            if (0xd800..0xdc00).contains(&code)
                                && self.text.get(i..i + 2) == Some(b"\\u")
                                && let Some(low) = hex4(self.text.get(i + 2..i + 6))
                                && (0xdc00..0xe000).contains(&u32::from(low))
                            {
                                code =
                                    0x10000 + ((code - 0xd800) << 10) + (u32::from(low) - 0xdc00);
                                i += 6;
                            }
                            push_code(scratch, code);
                            continue;
                        }
                        _ => {
                            self.pos = i - 1;
                            return Err(self.error("an unknown escape in a string"));
                        }
                    };
                    scratch.push(byte);
                }
                Some(&byte) if byte < 0x20 => {
                    self.pos = i;
                    return Err(self.error("a control character in a string"));
                }
                Some(_) => {
                    let run = plain_run(&self.text[i..]);
                    scratch.extend_from_slice(&self.text[i..i + run.max(1)]);
                    i += run.max(1);
                }
                None => {
                    self.pos = i;
                    return Err(self.error("a string without its closing quote"));
                }
            }
        }
    }

    #[inline]
    fn bytes_of(&self, token: Str) -> &[u8] {
        if token.escaped {
            &self.scanner.scratch
        } else {
            &self.text[token.start..token.end]
        }
    }

    /// The path being scanned, named.
    fn field_path(&self) -> FieldPath {
        let mut column = String::new();
        let mut json = String::new();
        if self.root == Root::Request {
            column.push_str("request");
            json.push_str("request");
        }
        for step in &self.scanner.path {
            match *step {
                Step::Key {
                    start,
                    end,
                    escaped,
                } => {
                    let raw = &self.text[start..end];
                    let name = if escaped {
                        let quoted = [b"\"", raw, b"\""].concat();
                        serde_json::from_slice::<String>(&quoted).unwrap_or_default()
                    } else {
                        String::from_utf8_lossy(raw).into_owned()
                    };
                    for path in [&mut column, &mut json] {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&name);
                    }
                }
                Step::Index(index) => {
                    json.push_str(&format!("[{index}]"));
                }
            }
        }
        FieldPath { column, json }
    }
}

/// White space at the start of `text`.
fn count_ws(text: &[u8]) -> usize {
    text.iter()
        .take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        .count()
}

/// Four hex digits as a code unit.
fn hex4(digits: Option<&[u8]>) -> Option<u16> {
    let digits = digits?;
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Appends a code point as UTF-8 (a lone surrogate as the three bytes its code would take).
fn push_code(out: &mut Vec<u8>, code: u32) {
    match char::from_u32(code) {
        Some(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        None => out.extend_from_slice(&[
            0xe0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3f) as u8,
            0x80 | (code & 0x3f) as u8,
        ]),
    }
}

/// How many bytes at the start of `text` need no attention in a string: not `"`, not `\\`,
/// not a control character. Eight bytes at a time.
#[inline]
fn plain_run(text: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte below `n` somewhere in `w` (n <= 128): the classic bit trick; a set bit may also
    // be a borrow from a lower special byte, so the word is then read byte by byte.
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGHS;
    let mut i = 0;
    while let Some(word) = text.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let special = below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1);
        if special != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&byte) = text.get(i) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(text: &str) -> u64 {
        Scanner::default()
            .scan(text.as_bytes(), Root::Request)
            .unwrap_or_else(|err| panic!("{text}: {err:?}"))
            .hash
    }

    #[test]
    fn what_the_service_changes_in_an_echo_does_not_change_the_hash() {
        for (sent, echoed) in [
            (r#"{"b": 1, "a": "x"}"#, r#"{"a":"x","b":1}"#),
            (
                r#"{"a": [{"t": "x"}, {"f": {"u": 1}}]}"#,
                r#"{"a":[{"f":null,"t":"x"},{"f":{"u":1},"t":null}]}"#,
            ),
            (
                r#"{"n": 0.2, "m": 1, "k": -0}"#,
                r#"{"k":0,"m":1.0,"n":2e-1}"#,
            ),
            (r#"{"s": "caf\u00e9 a\/b"}"#, r#"{"s":"café a/b"}"#),
            (r#"{"s": "\ud83d\ude00"}"#, "{\"s\":\"\u{1F600}\"}"),
            (
                r#"{"c": []}"#,
                r#"{"labels":{"vertex_batch_row":"7"},"c":[]}"#,
            ),
            (
                r#"{"labels": {"team": "ml"}}"#,
                r#"{"labels":{"team":"ml","vertex_batch_row":7}}"#,
            ),
            (r#"{"labels": {}, "c": 1}"#, r#"{"c":1}"#),
            (r#"{"x": null}"#, "{}"),
        ] {
            assert_eq!(hash(sent), hash(echoed), "{sent} / {echoed}");
        }
    }

    #[test]
    fn what_the_service_keeps_changes_the_hash() {
        let base = r#"{"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}], "n": 1}"#;
        for other in [
            r#"{"contents": [{"parts": [{"text": "b"}, {"text": "a"}]}], "n": 1}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"text": "c"}]}], "n": 1}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}], "n": 2}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"Text": "b"}]}], "n": 1}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}], "n": "1"}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"text": "b"}, null]}], "n": 1}"#,
            r#"{"contents": [{"parts": [{"text": "ab"}]}], "n": 1}"#,
            r#"{"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}], "n": 1, "labels": {"a": "b"}}"#,
        ] {
            assert_ne!(hash(base), hash(other), "{other}");
        }
        // Keys and values are not confused.
        assert_ne!(hash(r#"{"a": {"b": "c"}}"#), hash(r#"{"a": {"c": "b"}}"#));
        assert_ne!(
            hash(r#"{"a": "b", "c": "d"}"#),
            hash(r#"{"a": "d", "c": "b"}"#)
        );
    }

    /// serde_json's reading of a request as the run's input took it before the scan: any
    /// JSON object, lone surrogates (`\ud800`) included, which the service echoes as text.
    fn serde_reads(text: &str) -> bool {
        serde_json::from_str::<&serde_json::value::RawValue>(text)
            .is_ok_and(|raw| raw.get().starts_with('{'))
    }

    /// The scan refuses exactly the objects serde_json refuses.
    #[test]
    fn the_scan_is_as_strict_as_serde_json() {
        let samples = [
            r#"{"a": "x"}"#,
            r#"{"a": "\x"}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": "\u12"}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": -}"#,
            r#"{"a": 1e}"#,
            r#"{"a": 1E+2}"#,
            r#"{"a": tru}"#,
            r#"{"a": [1,]}"#,
            r#"{"a": [1 2]}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{a: 1}"#,
            r#"{"a": 1} x"#,
            r#" {"a": {"b": [true, false, null, -0.5e-3]}} "#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\uDC00\ud800x"}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": 123456789012345678901234567890}"#,
            r#"{"a": "unterminated}"#,
            "{\"a\": \"\u{7f}\u{80}\"}",
            "{",
            "",
            "[]",
            r#""x""#,
        ];
        for sample in samples {
            let scan = Scanner::default().scan(sample.as_bytes(), Root::Request);
            assert_eq!(scan.is_ok(), serde_reads(sample), "{sample}: {scan:?}");
        }
        let deep = format!("{}1{}", r#"{"a":"#.repeat(200), "}".repeat(200));
        assert!(
            Scanner::default()
                .scan(deep.as_bytes(), Root::Request)
                .is_err()
        );
    }

    /// Every cut of a valid line is refused, as serde_json refuses it (no panic on any prefix).
    #[test]
    fn every_prefix_of_a_line_is_read_without_panic_and_as_serde_json_does() {
        let line = r#"{"contents": [{"role": "user", "parts": [{"text": "caf\u00e9 \"q\" \n"}, {"file_data": {"file_uri": "gs://b/x", "mime_type": "image/png"}}]}], "generationConfig": {"temperature": 0.25, "topK": 40, "stop": ["a", "b"], "json": true, "x": null}, "labels": {"team": "ml"}}"#;
        for end in 0..line.len() {
            let Some(prefix) = line.get(..end) else {
                continue;
            };
            let scan = Scanner::with_kinds().scan(prefix.as_bytes(), Root::Request);
            assert_eq!(scan.is_ok(), serde_reads(prefix), "{prefix}");
        }
        let facts = Scanner::default()
            .scan(line.as_bytes(), Root::Request)
            .unwrap();
        assert_eq!(&line[facts.labels.clone().unwrap()], r#"{"team": "ml"}"#);
        assert!(!facts.has_row_label);
        assert_eq!(facts.refusal, None);
    }

    #[cfg(feature = "storage")]
    #[test]
    fn an_input_line_is_read_in_one_pass_with_its_key() {
        let mut scanner = Scanner::with_kinds();
        let text = r#"{"key": "a\"b", "request": {"contents": [], "labels": {"x": "y"}}}"#;
        let line = scanner.scan_input_line(text.as_bytes()).unwrap();
        let request = &text[line.request.clone()];
        assert_eq!(request, r#"{"contents": [], "labels": {"x": "y"}}"#);
        assert_eq!(
            &request[line.facts.labels.clone().unwrap()],
            r#"{"x": "y"}"#
        );
        assert!(matches!(line.key, Some(Key::Unescaped(ref key)) if key == "a\"b"));
        assert_eq!(line.facts.hash, hash(request));
        let plain = scanner
            .scan_input_line(br#"{"request": {"contents": []}, "key": "k1"}"#)
            .unwrap();
        assert!(matches!(plain.key, Some(Key::Plain(ref r)) if r.len() == 2));
        for bad in [
            r#"{"request": {}, "id": 3}"#,
            r#"{"request": [1]}"#,
            r#"{"request": {}, "key": 7}"#,
            r#"{"key": "a"}"#,
            r#"{"request": {}, "request": {}}"#,
            r#"{"request": {"a": }}"#,
            "{}",
        ] {
            assert!(scanner.scan_input_line(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[cfg(feature = "storage")]
    #[test]
    fn findings_name_their_path() {
        let mut scanner = Scanner::with_kinds();
        let facts = scanner
            .scan(
                br#"{"tools": [{"codeExecution": {"x": 1}}, {"googleSearch": {}}]}"#,
                Root::Request,
            )
            .unwrap();
        let finding = facts.refusal.unwrap();
        assert_eq!(finding.json_path(), "request.tools[1].googleSearch");
        assert_eq!(
            finding.service_message(),
            "Cannot store struct 'request.tools.googleSearch' with no fields"
        );
        let facts = scanner
            .scan(br#"{"schema": {"$defs": {"a": 1}}}"#, Root::Request)
            .unwrap();
        assert_eq!(facts.refusal.unwrap().json_path(), "request.schema.$defs");
        // An empty `labels` gets the run's row label, an empty request `labels`: not empty
        // records once staged.
        let facts = scanner.scan(br#"{"labels": {}}"#, Root::Request).unwrap();
        assert_eq!(facts.refusal, None);
        let facts = scanner.scan(b"{ }", Root::Request).unwrap();
        assert_eq!(facts.refusal, None);
        let facts = scanner.scan(br#"{"a": {}}"#, Root::Request).unwrap();
        assert!(facts.refusal.is_some());
        let path = scanner.path_of(
            br#"{"a": [{"b": 1}, {"b": "x"}]}"#,
            Root::Request,
            hash::field_path(
                hash::field_path(request_path(), hash::key(b"a")),
                hash::key(b"b"),
            ),
        );
        assert_eq!(
            path,
            Some(FieldPath {
                column: "request.a.b".into(),
                json: "request.a[0].b".into()
            })
        );
    }

    /// The emulator's re-serialisation (sorted, null-filled, compact) of random requests hashes
    /// as the request sent.
    #[cfg(feature = "emulator")]
    #[test]
    fn random_requests_hash_as_the_emulator_echoes_them() {
        use serde_json::{Value, json};
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn value(next: &mut impl FnMut() -> u64, depth: u32) -> Value {
            match next() % if depth > 3 { 4 } else { 6 } {
                0 => json!(format!("t{}é\"\\", next() % 5)),
                1 => json!((next() % 1000) as f64 / 8.0),
                2 => json!(next().is_multiple_of(2)),
                3 => Value::Null,
                4 => Value::Array((0..next() % 4).map(|_| value(next, depth + 1)).collect()),
                _ => {
                    let mut map = serde_json::Map::new();
                    for _ in 0..1 + next() % 4 {
                        map.insert(format!("k{}", next() % 6), value(next, depth + 1));
                    }
                    Value::Object(map)
                }
            }
        }
        for _ in 0..500 {
            let mut request = serde_json::Map::new();
            for i in 0..1 + next() % 4 {
                request.insert(format!("f{i}"), value(&mut next, 0));
            }
            let request = Value::Object(request);
            let sent = serde_json::to_string_pretty(&request).unwrap();
            let echoed = crate::emulator::echo::reserialised(&request).to_string();
            assert_eq!(hash(&sent), hash(&echoed), "{sent}\n{echoed}");
        }
    }
}

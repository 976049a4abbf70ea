//! The List filter, after AIP-160 as the service applies it: `state`, `display_name` and
//! `labels.KEY` compared with `=`, `!=` or `:` (with `*` wildcards, `labels.KEY:*` for
//! existence); `model_display_name` with `=` or `!=`; `create_time` with `=`, `!=`, `<`, `<=`,
//! `>` or `>=` and an RFC 3339 time in quotes (`create_time>"2026-01-01T00:00:00Z"`). They
//! combine with AND, OR, NOT and parentheses. As in AIP-160, OR binds tighter than AND:
//! `a AND b OR c` is `a AND (b OR c)`.
//!
//! A job's model display name is, on the emulator, its model's id: `gemini-2.0-flash-001` for
//! `publishers/google/models/gemini-2.0-flash-001`, `123` for a tuned
//! `projects/p/locations/l/models/123@2` (the emulator has no Model resources to name).

use std::collections::HashMap;
use std::str::FromStr;

use prost_types::Timestamp;

use super::validate::model_id;
use crate::v1::JobState;

/// What a filter looks at in one job.
pub(crate) struct Subject<'a> {
    pub(crate) state: JobState,
    pub(crate) display_name: &'a str,
    pub(crate) labels: &'a HashMap<String, String>,
    /// The job's `model`, whose id stands for the model's display name.
    pub(crate) model: &'a str,
    pub(crate) create_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    State,
    DisplayName,
    ModelDisplayName,
    Label(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Has,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    All,
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        field: Field,
        op: Op,
        value: String,
    },
    /// `create_time` against a time.
    Created {
        op: Op,
        time: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Op(Op),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                out.push(Token::Op(Op::Eq));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("`!` must be followed by `=`".into());
                }
                out.push(Token::Op(Op::Ne));
            }
            ':' => {
                chars.next();
                out.push(Token::Op(Op::Has));
            }
            '<' | '>' => {
                chars.next();
                let or_equal = chars.next_if_eq(&'=').is_some();
                out.push(Token::Op(match (c, or_equal) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                }));
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quoted value is not closed with `\"`".into()),
                        Some('"') => break,
                        Some('\\') => value.extend(chars.next()),
                        Some(c) => value.push(c),
                    }
                }
                out.push(Token::Text(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "=!:<>()\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    /// expression := sequence { AND sequence }, where a sequence of factors side by side is
    /// an AND too.
    fn expression(&mut self) -> Result<Filter, String> {
        let mut left = self.factor()?;
        loop {
            if self.keyword("AND") {
                self.next();
            } else if self.peek().is_none() || self.peek() == Some(&Token::Close) {
                return Ok(left);
            }
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    /// factor := term { OR term }
    fn factor(&mut self) -> Result<Filter, String> {
        let mut left = self.term()?;
        while self.keyword("OR") {
            self.next();
            let right = self.term()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// term := [NOT | -] ( restriction | "(" expression ")" )
    fn term(&mut self) -> Result<Filter, String> {
        if self.keyword("NOT") {
            self.next();
            return Ok(Filter::Not(Box::new(self.term()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.expression()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("a `(` is not closed with `)`".into()),
                }
            }
            Some(Token::Word(word)) => {
                let (negated, name) = match word.strip_prefix('-') {
                    Some(rest) => (true, rest.to_string()),
                    None => (false, word),
                };
                let restriction = self.restriction(&name)?;
                Ok(if negated {
                    Filter::Not(Box::new(restriction))
                } else {
                    restriction
                })
            }
            Some(other) => Err(format!("expected a field name, found {other:?}")),
            None => Err("the filter ends where a comparison was expected".into()),
        }
    }

    fn restriction(&mut self, name: &str) -> Result<Filter, String> {
        let (field, ops): (Option<Field>, &[(Op, &str)]) = match name {
            "state" => (Some(Field::State), &TEXT_OPS),
            "display_name" => (Some(Field::DisplayName), &TEXT_OPS),
            "model_display_name" => (Some(Field::ModelDisplayName), &TEXT_OPS[..2]),
            "create_time" => (None, &TIME_OPS),
            _ => match name.strip_prefix("labels.") {
                Some(key) if !key.is_empty() => (Some(Field::Label(key.to_string())), &TEXT_OPS),
                _ => {
                    return Err(format!(
                        "`{name}` cannot be filtered on: use state, display_name, \
                         model_display_name, create_time or labels.KEY"
                    ));
                }
            },
        };
        let listed = || {
            let names: Vec<String> = ops.iter().map(|(_, text)| format!("`{text}`")).collect();
            names.join(", ")
        };
        let op = match self.next() {
            Some(Token::Op(op)) if ops.iter().any(|(allowed, _)| *allowed == op) => op,
            _ => return Err(format!("`{name}` must be followed by one of {}", listed())),
        };
        let value = match self.next() {
            Some(Token::Word(v) | Token::Text(v)) => v,
            _ => return Err(format!("`{name}` is compared with nothing: give a value")),
        };
        let Some(field) = field else {
            let time = Timestamp::from_str(&value).map_err(|_| {
                format!(
                    "`{value}` is not a time: create_time is compared with an RFC 3339 time in \
                     quotes, e.g. create_time>\"2026-01-01T00:00:00Z\""
                )
            })?;
            return Ok(Filter::Created { op, time });
        };
        if field == Field::State {
            let normalized = if value.starts_with("JOB_STATE_") {
                value.clone()
            } else {
                format!("JOB_STATE_{value}")
            };
            if JobState::from_str_name(&normalized).is_none() {
                return Err(format!(
                    "`{value}` is not a job state, e.g. JOB_STATE_SUCCEEDED"
                ));
            }
            return Ok(Filter::Compare {
                field,
                op,
                value: normalized,
            });
        }
        Ok(Filter::Compare { field, op, value })
    }
}

/// The operators text fields take (`model_display_name` the first two only).
const TEXT_OPS: [(Op, &str); 3] = [(Op::Eq, "="), (Op::Ne, "!="), (Op::Has, ":")];

/// The operators `create_time` takes.
const TIME_OPS: [(Op, &str); 6] = [
    (Op::Eq, "="),
    (Op::Ne, "!="),
    (Op::Lt, "<"),
    (Op::Le, "<="),
    (Op::Gt, ">"),
    (Op::Ge, ">="),
];

impl Filter {
    /// Parses `text`; an empty filter matches everything.
    pub(crate) fn parse(text: &str) -> Result<Filter, String> {
        let mut parser = Parser {
            tokens: tokens(text)?,
            at: 0,
        };
        if parser.peek().is_none() {
            return Ok(Filter::All);
        }
        let filter = parser.expression()?;
        match parser.peek() {
            None => Ok(filter),
            Some(token) => Err(format!("unexpected {token:?} after a complete expression")),
        }
    }

    pub(crate) fn matches(&self, job: &Subject<'_>) -> bool {
        match self {
            Filter::All => true,
            Filter::And(a, b) => a.matches(job) && b.matches(job),
            Filter::Or(a, b) => a.matches(job) || b.matches(job),
            Filter::Not(a) => !a.matches(job),
            Filter::Created { op, time } => {
                let order = (job.create_time.seconds, job.create_time.nanos)
                    .cmp(&(time.seconds, time.nanos));
                match op {
                    Op::Eq => order.is_eq(),
                    Op::Ne => order.is_ne(),
                    Op::Lt => order.is_lt(),
                    Op::Le => order.is_le(),
                    Op::Gt => order.is_gt(),
                    Op::Ge | Op::Has => order.is_ge(),
                }
            }
            Filter::Compare { field, op, value } => {
                let actual = match field {
                    Field::State => Some(job.state.as_str_name()),
                    Field::DisplayName => Some(job.display_name),
                    Field::ModelDisplayName => Some(model_id(job.model)),
                    Field::Label(key) => job.labels.get(key).map(String::as_str),
                };
                match (op, actual) {
                    (Op::Eq, Some(actual)) => actual == value,
                    (Op::Ne, Some(actual)) => actual != value,
                    // A missing label is "not equal" to any value.
                    (Op::Ne, None) => true,
                    (Op::Has, Some(actual)) => wildcard(value, actual),
                    // Text fields take no ordering (the parser refuses one).
                    _ => false,
                }
            }
        }
    }
}

/// `pattern` with `*` matching any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

//! The List filter, after AIP-160 as the service applies it: `state`, `display_name` and
//! `labels.KEY` compared with `=`, `!=` or `:` (with `*` wildcards, `labels.KEY:*` for
//! existence), combined with AND, OR, NOT and parentheses. As in AIP-160, OR binds tighter
//! than AND: `a AND b OR c` is `a AND (b OR c)`.

use std::collections::HashMap;

use crate::v1::JobState;

/// What a filter looks at in one job.
pub(crate) struct Subject<'a> {
    pub(crate) state: JobState,
    pub(crate) display_name: &'a str,
    pub(crate) labels: &'a HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    State,
    DisplayName,
    Label(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Has,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    All,
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare { field: Field, op: Op, value: String },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Eq,
    Ne,
    Has,
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
                out.push(Token::Eq);
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("`!` must be followed by `=`".into());
                }
                out.push(Token::Ne);
            }
            ':' => {
                chars.next();
                out.push(Token::Has);
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
                    if c.is_whitespace() || "=!:()\"".contains(c) {
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
        let field = match name {
            "state" => Field::State,
            "display_name" => Field::DisplayName,
            _ => match name.strip_prefix("labels.") {
                Some(key) if !key.is_empty() => Field::Label(key.to_string()),
                _ => {
                    return Err(format!(
                        "`{name}` cannot be filtered on: use state, display_name or labels.KEY"
                    ));
                }
            },
        };
        let op = match self.next() {
            Some(Token::Eq) => Op::Eq,
            Some(Token::Ne) => Op::Ne,
            Some(Token::Has) => Op::Has,
            _ => return Err(format!("`{name}` must be followed by `=`, `!=` or `:`")),
        };
        let value = match self.next() {
            Some(Token::Word(v) | Token::Text(v)) => v,
            _ => return Err(format!("`{name}` is compared with nothing: give a value")),
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
            Filter::Compare { field, op, value } => {
                let actual = match field {
                    Field::State => Some(job.state.as_str_name()),
                    Field::DisplayName => Some(job.display_name),
                    Field::Label(key) => job.labels.get(key).map(String::as_str),
                };
                match (op, actual) {
                    (Op::Eq, Some(actual)) => actual == value,
                    (Op::Ne, Some(actual)) => actual != value,
                    // A missing label is "not equal" to any value.
                    (Op::Ne, None) => true,
                    (Op::Has, Some(actual)) => wildcard(value, actual),
                    (Op::Eq | Op::Has, None) => false,
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

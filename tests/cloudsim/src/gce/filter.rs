//! The `filter=` expressions of Compute Engine's list calls:
//! `FIELD OP VALUE` with OP `=`, `!=` or `:` (`:` is "contains", and
//! `labels.KEY:*` "has the label"); `*` in a value matches anything;
//! values may be quoted. Comparisons combine with `AND` (also implied by
//! juxtaposition), `OR` (binding tighter, as in AIP-160), `NOT` and
//! parentheses: `(labels.env = prod) (name != scratch)`.
//!
//! A resource answers `lookup(field)` with the field's value, `None` when
//! it lacks it (an absent label). Fields a resource never has are refused
//! when the filter is parsed.

use super::{GceError, GceResult};

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        field: String,
        op: Op,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Has,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Op(Op),
    Word(String),
    Quoted(String),
}

impl Filter {
    /// Parse `raw`; `fields` says which field names exist (`labels.*` is
    /// `"labels"` with any key). `None` for an empty filter.
    pub fn parse(raw: &str, fields: &[&str]) -> GceResult<Option<Filter>> {
        let bad = |why: &str| {
            GceError::invalid_field(
                "filter",
                raw,
                &format!("Invalid list filter expression: {why}."),
            )
        };
        let tokens = tokenize(raw).map_err(|why| bad(&why))?;
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut parser = Parser {
            tokens,
            at: 0,
            fields,
        };
        let filter = parser.sequence().map_err(|why| bad(&why))?;
        if parser.at != parser.tokens.len() {
            return Err(bad("unexpected text after the expression"));
        }
        Ok(Some(filter))
    }

    pub fn matches(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(lookup)),
            Filter::Or(any) => any.iter().any(|f| f.matches(lookup)),
            Filter::Not(inner) => !inner.matches(lookup),
            Filter::Compare { field, op, value } => {
                let actual = lookup(field);
                match op {
                    Op::Eq => actual.is_some_and(|a| glob(value, &a)),
                    Op::Ne => !actual.is_some_and(|a| glob(value, &a)),
                    Op::Has => actual.is_some_and(|a| value == "*" || a.contains(value.as_str())),
                }
            }
        }
    }
}

/// Match with `*` standing for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
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

fn tokenize(raw: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Op(Op::Eq));
            }
            ':' => {
                chars.next();
                tokens.push(Token::Op(Op::Has));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("'!' must be followed by '='".into());
                }
                tokens.push(Token::Op(Op::Ne));
            }
            '<' | '>' => return Err("ordering comparisons are not supported".into()),
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => text.extend(chars.next()),
                        Some(c) if c == quote => break,
                        Some(c) => text.push(c),
                        None => return Err("unterminated quoted value".into()),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()=:!<>\"'".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    fields: &'a [&'a str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    /// factor (AND? factor)*
    fn sequence(&mut self) -> Result<Filter, String> {
        let mut all = vec![self.disjunction()?];
        loop {
            if self.is_word("AND") {
                self.at += 1;
            } else if matches!(self.peek(), None | Some(Token::Close)) {
                break;
            }
            all.push(self.disjunction()?);
        }
        Ok(if all.len() == 1 {
            all.pop().unwrap()
        } else {
            Filter::And(all)
        })
    }

    /// term (OR term)*
    fn disjunction(&mut self) -> Result<Filter, String> {
        let mut any = vec![self.term()?];
        while self.is_word("OR") {
            self.at += 1;
            any.push(self.term()?);
        }
        Ok(if any.len() == 1 {
            any.pop().unwrap()
        } else {
            Filter::Or(any)
        })
    }

    fn term(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Word(w)) if w == "NOT" => Ok(Filter::Not(Box::new(self.term()?))),
            Some(Token::Open) => {
                let inner = self.sequence()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(Token::Word(field)) => {
                let root = field.split('.').next().unwrap_or_default();
                let known = self.fields.contains(&field.as_str())
                    || (root == "labels"
                        && field.len() > "labels.".len()
                        && self.fields.contains(&"labels"));
                if !known {
                    return Err(format!("unknown field '{field}'"));
                }
                let Some(Token::Op(op)) = self.next() else {
                    return Err(format!("expected '=', '!=' or ':' after '{field}'"));
                };
                let value = match self.next() {
                    Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                    _ => return Err(format!("expected a value after '{field}'")),
                };
                Ok(Filter::Compare { field, op, value })
            }
            _ => Err("expected a comparison".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(filter: &str, name: &str, env: Option<&str>) -> bool {
        let filter = Filter::parse(filter, &["name", "labels"]).unwrap().unwrap();
        filter.matches(&|field| match field {
            "name" => Some(name.to_string()),
            "labels.env" => env.map(str::to_string),
            _ => None,
        })
    }

    #[test]
    fn comparisons_and_combinations() {
        assert!(check("labels.env=prod", "a", Some("prod")));
        assert!(check("labels.env = \"prod\"", "a", Some("prod")));
        assert!(!check("labels.env = prod", "a", Some("dev")));
        assert!(!check("labels.env = prod", "a", None));
        assert!(check("labels.env != prod", "a", None));
        assert!(check("labels.env:*", "a", Some("")));
        assert!(!check("labels.env:*", "a", None));
        assert!(check("(labels.env = prod) (name = a)", "a", Some("prod")));
        assert!(!check("labels.env = prod AND name = b", "a", Some("prod")));
        assert!(check("name = b OR name = a", "a", None));
        assert!(check("name = data-*", "data-1", None));
        assert!(!check("NOT name = a", "a", None));
    }

    #[test]
    fn bad_filters_are_refused() {
        for bad in [
            "size = 1",
            "name",
            "name = ",
            "(name = a",
            "name < a",
            "name = 'a",
        ] {
            assert!(Filter::parse(bad, &["name"]).is_err(), "{bad}");
        }
        assert_eq!(Filter::parse("  ", &["name"]).unwrap(), None);
    }
}

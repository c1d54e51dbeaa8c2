//! A parser and validator for Traefik v3 HTTP router rules.
//!
//! Traefik only reports a bad rule after it has loaded the file, as an error on the
//! router in its API and log, and by then the old route is already gone. Checking the
//! rule here moves the error to `terraform plan` / Ansible check mode, with the column
//! of the mistake and a hint.
//!
//! The grammar follows what Traefik 3.7 accepts, which is a Go expression (Traefik
//! parses rules with Go's parser): matchers with string arguments, `&&`, `||`, `!` and
//! parentheses. The Go heritage shows in three places that this parser reproduces:
//! matcher names are case-insensitive (`host(...)` works), a trailing comma in the
//! argument list is fine, and a line break right after `)`, a matcher name or a string
//! ends the rule (Go's automatic semicolon), so a multi-line rule must end each line
//! with `&&`, `||`, `(` or `,`.
//!
//! Beyond syntax it checks what Traefik checks when it builds the router and can be
//! checked without Go's regexp engine: argument counts, empty arguments, paths that do
//! not start with `/`, non-ASCII hosts and malformed `ClientIP` ranges. Regular
//! expressions are not compiled here; Traefik reports those when it loads the route.

use std::fmt;
use std::net::IpAddr;

/// The HTTP matchers of Traefik v3, in the order the Traefik documentation lists them.
pub const MATCHERS: [&str; 11] = [
    "Host",
    "HostRegexp",
    "Path",
    "PathPrefix",
    "PathRegexp",
    "Method",
    "Header",
    "HeaderRegexp",
    "Query",
    "QueryRegexp",
    "ClientIP",
];

/// Where something is in the rule, 1-based, counting characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Matcher(Matcher),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// One matcher call such as ``Host(`example.com`)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The canonical spelling from [`MATCHERS`], whatever case the rule used.
    pub name: &'static str,
    /// Argument values with quotes removed and escapes decoded.
    pub args: Vec<String>,
    pub position: Position,
}

impl Expr {
    /// All matchers, left to right; lets callers look for, say, the hosts a rule serves.
    pub fn matchers(&self) -> Vec<&Matcher> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Matcher>) {
        match self {
            Expr::Matcher(m) => out.push(m),
            Expr::Not(e) => e.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

/// Why a rule was rejected. The message already says where ("at column 6").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub message: String,
    pub position: Option<Position>,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// Parses and checks a rule; the first problem found is returned.
pub fn parse(rule: &str) -> Result<Expr, RuleError> {
    let multiline = rule.contains('\n');
    let tokens = Lexer::new(rule, multiline).run()?;
    let mut parser = Parser {
        tokens,
        index: 0,
        multiline,
    };
    parser.parse_rule()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    AndAnd,
    OrOr,
    Bang,
    /// A line break that Go turns into a semicolon, or an explicit `;`.
    Semi {
        implicit: bool,
    },
    Eof,
}

fn at(pos: Position, multiline: bool) -> String {
    if multiline {
        format!("at line {}, column {}", pos.line, pos.column)
    } else {
        format!("at column {}", pos.column)
    }
}

fn err(message: String, pos: Position) -> RuleError {
    RuleError {
        message,
        position: Some(pos),
    }
}

struct Lexer {
    chars: Vec<(char, Position)>,
    index: usize,
    multiline: bool,
    end: Position,
    tokens: Vec<(Tok, Position)>,
}

impl Lexer {
    fn new(rule: &str, multiline: bool) -> Self {
        let mut chars = Vec::with_capacity(rule.len());
        let (mut line, mut column) = (1, 1);
        for c in rule.chars() {
            chars.push((c, Position { line, column }));
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Self {
            chars,
            index: 0,
            multiline,
            end: Position { line, column },
            tokens: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).map(|(c, _)| *c)
    }

    fn at(&self, pos: Position) -> String {
        at(pos, self.multiline)
    }

    /// Go inserts a semicolon at a line break that follows one of these tokens.
    fn line_break_ends_rule(&self) -> bool {
        matches!(
            self.tokens.last(),
            Some((Tok::Word(_) | Tok::Str(_) | Tok::RParen, _))
        )
    }

    fn line_break(&mut self, pos: Position) {
        if self.line_break_ends_rule() {
            self.tokens.push((Tok::Semi { implicit: true }, pos));
        }
    }

    fn run(mut self) -> Result<Vec<(Tok, Position)>, RuleError> {
        while let Some(&(c, pos)) = self.chars.get(self.index) {
            match c {
                '\n' => {
                    self.line_break(pos);
                    self.index += 1;
                }
                ' ' | '\t' | '\r' => self.index += 1,
                '/' if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.index += 1;
                    }
                }
                '/' if self.peek(1) == Some('*') => self.block_comment(pos)?,
                '(' => self.single(Tok::LParen, pos),
                ')' => self.single(Tok::RParen, pos),
                ',' => self.single(Tok::Comma, pos),
                '!' => self.single(Tok::Bang, pos),
                ';' => self.single(Tok::Semi { implicit: false }, pos),
                '&' | '|' => {
                    if self.peek(1) == Some(c) {
                        let tok = if c == '&' { Tok::AndAnd } else { Tok::OrOr };
                        self.tokens.push((tok, pos));
                        self.index += 2;
                    } else {
                        let (op, word) = if c == '&' {
                            ("&&", "and")
                        } else {
                            ("||", "or")
                        };
                        return Err(err(
                            format!("single `{c}` {}: use `{op}` for {word}", self.at(pos)),
                            pos,
                        ));
                    }
                }
                '`' => self.raw_string(pos)?,
                '"' => self.quoted_string(pos)?,
                '\'' => {
                    return Err(err(
                        format!(
                            "single-quoted value {}: Traefik accepts values in backticks \
                             (`example.com`) or double quotes (\"example.com\") only",
                            self.at(pos)
                        ),
                        pos,
                    ))
                }
                c if c.is_alphanumeric() || c == '_' => {
                    let start = self.index;
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        self.index += 1;
                    }
                    let word: String = self.chars[start..self.index]
                        .iter()
                        .map(|(c, _)| c)
                        .collect();
                    self.tokens.push((Tok::Word(word), pos));
                }
                other => {
                    return Err(err(
                        format!("unexpected character {other:?} {}", self.at(pos)),
                        pos,
                    ))
                }
            }
        }
        self.tokens.push((Tok::Eof, self.end));
        Ok(self.tokens)
    }

    fn single(&mut self, tok: Tok, pos: Position) {
        self.tokens.push((tok, pos));
        self.index += 1;
    }

    fn block_comment(&mut self, pos: Position) -> Result<(), RuleError> {
        self.index += 2;
        let mut saw_newline = false;
        loop {
            match self.peek(0) {
                None => {
                    return Err(err(
                        format!("unterminated /* comment {}", self.at(pos)),
                        pos,
                    ))
                }
                Some('*') if self.peek(1) == Some('/') => {
                    self.index += 2;
                    break;
                }
                Some(c) => {
                    saw_newline |= c == '\n';
                    self.index += 1;
                }
            }
        }
        if saw_newline {
            self.line_break(pos);
        }
        Ok(())
    }

    fn raw_string(&mut self, pos: Position) -> Result<(), RuleError> {
        self.index += 1;
        let mut value = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(err(
                        format!("unterminated backtick string {}", self.at(pos)),
                        pos,
                    ))
                }
                Some('`') => break,
                // Go drops carriage returns from raw strings.
                Some('\r') => {}
                Some(c) => value.push(c),
            }
            self.index += 1;
        }
        self.index += 1;
        self.tokens.push((Tok::Str(value), pos));
        Ok(())
    }

    fn quoted_string(&mut self, pos: Position) -> Result<(), RuleError> {
        let unterminated = |lexer: &Self| {
            err(
                format!("unterminated double-quoted string {}", lexer.at(pos)),
                pos,
            )
        };
        self.index += 1;
        // Bytes, because Go's \x and octal escapes produce bytes, not characters.
        let mut value: Vec<u8> = Vec::new();
        loop {
            let Some(&(c, cpos)) = self.chars.get(self.index) else {
                return Err(unterminated(self));
            };
            match c {
                '"' => break,
                '\n' => return Err(unterminated(self)),
                '\\' => {
                    self.index += 1;
                    self.escape(cpos, &mut value)?;
                    continue;
                }
                c => {
                    let mut buf = [0; 4];
                    value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            self.index += 1;
        }
        self.index += 1;
        let value = String::from_utf8_lossy(&value).into_owned();
        self.tokens.push((Tok::Str(value), pos));
        Ok(())
    }

    /// Decodes one Go escape; `self.index` is just past the backslash.
    fn escape(&mut self, pos: Position, out: &mut Vec<u8>) -> Result<(), RuleError> {
        let seq_end = |lexer: &Self, n: usize| {
            let text: String = lexer.chars[lexer.index..(lexer.index + n).min(lexer.chars.len())]
                .iter()
                .map(|(c, _)| c)
                .collect();
            text
        };
        let invalid = |lexer: &Self, shown: String| {
            err(
                format!(
                    "invalid escape sequence `\\{shown}` in double-quoted string {}; \
                     backticks take the value literally, with no escapes",
                    lexer.at(pos)
                ),
                pos,
            )
        };
        let Some(c) = self.peek(0) else {
            return Err(invalid(self, String::new()));
        };
        let simple = match c {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            self.index += 1;
            return Ok(());
        }
        let (digits, radix) = match c {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (3, 8),
            _ => return Err(invalid(self, c.to_string())),
        };
        let skip = usize::from(radix == 16);
        let shown = seq_end(self, skip + digits);
        let text: String = shown.chars().skip(skip).collect();
        if text.chars().count() != digits || !text.chars().all(|d| d.is_digit(radix)) {
            return Err(invalid(self, shown));
        }
        let value = u32::from_str_radix(&text, radix).map_err(|_| invalid(self, shown.clone()))?;
        match c {
            'x' => out.push(value as u8),
            '0'..='7' => {
                let Ok(b) = u8::try_from(value) else {
                    return Err(invalid(self, shown));
                };
                out.push(b);
            }
            _ => {
                let Some(ch) = char::from_u32(value) else {
                    return Err(invalid(self, shown));
                };
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
        self.index += skip + digits;
        Ok(())
    }
}

struct Parser {
    tokens: Vec<(Tok, Position)>,
    index: usize,
    multiline: bool,
}

const LINE_BREAK_HINT: &str = "Traefik reads a rule as a Go expression, where a line break \
     after `)` or a value ends it; end the line with `&&`, `||`, `(` or `,` to continue";

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Str(s) => format!("the string {s:?}"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::AndAnd => "`&&`".into(),
        Tok::OrOr => "`||`".into(),
        Tok::Bang => "`!`".into(),
        Tok::Semi { implicit: true } => "a line break".into(),
        Tok::Semi { implicit: false } => "`;`".into(),
        Tok::Eof => "the end of the rule".into(),
    }
}

fn known_list() -> String {
    MATCHERS.join(", ")
}

/// Names users bring from Traefik v2 or from TCP routers, with what to write instead.
fn renamed(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "headers" => Some("Header (Headers was renamed in Traefik v3)"),
        "headersregexp" => Some("HeaderRegexp (HeadersRegexp was renamed in Traefik v3)"),
        "hostheader" => Some("Host (HostHeader was removed in Traefik v3)"),
        "hostsni" | "hostsniregexp" => Some("Host (HostSNI is for TCP routers)"),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggestion(name: &str) -> Option<String> {
    if let Some(r) = renamed(name) {
        return Some(r.to_owned());
    }
    MATCHERS
        .iter()
        .map(|m| (edit_distance(name, m), *m))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, m)| m.to_owned())
}

impl Parser {
    fn peek(&self) -> &(Tok, Position) {
        &self.tokens[self.index.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> (Tok, Position) {
        let t = self.peek().clone();
        if self.index < self.tokens.len() - 1 {
            self.index += 1;
        }
        t
    }

    fn at(&self, pos: Position) -> String {
        at(pos, self.multiline)
    }

    fn found(&self) -> String {
        let (tok, pos) = self.peek();
        match tok {
            Tok::Eof => describe(tok),
            _ => format!("{} {}", describe(tok), self.at(*pos)),
        }
    }

    fn parse_rule(&mut self) -> Result<Expr, RuleError> {
        if self.peek().0 == Tok::Eof {
            return Err(RuleError {
                message: "the rule is empty; write at least one matcher, e.g. Host(`example.com`)"
                    .into(),
                position: None,
            });
        }
        let expr = self.parse_or()?;
        let (tok, pos) = self.peek().clone();
        match tok {
            Tok::Eof => Ok(expr),
            Tok::Semi { implicit: true } => {
                self.bump();
                if self.peek().0 == Tok::Eof {
                    Ok(expr)
                } else {
                    let next = self.found();
                    Err(err(
                        format!(
                            "the line break {} ends the rule, so {next} is left over; {LINE_BREAK_HINT}",
                            self.at(pos)
                        ),
                        pos,
                    ))
                }
            }
            Tok::RParen => Err(err(
                format!("unbalanced `)` {}: no `(` is open", self.at(pos)),
                pos,
            )),
            Tok::Word(w) if is_word_operator(&w) => Err(err(
                format!(
                    "`{w}` {} is not an operator: use `&&` (and), `||` (or), `!` (not)",
                    self.at(pos)
                ),
                pos,
            )),
            _ => Err(err(
                format!(
                    "unexpected {}: join matchers with `&&` or `||`",
                    self.found()
                ),
                pos,
            )),
        }
    }

    fn parse_or(&mut self) -> Result<Expr, RuleError> {
        let mut lhs = self.parse_and()?;
        while self.peek().0 == Tok::OrOr {
            self.bump();
            let rhs = self.parse_and()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_and(&mut self) -> Result<Expr, RuleError> {
        let mut lhs = self.parse_unary()?;
        while self.peek().0 == Tok::AndAnd {
            self.bump();
            let rhs = self.parse_unary()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> Result<Expr, RuleError> {
        if self.peek().0 == Tok::Bang {
            self.bump();
            return Ok(Expr::Not(Box::new(self.parse_unary()?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, RuleError> {
        let (tok, pos) = self.peek().clone();
        match tok {
            Tok::LParen => {
                self.bump();
                let inner = self.parse_or()?;
                if self.peek().0 == Tok::RParen {
                    self.bump();
                    return Ok(inner);
                }
                let hint = if matches!(self.peek().0, Tok::Semi { implicit: true }) {
                    format!("; {LINE_BREAK_HINT}")
                } else {
                    String::new()
                };
                Err(err(
                    format!(
                        "unclosed `(` {}: expected `)`, found {}{hint}",
                        self.at(pos),
                        self.found()
                    ),
                    pos,
                ))
            }
            Tok::Word(word) => {
                self.bump();
                self.parse_call(word, pos).map(Expr::Matcher)
            }
            _ => Err(err(
                format!(
                    "expected a matcher such as Host(`example.com`), `!` or `(`, found {}",
                    self.found()
                ),
                pos,
            )),
        }
    }

    fn parse_call(&mut self, word: String, pos: Position) -> Result<Matcher, RuleError> {
        let canonical = MATCHERS
            .iter()
            .find(|m| m.eq_ignore_ascii_case(&word))
            .copied();
        if self.peek().0 != Tok::LParen {
            let message = if is_word_operator(&word) {
                format!(
                    "`{word}` {} is not an operator: use `&&` (and), `||` (or), `!` (not)",
                    self.at(pos)
                )
            } else if let Some(name) = canonical {
                format!(
                    "{name} {} needs its value in parentheses, e.g. {name}(`...`), found {}",
                    self.at(pos),
                    self.found()
                )
            } else {
                format!(
                    "unexpected `{word}` {}: expected a matcher such as Host(`example.com`)",
                    self.at(pos)
                )
            };
            return Err(err(message, pos));
        }
        let Some(name) = canonical else {
            let hint = suggestion(&word)
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            return Err(err(
                format!(
                    "unknown matcher {word:?} (known: {}) {}{hint}",
                    known_list(),
                    self.at(pos)
                ),
                pos,
            ));
        };
        let (_, open) = self.bump();
        let mut args = Vec::new();
        loop {
            let (tok, tpos) = self.peek().clone();
            match tok {
                Tok::RParen => {
                    self.bump();
                    break;
                }
                Tok::Str(s) => {
                    self.bump();
                    args.push(s);
                }
                Tok::Eof => {
                    return Err(err(
                        format!(
                            "unclosed `(` of {name} {}: expected `)` before the end of the rule",
                            self.at(open)
                        ),
                        open,
                    ))
                }
                _ => {
                    return Err(err(
                        format!(
                            "argument {} of {name} {} must be a quoted string \
                             (`value` or \"value\"), found {}",
                            args.len() + 1,
                            self.at(pos),
                            self.found()
                        ),
                        tpos,
                    ))
                }
            }
            let (tok, tpos) = self.peek().clone();
            match tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {}
                Tok::Eof => {
                    return Err(err(
                        format!(
                            "unclosed `(` of {name} {}: expected `)` before the end of the rule",
                            self.at(open)
                        ),
                        open,
                    ))
                }
                Tok::Semi { implicit: true } => {
                    return Err(err(
                        format!(
                            "missing `,` before the line break {} in the arguments of {name}; \
                             {LINE_BREAK_HINT}",
                            self.at(tpos)
                        ),
                        tpos,
                    ))
                }
                _ => {
                    return Err(err(
                        format!(
                            "expected `,` or `)` after argument {} of {name} {}, found {}",
                            args.len(),
                            self.at(pos),
                            self.found()
                        ),
                        tpos,
                    ))
                }
            }
        }
        let matcher = Matcher {
            name,
            args,
            position: pos,
        };
        self.check(&matcher)?;
        Ok(matcher)
    }

    /// The checks Traefik makes when it builds the matcher, minus regexp compilation.
    fn check(&self, m: &Matcher) -> Result<(), RuleError> {
        let here = self.at(m.position);
        let name = m.name;
        let fail = |message: String| Err(err(message, m.position));
        let (min, max, what) = match name {
            "Header" | "HeaderRegexp" => (2, 2, "2 arguments (header name and value)"),
            "Query" | "QueryRegexp" => (
                1,
                2,
                "1 or 2 arguments (parameter name and, optionally, its value)",
            ),
            _ => (1, 1, "1 argument"),
        };
        let n = m.args.len();
        if n < min || n > max {
            let hint = if max == 1 && n > 1 {
                format!(
                    "; Traefik v3 takes one value per matcher: combine them, \
                     e.g. {name}(`a`) || {name}(`b`)"
                )
            } else {
                String::new()
            };
            return fail(format!("{name} {here} takes {what}, got {n}{hint}"));
        }
        if let Some(i) = m.args.iter().position(String::is_empty) {
            return fail(format!("argument {} of {name} {here} is empty", i + 1));
        }
        let value = &m.args[0];
        match name {
            "Path" | "PathPrefix" if !value.starts_with('/') => fail(format!(
                "{name} {here}: value {value:?} must start with `/`"
            )),
            "Host" if !value.is_ascii() => fail(format!(
                "Host {here}: value {value:?} has non-ASCII characters; write \
                 internationalized names in their punycode form (xn--...)"
            )),
            "ClientIP" if !is_ip_or_cidr(value) => fail(format!(
                "ClientIP {here}: {value:?} is not an IP address or CIDR range \
                 (e.g. 192.168.1.7, 10.0.0.0/8, fd00::/8)"
            )),
            _ => Ok(()),
        }
    }
}

fn is_word_operator(word: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|op| op.eq_ignore_ascii_case(word))
}

fn is_ip_or_cidr(value: &str) -> bool {
    match value.split_once('/') {
        None => value.parse::<IpAddr>().is_ok(),
        Some((ip, bits)) => {
            let Ok(ip) = ip.parse::<IpAddr>() else {
                return false;
            };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
        }
    }
}

#[cfg(test)]
mod tests;

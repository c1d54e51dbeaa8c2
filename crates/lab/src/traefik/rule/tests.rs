use super::*;

fn error(rule: &str) -> String {
    match parse(rule) {
        Ok(e) => panic!("{rule:?} parsed as {e:?}"),
        Err(e) => e.message,
    }
}

fn matcher(name: &'static str, args: &[&str], column: usize) -> Expr {
    Expr::Matcher(Matcher {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        position: Position { line: 1, column },
    })
}

#[test]
fn parses_complex_rule_with_precedence() {
    let e = parse("Host(`a`) && (PathPrefix(`/x`) || !Method(`POST`))").unwrap();
    assert_eq!(
        e,
        Expr::And(
            Box::new(matcher("Host", &["a"], 1)),
            Box::new(Expr::Or(
                Box::new(matcher("PathPrefix", &["/x"], 15)),
                Box::new(Expr::Not(Box::new(matcher("Method", &["POST"], 36)))),
            )),
        )
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let e = parse("Host(`a`) || Host(`b`) && Path(`/c`)").unwrap();
    let Expr::Or(_, rhs) = e else { panic!("{e:?}") };
    assert!(matches!(*rhs, Expr::And(_, _)));
}

#[test]
fn accepts_what_traefik_3_7_accepts() {
    // Each of these was loaded as "enabled" by a real Traefik 3.7.
    for rule in [
        "Header(`X-A`, `b`)",
        "Host(\"a\")",
        "host(`a`)",
        "HOST(`a`) && pathprefix(`/x`)",
        "!(Host(`a`) || Host(`b`))",
        "Host(`a`) && !!Method(`GET`)",
        "Query(`k`)",
        "QueryRegexp(`k`)",
        "Query(`a`,`b`) && Method(`POST`)",
        "Host(`a`,)",
        "Host (`a`)",
        "Host(`a`)||Host(`b`)",
        " Host(`a`) ",
        "(Host(`a`))",
        "ClientIP(`10.0.0.0/8`)",
        "ClientIP(`::1`)",
        "Host(`*.example.com`)",
        "HostRegexp(`^a$`) && PathRegexp(`^/x`)",
        "Host(\"a\\tb\")",
        "Host(\"\\x41\")",
        "Host(\"\\101\")",
        "Host(`a`) ||\n Host(`b`)",
        "Host(`a`,\n)",
        "Host(`a`)\n",
        "Host(`a`)\r\n",
        "Host(`a`) &&\n!\nPath(`/x`)",
        "Host(\n`a`)",
        "Host(`a`) && Path(`/x`) // why",
        "Host(`a`)\t&&\tPath(`/x`)",
        "Method(\"GET\")\n\n",
    ] {
        assert!(parse(rule).is_ok(), "{rule:?}: {:?}", parse(rule));
    }
}

#[test]
fn case_insensitive_names_are_canonicalized() {
    let e = parse("pathprefix(`/x`)").unwrap();
    assert_eq!(e.matchers()[0].name, "PathPrefix");
}

#[test]
fn unterminated_backtick_points_at_the_opening_quote() {
    assert_eq!(error("Host(`x"), "unterminated backtick string at column 6");
    assert_eq!(
        error("Host(\"x"),
        "unterminated double-quoted string at column 6"
    );
}

#[test]
fn unclosed_parenthesis_points_at_it() {
    assert_eq!(
        error("Host(`x`"),
        "unclosed `(` of Host at column 5: expected `)` before the end of the rule"
    );
    assert!(error("((Host(`a`))")
        .starts_with("unclosed `(` at column 1: expected `)`, found the end of the rule"));
    assert_eq!(
        error("Host(`a`) )"),
        "unbalanced `)` at column 11: no `(` is open"
    );
}

#[test]
fn unknown_matcher_lists_known_ones_and_suggests() {
    assert_eq!(
        error("Hots(`x`)"),
        "unknown matcher \"Hots\" (known: Host, HostRegexp, Path, PathPrefix, PathRegexp, \
         Method, Header, HeaderRegexp, Query, QueryRegexp, ClientIP) at column 1; \
         did you mean Host?"
    );
    assert!(error("Host(`a`) && Headers(`a`, `b`)")
        .ends_with("at column 14; did you mean Header (Headers was renamed in Traefik v3)?"));
    assert!(!error("Frobnicate(`x`)").contains("did you mean"));
}

#[test]
fn wrong_argument_counts() {
    assert_eq!(
        error("Header(`X-A`)"),
        "Header at column 1 takes 2 arguments (header name and value), got 1"
    );
    assert_eq!(
        error("Host(`a`, `b`)"),
        "Host at column 1 takes 1 argument, got 2; Traefik v3 takes one value per \
         matcher: combine them, e.g. Host(`a`) || Host(`b`)"
    );
    assert!(error("Query(`a`, `b`, `c`)").starts_with("Query at column 1 takes 1 or 2 arguments"));
    assert_eq!(error("Host()"), "Host at column 1 takes 1 argument, got 0");
}

#[test]
fn value_checks_traefik_makes() {
    assert_eq!(error("Host(``)"), "argument 1 of Host at column 1 is empty");
    assert_eq!(
        error("Header(`X`, ``)"),
        "argument 2 of Header at column 1 is empty"
    );
    assert_eq!(
        error("Path(`x`)"),
        "Path at column 1: value \"x\" must start with `/`"
    );
    assert!(error("Host(`é`)").contains("non-ASCII"));
    assert!(error("Host(\"\\u00e9\")").contains("non-ASCII"));
    assert!(error("ClientIP(`bad`)").contains("is not an IP address or CIDR range"));
    assert!(error("ClientIP(`10.0.0.1/33`)").contains("is not an IP address"));
}

#[test]
fn operator_mistakes() {
    assert_eq!(
        error("Host(`a`) & Host(`b`)"),
        "single `&` at column 11: use `&&` for and"
    );
    assert_eq!(
        error("Host(`a`) and Host(`b`)"),
        "`and` at column 11 is not an operator: use `&&` (and), `||` (or), `!` (not)"
    );
    assert_eq!(
        error("Host(`a`) && and"),
        "`and` at column 14 is not an operator: use `&&` (and), `||` (or), `!` (not)"
    );
    assert_eq!(
        error("Host(`a`) &&"),
        "expected a matcher such as Host(`example.com`), `!` or `(`, found the end of the rule"
    );
    assert_eq!(
        error("Host(`a`) || ()"),
        "expected a matcher such as Host(`example.com`), `!` or `(`, found `)` at column 15"
    );
    assert_eq!(
        error("Host(`a`)Host(`b`)"),
        "unexpected `Host` at column 10: join matchers with `&&` or `||`"
    );
    assert!(error("Host(`a`) || Host(`b`) ||| Host(`c`)").contains("single `|` at column 26"));
    assert!(error("Host(`a`);").contains("unexpected `;` at column 10"));
    assert!(error("!").contains("found the end of the rule"));
    assert_eq!(
        error(""),
        "the rule is empty; write at least one matcher, e.g. Host(`example.com`)"
    );
    assert_eq!(error("   "), error(""));
}

#[test]
fn argument_mistakes() {
    assert!(error("Host('a')").starts_with("single-quoted value at column 6"));
    assert_eq!(
        error("Host(x)"),
        "argument 1 of Host at column 1 must be a quoted string (`value` or \"value\"), found `x` at column 6"
    );
    assert!(error("Host((\"a\"))").contains("must be a quoted string"));
    assert_eq!(
        error("Host(`a` `b`)"),
        "expected `,` or `)` after argument 1 of Host at column 1, found the string \"b\" at column 10"
    );
    assert_eq!(
        error("Host"),
        "Host at column 1 needs its value in parentheses, e.g. Host(`...`), found the end of the rule"
    );
    assert!(error("Host(\"a\\qb\")")
        .starts_with("invalid escape sequence `\\q` in double-quoted string at column 8"));
    assert!(error("Host(\"\\x4\")").contains("`\\x4\"`"));
    assert!(error("Host(\"\\777\")").contains("invalid escape"));
}

#[test]
fn line_breaks_follow_go_semicolon_rules() {
    // Traefik 3.7 rejects both of these, for the reason the messages give.
    let e = error("Host(`a`)\n&& Path(`/x`)");
    assert!(
        e.starts_with("the line break at line 1, column 10 ends the rule, so `&&` at line 2, column 1 is left over"),
        "{e}"
    );
    let e = error("Host(\n`a`\n)");
    assert!(
        e.starts_with(
            "missing `,` before the line break at line 2, column 4 in the arguments of Host"
        ),
        "{e}"
    );
    let e = error("(\nHost(`a`)\n)");
    assert!(e.contains("found a line break at line 2, column 10"), "{e}");
}

#[test]
fn decodes_escapes_and_raw_strings() {
    let e = parse("Header(\"X-A\\\"\", `b\\n`)").unwrap();
    assert_eq!(e.matchers()[0].args, vec!["X-A\"", "b\\n"]);
    let e = parse("Host(\"\\u0041\\U00000042\\x43\\104\")").unwrap();
    assert_eq!(e.matchers()[0].args, vec!["ABCD"]);
}

//! The module runtime: what every `tabiri.homelab` binary does around its own logic.
//!
//! Ansible runs `<binary> <tmpdir>/args`, where `args` is the task's options as JSON
//! plus internal `_ansible_*` keys, and reads exactly one JSON object from stdout
//! (ANSIBLE.md in shared/ has the whole contract). [`main`] does that:
//!
//! 1. reads the args file named by argv[1] and splits off the `_ansible_*` keys
//!    (`_ansible_check_mode`, `_ansible_diff`, `_ansible_no_log`; unknown ones ignored);
//! 2. collects the values of `no_log` options, then checks the options against the
//!    module's [`Spec`] ([`args::check`]: types, required, defaults, choices, groups);
//! 3. runs the module with a [`Ctx`];
//! 4. prints `{changed, failed, msg, diff?, warnings?, invocation: {module_args}, ...}`
//!    with every `no_log` value scrubbed from every string, and exits 0, or 1 on failure.
//!
//! A panic anywhere in 2-3 is printed as `{"failed": true, "msg": "module crashed: ..."}`,
//! secrets scrubbed: caught by [`execute`] where panics unwind (tests), written by the panic
//! hook itself where they abort (the `module` profile, which saves the unwinding machinery).

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::args::{self, Params, Spec};

/// What `invocation.module_args` shows instead of a `no_log` option's value.
pub const NO_LOG_PLACEHOLDER: &str = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER";
/// What a `no_log` value inside a longer string becomes.
pub const NO_LOG_MASK: &str = "********";

/// A module: its spec and its logic.
pub struct Module {
    pub spec: fn() -> Spec,
    pub run: fn(&mut Ctx) -> Result<Outcome, Failure>,
}

/// What a module's logic gets.
pub struct Ctx {
    pub params: Params,
    /// `_ansible_check_mode`: report what would change, change nothing.
    pub check_mode: bool,
    /// `_ansible_diff`: the diff is printed (modules may always return one).
    pub diff: bool,
    warnings: Vec<String>,
    secrets: Vec<String>,
}

impl Ctx {
    pub fn new(params: Params, check_mode: bool, diff: bool) -> Self {
        Ctx {
            params,
            check_mode,
            diff,
            warnings: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Adds a warning shown by Ansible after the task.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Adds a value to scrub from all output, beside the `no_log` options' values (for
    /// secrets found inside other options, such as a URL's password).
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if !secret.is_empty() {
            self.secrets.push(secret);
        }
    }
}

/// A file diff, as Ansible prints it with `--diff`.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub before: String,
    pub after: String,
    pub before_header: String,
    pub after_header: String,
}

impl Diff {
    /// A diff of one file (`None`: the file does not exist, shown as empty).
    pub fn file(path: &str, before: Option<&str>, after: Option<&str>) -> Self {
        Diff {
            before: before.unwrap_or_default().to_owned(),
            after: after.unwrap_or_default().to_owned(),
            before_header: path.to_owned(),
            after_header: path.to_owned(),
        }
    }
}

/// A successful run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub changed: bool,
    pub msg: String,
    pub diff: Option<Diff>,
    /// The module's own return values.
    pub values: Map<String, Value>,
}

/// A failed run. `changed` is true when something was changed before the failure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Failure {
    pub msg: String,
    pub changed: bool,
    pub diff: Option<Box<Diff>>,
    pub values: Map<String, Value>,
}

impl Failure {
    pub fn new(msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            ..Failure::default()
        }
    }
}

impl From<lab::Error> for Failure {
    fn from(e: lab::Error) -> Self {
        Failure::new(e.to_string())
    }
}

/// The binary's `main`: runs `module` on the args file named in argv[1], prints the
/// result and exits with 0 (success) or 1 (failure).
pub fn main(module: &Module) -> ! {
    install_panic_hook();
    let argv: Vec<OsString> = std::env::args_os().collect();
    let (output, code) = execute(module, &argv);
    print_and_exit(&output, code)
}

/// Prints the one JSON result and exits with `code`.
fn print_and_exit(output: &Value, code: i32) -> ! {
    let mut text = serde_json::to_string(output).unwrap_or_else(|_| {
        r#"{"failed": true, "changed": false, "msg": "module output could not be serialised"}"#
            .to_owned()
    });
    text.push('\n');
    let mut stdout = std::io::stdout().lock();
    // Nothing useful is left to do if stdout is gone.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
    std::process::exit(code)
}

/// Where the last panic happened, kept by the hook for the crash message.
static PANIC_LOCATION: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// What a crash report may show, kept where the panic hook can reach it.
    static STATE: RefCell<State> = RefCell::default();
}

/// What survives a panic: the secrets to scrub and the invocation to show.
#[derive(Default)]
struct State {
    secrets: Vec<String>,
    invocation: Option<Value>,
}

fn update_state(f: impl FnOnce(&mut State)) {
    STATE.with(|s| f(&mut s.borrow_mut()));
}

/// Takes this thread's state, leaving an empty one (also when it is borrowed or gone,
/// which only a panic inside `update_state` could cause).
fn take_state() -> State {
    STATE
        .try_with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// Replaces the default hook, which prints to stderr (where a secret in a panic message
/// could be seen). Where panics unwind it notes the location for [`execute`]'s report;
/// where they abort nothing would reach [`execute`], so it prints the report and exits.
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|loc| format!("{}:{}", loc.file(), loc.line()));
        if cfg!(panic = "abort") {
            let state = take_state();
            // Without the module's context (a panic before the options were read, or on
            // another thread) the secrets are unknown, so the panic's own text, which
            // might hold one, is left out.
            let message = match (&state.invocation, info.payload_as_str()) {
                (Some(_), Some(text)) => text,
                (Some(_), None) => "panic with a non-text payload",
                (None, _) => "panic before the options were read or on another thread",
            };
            let (output, code) = finish(
                crash_report(message, location, state.invocation),
                &state.secrets,
            );
            print_and_exit(&output, code);
        }
        if let Ok(mut slot) = PANIC_LOCATION.lock() {
            *slot = location;
        }
    }));
}

/// Runs `module` for `argv` (`argv[1]`: the args file) and returns the JSON object to
/// print and the exit code. Never panics.
pub fn execute(module: &Module, argv: &[OsString]) -> (Value, i32) {
    take_state(); // a fresh start for each run on this thread
    let result = panic::catch_unwind(AssertUnwindSafe(|| run(module, argv)));
    let state = take_state();
    let output = match result {
        Ok(output) => output,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("panic with a non-text payload");
            let location = PANIC_LOCATION.lock().ok().and_then(|mut l| l.take());
            crash_report(message, location, state.invocation)
        }
    };
    finish(output, &state.secrets)
}

/// The failure a panic becomes (its secrets are scrubbed by [`finish`]).
fn crash_report(
    message: &str,
    location: Option<String>,
    invocation: Option<Value>,
) -> Map<String, Value> {
    let location = location.map(|l| format!(" at {l}")).unwrap_or_default();
    let mut out = failed(format!(
        "module crashed: {message}{location}; this is a bug in tabiri.homelab, please report it"
    ));
    if let Some(invocation) = invocation {
        out.insert("invocation".into(), invocation);
    }
    out
}

/// Scrubs the secrets from a result and returns it with its exit code.
fn finish(mut output: Map<String, Value>, secrets: &[String]) -> (Value, i32) {
    scrub(&mut output, secrets);
    let failed = output
        .get("failed")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    (Value::Object(output), i32::from(failed))
}

fn failed(msg: String) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("failed".into(), true.into());
    out.insert("changed".into(), false.into());
    out.insert("msg".into(), msg.into());
    out
}

/// The internal settings Ansible sends along with the options.
struct Internal {
    check_mode: bool,
    diff: bool,
    no_log: bool,
}

fn run(module: &Module, argv: &[OsString]) -> Map<String, Value> {
    let spec = (module.spec)();
    let Some(path) = argv.get(1) else {
        return failed(format!(
            "{} is an Ansible module: run it as `{} <args.json>`, where the file holds the \
             task's options as a JSON object",
            spec.full_name(),
            spec.module
        ));
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return failed(format!(
                "cannot read the module arguments from {}: {e}",
                path.to_string_lossy()
            ))
        }
    };
    let mut raw = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return failed("the module arguments must be a JSON object".into()),
        Err(e) => return failed(format!("the module arguments are not valid JSON: {e}")),
    };
    // The form Python modules get, accepted for convenience when run by hand.
    if raw.len() == 1 {
        if let Some(Value::Object(inner)) = raw.get("ANSIBLE_MODULE_ARGS") {
            raw = inner.clone();
        }
    }
    let (internal, user) = split_internal(raw);
    let shown = invocation(&spec, &user, internal.no_log);
    update_state(|state| {
        state.secrets = args::no_log_values(&spec, &user);
        state.invocation = Some(shown.clone());
    });

    let checked = args::check(&spec, &user);
    let params = match checked.params {
        Ok(p) => p,
        Err(msg) => {
            let mut out = failed(msg);
            if !checked.warnings.is_empty() {
                out.insert("warnings".into(), checked.warnings.into());
            }
            out.insert("invocation".into(), shown);
            return out;
        }
    };
    let shown_args: Map<String, Value> = params
        .all()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let shown = invocation(&spec, &shown_args, internal.no_log);
    update_state(|state| state.invocation = Some(shown.clone()));

    let mut ctx = Ctx::new(params, internal.check_mode, internal.diff);
    ctx.warnings = checked.warnings;
    let result = (module.run)(&mut ctx);
    update_state(|state| state.secrets.append(&mut ctx.secrets));

    let (mut out, diff, values) = match result {
        Ok(o) => {
            let mut out = Map::new();
            out.insert("failed".into(), false.into());
            out.insert("changed".into(), o.changed.into());
            out.insert("msg".into(), o.msg.into());
            (out, o.diff, o.values)
        }
        Err(f) => {
            let mut out = failed(f.msg);
            out.insert("changed".into(), f.changed.into());
            (out, f.diff.map(|d| *d), f.values)
        }
    };
    if let Some(d) = diff.filter(|_| ctx.diff && !internal.no_log) {
        let mut m = Map::new();
        m.insert("before".into(), d.before.into());
        m.insert("after".into(), d.after.into());
        m.insert("before_header".into(), d.before_header.into());
        m.insert("after_header".into(), d.after_header.into());
        out.insert("diff".into(), Value::Object(m));
    }
    if !ctx.warnings.is_empty() {
        out.insert("warnings".into(), std::mem::take(&mut ctx.warnings).into());
    }
    for (k, v) in values {
        // The fixed keys win over a return value of the same name.
        out.entry(k).or_insert(v);
    }
    out.insert("invocation".into(), shown);
    out
}

fn split_internal(raw: Map<String, Value>) -> (Internal, Map<String, Value>) {
    let mut internal = Internal {
        check_mode: false,
        diff: false,
        no_log: false,
    };
    let mut user = Map::new();
    for (k, v) in raw {
        let flag = || args_bool(&v);
        match k.as_str() {
            "_ansible_check_mode" => internal.check_mode = flag(),
            "_ansible_diff" => internal.diff = flag(),
            "_ansible_no_log" => internal.no_log = flag(),
            // _ansible_verbosity, _ansible_version, _ansible_tmpdir, ... and keys newer
            // Ansible releases add.
            _ if k.starts_with("_ansible_") => {}
            _ => {
                user.insert(k, v);
            }
        }
    }
    (internal, user)
}

fn args_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "yes" | "on" | "1" | "true" | "t"
        ),
        Value::Number(n) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// `{"module_args": ...}` with `no_log` options (every option, with `_ansible_no_log`)
/// replaced by the placeholder.
fn invocation(spec: &Spec, args: &Map<String, Value>, task_no_log: bool) -> Value {
    let shown: Map<String, Value> = args
        .iter()
        .map(|(k, v)| {
            let hide = task_no_log || spec.option(k).is_some_and(|o| o.no_log);
            let v = if hide && !v.is_null() {
                Value::String(NO_LOG_PLACEHOLDER.into())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let mut inv = Map::new();
    inv.insert("module_args".into(), Value::Object(shown));
    Value::Object(inv)
}

/// Ansible's `remove_values`: a string (or scalar) equal to a secret becomes the
/// placeholder, a secret inside a longer string becomes `********`; map keys too.
pub fn scrub(output: &mut Map<String, Value>, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    // Longest first, so a secret that contains another is masked whole.
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let taken = std::mem::take(output);
    *output = scrub_map(taken, &secrets);
}

fn scrub_map(map: Map<String, Value>, secrets: &[&str]) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| (scrub_str(&k, secrets), scrub_value(v, secrets)))
        .collect()
}

fn scrub_value(v: Value, secrets: &[&str]) -> Value {
    match v {
        Value::String(s) => Value::String(scrub_str(&s, secrets)),
        Value::Number(_) | Value::Bool(_) if secrets.contains(&v.to_string().as_str()) => {
            Value::String(NO_LOG_PLACEHOLDER.into())
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|i| scrub_value(i, secrets)).collect())
        }
        Value::Object(map) => Value::Object(scrub_map(map, secrets)),
        other => other,
    }
}

fn scrub_str(s: &str, secrets: &[&str]) -> String {
    if secrets.contains(&s) {
        return NO_LOG_PLACEHOLDER.to_owned();
    }
    let mut out = s.to_owned();
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, NO_LOG_MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Opt, Type};
    use serde_json::json;

    fn spec() -> Spec {
        Spec::new(
            "demo",
            vec![
                Opt::new("name", Type::STR).required(),
                Opt::new("retries", Type::INT).default(json!(0)),
                Opt::new("password", Type::STR).no_log(),
                Opt::new("crash", Type::BOOL).default(json!(false)),
            ],
        )
    }

    /// Writes a file when not in check mode; echoes everything it got, including the
    /// password, so the test can see the scrubbing.
    fn demo(ctx: &mut Ctx) -> Result<Outcome, Failure> {
        let name = ctx.params.str("name").unwrap().to_owned();
        let password = ctx.params.str("password").unwrap_or_default().to_owned();
        if ctx.params.bool("crash") {
            panic!("boom with {password}");
        }
        if name == "fail" {
            return Err(Failure {
                msg: format!("login with {password} refused"),
                ..Failure::default()
            });
        }
        if !ctx.check_mode {
            std::fs::write(&name, b"written").unwrap();
        }
        ctx.warn(format!("the password is {password}"));
        let mut values = Map::new();
        values.insert(
            "echo".into(),
            json!({ "password": password, "list": [password.clone(), "x"] }),
        );
        values.insert(password.clone(), json!("key"));
        values.insert("changed".into(), json!("not allowed to override"));
        Ok(Outcome {
            changed: true,
            msg: format!("wrote {name} for user:{password}@host"),
            diff: Some(Diff::file(&name, None, Some(&password))),
            values,
        })
    }

    const DEMO: Module = Module { spec, run: demo };

    fn exec(args: Value) -> (Value, i32) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("args");
        std::fs::write(&path, args.to_string()).unwrap();
        execute(&DEMO, &["demo".into(), path.into_os_string()])
    }

    #[test]
    fn success_prints_one_object_with_invocation_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let (out, code) = exec(json!({
            "name": target.to_str().unwrap(), "retries": "2",
            "_ansible_check_mode": false, "_ansible_verbosity": 3, "_ansible_some_new_key": {},
        }));
        assert_eq!(code, 0);
        assert_eq!(out["failed"], false);
        assert_eq!(out["changed"], true);
        assert_eq!(
            out["invocation"]["module_args"],
            json!({"name": target.to_str().unwrap(), "retries": 2, "password": null, "crash": false})
        );
        assert!(out.get("diff").is_none(), "no diff without _ansible_diff");
        assert_eq!(out["echo"]["list"], json!(["", "x"]));
        assert!(target.exists());
    }

    #[test]
    fn check_mode_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let (out, code) = exec(json!({
            "name": target.to_str().unwrap(), "_ansible_check_mode": true, "_ansible_diff": true,
        }));
        assert_eq!(code, 0);
        assert_eq!(out["changed"], true);
        assert!(!target.exists());
        assert_eq!(out["diff"]["after_header"], target.to_str().unwrap());
    }

    #[test]
    fn no_log_values_are_scrubbed_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let (out, code) = exec(json!({
            "name": target.to_str().unwrap(), "password": "s3cret!",
            "_ansible_diff": true, "_ansible_check_mode": true,
        }));
        assert_eq!(code, 0);
        let text = out.to_string();
        assert!(!text.contains("s3cret!"), "{text}");
        assert_eq!(
            out["invocation"]["module_args"]["password"],
            NO_LOG_PLACEHOLDER
        );
        assert_eq!(
            out["msg"],
            format!("wrote {} for user:********@host", target.display())
        );
        assert_eq!(out["warnings"], json!(["the password is ********"]));
        assert_eq!(out["diff"]["after"], NO_LOG_PLACEHOLDER);
        assert_eq!(out["echo"]["password"], NO_LOG_PLACEHOLDER);
        assert_eq!(out["echo"]["list"][0], NO_LOG_PLACEHOLDER);
        assert_eq!(out[NO_LOG_PLACEHOLDER], "key");
        assert_eq!(out["changed"], true, "return values never override changed");
    }

    #[test]
    fn no_log_values_are_scrubbed_from_validation_errors_and_failures() {
        let (out, code) = exec(json!({"password": "hunter2", "retries": "hunter2"}));
        assert_eq!(code, 1);
        let text = out.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(
            out["msg"],
            "missing required arguments: name; argument 'retries' is of type str and we were \
             unable to convert to int: \"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER\" is not a whole number"
                .replace("\"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER\"", "\"********\"")
        );
        let (out, code) = exec(json!({"name": "fail", "password": "hunter2"}));
        assert_eq!(code, 1);
        assert_eq!(out["failed"], true);
        assert_eq!(out["msg"], "login with ******** refused");
    }

    #[test]
    fn task_no_log_hides_all_arguments_and_the_diff() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let (out, _) = exec(json!({
            "name": target.to_str().unwrap(), "_ansible_no_log": true, "_ansible_diff": true,
        }));
        assert_eq!(out["invocation"]["module_args"]["name"], NO_LOG_PLACEHOLDER);
        assert_eq!(out["invocation"]["module_args"]["password"], Value::Null);
        assert!(out.get("diff").is_none());
    }

    #[test]
    fn unknown_options_are_rejected_by_name() {
        let (out, code) = exec(json!({"name": "x", "foo": 1}));
        assert_eq!(code, 1);
        assert_eq!(
            out["msg"],
            "Unsupported parameters for (tabiri.homelab.demo) module: foo. Supported \
             parameters include: crash, name, password, retries."
        );
        assert_eq!(
            out["invocation"]["module_args"],
            json!({"name": "x", "foo": 1})
        );
    }

    #[test]
    fn a_panic_becomes_a_failure_with_secrets_scrubbed() {
        let (out, code) = exec(json!({"name": "x", "crash": true, "password": "pw-123"}));
        assert_eq!(code, 1);
        assert_eq!(out["failed"], true);
        let msg = out["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("module crashed: boom with ********"),
            "{msg}"
        );
        assert!(!out.to_string().contains("pw-123"));
        assert_eq!(out["invocation"]["module_args"]["name"], "x");
    }

    #[test]
    fn bad_args_files_are_failures_not_crashes() {
        let (out, code) = execute(&DEMO, &["demo".into()]);
        assert_eq!(code, 1);
        assert!(out["msg"]
            .as_str()
            .unwrap()
            .contains("run it as `demo <args.json>`"));
        let (out, code) = execute(&DEMO, &["demo".into(), "/nonexistent/args".into()]);
        assert_eq!(code, 1);
        assert!(out["msg"]
            .as_str()
            .unwrap()
            .starts_with("cannot read the module arguments from /nonexistent/args"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("args");
        std::fs::write(&path, "name=x").unwrap();
        let (out, _) = execute(&DEMO, &["demo".into(), path.clone().into_os_string()]);
        assert!(out["msg"]
            .as_str()
            .unwrap()
            .starts_with("the module arguments are not valid JSON"));
        std::fs::write(
            &path,
            r#"{"ANSIBLE_MODULE_ARGS": {"name": "x", "_ansible_check_mode": true}}"#,
        )
        .unwrap();
        let (out, code) = execute(&DEMO, &["demo".into(), path.into_os_string()]);
        assert_eq!(code, 0, "{out}");
    }

    #[test]
    fn scrub_masks_longest_secret_first_and_scalars() {
        let mut m = Map::new();
        m.insert("a".into(), json!("abc-abcdef"));
        m.insert("n".into(), json!(1234));
        scrub(&mut m, &["abc".into(), "abcdef".into(), "1234".into()]);
        assert_eq!(m["a"], "********-********");
        assert_eq!(m["n"], NO_LOG_PLACEHOLDER);
    }
}

//! A module that panics with its `no_log` option in the panic message: built with the
//! `module` profile (where panics abort) by `tests/crash_report.rs`, to show that a crash
//! in a shipped binary is still one JSON failure with the secret scrubbed. Not shipped.

use serde_json::json;
use tabiri_homelab_modules::args::{Opt, Spec, Type};
use tabiri_homelab_modules::runtime::{self, Ctx, Failure, Module, Outcome};

fn spec() -> Spec {
    Spec::new(
        "crashing_module",
        vec![
            Opt::new("name", Type::STR).required(),
            Opt::new("password", Type::STR).no_log(),
            Opt::new("on_thread", Type::BOOL).default(json!(false)),
        ],
    )
}

fn crash(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let password = ctx.params.str("password").unwrap_or_default().to_owned();
    if ctx.params.bool("on_thread") {
        let worker = std::thread::spawn(move || panic!("worker saw {password}"));
        let _ = worker.join();
        unreachable!("a panic aborts the process");
    }
    panic!("boom with {password}");
}

fn main() {
    runtime::main(&Module { spec, run: crash })
}

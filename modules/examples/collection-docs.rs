//! Writes the collection's generated files from each module's definition
//! ([`tabiri_homelab_modules::docs`]):
//!
//!   cargo run -p tabiri-homelab-modules --example collection-docs -- <plugins dir>
//!
//! `<plugins dir>/modules/<name>.yml` (sidecar docs) and `<plugins dir>/action/<name>.py`
//! for every module. Those two kinds of file are wholly generated, so any other `*.yml` in
//! `modules/` or `*.py` in `action/` is a removed module's and is deleted. An example and
//! not a bin: the collection build packs every `src/bin/<name>.rs` that has sidecar docs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tabiri_homelab_modules::docs::{self, MODULES};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: collection-docs <plugins dir>   (e.g. modules/plugins)");
        return ExitCode::from(2);
    };
    match write_all(Path::new(out)) {
        Ok(n) => {
            println!("wrote the docs and action plugins of {n} modules into {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("collection-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &Path) -> std::io::Result<usize> {
    let docs_dir = out.join("modules");
    let action_dir = out.join("action");
    let mut written = BTreeSet::new();
    for (spec, documentation) in MODULES {
        let spec = spec();
        let name = spec.module;
        let yml = docs_dir.join(format!("{name}.yml"));
        let py = action_dir.join(format!("{name}.py"));
        write(&yml, &docs::sidecar(&spec, &documentation()))?;
        write(&py, &docs::action_plugin(name))?;
        written.extend([yml, py]);
    }
    remove_others(&docs_dir, "yml", &written)?;
    remove_others(&action_dir, "py", &written)?;
    Ok(MODULES.len())
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
    std::fs::write(path, text).map_err(|e| annotate(path, e))
}

fn remove_others(dir: &Path, ext: &str, keep: &BTreeSet<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| annotate(dir, e))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == ext) && !keep.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| annotate(&path, e))?;
            println!("removed {} (no such module)", path.display());
        }
    }
    Ok(())
}

fn annotate(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

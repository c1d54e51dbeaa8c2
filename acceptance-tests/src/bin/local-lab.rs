//! `local-lab DIR`: starts the local Tabiri lab (`acceptance_tests::lab`) for `make demo`,
//! writes `DIR/lab.tfvars.json` for `terraform apply -var-file`, then `DIR/lab.ready`, and
//! keeps the lab up until `DIR/lab.stop` appears (`make demo-stop`) or DIR is removed. On the
//! way out every container, engine, namespace and process it started is removed.

use std::path::PathBuf;
use std::time::Duration;

use acceptance_tests::lab::{LocalLab, Ports};

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: local-lab DIR");
        std::process::exit(2);
    };
    let stop = dir.join("lab.stop");
    let ready = dir.join("lab.ready");
    let _ = std::fs::remove_file(&stop);
    let _ = std::fs::remove_file(&ready);
    let lab = LocalLab::start(&dir, Ports::from_env());
    let vars = lab.write_vars();
    let summary: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("{} {} {} {}", h.name, h.kind, h.zone, h.ssh.address))
        .collect();
    std::fs::write(&ready, summary.join("\n") + "\n").expect("lab.ready");
    eprintln!("lab up; variables in {}", vars.display());
    // A removed DIR ends the lab too: nobody could ask it to stop any more.
    while !stop.exists() && dir.exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(&ready);
    drop(lab);
    let _ = std::fs::remove_file(&stop);
    eprintln!("lab stopped");
}

//! A harness for acceptance tests that drive the real `terraform` binary against the
//! freshly built provider, with the steps users know from terraform-plugin-testing:
//! apply, expect an empty plan, import, expect an update or a replacement, destroy.
//! Assertions read `terraform show -json`.

pub mod ansible;
pub mod ansible_fixtures;
pub mod docker;
pub mod fakepve;
pub mod hcl;
pub mod http;
pub mod lab;
pub mod moto;
pub mod netbird;
pub mod procs;
pub mod prometheus;
pub mod ssh_hosts;
pub mod stats;
pub mod traefik;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

/// The repository root (this crate lives one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("acceptance-tests sits inside the repository")
        .to_path_buf()
}

/// The names in `dir`, sorted (none when it does not exist).
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A tool installed by `scripts/setup.sh` into `.tools/bin`, or found on PATH.
pub fn tool(name: &str) -> PathBuf {
    let local = repo_root().join(".tools/bin").join(name);
    if local.exists() {
        return local;
    }
    PathBuf::from(name)
}

/// The Terraform a run tests against, picked by `HOMELAB_TF`: `1.11` (the default: what
/// users run, the machine image's build) or `1.0.3` (the floor). `scripts/setup.sh` links
/// both into `.tools/bin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terraform {
    Current,
    Floor,
}

impl Terraform {
    /// The one setting: `HOMELAB_TF`. Anything else than the two names is a mistake, not a
    /// silent fallback.
    pub fn under_test() -> Self {
        match std::env::var("HOMELAB_TF").as_deref() {
            Err(_) | Ok("") | Ok("1.11") => Terraform::Current,
            Ok("1.0.3") => Terraform::Floor,
            Ok(other) => panic!("HOMELAB_TF={other:?}: use 1.11 (the default) or 1.0.3"),
        }
    }

    /// The binary: `.tools/bin/terraform-1.11` or `.tools/bin/terraform-1.0.3`.
    pub fn binary(self) -> PathBuf {
        let name = match self {
            Terraform::Current => "terraform-1.11",
            Terraform::Floor => "terraform-1.0.3",
        };
        let path = repo_root().join(".tools/bin").join(name);
        assert!(
            path.exists(),
            "{} is missing: run scripts/setup.sh core",
            path.display()
        );
        path
    }

    /// `Terraform v1.11.4`, as the binary says it (for what benches print).
    pub fn version_line(self) -> String {
        let out = Command::new(self.binary())
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("terraform version");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Whether this Terraform has write-only attributes, ephemeral resources and `import`
    /// blocks (1.11); the floor has none of them.
    pub fn is_current(self) -> bool {
        self == Terraform::Current
    }
}

/// The Terraform binary under test (see [`Terraform::under_test`]).
pub fn terraform() -> PathBuf {
    Terraform::under_test().binary()
}

/// The directory holding the provider binary under test (`HOMELAB_PROVIDER_DIR`, or the
/// workspace's debug build, which `make test` builds first).
pub fn provider_dir() -> PathBuf {
    let dir = std::env::var_os("HOMELAB_PROVIDER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug"));
    let binary = dir.join("terraform-provider-homelab");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p terraform-provider-homelab` first",
        binary.display()
    );
    // Terraform's dev_overrides take absolute paths only.
    dir.canonicalize().expect("the provider directory")
}

/// The actions of one planned resource change, as `terraform show -json` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub address: String,
    pub actions: Vec<String>,
}

/// One Terraform working directory with its own CLI config, state and variables.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    cli_config: PathBuf,
    vars: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("homelab-acc-")
            .tempdir()
            .expect("temp dir");
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"tabiri/homelab\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir().display()
            ),
        )
        .expect("write CLI config");
        Self {
            dir,
            cli_config,
            vars: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A workspace that can also `terraform init` hashicorp/null 2.1.2 from the filesystem
    /// mirror `scripts/setup.sh` fills (`TF_NULL_PROVIDER_MIRROR`): the Go peer for benches.
    pub fn with_null_provider() -> Self {
        let ws = Self::new();
        let mirror = std::env::var("TF_NULL_PROVIDER_MIRROR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".tools/tf-mirror"));
        assert!(
            mirror.join("registry.terraform.io/hashicorp/null").is_dir(),
            "no hashicorp/null in {}: run scripts/setup.sh core",
            mirror.display()
        );
        std::fs::write(
            &ws.cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"tabiri/homelab\" = \"{}\"\n  }}\n  \
                 filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"hashicorp/null\"]\n  }}\n}}\n",
                provider_dir().display(),
                mirror.display()
            ),
        )
        .expect("write CLI config");
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn var(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value.into()));
        self
    }

    pub fn env(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Replaces the configuration (`main.tf`).
    pub fn config(&self, hcl: &str) -> &Self {
        std::fs::write(self.path().join("main.tf"), hcl).expect("write main.tf");
        self
    }

    /// The terraform command for `args` in this workspace, to run it as the caller needs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(terraform());
        command
            .current_dir(self.path())
            .args(args)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG");
        for (name, value) in &self.vars {
            command.env(format!("TF_VAR_{name}"), value);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs terraform and returns its output whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run terraform {args:?}: {e}"));
        if std::env::var_os("ACC_VERBOSE").is_some() {
            eprintln!(
                "$ terraform {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output
    }

    /// Starts terraform in the background, its output going to `command.log` in the
    /// workspace (for faults injected while it runs).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let log = std::fs::File::create(self.path().join("command.log")).expect("command.log");
        self.command(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run terraform {args:?}: {e}"))
    }

    /// Runs terraform and panics with its output unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        if !output.status.success() {
            panic!(
                "terraform {} failed ({}):\n{}\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs terraform, expects it to fail, and returns stdout+stderr to assert on.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !output.status.success(),
            "terraform {} should have failed but succeeded:\n{text}",
            args.join(" ")
        );
        text
    }

    /// Applies, and on Terraform 1.11 shows the state as people read it (`terraform show`):
    /// every state any test makes must print (Terraform 1.0.3 itself crashes on some, a
    /// sensitive value inside a nested block among them) and never print a secret there.
    pub fn apply(&self) -> String {
        let applied = self.apply_only();
        if Terraform::under_test().is_current() {
            self.ok(&["show", "-no-color"]);
        }
        applied
    }

    /// `terraform apply` alone, for benches that time it.
    pub fn apply_only(&self) -> String {
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn destroy(&self) -> String {
        self.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn validate(&self) -> Output {
        self.run(&["validate", "-no-color"])
    }

    pub fn import(&self, address: &str, id: &str) -> String {
        self.ok(&["import", "-input=false", "-no-color", address, id])
    }

    pub fn state_rm(&self, address: &str) -> String {
        self.ok(&["state", "rm", address])
    }

    /// The planned changes other than no-ops, read from the JSON form of a saved plan.
    pub fn plan_changes(&self) -> Vec<Change> {
        self.ok(&["plan", "-input=false", "-no-color", "-out=acc.tfplan"]);
        let json = self.ok(&["show", "-json", "acc.tfplan"]);
        let plan: Json = serde_json::from_str(&json).expect("plan JSON");
        plan["resource_changes"]
            .as_array()
            .map(|changes| {
                changes
                    .iter()
                    .map(|c| Change {
                        address: c["address"].as_str().unwrap_or_default().to_string(),
                        actions: c["change"]["actions"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .filter(|c| c.actions != ["no-op"] && c.actions != ["read"])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts that a plan right now would change no resource. (Output-only changes, as
    /// after `terraform import`, which does not record outputs, do not count.)
    pub fn expect_empty_plan(&self) {
        let changes = self.plan_changes();
        assert!(
            changes.is_empty(),
            "expected an empty plan, got: {changes:?}"
        );
    }

    /// Asserts the plan holds exactly these actions for `address`
    /// (`["update"]`, `["delete", "create"]`, `["create"]`...).
    pub fn expect_plan(&self, address: &str, actions: &[&str]) {
        let changes = self.plan_changes();
        let found = changes.iter().find(|c| c.address == address);
        assert_eq!(
            found.map(|c| c.actions.clone()),
            Some(actions.iter().map(|s| s.to_string()).collect()),
            "planned changes: {changes:?}"
        );
    }

    /// `terraform show -json` of the current state.
    pub fn state(&self) -> Json {
        serde_json::from_str(&self.ok(&["show", "-json"])).expect("state JSON")
    }

    /// The attribute values of one resource in state, or None when it is not there.
    pub fn resource(&self, address: &str) -> Option<Json> {
        let state = self.state();
        state["values"]["root_module"]["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
    }

    pub fn output(&self, name: &str) -> Json {
        let json = self.ok(&["output", "-json", name]);
        serde_json::from_str(&json).expect("output JSON")
    }
}

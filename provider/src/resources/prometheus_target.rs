//! `homelab_prometheus_target`: one Prometheus file_sd target file (`<file_sd_dir>/<job>.json`)
//! per resource, on the local machine or on a `host` over SSH. The capability (render,
//! read back, plan) is `lab::prometheus_target`, the same one the Ansible module
//! `tabiri.homelab.prometheus_target` uses, with the same argument names; the resource is
//! [`WholeFileResource`], and this file says what is a target file's own.

use std::path::{Path, PathBuf};

use lab::file_plan::{Action, MarkedPlan};
use lab::prometheus_target::{self as target, PrometheusTarget};
use tfplugin::cty::Type;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;

use super::whole_file::{WholeFile, WholeFileResource};
use crate::host;
use crate::kit::Definition;

pub const TYPE_NAME: &str = "homelab_prometheus_target";

pub type PrometheusTargetResource = WholeFileResource<PrometheusTargetFile>;

/// A Prometheus target file.
pub struct PrometheusTargetFile;

#[tfplugin::async_trait]
impl WholeFile for PrometheusTargetFile {
    type Args = PrometheusTarget;
    const TYPE_NAME: &'static str = TYPE_NAME;
    const NOUN: &'static str = "Prometheus target file";
    const LOCATION: [&'static str; 2] = ["job", "file_sd_dir"];
    const IMPORT_EXAMPLE: &'static str = "/etc/prometheus/file_sd/node.json";

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "Scrape targets for one Prometheus job, written as a file_sd file \
                 (`<file_sd_dir>/<job>.json`) that Prometheus re-reads when it changes, on this \
                 machine or on a `host` over SSH. Writes are atomic; a hand edit of the file shows \
                 up as drift in the next plan; an existing file is never overwritten by a create \
                 (import it instead).",
            invalid: "Invalid Prometheus target",
            requires_replace: &["job", "file_sd_dir"],
            outputs: vec![
                Attribute::computed("id", Type::String)
                    .description("The target file's absolute path: `file_sd_dir/job.json`."),
                host::content_sha256_attribute(),
            ],
            on_host: true,
            ..Definition::default()
        }
    }

    fn path(job: &str, file_sd_dir: &str) -> PathBuf {
        target::target_file_path(file_sd_dir, job)
    }

    fn file_path(args: &PrometheusTarget) -> PathBuf {
        args.file_path()
    }

    fn render(args: &PrometheusTarget) -> String {
        args.render()
    }

    fn plan(path: &Path, args: &PrometheusTarget, actual: Option<&[u8]>) -> MarkedPlan {
        target::plan(path, Some(args), actual)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<PrometheusTarget, String> {
        target::parse_target_file(path, bytes)
    }

    /// A create never adopts a file holding other targets, even one this provider wrote:
    /// another configuration may own it.
    fn refuse_create(plan: &MarkedPlan, host: &dyn lab::host::Host) -> Option<Diagnostics> {
        (plan.action == Action::Update).then(|| {
            Diagnostic::error(
                "The Prometheus target file exists",
                format!(
                    "{} on {} already holds other targets; import it (terraform import \
                     {TYPE_NAME}.<name> <path, or [user@]address[:port]:path>) or remove it",
                    plan.path.display(),
                    host.name()
                ),
            )
            .into()
        })
    }
}

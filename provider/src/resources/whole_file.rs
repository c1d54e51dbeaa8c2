//! The one adapter for resources that manage one whole file on a host (Traefik routes,
//! Prometheus targets): the file's path as `id`, its SHA-256 as `content_sha256`, a write
//! under lab's ownership rule (`lab::file_plan::MarkedPlan`: a file this provider did not
//! write is never overwritten by a create, the resource in state owns its path), drift
//! read back in the arguments' terms, removal, and import by path. A resource file says
//! only what is its own ([`WholeFile`]).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use lab::file_plan::{self, MarkedPlan, Ownership};
use lab::validation::Validate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;

use crate::kit::{Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

/// A capability that manages one whole file, as a resource.
#[tfplugin::async_trait]
pub trait WholeFile: Send + Sync + 'static {
    /// The capability's arguments (also what a file reads back as).
    type Args: DeserializeOwned + Serialize + JsonSchema + Validate + Send + Sync;
    const TYPE_NAME: &'static str;
    /// What the file is, in diagnostics: `Cannot write the <NOUN>`.
    const NOUN: &'static str;
    /// The two arguments that locate the file (`name`, `config_dir`).
    const LOCATION: [&'static str; 2];
    /// Computed attributes that hold the file's path as well as `id`.
    const PATH_ALIASES: &'static [&'static str] = &[];
    /// An example path for import errors.
    const IMPORT_EXAMPLE: &'static str;

    fn definition() -> Definition;
    /// The file's path from the two [`LOCATION`](Self::LOCATION) arguments.
    fn path(name: &str, dir: &str) -> PathBuf;
    /// The path of the file `args` manage.
    fn file_path(args: &Self::Args) -> PathBuf;
    fn render(args: &Self::Args) -> String;
    /// The change from `actual` (the file's bytes, `None`: no file) to `args`.
    fn plan(path: &Path, args: &Self::Args, actual: Option<&[u8]>) -> MarkedPlan;
    /// The arguments a file holds (refresh and import); `Err` says why it holds something
    /// else.
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self::Args, String>;

    /// Sets, in a state read back from the file, what the file does not hold, from `kept`
    /// (the plan or the prior state).
    fn carry_over(_state: &mut Value, _kept: &Value) {}

    /// Refuses a create that `plan` (from the file found, on `host`) would carry out, beyond
    /// the ownership rule; `None` lets it through.
    fn refuse_create(_plan: &MarkedPlan, _host: &dyn lab::host::Host) -> Option<Diagnostics> {
        None
    }

    /// What to do once the file is written (wait for the service reading it). An error
    /// here leaves the file written and recorded.
    async fn after_write(_args: &Self::Args, _op: &Op<'_, Self::Args>) -> Result<(), Diagnostics> {
        Ok(())
    }
}

/// A [`WholeFile`] as a resource.
pub struct WholeFileResource<F>(PhantomData<F>);

impl<F> Default for WholeFileResource<F> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// A lab error under `summary`.
pub fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

fn failed<F: WholeFile>(doing: &str, error: lab::Error) -> Diagnostics {
    lab_error(&format!("Cannot {doing} the {}", F::NOUN), error)
}

/// A failed write; one refused because a file this provider did not write is in the way
/// gets the import command that adopts it (`host` prefixes the path for a file over SSH).
fn write_error<F: WholeFile>(error: lab::Error, host: &dyn lab::host::Host) -> Diagnostics {
    let lab::Error::NotManaged { path, name, .. } = &error else {
        return failed::<F>("write", error);
    };
    let id = match host.name().strip_prefix("ssh ") {
        Some(remote) => format!("{remote}:{}", path.display()),
        None => path.display().to_string(),
    };
    Diagnostic::error(
        format!("Cannot write the {}", F::NOUN),
        format!("{error}: terraform import {}.{name} {id}", F::TYPE_NAME),
    )
    .into()
}

/// The state for `found` as read from its file; `kept` (plan, state or an import's
/// location) carries over what the file does not hold: the `host` block and
/// [`WholeFile::carry_over`].
fn state_from<F: WholeFile>(
    kit: &Kit,
    found: &F::Args,
    sha256: &str,
    kept: &Value,
) -> Result<Value, Diagnostics> {
    let path = F::file_path(found).display().to_string();
    let mut outputs = vec![("id", path.clone().into())];
    outputs.extend(F::PATH_ALIASES.iter().map(|a| (*a, path.clone().into())));
    outputs.push(("content_sha256", sha256.into()));
    let mut state = kit.state(found, &outputs, kept)?;
    F::carry_over(&mut state, kept);
    Ok(state)
}

impl<F: WholeFile> WholeFileResource<F> {
    /// Writes the file under `ownership`, then [`WholeFile::after_write`].
    async fn write(op: Op<'_, F::Args>, ownership: Ownership) -> Result<Applied, Failure> {
        let host = op.host().host.as_ref();
        let path = F::file_path(&op.args);
        // One read, the ownership rule judged on what it found, one write: the file cannot
        // change in between except by a race no re-read would close either.
        let bytes = host
            .read_file(&path)
            .await
            .map_err(|e| failed::<F>("write", e))?;
        let plan = F::plan(&path, &op.args, bytes.as_deref());
        if ownership == Ownership::RequireMark {
            if let Some(refused) = F::refuse_create(&plan, host) {
                return Err(Failure::Unchanged(refused));
            }
        }
        // Nothing was written, so nothing new exists: keep what state had before.
        let written = match plan.check(ownership) {
            Ok(()) => file_plan::apply_on(host, &plan.file_plan()).await,
            Err(e) => Err(e),
        };
        written.map_err(|e| write_error::<F>(e, host))?;
        match F::after_write(&op.args, &op).await {
            Ok(()) => Ok(op.planned.clone().into()),
            // The file is written and recorded; Terraform marks a new one tainted, so the
            // next apply writes it again once the cause is fixed.
            Err(diagnostics) => Err(Failure::Kept {
                state: op.planned.clone(),
                diagnostics,
            }),
        }
    }
}

#[tfplugin::async_trait]
impl<F: WholeFile> ManagedResource for WholeFileResource<F> {
    type Args = F::Args;

    fn definition() -> Definition {
        F::definition()
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        let planned = &mut change.planned;
        let [name, dir] = F::LOCATION.map(|a| planned.get_attr(a).and_then(Value::as_str));
        if let (Some(name), Some(dir)) = (name, dir) {
            let path = Value::String(F::path(name, dir).display().to_string());
            for attribute in std::iter::once(&"id").chain(F::PATH_ALIASES) {
                planned.set_attr(attribute, path.clone());
            }
        }
        let mut not_from_arguments = vec!["id", "content_sha256", "host", "host_public_key"];
        not_from_arguments.extend(F::PATH_ALIASES);
        if !planned.is_known_except(&not_from_arguments) {
            planned.set_attr("content_sha256", Value::unknown());
            return Diagnostics::new();
        }
        match kit.args::<F::Args>(planned) {
            Ok(desired) => {
                let rendered = F::render(&desired);
                let sha256 = lab::files::sha256_hex(rendered.as_bytes());
                planned.set_attr("content_sha256", Value::String(sha256));
                Diagnostics::new()
            }
            Err(errors) => errors,
        }
    }

    async fn create(&self, op: Op<'_, F::Args>) -> Result<Applied, Failure> {
        // A file this provider wrote but has no state for (say, state was lost) is adopted;
        // a foreign file is refused with a hint to import it.
        Self::write(op, Ownership::RequireMark).await
    }

    async fn update(&self, op: Op<'_, F::Args>) -> Result<Applied, Failure> {
        // The file is in state, so it is ours even if it was imported without our mark.
        Self::write(op, Ownership::Owned).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let Some(path) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Ok(());
        };
        // The file is in state, so it is ours to remove (Ownership::Owned); gone is fine.
        op.host()
            .host
            .remove_file(Path::new(path))
            .await
            .map(drop)
            .map_err(|e| failed::<F>("remove", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = current.state;
        let Some(path) = state.get_attr("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let path = Path::new(path);
        let bytes = match current.host().host.read_file(path).await {
            Ok(Some(bytes)) => bytes,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Ok(None),
            Err(e) => return Err(failed::<F>("read", e)),
        };
        let sha256 = lab::files::sha256_hex(&bytes);
        match F::parse(path, &bytes) {
            Ok(found) => state_from::<F>(current.kit, &found, &sha256, state).map(Some),
            // Not a file this resource would write any more: keep the recorded arguments
            // and let the changed hash drive an update that rewrites it.
            Err(_) => {
                let mut kept = state.clone();
                kept.set_attr("content_sha256", Value::String(sha256));
                Ok(Some(kept))
            }
        }
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let file = kit.import_file(id, F::IMPORT_EXAMPLE).await?;
        let found = F::parse(&file.path, &file.bytes).map_err(|reason| {
            Diagnostics::from(Diagnostic::error(
                format!("Cannot import the {}", F::NOUN),
                format!("cannot import {}: {reason}", file.path.display()),
            ))
        })?;
        let sha256 = lab::files::sha256_hex(&file.bytes);
        state_from::<F>(kit, &found, &sha256, &file.located)
    }
}

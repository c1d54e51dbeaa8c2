//! `homelab_proxmox_backup_job`: a scheduled vzdump job of the Proxmox VE cluster. The
//! capability (checks, the options sent and deleted, the answer read back) is
//! `lab::proxmox::backup_job`; this file maps Terraform values to it. Import by job ID.

use lab::proxmox::backup_job::{self as jobs, VzdumpJob};
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;

use crate::config::proxmox as pve;
use crate::kit::{Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_proxmox_backup_job";

pub struct ProxmoxBackupJobResource;

/// The attribute a vzdump option comes from, so PVE's own rejection points at it.
fn pve_field_path(field: &str) -> Option<AttrPath> {
    let name = match field {
        "vmid" => "vmids",
        "prune-backups" => "prune_backups",
        "notification-mode" => "notification_mode",
        "id" | "schedule" | "storage" | "all" | "exclude" | "node" | "mode" | "compress"
        | "mailto" | "enabled" | "comment" => field,
        _ => return None,
    };
    Some(AttrPath::attr(name))
}

fn error(summary: &str, e: &lab::proxmox::ProxmoxError) -> Diagnostics {
    pve::error(summary, e, &pve_field_path)
}

fn state_from(kit: &Kit, job: &VzdumpJob) -> Result<Value, Diagnostics> {
    kit.state(job, &[], &Value::Null)
}

impl ProxmoxBackupJobResource {
    /// Writes the job, then reads it back as the state.
    async fn write(&self, op: Op<'_, VzdumpJob>, creating: bool) -> Result<Applied, Failure> {
        let client = op.kit.proxmox()?;
        let job = &op.args;
        let written = if creating {
            jobs::create(&client, job).await
        } else {
            jobs::update(&client, job).await
        };
        if let Err(e) = written {
            if creating && jobs::is_taken(&e) {
                return Err(Failure::Unchanged(
                    Diagnostic::error(
                        "Proxmox backup job already exists",
                        format!(
                            "The cluster already has a backup job {:?} that this resource did not create. \
                             Import it to manage it here (terraform import <address> {}), or choose another id.",
                            job.id, job.id
                        ),
                    )
                    .at(AttrPath::attr("id"))
                    .into(),
                ));
            }
            return Err(error("Cannot write the Proxmox backup job", &e).into());
        }
        match jobs::read(&client, &job.id, Some(job)).await {
            Ok(Some(found)) => Ok(state_from(op.kit, &found)?.into()),
            // Written but unreadable: recorded as declared, so it is never orphaned.
            Ok(None) | Err(_) => Err(Failure::Kept {
                state: state_from(op.kit, job)?,
                diagnostics: Diagnostic::error(
                    "Cannot read the Proxmox backup job back",
                    format!(
                        "Backup job {:?} was written but could not be read back; the next plan reads it again.",
                        job.id
                    ),
                )
                .into(),
            }),
        }
    }
}

#[tfplugin::async_trait]
impl ManagedResource for ProxmoxBackupJobResource {
    type Args = VzdumpJob;
    // An unset prune_backups is planned as none (see `plan`); the configuration has it as
    // the user wrote it.
    const ARGS_FROM_CONFIG: bool = true;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A scheduled vzdump job of the Proxmox VE cluster (`/cluster/backup`): \
                 whole guests backed up by Proxmox to a storage on a calendar schedule, with \
                 retention on the storage (`prune_backups`) and a notification mode. Every option \
                 is sent on each write and options left out are deleted, so the job is exactly \
                 what the configuration says; a job changed or removed in the Proxmox UI shows up \
                 in the next plan. Import by job ID.",
            invalid: "Invalid Proxmox backup job",
            requires_replace: &["id"],
            // Optional + computed only so Terraform 1.0.0 to 1.0.4 (1.0.3 is the floor) can plan
            // the optional object;
            // `plan` makes a left-out value none.
            chosen: &["prune_backups"],
            outputs: vec![],
            backend: Backend::Proxmox,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, _kit: &Kit) -> Diagnostics {
        if !change.planned.is_null()
            && change
                .config
                .get_attr("prune_backups")
                .is_none_or(Value::is_null)
        {
            change.planned.set_attr("prune_backups", Value::Null);
        }
        Diagnostics::new()
    }

    async fn create(&self, op: Op<'_, VzdumpJob>) -> Result<Applied, Failure> {
        self.write(op, true).await
    }

    async fn update(&self, op: Op<'_, VzdumpJob>) -> Result<Applied, Failure> {
        self.write(op, false).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let Some(id) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Ok(());
        };
        let client = op.kit.proxmox()?;
        jobs::delete(&client, id)
            .await
            .map_err(|e| error("Cannot delete the Proxmox backup job", &e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let Some(id) = current.state.get_attr("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let client = current.kit.proxmox()?;
        let declared = current.kit.args::<VzdumpJob>(current.state).ok();
        match jobs::read(&client, id, declared.as_ref()).await {
            Ok(Some(found)) => state_from(current.kit, &found).map(Some),
            // Removed behind Terraform's back: the next plan creates it again.
            Ok(None) => Ok(None),
            Err(e) => Err(error("Cannot read the Proxmox backup job", &e)),
        }
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        jobs::check_id(id)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid import ID", e)))?;
        let client = kit.proxmox()?;
        match jobs::read(&client, id, None).await {
            Ok(Some(found)) => state_from(kit, &found),
            Ok(None) => Err(Diagnostic::error(
                "Cannot import the Proxmox backup job",
                format!("the cluster has no vzdump job {id:?} (GET /cluster/backup lists them)"),
            )
            .into()),
            Err(e) => Err(error("Cannot import the Proxmox backup job", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pve_fields_point_at_their_attributes() {
        assert_eq!(pve_field_path("vmid"), Some(AttrPath::attr("vmids")));
        assert_eq!(
            pve_field_path("prune-backups"),
            Some(AttrPath::attr("prune_backups"))
        );
        assert_eq!(pve_field_path("fleecing"), None);
    }
}

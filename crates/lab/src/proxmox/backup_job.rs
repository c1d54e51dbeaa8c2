//! Scheduled vzdump jobs of the cluster (`homelab_proxmox_backup_job`): whole guests backed
//! up by Proxmox itself to a storage, the lab's tier-1 copy of service state.
//!
//! `/cluster/backup` stores only the options it is sent and fills no defaults, so every
//! option this type knows is sent on create and update, and options left unset are named in
//! `delete` on update: what the job does never depends on what was there before. PVE
//! returns property strings (`prune-backups`) as objects and `vmid` as the comma list sent.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::checks;
use super::client::Client;
use super::error::ProxmoxError;
use super::props;
use crate::backup::calendar::Calendar;
use crate::validation::FieldError;
use crate::validation::Validate;

pub const MODES: &[&str] = &["snapshot", "suspend", "stop"];
pub const COMPRESSIONS: &[&str] = &["0", "1", "gzip", "lzo", "zstd"];
pub const NOTIFICATION_MODES: &[&str] = &["auto", "legacy-sendmail", "notification-system"];
/// PVE's `pve-backup-jobid` length limit.
const MAX_ID_LEN: usize = 50;

/// A scheduled vzdump job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VzdumpJob {
    /// The job's ID: a letter, then letters, digits, `-` and `_` (at most 50). Changing it
    /// replaces the job.
    pub id: String,
    /// When the job runs, in calendar-event syntax (`*-*-* 02:30`, `Sun 04:00`, `daily`).
    pub schedule: String,
    /// The storage the archives go to (it must hold `backup` content), e.g. `local`.
    pub storage: String,
    /// The guests to back up, by ID. Either this or `all`.
    #[serde(default)]
    pub vmids: Vec<u32>,
    /// Back up every guest (of `node`, when set) but those in `exclude`.
    #[serde(default)]
    pub all: bool,
    /// With `all`: guests to leave out.
    #[serde(default)]
    pub exclude: Vec<u32>,
    /// Run only on this node; unset runs on every node for its own guests.
    #[serde(default)]
    pub node: Option<String>,
    /// `snapshot` (no downtime), `suspend` or `stop`.
    #[serde(default = "snapshot")]
    pub mode: String,
    /// `zstd`, `gzip`, `lzo`, `1` (lzo) or `0` (none).
    #[serde(default = "zstd")]
    pub compress: String,
    /// Archives kept on the storage after each run (`keep_last`, `keep_hourly`,
    /// `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`); unset uses the
    /// storage's own setting.
    #[serde(default)]
    pub prune_backups: Option<PruneBackups>,
    /// How the job reports: `auto`, `legacy-sendmail` (to `mailto`) or
    /// `notification-system` (the cluster's notification matchers).
    #[serde(default = "auto")]
    pub notification_mode: String,
    /// Addresses mailed after each run (with `legacy-sendmail` or `auto`).
    #[serde(default)]
    pub mailto: Vec<String>,
    /// Whether the schedule is active.
    #[serde(default = "crate::defaults::yes")]
    pub enabled: bool,
    /// Free text shown in the Proxmox UI.
    #[serde(default)]
    pub comment: String,
}

/// Archives kept on the storage; each count at least 1, unset keeps none of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PruneBackups {
    #[serde(default)]
    pub keep_last: Option<u32>,
    #[serde(default)]
    pub keep_hourly: Option<u32>,
    #[serde(default)]
    pub keep_daily: Option<u32>,
    #[serde(default)]
    pub keep_weekly: Option<u32>,
    #[serde(default)]
    pub keep_monthly: Option<u32>,
    #[serde(default)]
    pub keep_yearly: Option<u32>,
}

fn snapshot() -> String {
    "snapshot".into()
}
fn zstd() -> String {
    "zstd".into()
}
fn auto() -> String {
    "auto".into()
}

impl PruneBackups {
    /// `(PVE key, count)` in PVE's order.
    fn counts(&self) -> [(&'static str, Option<u32>); 6] {
        [
            ("keep-last", self.keep_last),
            ("keep-hourly", self.keep_hourly),
            ("keep-daily", self.keep_daily),
            ("keep-weekly", self.keep_weekly),
            ("keep-monthly", self.keep_monthly),
            ("keep-yearly", self.keep_yearly),
        ]
    }

    /// The property string PVE takes (`keep-daily=7,keep-last=3`).
    fn property_string(&self) -> String {
        self.counts()
            .iter()
            .filter_map(|(key, n)| n.map(|n| format!("{key}={n}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// PVE's answer: an object (or, from older nodes, the property string).
    fn from_api(value: &Json) -> Option<Self> {
        let count = |key: &str| -> Option<u32> {
            let text = match value {
                Json::Object(map) => props::json_text(map.get(key)?)?,
                Json::String(s) => props::PropString::parse(s).get(key)?.to_string(),
                _ => return None,
            };
            text.parse().ok()
        };
        let prune = PruneBackups {
            keep_last: count("keep-last"),
            keep_hourly: count("keep-hourly"),
            keep_daily: count("keep-daily"),
            keep_weekly: count("keep-weekly"),
            keep_monthly: count("keep-monthly"),
            keep_yearly: count("keep-yearly"),
        };
        (prune != PruneBackups::default()).then_some(prune)
    }
}

/// A configuration ID as PVE's `pve-configid` format takes it.
pub fn check_id(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_is_letter
        || id.len() < 2
        || id.len() > MAX_ID_LEN
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{id:?} is not a job ID: a letter, then letters, digits, '-' and '_' (2 to {MAX_ID_LEN} characters)"
        ));
    }
    Ok(())
}

/// PVE's `pve-vmid-list` items: 100 to 999999999.
fn check_vmid(vmid: u32) -> Result<(), String> {
    if (100..=999_999_999).contains(&vmid) {
        Ok(())
    } else {
        Err(format!("{vmid} is not a guest ID (100 to 999999999)"))
    }
}

fn one_of(value: &str, allowed: &[&str], field: &str) -> Option<FieldError> {
    (!allowed.contains(&value)).then(|| {
        FieldError::field(
            field,
            format!("{value:?} is not one of {}", allowed.join(", ")),
        )
    })
}

fn vmid_list(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn parse_vmid_list(text: &str) -> Vec<u32> {
    text.split([',', ';', ' '])
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

impl VzdumpJob {
    /// The options sent on create and update, and the ones an update deletes.
    fn form(&self) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
        let mut set = vec![
            ("schedule", self.schedule.trim().to_string()),
            ("storage", self.storage.clone()),
            ("mode", self.mode.clone()),
            ("compress", self.compress.clone()),
            ("notification-mode", self.notification_mode.clone()),
            ("enabled", props::bool_text(self.enabled).to_string()),
        ];
        let mut delete = Vec::new();
        if self.all {
            set.push(("all", "1".into()));
        } else {
            set.push(("vmid", vmid_list(&self.vmids)));
        }
        let mut optional = |key: &'static str, value: Option<String>| match value {
            Some(value) => set.push((key, value)),
            None => delete.push(key),
        };
        optional(
            "exclude",
            (!self.exclude.is_empty()).then(|| vmid_list(&self.exclude)),
        );
        optional("node", self.node.clone());
        optional(
            "prune-backups",
            self.prune_backups
                .as_ref()
                .map(PruneBackups::property_string),
        );
        optional(
            "mailto",
            (!self.mailto.is_empty()).then(|| self.mailto.join(",")),
        );
        optional(
            "comment",
            (!self.comment.is_empty()).then(|| self.comment.clone()),
        );
        (set, delete)
    }

    /// The job as PVE answered it, in the declaration's terms where they mean the same.
    pub fn from_api(found: &Json, declared: Option<&VzdumpJob>) -> VzdumpJob {
        let text = |key: &str| found.get(key).and_then(props::json_text);
        let flag = |key: &str, default: bool| {
            text(key)
                .and_then(|t| props::parse_bool(&t))
                .unwrap_or(default)
        };
        let list = |key: &str| text(key).map(|t| parse_vmid_list(&t)).unwrap_or_default();
        let mut job = VzdumpJob {
            id: text("id").unwrap_or_default(),
            schedule: text("schedule").unwrap_or_default(),
            // vzdump's own default when a job names none.
            storage: text("storage").unwrap_or_else(|| "local".into()),
            vmids: list("vmid"),
            all: flag("all", false),
            exclude: list("exclude"),
            node: text("node"),
            mode: text("mode").unwrap_or_else(snapshot),
            // vzdump compresses nothing unless told.
            compress: text("compress").unwrap_or_else(|| "0".into()),
            prune_backups: found.get("prune-backups").and_then(PruneBackups::from_api),
            notification_mode: text("notification-mode").unwrap_or_else(auto),
            mailto: text("mailto")
                .map(|t| {
                    t.split([',', ';', ' '])
                        .filter(|a| !a.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            enabled: flag("enabled", true),
            comment: text("comment").unwrap_or_default(),
        };
        if let Some(declared) = declared {
            // The same schedule written with other spaces is the same schedule.
            if declared
                .schedule
                .split_whitespace()
                .eq(job.schedule.split_whitespace())
            {
                job.schedule = declared.schedule.clone();
            }
            // The same guests in another order.
            let sorted = |ids: &[u32]| {
                let mut ids = ids.to_vec();
                ids.sort_unstable();
                ids
            };
            if sorted(&declared.vmids) == sorted(&job.vmids) {
                job.vmids = declared.vmids.clone();
            }
            if sorted(&declared.exclude) == sorted(&job.exclude) {
                job.exclude = declared.exclude.clone();
            }
        }
        job
    }
}

impl Validate for VzdumpJob {
    /// Every problem at once, each at its argument.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id(&self.id) {
            errors.push(FieldError::field("id", e));
        }
        if let Err(e) = Calendar::parse(&self.schedule) {
            errors.push(FieldError::field("schedule", e));
        }
        if let Err(e) = checks::storage_id(&self.storage) {
            errors.push(FieldError::field("storage", e));
        }
        match (self.all, self.vmids.is_empty()) {
            (true, false) => errors.push(FieldError::field(
                "all",
                "set either all = true or vmids, not both",
            )),
            (false, true) => errors.push(FieldError::field(
                "vmids",
                "name the guests to back up, or set all = true",
            )),
            _ => {}
        }
        if !self.all && !self.exclude.is_empty() {
            errors.push(FieldError::field(
                "exclude",
                "exclude only applies with all = true",
            ));
        }
        for (field, ids) in [("vmids", &self.vmids), ("exclude", &self.exclude)] {
            for (i, id) in ids.iter().enumerate() {
                if let Err(e) = check_vmid(*id) {
                    errors.push(FieldError::item(field, i, e));
                }
            }
        }
        if let Some(node) = &self.node {
            if let Err(e) = checks::node_name(node) {
                errors.push(FieldError::field("node", e));
            }
        }
        errors.extend(one_of(&self.mode, MODES, "mode"));
        errors.extend(one_of(&self.compress, COMPRESSIONS, "compress"));
        errors.extend(one_of(
            &self.notification_mode,
            NOTIFICATION_MODES,
            "notification_mode",
        ));
        if let Some(prune) = &self.prune_backups {
            let counts = prune.counts();
            if counts.iter().all(|(_, n)| n.is_none()) {
                errors.push(FieldError::field(
                    "prune_backups",
                    "name at least one keep_* count, or leave prune_backups out to use the storage's setting",
                ));
            }
            for (key, n) in counts {
                if n == Some(0) {
                    errors.push(FieldError::field(
                        "prune_backups",
                        format!(
                            "{} = 0 keeps nothing of that kind: leave it out instead",
                            key.replace('-', "_")
                        ),
                    ));
                }
            }
        }
        for (i, address) in self.mailto.iter().enumerate() {
            let plausible = address
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
                && !address.contains([',', ';', ' ']);
            if !plausible {
                errors.push(FieldError::item(
                    "mailto",
                    i,
                    format!("{address:?} is not a mail address"),
                ));
            }
        }
        if self.comment.contains('\n') {
            errors.push(FieldError::field("comment", "must be one line"));
        }
        errors
    }
}

fn path(id: &str) -> String {
    format!("/cluster/backup/{id}")
}

/// PVE's answer for a job that is not there (a 400 on `id` on reads, a 500 with the text
/// on writes).
fn is_missing(e: &ProxmoxError) -> bool {
    match e {
        ProxmoxError::Api {
            message, errors, ..
        } => {
            let text = |t: &str| t.contains("No such job") || t.contains("no such vzdump job");
            text(message) || errors.get("id").is_some_and(|m| text(m))
        }
        _ => false,
    }
}

/// Whether the error is PVE's "Job 'x' already exists".
pub fn is_taken(e: &ProxmoxError) -> bool {
    e.pve_message()
        .is_some_and(|m| m.contains("already exists"))
}

/// The job, or `None` when the cluster has no job with that ID (or it is not a vzdump job).
pub async fn read(
    client: &Client,
    id: &str,
    declared: Option<&VzdumpJob>,
) -> Result<Option<VzdumpJob>, ProxmoxError> {
    match client.get(&path(id), &[]).await {
        Ok(found) => {
            let kind = found.get("type").and_then(Json::as_str).unwrap_or("vzdump");
            if kind != "vzdump" {
                return Ok(None);
            }
            let mut job = VzdumpJob::from_api(&found, declared);
            job.id = id.to_string();
            Ok(Some(job))
        }
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn create(client: &Client, job: &VzdumpJob) -> Result<(), ProxmoxError> {
    let (mut form, _) = job.form();
    form.insert(0, ("id", job.id.clone()));
    client.post("/cluster/backup", &form).await.map(drop)
}

/// Sends every option, deleting the unset ones, so the job is exactly `job` afterwards.
pub async fn update(client: &Client, job: &VzdumpJob) -> Result<(), ProxmoxError> {
    let (mut form, delete) = job.form();
    if !delete.is_empty() {
        form.push(("delete", delete.join(",")));
    }
    client.put(&path(&job.id), &form).await.map(drop)
}

/// Removes the job; one already gone is fine.
pub async fn delete(client: &Client, id: &str) -> Result<(), ProxmoxError> {
    match client.delete(&path(id), &[]).await {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> VzdumpJob {
        serde_json::from_value(json!({
            "id": "tier1-guests", "schedule": "*-*-* 02:00", "storage": "local",
            "vmids": [101, 100], "prune_backups": {"keep_daily": 7, "keep_last": 3}
        }))
        .unwrap()
    }

    #[test]
    fn a_sound_job_passes_and_bad_ones_name_each_field() {
        assert!(job().validate().is_empty());
        let mut bad = job();
        bad.id = "1st".into();
        bad.all = true;
        bad.mode = "hot".into();
        bad.vmids = vec![100, 7];
        bad.prune_backups = Some(PruneBackups {
            keep_daily: Some(0),
            ..Default::default()
        });
        bad.mailto = vec!["root".into()];
        let fields: Vec<String> = bad.validate().iter().map(|e| e.path_string()).collect();
        assert_eq!(
            fields,
            [
                "id",
                "all",
                "vmids[1]",
                "mode",
                "prune_backups",
                "mailto[0]"
            ]
        );
        let mut neither = job();
        neither.vmids.clear();
        assert_eq!(neither.validate()[0].path_string(), "vmids");
    }

    #[test]
    fn the_form_sends_every_option_and_deletes_the_unset_ones() {
        let (set, delete) = job().form();
        let get = |key: &str| set.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("vmid"), Some("101,100"));
        assert_eq!(get("prune-backups"), Some("keep-last=3,keep-daily=7"));
        assert_eq!(get("enabled"), Some("1"));
        assert_eq!(get("all"), None);
        assert_eq!(delete, ["exclude", "node", "mailto", "comment"]);
    }

    #[test]
    fn the_answer_reads_back_as_declared() {
        let found = json!({"id": "tier1-guests", "type": "vzdump", "schedule": "*-*-*  02:00",
            "storage": "local", "vmid": "100,101", "mode": "snapshot", "compress": "zstd",
            "notification-mode": "auto", "enabled": 1,
            "prune-backups": {"keep-daily": 7, "keep-last": 3}});
        let declared = job();
        assert_eq!(VzdumpJob::from_api(&found, Some(&declared)), declared);
        // A job made elsewhere with PVE's defaults unset reads as vzdump runs it.
        let bare = VzdumpJob::from_api(
            &json!({"id": "x1", "schedule": "daily", "all": 1, "enabled": 0}),
            None,
        );
        assert_eq!(
            (
                bare.storage.as_str(),
                bare.compress.as_str(),
                bare.all,
                bare.enabled
            ),
            ("local", "0", true, false)
        );
        assert_eq!(
            PruneBackups::from_api(&json!("keep-last=2"))
                .unwrap()
                .keep_last,
            Some(2)
        );
    }

    #[test]
    fn job_ids_follow_pves_configid_format() {
        assert!(check_id("tier1_guests-2").is_ok());
        for bad in ["", "a", "1a", "a b", "a.b", &"a".repeat(51)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}

//! The files a backup job is, rendered from its arguments: the job script, the secret
//! files, `job.json`, and the systemd units or the cron entry. Pure: the same job gives
//! the same bytes, which is what drift is measured against.

use sha2::{Digest, Sha256};

use super::calendar::Calendar;
use super::{BackupJob, Dump};
use crate::host::shell_quote;

/// Where a job is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    Systemd,
    Cron,
}

impl Scheduler {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::Systemd => "systemd",
            Scheduler::Cron => "cron",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "systemd" => Some(Scheduler::Systemd),
            "cron" => Some(Scheduler::Cron),
            _ => None,
        }
    }
}

/// One file of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// The metrics the script writes, in the order of the textfile.
pub const METRICS: &[&str] = &[
    "restic_backup_last_run_timestamp_seconds",
    "restic_backup_last_success_timestamp_seconds",
    "restic_backup_exit_code",
    "restic_backup_duration_seconds",
    "restic_backup_data_added_bytes",
    "restic_snapshots_total",
    "restic_check_last_success_timestamp_seconds",
    "restic_check_exit_code",
    "restic_restore_test_last_success_timestamp_seconds",
    "restic_restore_test_exit_code",
];

fn array(items: &[String]) -> String {
    items
        .iter()
        .map(|i| shell_quote(i))
        .collect::<Vec<_>>()
        .join(" ")
}

fn dumps(dumps: &[Dump]) -> String {
    let names: Vec<String> = dumps.iter().map(|d| d.name.clone()).collect();
    let mut text = format!("DUMP_NAMES=({})\n", array(&names));
    for (i, dump) in dumps.iter().enumerate() {
        text.push_str(&format!("DUMP_{i}=({})\n", array(&dump.command)));
    }
    text
}

const SCRIPT_BODY: &str = r#"# Every restic call of the job gets its extended options.
restic() { command restic "${OPTIONS[@]}" "$@"; }
set -a
. "$DIR/env"
set +a
export RESTIC_PASSWORD_FILE="$DIR/password"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-/var/cache/tabiri-backup/$JOB}"
mode=${1:-backup}
STARTED=$(date +%s)
ADDED=0
CREATED=0
PRUNED=0
LOG=$(mktemp)
CURLCFG=$(mktemp)
OUT=$(mktemp)
RESTORE_DIR=
cleanup() {
  rm -f "$LOG" "$LOG.tail" "$CURLCFG" "$OUT"
  if [ -n "$RESTORE_DIR" ]; then rm -rf "$RESTORE_DIR"; fi
}
trap cleanup EXIT
log() { printf '%s %s: %s\n' "$(date -Is)" "$JOB" "$*" | tee -a "$LOG" >&2; }

# The heartbeat URL holds a secret: it goes to curl in a 0600 config file, never in argv.
heartbeat() {
  [ -n "${HEARTBEAT_URL:-}" ] || return 0
  local url="${HEARTBEAT_URL%/}$1"
  url=${url//\\/\\\\}
  url=${url//\"/\\\"}
  printf 'url = "%s"\n' "$url" > "$CURLCFG"
  local body=()
  if [ -n "${2:-}" ]; then body=(--data-binary "@$2"); fi
  curl -fsS -m 10 --retry 3 --retry-delay 2 --retry-all-errors -K "$CURLCFG" "${body[@]}" -o /dev/null \
    || log "heartbeat ${1:-(success)} could not be delivered"
}

# The metrics' last values live in the job's directory, so a failed run keeps the last
# success. They are read once, updated in memory, and written once at the end: the state
# file and the textfile, each whole and renamed into place.
STATE="$DIR/metrics.state"
declare -A METRIC=()
if [ -f "$STATE" ]; then
  while read -r name value; do [ -n "$name" ] && METRIC[$name]=$value; done < "$STATE"
fi
metric() { METRIC[$1]=$2; }
save_metrics() {
  local tmp name
  if tmp=$(mktemp "$DIR/.state.XXXXXX"); then
    for name in "${!METRIC[@]}"; do echo "$name ${METRIC[$name]}"; done > "$tmp" && mv -f "$tmp" "$STATE"
  fi
  [ -n "$METRICS_DIR" ] || return 0
  if ! tmp=$(mktemp "$METRICS_DIR/.restic_$JOB.XXXXXX"); then
    log "cannot write metrics into $METRICS_DIR"
    return 0
  fi
  for name in $METRIC_NAMES; do
    if [ -n "${METRIC[$name]:-}" ]; then
      printf '# TYPE %s gauge\n%s{job="%s"} %s\n' "$name" "$name" "$JOB" "${METRIC[$name]}"
    fi
  done > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$METRICS_DIR/restic_$JOB.prom"
}

# A lock is removed only when it is provably stale: taken on this host by a process that
# is gone (restic 0.14 leaves its lock behind when killed or sent SIGTERM). Backups take
# shared locks, which a stale lock does not block, so this runs before what needs the
# repository to itself (prune, check) and when a backup could not lock: never on every run,
# since each restic start costs a key derivation.
unlock_stale() {
  local id info holder pid stale=0 me
  me=$(hostname)
  for id in $(restic list locks --no-lock -q 2>>"$LOG"); do
    info=$(restic cat lock "$id" --no-lock -q 2>/dev/null) || continue
    holder=$(printf '%s\n' "$info" | sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p')
    pid=$(printf '%s\n' "$info" | sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p')
    if [ "$holder" = "$me" ] && [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "lock ${id:0:8} was taken by process $pid on this host, which is gone: removing it"
      stale=1
    fi
  done
  if [ "$stale" = 1 ]; then restic unlock -q 2>>"$LOG"; fi
  return 0
}

snapshot_of() { sed -n 's/.*"message_type":"summary".*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' "$1" | tail -n 1; }
added_of() { sed -n 's/.*"message_type":"summary".*"data_added":\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
errors_of() { grep '"message_type":"error"' "$1" | sed -n 's/.*"during":"\([^"]*\)".*"item":"\([^"]*\)".*/\1 \2/p'; }

# restic backup, retried once after removing stale locks when it could not lock.
backup() {
  restic backup --json "$@" > "$OUT" 2>>"$LOG" && return 0
  local st=$?
  if grep -q 'unable to create lock\|already locked' "$LOG"; then
    unlock_stale
    restic backup --json "$@" > "$OUT" 2>>"$LOG" && return 0
    st=$?
  fi
  return "$st"
}

run_backup() {
  local rc=0 ids=() present=() dump_failed=0 p st sid i n
  for p in "${PATHS[@]}"; do
    if [ -e "$p" ]; then
      present+=("$p")
    elif [ "$MISSING" = warn ]; then
      log "warning: $p does not exist"
    else
      log "error: $p does not exist"
      rc=1
    fi
  done
  if [ "${#present[@]}" -gt 0 ]; then
    backup "${TAGS[@]}" "${EXCLUDES[@]}" "${present[@]}"
    st=$?
    while IFS= read -r line; do [ -n "$line" ] && log "cannot read: $line"; done < <(errors_of "$OUT")
    if [ "$st" -ne 0 ]; then log "restic backup exited $st"; rc=1; fi
    sid=$(snapshot_of "$OUT")
    if [ -n "$sid" ]; then ids+=("$sid"); ADDED=$((ADDED + $(added_of "$OUT"))); fi
  fi
  for i in "${!DUMP_NAMES[@]}"; do
    n="DUMP_$i[@]"
    "${!n}" 2>>"$LOG" | restic backup --json --stdin --stdin-filename "${DUMP_NAMES[$i]}" "${TAGS[@]}" > "$OUT" 2>>"$LOG"
    st=("${PIPESTATUS[@]}")
    if [ "${st[0]}" -ne 0 ]; then log "dump ${DUMP_NAMES[$i]} exited ${st[0]}"; rc=1; dump_failed=1; fi
    if [ "${st[1]}" -ne 0 ]; then log "restic backup of ${DUMP_NAMES[$i]} exited ${st[1]}"; rc=1; fi
    sid=$(snapshot_of "$OUT")
    if [ -n "$sid" ]; then ids+=("$sid"); ADDED=$((ADDED + $(added_of "$OUT"))); fi
  done
  if [ "$dump_failed" = 1 ] && [ "${#ids[@]}" -gt 0 ]; then
    log "a dump failed: forgetting this run's snapshots (${ids[*]:0:8}...)"
    if restic forget -q "${ids[@]}" 2>>"$LOG"; then ids=(); else log "forgetting them failed"; fi
  fi
  CREATED=${#ids[@]}
  if [ "$rc" = 0 ] && [ "${#RETENTION[@]}" -gt 0 ]; then
    unlock_stale
    PRUNED=1
    restic forget -q --prune --tag "$TAG" "${RETENTION[@]}" >>"$LOG" 2>&1 || { log "forget --prune failed"; rc=1; }
  fi
  return "$rc"
}

run_check() {
  unlock_stale
  local args=()
  if [ -n "$CHECK_SUBSET" ]; then args=(--read-data-subset="$CHECK_SUBSET"); fi
  restic check "${args[@]}" >>"$LOG" 2>&1 || { log "restic check failed"; return 1; }
}

# Restores files of the latest snapshot into a fresh directory (restic verifying what it
# wrote), then compares each one's hash with the same file read from the snapshot.
run_restore_test() {
  local filter=(--tag "$TAG") files f want got bad=0 include=()
  for f in "${PATHS[@]}"; do filter+=(--path "$f"); done
  RESTORE_DIR=$(mktemp -d /var/tmp/tabiri-restore-XXXXXX) || return 1
  if ! restic ls --json --no-lock latest "${filter[@]}" > "$OUT" 2>>"$LOG"; then
    log "restore test: cannot list the latest snapshot"
    return 1
  fi
  files=$(grep '"type":"file"' "$OUT" | sed -n 's/.*"path":"\([^"\\]*\)".*/\1/p')
  if [ -z "$files" ]; then log "restore test: the latest snapshot holds no files"; return 1; fi
  if [ "$SAMPLE" -gt 0 ]; then files=$(printf '%s\n' "$files" | shuf -n "$SAMPLE"); fi
  while IFS= read -r f; do include+=(--include "$f"); done <<< "$files"
  if ! restic restore latest "${filter[@]}" --verify --target "$RESTORE_DIR" "${include[@]}" >>"$LOG" 2>&1; then
    log "restore test: restic restore failed"
    return 1
  fi
  while IFS= read -r f; do
    want=$(restic dump --no-lock latest "${filter[@]}" "$f" 2>>"$LOG" | sha256sum | cut -d' ' -f1)
    got=$(sha256sum < "$RESTORE_DIR$f" 2>/dev/null | cut -d' ' -f1)
    if [ -z "$got" ] || [ "$want" != "$got" ]; then log "restore test: $f differs from the snapshot"; bad=1; fi
  done <<< "$files"
  [ "$bad" = 0 ] && log "restore test: $(printf '%s\n' "$files" | wc -l) files restored and identical"
  return "$bad"
}

case "$mode" in
  probe) restic cat config --no-lock -q > /dev/null; exit ;;
  init) restic init -q; exit ;;
  snapshots) restic snapshots --json --no-lock -q --tag "$TAG"; exit ;;
  backup | check | restore-test) ;;
  *) echo "usage: $0 backup|check|restore-test" >&2; exit 64 ;;
esac
# One run of this job at a time: a check or a drill waits for a backup, and the other way round.
exec 9> "$DIR/lock"
if ! flock -w 21600 9; then log "another run of the job still holds its lock"; exit 75; fi
heartbeat /start
case "$mode" in
  backup) run_backup ;;
  check) run_check ;;
  restore-test) run_restore_test ;;
esac
rc=$?
now=$(date +%s)
case "$mode" in
  backup)
    metric restic_backup_last_run_timestamp_seconds "$now"
    metric restic_backup_exit_code "$rc"
    metric restic_backup_duration_seconds "$((now - STARTED))"
    metric restic_backup_data_added_bytes "$ADDED"
    if [ "$rc" = 0 ]; then metric restic_backup_last_success_timestamp_seconds "$now"; fi
    # The count follows this run's snapshots; it is read from the repository only when
    # retention changed it or it was never known (each restic start costs a key derivation).
    previous=${METRIC[restic_snapshots_total]:-}
    if [ "$PRUNED" = 1 ] || [ -z "$previous" ]; then
      count=$(restic snapshots --json --no-lock -q --tag "$TAG" 2>>"$LOG" | grep -o '"short_id"' | wc -l)
    else
      count=$((previous + CREATED))
    fi
    metric restic_snapshots_total "$count"
    ;;
  check)
    metric restic_check_exit_code "$rc"
    if [ "$rc" = 0 ]; then metric restic_check_last_success_timestamp_seconds "$now"; fi
    ;;
  restore-test)
    metric restic_restore_test_exit_code "$rc"
    if [ "$rc" = 0 ]; then metric restic_restore_test_last_success_timestamp_seconds "$now"; fi
    ;;
esac
save_metrics
if [ "$rc" = 0 ]; then
  heartbeat ""
  log "$mode: ok"
else
  tail -c 10000 "$LOG" > "$LOG.tail"
  heartbeat /fail "$LOG.tail"
  log "$mode: failed"
fi
exit "$rc"
"#;

/// The job script.
pub fn script(job: &BackupJob) -> String {
    let mut tags = vec!["--tag".to_string(), job.job_tag()];
    for tag in &job.tags {
        tags.push("--tag".into());
        tags.push(tag.clone());
    }
    let options: Vec<String> = job
        .options
        .iter()
        .flat_map(|o| ["-o".to_string(), o.clone()])
        .collect();
    let excludes: Vec<String> = job
        .excludes
        .iter()
        .flat_map(|e| ["--exclude".to_string(), e.clone()])
        .collect();
    let retention = job
        .retention
        .as_ref()
        .map(super::Retention::args)
        .unwrap_or_default();
    let subset = job
        .check
        .as_ref()
        .map(|c| c.read_data_subset.clone())
        .unwrap_or_default();
    let sample = job.restore_test.as_ref().map(|r| r.sample).unwrap_or(0);
    format!(
        "#!/bin/bash\n\
         # Tabiri Homelab backup job {name}: written by homelab_backup_job or\n\
         # tabiri.homelab.backup_job. Edits are overwritten (and show as drift until then).\n\
         set -uo pipefail\n\
         umask 077\n\
         JOB={name_q}\n\
         DIR={dir}\n\
         TAG={tag}\n\
         PATHS=({paths})\n\
         OPTIONS=({options})\n\
         EXCLUDES=({excludes})\n\
         TAGS=({tags})\n\
         MISSING={missing}\n\
         METRICS_DIR={metrics}\n\
         METRIC_NAMES={metric_names}\n\
         RETENTION=({retention})\n\
         CHECK_SUBSET={subset}\n\
         SAMPLE={sample}\n\
         {dumps}{body}",
        name = job.name,
        name_q = shell_quote(&job.name),
        dir = shell_quote(&job.dir()),
        tag = shell_quote(&job.job_tag()),
        paths = array(&job.paths),
        options = array(&options),
        excludes = array(&excludes),
        tags = array(&tags),
        missing = shell_quote(&job.missing_paths),
        metrics = shell_quote(job.metrics_dir.as_deref().unwrap_or("")),
        metric_names = shell_quote(&METRICS.join(" ")),
        retention = array(&retention),
        subset = shell_quote(&subset),
        dumps = dumps(&job.dumps),
        body = SCRIPT_BODY,
    )
}

/// The 0600 environment file: the repository, the job's env values, the heartbeat URL.
pub fn env_file(job: &BackupJob) -> String {
    let mut text = String::from("# Secrets of a Tabiri Homelab backup job (mode 0600).\n");
    text.push_str(&format!(
        "RESTIC_REPOSITORY={}\n",
        shell_quote(&job.repository)
    ));
    for (name, value) in &job.env {
        text.push_str(&format!("{name}={}\n", shell_quote(value.expose())));
    }
    if let Some(url) = &job.heartbeat_url {
        text.push_str(&format!("HEARTBEAT_URL={}\n", shell_quote(url.expose())));
    }
    text
}

/// The job's arguments without its secrets, for import.
pub fn manifest(job: &BackupJob) -> String {
    let mut public = job.clone();
    public.password = crate::secret::Secret::new("");
    for value in public.env.values_mut() {
        *value = crate::secret::Secret::new("");
    }
    if public.heartbeat_url.is_some() {
        public.heartbeat_url = Some(crate::secret::Secret::new(""));
    }
    serde_json::to_string_pretty(&public).expect("a job serialises") + "\n"
}

fn unit_name(job: &BackupJob, kind: &str) -> String {
    match kind {
        "backup" => format!("tabiri-backup-{}", job.name),
        other => format!("tabiri-backup-{}-{other}", job.name),
    }
}

/// The schedules of a job: `(kind, calendar)` for the backup, the check and the drill.
fn schedules(job: &BackupJob) -> Vec<(&'static str, &str)> {
    let mut list = vec![("backup", job.schedule.as_str())];
    if let Some(check) = &job.check {
        list.push(("check", check.schedule.as_str()));
    }
    if let Some(drill) = &job.restore_test {
        list.push(("restore-test", drill.schedule.as_str()));
    }
    list
}

/// The timers a job enables, for `systemctl`.
pub fn timers(job: &BackupJob) -> Vec<String> {
    schedules(job)
        .into_iter()
        .map(|(kind, _)| format!("{}.timer", unit_name(job, kind)))
        .collect()
}

/// Every file the job consists of with `scheduler`, in a stable order.
pub fn files(job: &BackupJob, scheduler: Scheduler) -> Result<Vec<JobFile>, String> {
    let dir = job.dir();
    let mut files = vec![
        JobFile {
            path: format!("{dir}/job.sh"),
            bytes: script(job).into_bytes(),
            mode: 0o700,
        },
        JobFile {
            path: format!("{dir}/env"),
            bytes: env_file(job).into_bytes(),
            mode: 0o600,
        },
        JobFile {
            path: format!("{dir}/password"),
            bytes: job.password.expose().as_bytes().to_vec(),
            mode: 0o600,
        },
        JobFile {
            path: format!("{dir}/job.json"),
            bytes: manifest(job).into_bytes(),
            mode: 0o600,
        },
    ];
    let timeout = crate::duration::parse(&job.timeout)?.as_secs();
    match scheduler {
        Scheduler::Systemd => {
            for (kind, schedule) in schedules(job) {
                let calendar = Calendar::parse(schedule)?;
                let unit = unit_name(job, kind);
                let service = format!(
                    "# Written by Tabiri Homelab (backup job {name}); edits are overwritten.\n\
                     [Unit]\n\
                     Description=Tabiri Homelab backup job {name}: {kind}\n\
                     Wants=network-online.target\n\
                     After=network-online.target\n\
                     \n\
                     [Service]\n\
                     Type=oneshot\n\
                     ExecStart={dir}/job.sh {kind}\n\
                     Nice=19\n\
                     IOSchedulingClass=idle\n\
                     # restic 0.14 removes its lock on SIGINT, not on SIGTERM.\n\
                     KillSignal=SIGINT\n\
                     TimeoutStartSec={timeout}\n",
                    name = job.name,
                );
                let timer = format!(
                    "# Written by Tabiri Homelab (backup job {name}); edits are overwritten.\n\
                     [Unit]\n\
                     Description=Schedule of the Tabiri Homelab backup job {name}: {kind}\n\
                     \n\
                     [Timer]\n\
                     OnCalendar={calendar}\n\
                     Persistent=true\n\
                     RandomizedDelaySec=300\n\
                     Unit={unit}.service\n\
                     \n\
                     [Install]\n\
                     WantedBy=timers.target\n",
                    name = job.name,
                    calendar = calendar.systemd(),
                );
                let systemd_dir = job.systemd_dir.trim_end_matches('/');
                files.push(JobFile {
                    path: format!("{systemd_dir}/{unit}.service"),
                    bytes: service.into_bytes(),
                    mode: 0o644,
                });
                files.push(JobFile {
                    path: format!("{systemd_dir}/{unit}.timer"),
                    bytes: timer.into_bytes(),
                    mode: 0o644,
                });
            }
        }
        Scheduler::Cron => {
            let mut text = format!(
                "# Written by Tabiri Homelab (backup job {name}); edits are overwritten.\n\
                 SHELL=/bin/bash\n\
                 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
                name = job.name
            );
            for (kind, schedule) in schedules(job) {
                let when = Calendar::parse(schedule)?.cron()?;
                text.push_str(&format!(
                    "{when} root nice -n 19 {dir}/job.sh {kind} >> {dir}/cron.log 2>&1\n"
                ));
            }
            files.push(JobFile {
                path: cron_file(job),
                bytes: text.into_bytes(),
                mode: 0o644,
            });
        }
    }
    Ok(files)
}

/// The cron.d entry's path (cron ignores file names with dots).
pub fn cron_file(job: &BackupJob) -> String {
    format!(
        "{}/tabiri-backup-{}",
        job.cron_dir.trim_end_matches('/'),
        job.name
    )
}

/// Every file path a job may have with either scheduler (what destroy and a scheduler
/// change remove).
pub fn all_paths(job: &BackupJob) -> Vec<String> {
    let mut paths: Vec<String> = [
        "job.sh",
        "env",
        "password",
        "job.json",
        "metrics.state",
        "lock",
        "cron.log",
    ]
    .iter()
    .map(|f| format!("{}/{f}", job.dir()))
    .collect();
    let systemd_dir = job.systemd_dir.trim_end_matches('/');
    for kind in ["backup", "check", "restore-test"] {
        let unit = unit_name(job, kind);
        paths.push(format!("{systemd_dir}/{unit}.service"));
        paths.push(format!("{systemd_dir}/{unit}.timer"));
    }
    paths.push(cron_file(job));
    paths
}

/// The fingerprint of a job as it should be: its files, its timers enabled, its
/// repository there. What the host reads back is fingerprinted the same way.
pub fn fingerprint(files: &[(String, Option<String>)], markers: &[String]) -> String {
    let mut hash = Sha256::new();
    for (path, sha) in files {
        hash.update(path.as_bytes());
        hash.update(b" ");
        hash.update(sha.as_deref().unwrap_or("-").as_bytes());
        hash.update(b"\n");
    }
    for marker in markers {
        hash.update(marker.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

/// The fingerprint of the desired job.
pub fn desired_fingerprint(job: &BackupJob, scheduler: Scheduler) -> Result<String, String> {
    let files: Vec<(String, Option<String>)> = files(job, scheduler)?
        .into_iter()
        .map(|f| (f.path, Some(crate::files::sha256_hex(&f.bytes))))
        .collect();
    Ok(fingerprint(&files, &desired_markers(job, scheduler)))
}

/// What must hold besides the files: timers enabled (systemd), the repository there.
pub fn desired_markers(job: &BackupJob, scheduler: Scheduler) -> Vec<String> {
    let mut markers = vec!["repository: exists".to_string()];
    if scheduler == Scheduler::Systemd {
        for timer in timers(job) {
            markers.push(format!("{timer}: enabled"));
        }
    }
    markers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_valid_bash() {
        let mut job = crate::backup::tests::job();
        job.excludes = vec!["*.tmp".into()];
        job.tags = vec!["tier1".into()];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.sh");
        std::fs::write(&path, script(&job)).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn secrets_stay_in_the_secret_files() {
        let mut job = crate::backup::tests::job();
        job.password = crate::secret::Secret::new("pw-s3cret");
        job.env.insert(
            "AWS_SECRET_ACCESS_KEY".into(),
            crate::secret::Secret::new("aws-s3cret"),
        );
        job.heartbeat_url = Some(crate::secret::Secret::new("https://hc/ping/uuid-s3cret"));
        for scheduler in [Scheduler::Systemd, Scheduler::Cron] {
            for file in files(&job, scheduler).unwrap() {
                let text = String::from_utf8_lossy(&file.bytes);
                let secret_file = file.path.ends_with("/env") || file.path.ends_with("/password");
                assert_eq!(
                    secret_file,
                    file.mode == 0o600 && !file.path.ends_with("job.json"),
                    "{}",
                    file.path
                );
                if !secret_file {
                    for secret in ["pw-s3cret", "aws-s3cret", "uuid-s3cret"] {
                        assert!(!text.contains(secret), "{secret} in {}", file.path);
                    }
                }
            }
        }
        let cron = files(&job, Scheduler::Cron).unwrap();
        let entry = String::from_utf8_lossy(&cron.last().unwrap().bytes).into_owned();
        assert!(
            entry.contains(
                "30 2 * * * root nice -n 19 /etc/tabiri/backup/nextcloud-tier1/job.sh backup"
            ),
            "{entry}"
        );
    }
}

//! Route 53: `homelab_route53_record` (one record set per name and type) and the
//! `homelab_route53_zone` lookup.
//!
//! Records are written with UPSERT on change; a record that exists but was not created
//! here is left alone unless the caller allows overwriting it. Names compare the way DNS
//! does: case-insensitive, trailing dot optional, `\052` for `*`.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Aws, AwsError};
use crate::deadline::{Backoff, Deadline, Poll};
use crate::validation::FieldError;
use crate::validation::Validate;

/// The record types this resource manages.
pub const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS"];

/// One DNS record set: a name and type with either plain values or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The hosted zone's ID (`Z...`), e.g. from the `homelab_route53_zone` data source.
    pub zone_id: String,
    /// The record's fully qualified name inside the zone, e.g. `airflow.lab.example.com`.
    pub name: String,
    /// One of A, AAAA, CNAME, TXT, MX, SRV, CAA, NS.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Time to live in seconds; required with `records`, not allowed with `alias`.
    #[serde(default)]
    pub ttl: Option<i64>,
    /// The values (IP addresses for A/AAAA, one target name for CNAME, text for TXT: quoted
    /// for you). Either this or `alias`.
    #[serde(default)]
    pub records: Option<BTreeSet<String>>,
    /// An alias to an AWS resource (load balancer, CloudFront, another record in the zone)
    /// instead of `records`.
    #[serde(default)]
    pub alias: Option<Alias>,
    /// Take over a record that already exists but was not created by this resource.
    /// When false, such a record is an error that says to import it.
    #[serde(default)]
    pub allow_overwrite: bool,
}

/// The target of an alias record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    /// The target's DNS name, e.g. a load balancer's `dns_name`.
    pub name: String,
    /// The hosted zone ID of the target (the load balancer's zone, or this zone's).
    pub zone_id: String,
    /// Whether Route 53 checks the target's health.
    #[serde(default)]
    pub evaluate_target_health: bool,
}

/// A name as Route 53 compares it: lower case, no trailing dot, `\052` as `*` (and other
/// octal escapes decoded).
pub fn normalize_name(name: &str) -> String {
    let chars: Vec<char> = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .chars()
        .collect();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 4 <= chars.len() {
            let digits: String = chars[i + 1..i + 4].iter().collect();
            if let Ok(code) = u8::from_str_radix(&digits, 8) {
                out.push(char::from(code));
                i += 4;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The zone ID without the `/hostedzone/` prefix the API puts on it.
pub fn clean_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// The import ID hashicorp/aws uses: `ZONEID_NAME_TYPE`.
pub fn import_id(zone_id: &str, name: &str, record_type: &str) -> String {
    format!("{}_{}_{}", zone_id, normalize_name(name), record_type)
}

/// Splits `ZONEID_NAME_TYPE` (the name may itself hold underscores).
pub fn parse_import_id(id: &str) -> Result<(String, String, String), String> {
    let (zone, rest) = id.split_once('_').ok_or_else(|| {
        format!("{id:?} is not ZONEID_NAME_TYPE, e.g. Z123ABC_airflow.lab.example.com_A")
    })?;
    let (name, record_type) = rest.rsplit_once('_').ok_or_else(|| {
        format!("{id:?} is not ZONEID_NAME_TYPE, e.g. Z123ABC_airflow.lab.example.com_A")
    })?;
    if zone.is_empty() || name.is_empty() {
        return Err(format!("{id:?} is not ZONEID_NAME_TYPE"));
    }
    if !RECORD_TYPES.contains(&record_type) {
        return Err(format!(
            "{id:?}: record type {record_type:?} is not one of {} (records with set identifiers are not supported)",
            RECORD_TYPES.join(", ")
        ));
    }
    Ok((zone.to_string(), name.to_string(), record_type.to_string()))
}

/// TXT values go to Route 53 as quoted strings of at most 255 characters each.
fn encode_value(record_type: &str, value: &str) -> String {
    if record_type != "TXT" || value.starts_with('"') {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    let chars: Vec<char> = escaped.chars().collect();
    chars
        .chunks(255)
        .map(|chunk| format!("\"{}\"", chunk.iter().collect::<String>()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Undoes `encode_value` for values that look like ours.
fn decode_value(record_type: &str, value: &str) -> String {
    if record_type != "TXT" || !(value.starts_with('"') && value.ends_with('"') && value.len() >= 2)
    {
        return value.to_string();
    }
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', _) => in_quotes = !in_quotes,
            ('\\', true) => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (c, true) => out.push(c),
            // Whitespace between quoted chunks.
            (_, false) => {}
        }
    }
    out
}

impl Record {
    /// The name must be the zone's apex or inside it.
    pub fn validate_in_zone(&self, zone_name: &str) -> Option<FieldError> {
        let name = normalize_name(&self.name);
        let zone = normalize_name(zone_name);
        if name == zone || name.ends_with(&format!(".{zone}")) {
            None
        } else {
            Some(FieldError::field(
                "name",
                format!(
                    "{:?} is outside the zone {zone}: use a name ending in .{zone}",
                    self.name
                ),
            ))
        }
    }

    fn record_set(&self) -> ResourceRecordSet {
        let mut builder = ResourceRecordSet::builder()
            .name(normalize_name(&self.name))
            .r#type(RrType::from(self.record_type.as_str()))
            .set_ttl(self.ttl);
        if let Some(records) = &self.records {
            builder = builder.set_resource_records(Some(
                records
                    .iter()
                    .map(|v| {
                        ResourceRecord::builder()
                            .value(encode_value(&self.record_type, v))
                            .build()
                            .expect("value is set")
                    })
                    .collect(),
            ));
        }
        if let Some(alias) = &self.alias {
            builder = builder.alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(&alias.zone_id)
                    .dns_name(&alias.name)
                    .evaluate_target_health(alias.evaluate_target_health)
                    .build()
                    .expect("alias fields are set"),
            );
        }
        builder.build().expect("name and type are set")
    }
}

impl Validate for Record {
    /// Checks what can be checked without AWS. `validate_in_zone` checks the name against
    /// the zone once its name is known.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.zone_id.trim().is_empty() {
            errors.push(FieldError::field("zone_id", "must not be empty"));
        }
        if self.name.trim_end_matches('.').is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        let known_type = RECORD_TYPES.contains(&self.record_type.as_str());
        if !known_type {
            errors.push(FieldError::field(
                "type",
                format!(
                    "{:?} is not a supported record type: use one of {}",
                    self.record_type,
                    RECORD_TYPES.join(", ")
                ),
            ));
        }
        if let Some(ttl) = self.ttl {
            if ttl < 0 {
                errors.push(FieldError::field(
                    "ttl",
                    format!("{ttl} is negative: a TTL is 0 or more seconds"),
                ));
            } else if ttl > i64::from(i32::MAX) {
                errors.push(FieldError::field(
                    "ttl",
                    format!("{ttl} is more than Route 53 allows (2147483647)"),
                ));
            }
        }
        match (&self.records, &self.alias) {
            (Some(_), Some(_)) => errors.push(FieldError::field(
                "alias",
                "records and alias are both set: a record has either values (records and ttl) or an alias",
            )),
            (None, None) => errors.push(FieldError::field(
                "records",
                "set records (with ttl) or alias",
            )),
            (Some(records), None) => {
                if records.is_empty() {
                    errors.push(FieldError::field("records", "must hold at least one value"));
                }
                if self.ttl.is_none() {
                    errors.push(FieldError::field("ttl", "is required with records"));
                }
                if self.record_type == "CNAME" && records.len() > 1 {
                    errors.push(FieldError::field(
                        "records",
                        format!(
                            "a CNAME record has exactly one value, got {}: {}",
                            records.len(),
                            records.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                for value in records {
                    let problem = match self.record_type.as_str() {
                        "A" if value.parse::<std::net::Ipv4Addr>().is_err() => {
                            Some(format!("{value:?} is not an IPv4 address (A record)"))
                        }
                        "AAAA" if value.parse::<std::net::Ipv6Addr>().is_err() => {
                            Some(format!("{value:?} is not an IPv6 address (AAAA record)"))
                        }
                        _ if value.is_empty() => Some("values must not be empty".to_string()),
                        _ => None,
                    };
                    if let Some(message) = problem {
                        errors.push(FieldError::field("records", message));
                    }
                }
            }
            (None, Some(alias)) => {
                if self.ttl.is_some() {
                    errors.push(FieldError::field(
                        "ttl",
                        "must not be set with alias: an alias takes the target's TTL",
                    ));
                }
                if alias.name.is_empty() {
                    errors.push(FieldError::new(
                        vec![
                            crate::validation::PathSegment::Field("alias".into()),
                            crate::validation::PathSegment::Field("name".into()),
                        ],
                        "must not be empty",
                    ));
                }
            }
        }
        errors
    }
}

/// A record set as Route 53 has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The record in the shape of the arguments (`allow_overwrite` false).
    pub record: Record,
    raw: ResourceRecordSet,
}

impl Observed {
    /// The record as read, keeping `declared`'s spelling of the name, values and alias
    /// target wherever they mean the same.
    pub fn as_declared(&self, declared: Option<&Record>) -> Record {
        let mut record = self.record.clone();
        let Some(declared) = declared else {
            return record;
        };
        if normalize_name(&declared.name) == normalize_name(&record.name) {
            record.name = declared.name.clone();
        }
        if let (Some(actual), Some(wanted)) = (&record.records, &declared.records) {
            let encoded_actual: BTreeSet<String> = self
                .raw
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect();
            let encoded_wanted: BTreeSet<String> = wanted
                .iter()
                .map(|v| encode_value(&declared.record_type, v))
                .collect();
            if encoded_actual == encoded_wanted && actual != wanted {
                record.records = Some(wanted.clone());
            }
        }
        if let (Some(actual), Some(wanted)) = (&mut record.alias, &declared.alias) {
            if normalize_name(&actual.name) == normalize_name(&wanted.name) {
                actual.name = wanted.name.clone();
            }
        }
        record.allow_overwrite = declared.allow_overwrite;
        record
    }
}

/// Reads the record set `name`/`type` of a zone; None when there is none (or no zone).
pub async fn read(
    aws: &Aws,
    zone_id: &str,
    name: &str,
    record_type: &str,
) -> Result<Option<Observed>, AwsError> {
    let wanted = normalize_name(name);
    let output = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(&wanted)
        .start_record_type(RrType::from(record_type))
        .max_items(10)
        .send()
        .await
        .map_err(|e| aws.api_error("ListResourceRecordSets", e));
    let output = match output {
        Ok(output) => output,
        // A record cannot outlive its zone (NoSuchHostedZone): it is gone.
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let found = output.resource_record_sets().iter().find(|set| {
        normalize_name(set.name()) == wanted
            && set.r#type().as_str() == record_type
            && set.set_identifier().is_none()
    });
    Ok(found.map(|set| Observed {
        record: Record {
            zone_id: zone_id.to_string(),
            name: normalize_name(set.name()),
            record_type: set.r#type().as_str().to_string(),
            ttl: set.ttl(),
            records: (!set.resource_records().is_empty() || set.alias_target().is_none()).then(
                || {
                    set.resource_records()
                        .iter()
                        .map(|r| decode_value(record_type, r.value()))
                        .collect()
                },
            ),
            alias: set.alias_target().map(|a| Alias {
                name: a.dns_name().trim_end_matches('.').to_string(),
                zone_id: a.hosted_zone_id().to_string(),
                evaluate_target_health: a.evaluate_target_health(),
            }),
            allow_overwrite: false,
        },
        raw: set.clone(),
    }))
}

/// Writes the record: CREATE (fails if it exists) or UPSERT, then waits until Route 53
/// reports the change in sync.
pub async fn write(
    aws: &Aws,
    record: &Record,
    upsert: bool,
    deadline: &Deadline,
) -> Result<(), AwsError> {
    let action = if upsert {
        ChangeAction::Upsert
    } else {
        ChangeAction::Create
    };
    change(aws, &record.zone_id, action, record.record_set(), deadline).await
}

/// Deletes the record set as it is now (Route 53 wants the exact current values). One
/// already gone is fine.
pub async fn delete(
    aws: &Aws,
    zone_id: &str,
    name: &str,
    record_type: &str,
    deadline: &Deadline,
) -> Result<(), AwsError> {
    let Some(observed) = read(aws, zone_id, name, record_type).await? else {
        return Ok(());
    };
    change(aws, zone_id, ChangeAction::Delete, observed.raw, deadline).await
}

async fn change(
    aws: &Aws,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    deadline: &Deadline,
) -> Result<(), AwsError> {
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .expect("action and set are given"),
        )
        .build()
        .expect("changes are given");
    let output = aws
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws.api_error("ChangeResourceRecordSets", e))?;
    let Some(info) = output.change_info() else {
        return Ok(());
    };
    if info.status() == &ChangeStatus::Insync {
        return Ok(());
    }
    let change_id = info.id().trim_start_matches("/change/").to_string();
    deadline
        .poll(
            &format!("Route 53 change {change_id} to be INSYNC"),
            Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
            || async {
                let output = aws
                    .route53
                    .get_change()
                    .id(&change_id)
                    .send()
                    .await
                    .map_err(|e| aws.api_error("GetChange", e))?;
                Ok(match output.change_info().map(|i| i.status()) {
                    Some(ChangeStatus::Insync) | None => Poll::Done(()),
                    Some(other) => Poll::Pending(other.as_str().to_string()),
                })
            },
        )
        .await
}

/// A hosted zone found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
    pub private_zone: bool,
    pub comment: Option<String>,
    pub record_count: i64,
    pub name_servers: Vec<String>,
}

/// Finds the hosted zone called `name` (public or private, as asked).
pub async fn find_zone(aws: &Aws, name: &str, private_zone: bool) -> Result<Zone, AwsError> {
    let wanted = normalize_name(name);
    let mut next: Option<(String, Option<String>)> = Some((format!("{wanted}."), None));
    let mut matches = Vec::new();
    while let Some((dns_name, zone_id)) = next.take() {
        let output = aws
            .route53
            .list_hosted_zones_by_name()
            .dns_name(dns_name)
            .set_hosted_zone_id(zone_id)
            .send()
            .await
            .map_err(|e| aws.api_error("ListHostedZonesByName", e))?;
        let mut past = false;
        for zone in output.hosted_zones() {
            if normalize_name(zone.name()) != wanted {
                past = true;
                continue;
            }
            let private = zone.config().is_some_and(|c| c.private_zone());
            if private == private_zone {
                matches.push(zone.clone());
            }
        }
        if output.is_truncated() && !past {
            if let Some(dns) = output.next_dns_name() {
                next = Some((
                    dns.to_string(),
                    output.next_hosted_zone_id().map(str::to_string),
                ));
            }
        }
    }
    let kind = if private_zone { "private" } else { "public" };
    let zone = match matches.len() {
        0 => {
            return Err(AwsError::NotFound(format!(
                "no {kind} hosted zone named {wanted} at {}",
                aws.endpoint
            )))
        }
        1 => matches.remove(0),
        n => {
            return Err(AwsError::Ambiguous(format!(
                "{n} {kind} hosted zones are named {wanted}: {}",
                matches
                    .iter()
                    .map(|z| clean_zone_id(z.id()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let id = clean_zone_id(zone.id());
    let details = aws
        .route53
        .get_hosted_zone()
        .id(&id)
        .send()
        .await
        .map_err(|e| aws.api_error("GetHostedZone", e))?;
    Ok(Zone {
        name: wanted,
        private_zone,
        comment: zone.config().and_then(|c| c.comment()).map(str::to_string),
        record_count: zone.resource_record_set_count().unwrap_or(0),
        name_servers: details
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
        id,
    })
}

/// The name of a zone by ID (to check record names against it).
pub async fn zone_name(aws: &Aws, zone_id: &str) -> Result<String, AwsError> {
    let output = aws
        .route53
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .map_err(|e| aws.api_error("GetHostedZone", e))?;
    output
        .hosted_zone()
        .map(|z| normalize_name(z.name()))
        .ok_or_else(|| AwsError::NotFound(format!("hosted zone {zone_id} does not exist")))
}

/// The arguments of the zone lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneLookup {
    /// The zone's domain name, e.g. `lab.example.com` (trailing dot optional).
    pub name: String,
    /// Look for a private zone (attached to VPCs) rather than a public one.
    #[serde(default)]
    pub private_zone: bool,
}

impl Validate for ZoneLookup {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if normalize_name(&self.name).is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            zone_id: "Z1".into(),
            name: "airflow.lab.example.com".into(),
            record_type: "A".into(),
            ttl: Some(300),
            records: Some(["203.0.113.10".to_string()].into()),
            alias: None,
            allow_overwrite: false,
        }
    }

    #[test]
    fn names_compare_like_dns() {
        assert_eq!(
            normalize_name("\\052.Lab.Example.com."),
            "*.lab.example.com"
        );
        assert_eq!(
            import_id("Z1", "Airflow.lab.example.com.", "A"),
            "Z1_airflow.lab.example.com_A"
        );
    }

    #[test]
    fn import_ids_split_around_underscored_names() {
        assert_eq!(
            parse_import_id("Z1_acme_challenge.lab.example.com_TXT").unwrap(),
            (
                "Z1".into(),
                "acme_challenge.lab.example.com".into(),
                "TXT".into()
            )
        );
        assert!(parse_import_id("Z1_x.example.com_A_eu").is_err());
        assert!(parse_import_id("nonsense").is_err());
    }

    #[test]
    fn txt_values_round_trip() {
        let long = "x".repeat(300);
        for value in ["v=spf1 -all", "say \"hi\"", long.as_str()] {
            let encoded = encode_value("TXT", value);
            assert!(encoded.starts_with('"'));
            assert_eq!(decode_value("TXT", &encoded), value);
        }
    }

    #[test]
    fn validation_covers_the_bad_inputs() {
        let check = |r: Record, expect: &str| {
            let text: Vec<String> = r.validate().iter().map(ToString::to_string).collect();
            assert!(
                text.iter().any(|t| t.starts_with(expect)),
                "{expect:?} not in {text:?}"
            );
        };
        check(
            Record {
                record_type: "PTR".into(),
                ..record()
            },
            "type: \"PTR\" is not a supported record type",
        );
        check(
            Record {
                ttl: Some(-1),
                ..record()
            },
            "ttl: -1 is negative",
        );
        check(
            Record {
                record_type: "CNAME".into(),
                records: Some(["a.example.com".to_string(), "b.example.com".to_string()].into()),
                ..record()
            },
            "records: a CNAME record has exactly one value",
        );
        check(
            Record {
                alias: Some(Alias {
                    name: "x".into(),
                    zone_id: "Z2".into(),
                    evaluate_target_health: false,
                }),
                ..record()
            },
            "alias: records and alias are both set",
        );
        let outside = Record {
            name: "airflow.example.org".into(),
            ..record()
        };
        assert!(outside
            .validate_in_zone("lab.example.com.")
            .unwrap()
            .to_string()
            .starts_with("name: \"airflow.example.org\" is outside the zone lab.example.com"));
        assert!(record().validate_in_zone("lab.example.com").is_none());
        assert!(record().validate().is_empty());
    }
}

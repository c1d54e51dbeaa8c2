//! NetBird access policies (`homelab_netbird_policy`): several rules per policy, each
//! from source groups to destination groups.
//!
//! The API takes group IDs and answers group objects, may list rules, groups and ports in
//! another order than sent, and assigns rule IDs. Reading maps the answer back to the
//! declaration (rules by name, lists in the declared order when they hold the same
//! items), so a policy that is as declared never shows a change.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};

pub const PROTOCOLS: &[&str] = &["all", "tcp", "udp", "icmp"];
pub const ACTIONS: &[&str] = &["accept", "drop"];

/// A NetBird access control policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The policy's name.
    pub name: String,
    /// What the policy is for, as the dashboard shows it.
    #[serde(default)]
    pub description: String,
    /// Whether the policy is in force.
    #[serde(default = "crate::defaults::yes")]
    pub enabled: bool,
    /// The rules, at least one. Matched by name when read back, so the order the server
    /// lists them in does not matter.
    pub rules: Vec<Rule>,
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, unique within the policy.
    pub name: String,
    /// What the rule is for.
    #[serde(default)]
    pub description: String,
    /// Whether the rule is in force.
    #[serde(default = "crate::defaults::yes")]
    pub enabled: bool,
    /// `accept` or `drop`.
    #[serde(default = "accept")]
    pub action: String,
    /// `all`, `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// Destination ports (`"443"`), for `tcp` and `udp` only. Leave out for every port.
    #[serde(default)]
    pub ports: Option<BTreeSet<String>>,
    /// Destination port ranges, for `tcp` and `udp` only.
    #[serde(default)]
    // A list, not a set: Terraform 1.0.0 to 1.0.4 (1.0.3 is the floor) crash drawing a diff
    // of a set of objects nested in a list of objects. Compared as a set when read back.
    pub port_ranges: Option<Vec<PortRange>>,
    /// Allow traffic both ways (destinations may open connections to sources too).
    #[serde(default)]
    pub bidirectional: bool,
    /// Source group IDs.
    pub sources: BTreeSet<String>,
    /// Destination group IDs.
    pub destinations: BTreeSet<String>,
}

/// A range of ports, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    /// The first port, 1 to 65535.
    pub start: i64,
    /// The last port, from `start` to 65535.
    pub end: i64,
}

fn accept() -> String {
    "accept".into()
}

fn rule_error(index: usize, field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(
        vec![
            PathSegment::Field("rules".into()),
            PathSegment::Index(index),
            PathSegment::Field(field.into()),
        ],
        message,
    )
}

fn port_number(value: i64) -> bool {
    (1..=65535).contains(&value)
}

impl Policy {
    /// The API's request body (`PolicyCreate`/`PolicyUpdate`).
    pub fn to_api(&self) -> Json {
        let rules: Vec<Json> = self
            .rules
            .iter()
            .map(|rule| {
                let mut body = serde_json::json!({
                    "name": rule.name,
                    "description": rule.description,
                    "enabled": rule.enabled,
                    "action": rule.action,
                    "protocol": rule.protocol,
                    "bidirectional": rule.bidirectional,
                    "sources": rule.sources,
                    "destinations": rule.destinations,
                });
                if let Some(ports) = rule.ports.as_ref().filter(|p| !p.is_empty()) {
                    body["ports"] = serde_json::json!(ports);
                }
                if let Some(ranges) = rule.port_ranges.as_ref().filter(|p| !p.is_empty()) {
                    body["port_ranges"] = serde_json::json!(ranges);
                }
                body
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "rules": rules,
        })
    }

    /// The policy as the API answers it, in the terms of `declared`: rules matched by
    /// name and put in the declared order (rules the declaration does not have follow,
    /// by name), lists in the declared order when they hold the same items.
    pub fn from_api(policy: &Json, declared: Option<&Policy>) -> Policy {
        use super::{bool_of, id_set, str_of};
        let found: Vec<&Json> = policy
            .get("rules")
            .and_then(Json::as_array)
            .map(|rules| rules.iter().collect())
            .unwrap_or_default();
        let declared_rules: &[Rule] = declared.map(|d| d.rules.as_slice()).unwrap_or(&[]);
        let wanted_rule = |api: &Json| {
            declared_rules
                .iter()
                .find(|r| r.name == str_of(api, "name"))
        };
        // The server's answer leaves out of a rule's `sources` every group it already
        // listed earlier in the same policy (in any rule's sources or destinations), so a
        // second rule from the same zone answers no sources at all. A declared source
        // group listed earlier is taken as present: the answer cannot say otherwise.
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let sources_of: Vec<BTreeSet<String>> = found
            .iter()
            .map(|api| {
                let answered = id_set(api.get("sources"));
                let mut sources = answered.clone();
                if let Some(wanted) = wanted_rule(api) {
                    sources.extend(wanted.sources.intersection(&seen).cloned());
                }
                seen.extend(answered);
                seen.extend(id_set(api.get("destinations")));
                sources
            })
            .collect();
        // Unset and empty lists are the same to the server: read as declared.
        fn unset_or<T: Ord + Clone>(
            found: BTreeSet<T>,
            declared: Option<&BTreeSet<T>>,
        ) -> Option<BTreeSet<T>> {
            match declared {
                _ if !found.is_empty() => Some(found),
                Some(d) if d.is_empty() => Some(BTreeSet::new()),
                _ => None,
            }
        }
        let rule_from = |index: usize| -> Rule {
            let api = found[index];
            let wanted = wanted_rule(api);
            let ports: BTreeSet<String> = api
                .get("ports")
                .and_then(Json::as_array)
                .map(|p| {
                    p.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let ranges: BTreeSet<PortRange> = api
                .get("port_ranges")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default();
            let declared_ranges = wanted.and_then(|w| w.port_ranges.as_ref());
            let port_ranges = unset_or(
                ranges,
                declared_ranges
                    .map(|d| d.iter().cloned().collect())
                    .as_ref(),
            )
            .map(|found| match declared_ranges {
                // The declared order when the ranges are the same.
                Some(d) if d.iter().cloned().collect::<BTreeSet<_>>() == found => d.clone(),
                _ => found.into_iter().collect(),
            });
            Rule {
                name: str_of(api, "name").to_string(),
                description: str_of(api, "description").to_string(),
                enabled: bool_of(api, "enabled"),
                action: str_of(api, "action").to_string(),
                protocol: str_of(api, "protocol").to_string(),
                ports: unset_or(ports, wanted.and_then(|w| w.ports.as_ref())),
                port_ranges,
                bidirectional: bool_of(api, "bidirectional"),
                sources: sources_of[index].clone(),
                destinations: id_set(api.get("destinations")),
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        for wanted in declared_rules {
            if let Some(index) = found.iter().position(|r| str_of(r, "name") == wanted.name) {
                rules.push(rule_from(index));
            }
        }
        let mut extra: Vec<Rule> = (0..found.len())
            .filter(|i| wanted_rule(found[*i]).is_none())
            .map(rule_from)
            .collect();
        extra.sort_by(|a, b| a.name.cmp(&b.name));
        rules.extend(extra);
        Policy {
            name: str_of(policy, "name").to_string(),
            description: str_of(policy, "description").to_string(),
            enabled: bool_of(policy, "enabled"),
            rules,
        }
    }
}

impl Validate for Policy {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        if self.rules.is_empty() {
            errors.push(FieldError::field(
                "rules",
                "a policy needs at least one rule (to allow nothing, leave the policy out or set enabled = false)",
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.name.trim().is_empty() {
                errors.push(rule_error(i, "name", "must not be empty"));
            } else if self.rules[..i].iter().any(|r| r.name == rule.name) {
                errors.push(rule_error(
                    i,
                    "name",
                    format!(
                        "{:?} names another rule too; rule names are unique within a policy",
                        rule.name
                    ),
                ));
            }
            if !ACTIONS.contains(&rule.action.as_str()) {
                errors.push(rule_error(
                    i,
                    "action",
                    format!("must be accept or drop, not {:?}", rule.action),
                ));
            }
            if !PROTOCOLS.contains(&rule.protocol.as_str()) {
                errors.push(rule_error(
                    i,
                    "protocol",
                    format!(
                        "must be one of all, tcp, udp, icmp, not {:?}",
                        rule.protocol
                    ),
                ));
            }
            let has_ports = rule.ports.as_ref().is_some_and(|p| !p.is_empty())
                || rule.port_ranges.as_ref().is_some_and(|p| !p.is_empty());
            if has_ports && matches!(rule.protocol.as_str(), "all" | "icmp") {
                errors.push(rule_error(
                    i,
                    if rule.ports.as_ref().is_some_and(|p| !p.is_empty()) {
                        "ports"
                    } else {
                        "port_ranges"
                    },
                    format!(
                        "ports apply to tcp and udp only, not to protocol {:?}",
                        rule.protocol
                    ),
                ));
            }
            if rule.ports.as_ref().is_some_and(|p| !p.is_empty())
                && rule.port_ranges.as_ref().is_some_and(|p| !p.is_empty())
            {
                errors.push(rule_error(
                    i,
                    "port_ranges",
                    "set ports or port_ranges, not both (NetBird refuses a rule with both; split it in two rules)",
                ));
            }
            for port in rule.ports.iter().flatten() {
                if !port.parse::<i64>().is_ok_and(port_number) {
                    errors.push(rule_error(
                        i,
                        "ports",
                        format!("{port:?} is not a port (1 to 65535)"),
                    ));
                }
            }
            for range in rule.port_ranges.iter().flatten() {
                if !port_number(range.start) || !port_number(range.end) || range.start > range.end {
                    errors.push(rule_error(
                        i,
                        "port_ranges",
                        format!(
                            "{}-{} is not a port range (1 to 65535, start <= end)",
                            range.start, range.end
                        ),
                    ));
                }
            }
            if rule.sources.is_empty() {
                errors.push(rule_error(i, "sources", "needs at least one group ID"));
            }
            if rule.destinations.is_empty() {
                errors.push(rule_error(i, "destinations", "needs at least one group ID"));
            }
        }
        errors
    }
}

#[cfg(feature = "async-http")]
mod api {
    use serde_json::Value as Json;

    use super::Policy;
    use crate::netbird::client::{Client, Collection};
    use crate::netbird::NetbirdError;

    pub async fn create(client: &Client, object: &Policy) -> Result<Json, NetbirdError> {
        client.create(Collection::Policies, &object.to_api()).await
    }

    pub async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        client.find(Collection::Policies, id).await
    }

    pub async fn update(client: &Client, id: &str, object: &Policy) -> Result<Json, NetbirdError> {
        client
            .replace(Collection::Policies, id, &object.to_api())
            .await
    }

    pub async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        client.remove(Collection::Policies, id).await
    }
}

#[cfg(feature = "async-http")]
pub use api::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(name: &str, protocol: &str, ports: Option<Vec<&str>>) -> Rule {
        Rule {
            name: name.into(),
            description: String::new(),
            enabled: true,
            action: "accept".into(),
            protocol: protocol.into(),
            ports: ports.map(|p| p.into_iter().map(String::from).collect()),
            port_ranges: None,
            bidirectional: false,
            sources: ["g1".to_string(), "g2".to_string()].into(),
            destinations: ["g3".to_string()].into(),
        }
    }

    #[test]
    fn reordered_answers_read_as_declared() {
        let declared = Policy {
            name: "dmz-to-private".into(),
            description: String::new(),
            enabled: true,
            rules: vec![
                rule("https", "tcp", Some(vec!["443", "80"])),
                rule("ping", "icmp", None),
            ],
        };
        let group =
            |id: &str| json!({"id": id, "name": id, "peers_count": 0, "resources_count": 0});
        let api_rule = |name: &str, protocol: &str, ports: Option<Vec<&str>>| {
            let mut r = json!({"id": format!("r-{name}"), "name": name, "description": "", "enabled": true,
                "action": "accept", "protocol": protocol, "bidirectional": false,
                "sources": [group("g2"), group("g1")], "destinations": [group("g3")]});
            if let Some(p) = ports {
                r["ports"] = json!(p);
            }
            r
        };
        let api = json!({"id": "p1", "name": "dmz-to-private", "description": "", "enabled": true,
            "rules": [api_rule("ping", "icmp", None), api_rule("https", "tcp", Some(vec!["80", "443"]))]});
        assert_eq!(Policy::from_api(&api, Some(&declared)), declared);
        // As the server answers it: the later rule's sources, listed before, are left out.
        let mut answered = api.clone();
        answered["rules"][1]["sources"] = Json::Null;
        assert_eq!(Policy::from_api(&answered, Some(&declared)), declared);
        // A source group nowhere in the answer is a real difference.
        let mut moved = declared.clone();
        moved.rules[1].sources = ["g9".to_string()].into();
        assert_ne!(Policy::from_api(&answered, Some(&moved)), moved);
    }

    #[test]
    fn bad_rules_are_named_by_index() {
        let policy = Policy {
            name: "p".into(),
            description: String::new(),
            enabled: true,
            rules: vec![
                rule("a", "all", Some(vec!["443"])),
                rule("b", "tcp", Some(vec!["0", "70000"])),
            ],
        };
        let paths: Vec<String> = policy
            .validate()
            .iter()
            .map(FieldError::path_string)
            .collect();
        assert_eq!(
            paths,
            vec!["rules[0].ports", "rules[1].ports", "rules[1].ports"]
        );
        let empty = Policy {
            rules: vec![],
            ..policy
        };
        assert_eq!(empty.validate()[0].path_string(), "rules");
    }
}

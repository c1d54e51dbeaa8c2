//! `homelab_aws_security_group`: a VPC security group holding exactly the declared rules.
//!
//! Rules are compared as atoms (direction, protocol, ports, one source, description):
//! apply revokes the atoms AWS has that the configuration lacks and authorises the
//! missing ones, so exactly the declared rules exist afterwards, AWS's default
//! allow-all egress included (removed unless declared). Reading maps AWS's rules back onto
//! the declared ones, so order and grouping never show as a difference while any added,
//! removed or changed rule does.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, ResourceType, TagSpecification, UserIdGroupPair,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{sync_tags, tags_map, validate_tags, Aws, AwsError};
use crate::deadline::{Backoff, Deadline, Poll};
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};

fn default_description() -> String {
    "Managed by Tabiri Homelab".into()
}

/// A security group and its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// The group's name, unique within its VPC.
    pub name: String,
    /// What the group is for. AWS cannot change it in place.
    #[serde(default = "default_description")]
    pub description: String,
    /// The VPC (`vpc-...`); the region's default VPC when unset.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// Inbound rules. Exactly these exist after apply. Their order carries no meaning (AWS
    /// keeps none): reading keeps the declared order, and an imported group lists its rules
    /// by port, then protocol.
    #[serde(default)]
    pub ingress: Vec<Rule>,
    /// Outbound rules. Exactly these exist after apply: AWS's default allow-all egress rule
    /// is removed unless it is declared here.
    #[serde(default)]
    pub egress: Vec<Rule>,
    /// Tags on the group.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One rule: a protocol and port range, from or to a set of sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, a protocol number 0-255, or `-1` (also `all`) for
    /// every protocol.
    pub protocol: String,
    /// First port of the range (ICMP: the type, -1 for any). 0 with protocol `-1`.
    pub from_port: i64,
    /// Last port of the range (ICMP: the code, -1 for any). 0 with protocol `-1`.
    pub to_port: i64,
    /// IPv4 networks, e.g. `0.0.0.0/0` or `10.0.0.0/16`.
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
    /// IPv6 networks, e.g. `::/0`.
    #[serde(default)]
    pub ipv6_cidr_blocks: Vec<String>,
    /// Security groups (`sg-...`) whose members the rule admits (ingress) or reaches
    /// (egress).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// A note on the rule, shown in the AWS console.
    #[serde(default)]
    pub description: Option<String>,
}

/// Which list a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// One source of one rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Cidr(String),
    Ipv6Cidr(String),
    Group(String),
}

/// The unit AWS stores: a protocol and ports with one source and its description.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atom {
    pub direction: Direction,
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    pub source: Source,
    pub description: Option<String>,
}

/// The canonical protocol name AWS reports, or None for an unknown protocol.
pub fn normalize_protocol(protocol: &str) -> Option<String> {
    let lower = protocol.trim().to_ascii_lowercase();
    Some(match lower.as_str() {
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        "-1" | "all" => "-1".into(),
        other => {
            let number: u16 = other.parse().ok()?;
            if number > 255 || other.starts_with('+') {
                return None;
            }
            number.to_string()
        }
    })
}

/// Ports as AWS keeps them: meaningful for TCP, UDP and ICMP only.
fn normalized_ports(protocol: &str, from: i64, to: i64) -> (i64, i64) {
    match protocol {
        "tcp" | "udp" | "icmp" | "icmpv6" => (from, to),
        _ => (0, 0),
    }
}

impl Rule {
    /// A short description for messages: `tcp 80-80 from 0.0.0.0/0`.
    pub fn summary(&self) -> String {
        let sources: Vec<&str> = self
            .cidr_blocks
            .iter()
            .chain(&self.ipv6_cidr_blocks)
            .chain(&self.security_groups)
            .map(String::as_str)
            .collect();
        format!(
            "{} {}-{} {}",
            self.protocol,
            self.from_port,
            self.to_port,
            if sources.is_empty() {
                "with no source".to_string()
            } else {
                sources.join(", ")
            }
        )
    }

    fn atoms(&self, direction: Direction) -> Vec<Atom> {
        let protocol = normalize_protocol(&self.protocol).unwrap_or_else(|| self.protocol.clone());
        let (from_port, to_port) = normalized_ports(&protocol, self.from_port, self.to_port);
        let sources = self
            .cidr_blocks
            .iter()
            .map(|c| Source::Cidr(c.clone()))
            .chain(
                self.ipv6_cidr_blocks
                    .iter()
                    .map(|c| Source::Ipv6Cidr(c.clone())),
            )
            .chain(
                self.security_groups
                    .iter()
                    .map(|g| Source::Group(g.clone())),
            );
        sources
            .map(|source| Atom {
                direction,
                protocol: protocol.clone(),
                from_port,
                to_port,
                source,
                description: self.description.clone().filter(|d| !d.is_empty()),
            })
            .collect()
    }

    fn validate(&self, path: Vec<PathSegment>, direction: Direction, errors: &mut Vec<FieldError>) {
        let at = |field: &str| {
            let mut p = path.clone();
            p.push(PathSegment::Field(field.into()));
            p
        };
        let protocol = normalize_protocol(&self.protocol);
        if protocol.is_none() {
            errors.push(FieldError::new(
                at("protocol"),
                format!(
                    "unknown protocol {:?}: use tcp, udp, icmp, icmpv6, a protocol number 0-255, or -1 (all)",
                    self.protocol
                ),
            ));
        }
        match protocol.as_deref() {
            Some("icmp") | Some("icmpv6") => {
                for (field, value) in [("from_port", self.from_port), ("to_port", self.to_port)] {
                    if !(-1..=255).contains(&value) {
                        errors.push(FieldError::new(
                            at(field),
                            format!("{value} is not an ICMP type or code (-1 for any, else 0-255)"),
                        ));
                    }
                }
            }
            Some("-1") => {
                if self.from_port != 0 || self.to_port != 0 {
                    errors.push(FieldError::new(
                        at("from_port"),
                        format!(
                            "from_port ({}) and to_port ({}) must both be 0 with protocol \"{}\" (all protocols, all ports)",
                            self.from_port, self.to_port, self.protocol
                        ),
                    ));
                }
            }
            _ => {
                for (field, value) in [("from_port", self.from_port), ("to_port", self.to_port)] {
                    if !(0..=65535).contains(&value) {
                        errors.push(FieldError::new(
                            at(field),
                            format!("port {value} is outside 0-65535"),
                        ));
                    }
                }
                if self.from_port > self.to_port {
                    errors.push(FieldError::new(
                        at("from_port"),
                        format!(
                            "from_port ({}) is greater than to_port ({})",
                            self.from_port, self.to_port
                        ),
                    ));
                }
            }
        }
        for (i, cidr) in self.cidr_blocks.iter().enumerate() {
            let mut p = at("cidr_blocks");
            p.push(PathSegment::Index(i));
            if let Err(message) = check_cidr(cidr, false) {
                errors.push(FieldError::new(p, message));
            }
        }
        for (i, cidr) in self.ipv6_cidr_blocks.iter().enumerate() {
            let mut p = at("ipv6_cidr_blocks");
            p.push(PathSegment::Index(i));
            if let Err(message) = check_cidr(cidr, true) {
                errors.push(FieldError::new(p, message));
            }
        }
        for (i, group) in self.security_groups.iter().enumerate() {
            if !group.starts_with("sg-") {
                let mut p = at("security_groups");
                p.push(PathSegment::Index(i));
                errors.push(FieldError::new(
                    p,
                    format!("{group:?} is not a security group ID (sg-...)"),
                ));
            }
        }
        if self.cidr_blocks.is_empty()
            && self.ipv6_cidr_blocks.is_empty()
            && self.security_groups.is_empty()
        {
            let whom = match direction {
                Direction::Ingress => "from",
                Direction::Egress => "to",
            };
            errors.push(FieldError::new(
                path.clone(),
                format!("a rule needs cidr_blocks, ipv6_cidr_blocks or security_groups to say whom it allows traffic {whom}"),
            ));
        }
        if let Some(description) = &self.description {
            if description.chars().count() > 255 {
                errors.push(FieldError::new(
                    at("description"),
                    "is longer than 255 characters",
                ));
            }
        }
    }
}

/// Checks a CIDR block: an address, a prefix length that fits, no host bits set.
pub fn check_cidr(cidr: &str, ipv6: bool) -> Result<(), String> {
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let Some((address, prefix)) = cidr.split_once('/') else {
        return Err(format!(
            "{cidr:?} is not an {family} CIDR block (address/prefix, e.g. {})",
            if ipv6 { "::/0" } else { "10.0.0.0/16" }
        ));
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{cidr:?} is not an {family} CIDR block: bad address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{cidr:?} is not an {family} CIDR block: bad prefix length"))?;
    match (address, ipv6) {
        (IpAddr::V4(v4), false) => {
            if prefix > 32 {
                return Err(format!("{cidr:?}: an IPv4 prefix length is at most 32"));
            }
            let bits = u32::from(v4);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            if bits & !mask != 0 {
                let network = std::net::Ipv4Addr::from(bits & mask);
                return Err(format!(
                    "{cidr:?} has host bits set; the network is {network}/{prefix}"
                ));
            }
            Ok(())
        }
        (IpAddr::V6(v6), true) => {
            if prefix > 128 {
                return Err(format!("{cidr:?}: an IPv6 prefix length is at most 128"));
            }
            let bits = u128::from(v6);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            if bits & !mask != 0 {
                let network = std::net::Ipv6Addr::from(bits & mask);
                return Err(format!(
                    "{cidr:?} has host bits set; the network is {network}/{prefix}"
                ));
            }
            Ok(())
        }
        (_, false) => Err(format!(
            "{cidr:?} is an IPv6 block; put it in ipv6_cidr_blocks"
        )),
        (_, true) => Err(format!("{cidr:?} is an IPv4 block; put it in cidr_blocks")),
    }
}

impl SecurityGroup {
    /// Every atom the declared rules stand for.
    pub fn atoms(&self) -> BTreeSet<Atom> {
        let ingress = self
            .ingress
            .iter()
            .flat_map(|r| r.atoms(Direction::Ingress));
        let egress = self.egress.iter().flat_map(|r| r.atoms(Direction::Egress));
        ingress.chain(egress).collect()
    }
}

impl Validate for SecurityGroup {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.is_empty() || self.name.len() > 255 {
            errors.push(FieldError::field("name", "must be 1 to 255 characters"));
        } else if self.name.to_ascii_lowercase().starts_with("sg-") {
            errors.push(FieldError::field("name", "must not start with \"sg-\""));
        }
        if self.description.is_empty() || self.description.len() > 255 {
            errors.push(FieldError::field(
                "description",
                "must be 1 to 255 characters",
            ));
        }
        if let Some(vpc) = &self.vpc_id {
            if !vpc.starts_with("vpc-") {
                errors.push(FieldError::field(
                    "vpc_id",
                    format!("{vpc:?} is not a VPC ID (vpc-...)"),
                ));
            }
        }
        for (direction, rules) in [
            (Direction::Ingress, &self.ingress),
            (Direction::Egress, &self.egress),
        ] {
            for (i, rule) in rules.iter().enumerate() {
                let path = vec![
                    PathSegment::Field(direction.field().into()),
                    PathSegment::Index(i),
                ];
                let before = errors.len();
                rule.validate(path, direction, &mut errors);
                // Say which rule the index means.
                for error in &mut errors[before..] {
                    error.message = format!("{} (rule {})", error.message, rule.summary());
                }
            }
        }
        validate_tags(&self.tags, &mut errors);
        errors
    }
}

/// A security group as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub owner_id: Option<String>,
    pub atoms: BTreeSet<Atom>,
    pub tags: BTreeMap<String, String>,
}

impl Observed {
    /// The group in the shape of the arguments, with the rules arranged like `declared`'s
    /// (same order, same spelling) wherever AWS still has them; rules AWS has beyond those
    /// follow, one per protocol, port range and description.
    pub fn as_declared(&self, declared: Option<&SecurityGroup>) -> SecurityGroup {
        let mut remaining = self.atoms.clone();
        let mut lists = BTreeMap::new();
        for direction in [Direction::Ingress, Direction::Egress] {
            let prior: &[Rule] = match (declared, direction) {
                (Some(d), Direction::Ingress) => &d.ingress,
                (Some(d), Direction::Egress) => &d.egress,
                (None, _) => &[],
            };
            let mut rules = Vec::new();
            for rule in prior {
                let atoms = rule.atoms(direction);
                if !atoms.is_empty() && atoms.iter().all(|a| remaining.contains(a)) {
                    for atom in &atoms {
                        remaining.remove(atom);
                    }
                    rules.push(rule.clone());
                }
            }
            lists.insert(direction, rules);
        }
        // What is left: rules nobody declared (or declared rules AWS only partly has).
        // (Listed by port, then protocol.)
        let mut grouped: BTreeMap<(Direction, i64, i64, String, Option<String>), Rule> =
            BTreeMap::new();
        for atom in remaining {
            let key = (
                atom.direction,
                atom.from_port,
                atom.to_port,
                atom.protocol.clone(),
                atom.description.clone(),
            );
            let rule = grouped.entry(key).or_insert_with(|| Rule {
                protocol: atom.protocol.clone(),
                from_port: atom.from_port,
                to_port: atom.to_port,
                cidr_blocks: Vec::new(),
                ipv6_cidr_blocks: Vec::new(),
                security_groups: Vec::new(),
                description: atom.description.clone(),
            });
            match atom.source {
                Source::Cidr(c) => rule.cidr_blocks.push(c),
                Source::Ipv6Cidr(c) => rule.ipv6_cidr_blocks.push(c),
                Source::Group(g) => rule.security_groups.push(g),
            }
        }
        for ((direction, ..), rule) in grouped {
            lists.entry(direction).or_default().push(rule);
        }
        SecurityGroup {
            name: self.name.clone(),
            description: self.description.clone(),
            vpc_id: self.vpc_id.clone(),
            ingress: lists.remove(&Direction::Ingress).unwrap_or_default(),
            egress: lists.remove(&Direction::Egress).unwrap_or_default(),
            tags: self.tags.clone(),
        }
    }
}

/// The changes that bring a group to its declared rules and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub revoke: Vec<Atom>,
    pub authorize: Vec<Atom>,
    pub tags: Option<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.revoke.is_empty() && self.authorize.is_empty() && self.tags.is_none()
    }
}

/// Compares the declared group with the actual one (pure).
pub fn plan(desired: &SecurityGroup, actual: &Observed) -> Plan {
    let wanted = desired.atoms();
    Plan {
        revoke: actual.atoms.difference(&wanted).cloned().collect(),
        authorize: wanted.difference(&actual.atoms).cloned().collect(),
        tags: (desired.tags != actual.tags).then(|| (actual.tags.clone(), desired.tags.clone())),
    }
}

/// Reads a group; None when it does not exist.
pub async fn read(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
    let output = match aws
        .ec2
        .describe_security_groups()
        .group_ids(id)
        .send()
        .await
    {
        Ok(output) => output,
        Err(e) => {
            let error = aws.api_error("DescribeSecurityGroups", e);
            return if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let Some(group) = output
        .security_groups()
        .iter()
        .find(|g| g.group_id() == Some(id))
    else {
        return Ok(None);
    };
    let mut atoms = BTreeSet::new();
    for (direction, permissions) in [
        (Direction::Ingress, group.ip_permissions()),
        (Direction::Egress, group.ip_permissions_egress()),
    ] {
        for permission in permissions {
            atoms.extend(atoms_of(direction, permission));
        }
    }
    Ok(Some(Observed {
        id: id.to_string(),
        name: group.group_name().unwrap_or_default().to_string(),
        description: group.description().unwrap_or_default().to_string(),
        vpc_id: group.vpc_id().map(str::to_string),
        owner_id: group.owner_id().map(str::to_string),
        atoms,
        tags: tags_map(group.tags()),
    }))
}

fn atoms_of(direction: Direction, permission: &IpPermission) -> Vec<Atom> {
    let raw = permission.ip_protocol().unwrap_or("-1");
    let protocol = normalize_protocol(raw).unwrap_or_else(|| raw.to_string());
    let (from_port, to_port) = normalized_ports(
        &protocol,
        permission.from_port().map(i64::from).unwrap_or(0),
        permission.to_port().map(i64::from).unwrap_or(0),
    );
    let atom = |source: Source, description: Option<&str>| Atom {
        direction,
        protocol: protocol.clone(),
        from_port,
        to_port,
        source,
        description: description.filter(|d| !d.is_empty()).map(str::to_string),
    };
    let mut atoms = Vec::new();
    for range in permission.ip_ranges() {
        if let Some(cidr) = range.cidr_ip() {
            atoms.push(atom(Source::Cidr(cidr.to_string()), range.description()));
        }
    }
    for range in permission.ipv6_ranges() {
        if let Some(cidr) = range.cidr_ipv6() {
            atoms.push(atom(
                Source::Ipv6Cidr(cidr.to_string()),
                range.description(),
            ));
        }
    }
    for pair in permission.user_id_group_pairs() {
        if let Some(group) = pair.group_id() {
            atoms.push(atom(Source::Group(group.to_string()), pair.description()));
        }
    }
    atoms
}

/// The IpPermissions for a set of atoms of one direction, one permission per atom (AWS
/// groups them itself).
fn permissions(atoms: &[&Atom]) -> Vec<IpPermission> {
    atoms
        .iter()
        .map(|atom| {
            let mut builder = IpPermission::builder().ip_protocol(&atom.protocol);
            if matches!(atom.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6") {
                builder = builder
                    .from_port(atom.from_port as i32)
                    .to_port(atom.to_port as i32);
            }
            let description = atom.description.clone();
            match &atom.source {
                Source::Cidr(c) => builder.ip_ranges(
                    IpRange::builder()
                        .cidr_ip(c)
                        .set_description(description)
                        .build(),
                ),
                Source::Ipv6Cidr(c) => builder.ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6(c)
                        .set_description(description)
                        .build(),
                ),
                Source::Group(g) => builder.user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(g)
                        .set_description(description)
                        .build(),
                ),
            }
            .build()
        })
        .collect()
}

/// Creates the group (AWS adds its default allow-all egress rule, which `apply` then
/// removes unless declared). Returns the new group's ID.
pub async fn create(aws: &Aws, desired: &SecurityGroup) -> Result<String, AwsError> {
    let mut request = aws
        .ec2
        .create_security_group()
        .group_name(&desired.name)
        .description(&desired.description)
        .set_vpc_id(desired.vpc_id.clone());
    if !desired.tags.is_empty() {
        request = request.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(super::ec2_tags(&desired.tags)))
                .build(),
        );
    }
    let output = request
        .send()
        .await
        .map_err(|e| aws.api_error("CreateSecurityGroup", e))?;
    output
        .group_id()
        .map(str::to_string)
        .ok_or_else(|| AwsError::NotFound("CreateSecurityGroup returned no group ID".into()))
}

/// Carries a plan out: revokes first (so a changed description is re-added), then
/// authorises, then tags.
pub async fn apply(aws: &Aws, id: &str, plan: &Plan) -> Result<(), AwsError> {
    for direction in [Direction::Ingress, Direction::Egress] {
        let revoke: Vec<&Atom> = plan
            .revoke
            .iter()
            .filter(|a| a.direction == direction)
            .collect();
        if revoke.is_empty() {
            continue;
        }
        let perms = Some(permissions(&revoke));
        match direction {
            Direction::Ingress => aws
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws.api_error("RevokeSecurityGroupIngress", e))?,
            Direction::Egress => aws
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws.api_error("RevokeSecurityGroupEgress", e))?,
        }
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        let authorize: Vec<&Atom> = plan
            .authorize
            .iter()
            .filter(|a| a.direction == direction)
            .collect();
        if authorize.is_empty() {
            continue;
        }
        let perms = Some(permissions(&authorize));
        match direction {
            Direction::Ingress => aws
                .ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws.api_error("AuthorizeSecurityGroupIngress", e))?,
            Direction::Egress => aws
                .ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(perms)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws.api_error("AuthorizeSecurityGroupEgress", e))?,
        }
    }
    if let Some((actual, desired)) = &plan.tags {
        sync_tags(aws, id, actual, desired).await?;
    }
    Ok(())
}

/// Deletes the group, retrying while a network interface (an instance still shutting
/// down) references it, up to `deadline`. A group already gone is fine.
pub async fn delete(aws: &Aws, id: &str, deadline: &Deadline) -> Result<(), AwsError> {
    deadline
        .poll(
            &format!("security group {id} to be free of network interfaces so it can be deleted"),
            Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
            || async {
                match aws.ec2.delete_security_group().group_id(id).send().await {
                    Ok(_) => Ok(Poll::Done(())),
                    Err(e) => {
                        let error = aws.api_error("DeleteSecurityGroup", e);
                        if error.is_not_found() {
                            Ok(Poll::Done(()))
                        } else if error.code() == Some("DependencyViolation") {
                            Ok(Poll::Pending(error.to_string()))
                        } else {
                            Err(error)
                        }
                    }
                }
            },
        )
        .await
}

#[cfg(test)]
mod tests;

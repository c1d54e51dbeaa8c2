//! Unit tests of `security_group`.

use super::*;

fn rule(protocol: &str, from: i64, to: i64, cidrs: &[&str]) -> Rule {
    Rule {
        protocol: protocol.into(),
        from_port: from,
        to_port: to,
        cidr_blocks: cidrs.iter().map(|s| s.to_string()).collect(),
        ipv6_cidr_blocks: vec![],
        security_groups: vec![],
        description: None,
    }
}

fn group(ingress: Vec<Rule>, egress: Vec<Rule>) -> SecurityGroup {
    SecurityGroup {
        name: "lab-public".into(),
        description: "d".into(),
        vpc_id: None,
        ingress,
        egress,
        tags: BTreeMap::new(),
    }
}

fn observed(atoms: BTreeSet<Atom>) -> Observed {
    Observed {
        id: "sg-1".into(),
        name: "lab-public".into(),
        description: "d".into(),
        vpc_id: Some("vpc-1".into()),
        owner_id: None,
        atoms,
        tags: BTreeMap::new(),
    }
}

#[test]
fn plan_revokes_default_egress_and_authorises_declared() {
    let desired = group(vec![rule("tcp", 443, 443, &["0.0.0.0/0"])], vec![]);
    let default_egress = group(vec![], vec![rule("-1", 0, 0, &["0.0.0.0/0"])]).atoms();
    let plan = plan(&desired, &observed(default_egress));
    assert_eq!(plan.revoke.len(), 1);
    assert_eq!(plan.revoke[0].direction, Direction::Egress);
    assert_eq!(plan.authorize.len(), 1);
    assert_eq!(plan.authorize[0].from_port, 443);
}

#[test]
fn read_back_keeps_declared_order_and_spelling_and_shows_extras() {
    let declared = group(
        vec![
            rule("tcp", 443, 443, &["0.0.0.0/0"]),
            rule("TCP", 80, 80, &["0.0.0.0/0", "10.0.0.0/8"]),
        ],
        vec![rule("all", 0, 0, &["0.0.0.0/0"])],
    );
    let mut atoms = declared.atoms();
    // Unchanged: the same rules come back in the declared order and spelling.
    let back = observed(atoms.clone()).as_declared(Some(&declared));
    assert_eq!(
        back,
        SecurityGroup {
            vpc_id: Some("vpc-1".into()),
            ..declared.clone()
        }
    );
    // A rule added behind our back shows as an extra rule.
    atoms.insert(Atom {
        direction: Direction::Ingress,
        protocol: "tcp".into(),
        from_port: 22,
        to_port: 22,
        source: Source::Cidr("0.0.0.0/0".into()),
        description: None,
    });
    let back = observed(atoms).as_declared(Some(&declared));
    assert_eq!(back.ingress.len(), 3);
    assert_eq!(back.ingress[2], rule("tcp", 22, 22, &["0.0.0.0/0"]));
}

#[test]
fn imported_rules_are_listed_by_port() {
    let declared = group(
        vec![
            rule("tcp", 443, 443, &["0.0.0.0/0"]),
            rule("udp", 53, 53, &["10.0.0.0/8"]),
            rule("tcp", 22, 22, &["10.0.0.0/8"]),
        ],
        vec![],
    );
    let back = observed(declared.atoms()).as_declared(None);
    let ports: Vec<i64> = back.ingress.iter().map(|r| r.from_port).collect();
    assert_eq!(ports, vec![22, 53, 443]);
}

#[test]
fn partly_present_rule_reads_as_changed() {
    let declared = group(
        vec![rule("tcp", 80, 80, &["0.0.0.0/0", "10.0.0.0/8"])],
        vec![],
    );
    let atoms: BTreeSet<Atom> = group(vec![rule("tcp", 80, 80, &["10.0.0.0/8"])], vec![]).atoms();
    let back = observed(atoms).as_declared(Some(&declared));
    assert_eq!(back.ingress, vec![rule("tcp", 80, 80, &["10.0.0.0/8"])]);
}

#[test]
fn validation_names_the_attribute() {
    let bad = group(
        vec![
            rule("tcp", 0, 70000, &["0.0.0.0/0"]),
            rule("tcp", 443, 80, &["0.0.0.0/0"]),
            rule("tcpx", 1, 1, &["0.0.0.0/0"]),
            rule("tcp", 1, 1, &["10.0.0.300/8"]),
            rule("tcp", 1, 1, &["10.0.0.1/8"]),
            rule("tcp", 1, 1, &[]),
        ],
        vec![rule("-1", 0, 65535, &["0.0.0.0/0"])],
    );
    let text: Vec<String> = bad.validate().iter().map(ToString::to_string).collect();
    let expect = [
        "ingress[0].to_port: port 70000 is outside 0-65535",
        "ingress[1].from_port: from_port (443) is greater than to_port (80) (rule tcp 443-80 0.0.0.0/0)",
        "ingress[2].protocol: unknown protocol \"tcpx\"",
        "ingress[3].cidr_blocks[0]: \"10.0.0.300/8\" is not an IPv4 CIDR block",
        "ingress[4].cidr_blocks[0]: \"10.0.0.1/8\" has host bits set; the network is 10.0.0.0/8",
        "ingress[5]: a rule needs cidr_blocks",
        "egress[0].from_port: from_port (0) and to_port (65535) must both be 0",
    ];
    for e in expect {
        assert!(
            text.iter().any(|t| t.starts_with(e)),
            "missing {e:?} in {text:#?}"
        );
    }
}

#[test]
fn protocols_normalise() {
    assert_eq!(normalize_protocol("TCP").as_deref(), Some("tcp"));
    assert_eq!(normalize_protocol("all").as_deref(), Some("-1"));
    assert_eq!(normalize_protocol("17").as_deref(), Some("udp"));
    assert_eq!(normalize_protocol("47").as_deref(), Some("47"));
    assert_eq!(normalize_protocol("256"), None);
    assert_eq!(normalize_protocol("http"), None);
}

//! homelab_route53_record and the homelab_route53_zone lookup with the real terraform
//! against moto, and a whole cloud edge as users write it (AMI lookup, security group,
//! instance, zone, record): create, empty plan, UPSERT in place, replacement on a new name,
//! drift, import by `ZONEID_NAME_TYPE` then an empty plan, destroy leaving nothing; an
//! existing record is refused with a hint to import unless allow_overwrite; bad input at plan.

mod aws_support;

use std::sync::OnceLock;

use acceptance_tests::moto::{self, Moto};
use aws_support::Sdk;

const ADDRESS: &str = "homelab_route53_record.airflow";

struct Fixture {
    moto: Moto,
    zone_id: String,
}

/// One moto for the file, with the zone `lab.example.com`.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let moto = Moto::start();
        let zone_id = Sdk::new(&moto.endpoint).create_zone("lab.example.com");
        Fixture { moto, zone_id }
    })
}

/// A cloud edge as users write it.
const INTERFACE: &str = r##"
data "homelab_aws_ami" "ubuntu" {
  owners      = ["amazon"]
  name        = "ubuntu/images/hvm-ssd/ubuntu-*"
  most_recent = true
}

resource "homelab_aws_security_group" "public" {
  name        = "lab-public"
  description = "Public zone: HTTP and HTTPS from anywhere"
  ingress = [
    { protocol = "tcp", from_port = 443, to_port = 443, cidr_blocks = ["0.0.0.0/0"] },
    { protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["0.0.0.0/0"] },
  ]
  egress = [{ protocol = "-1", from_port = 0, to_port = 0, cidr_blocks = ["0.0.0.0/0"] }]
  tags   = { Zone = "public" }
}

resource "homelab_aws_instance" "airflow" {
  ami                = data.homelab_aws_ami.ubuntu.id
  instance_type      = "t3.small"
  security_group_ids = [homelab_aws_security_group.public.id]
  user_data          = "#cloud-config\npackages: [docker.io]\n"
  tags               = { Name = "airflow", Tier = "cloud" }
}

data "homelab_route53_zone" "lab" { name = "lab.example.com" }

resource "homelab_route53_record" "airflow" {
  zone_id = data.homelab_route53_zone.lab.id
  name    = "airflow.lab.example.com"
  type    = "A"
  ttl     = 300
  records = [homelab_aws_instance.airflow.public_ip]
}
"##;

#[test]
fn the_interface_verbatim_against_moto() {
    let f = fixture();
    let sdk = Sdk::new(&f.moto.endpoint);
    let ws = moto::workspace(&f.moto.endpoint);
    ws.config(&format!("{}{INTERFACE}", moto::provider_block()));
    ws.apply();
    let instance = ws.resource("homelab_aws_instance.airflow").unwrap();
    let public_ip = instance["public_ip"].as_str().unwrap().to_string();
    let group = ws.resource("homelab_aws_security_group.public").unwrap();
    assert_eq!(
        instance["security_group_ids"],
        serde_json::json!([group["id"]])
    );
    let record = ws.resource(ADDRESS).unwrap();
    assert_eq!(record["zone_id"], f.zone_id.as_str());
    assert_eq!(
        record["id"],
        format!("{}_airflow.lab.example.com_A", f.zone_id)
    );
    assert!(sdk.records(&f.zone_id).contains(&(
        "airflow.lab.example.com".to_string(),
        "A".to_string(),
        vec![public_ip]
    )));
    ws.expect_empty_plan();
    ws.destroy();
    assert!(sdk
        .records(&f.zone_id)
        .iter()
        .all(|(name, _, _)| name != "airflow.lab.example.com"));
    assert!(sdk.groups_named("lab-public").is_empty());
    assert!(sdk.instance_states().iter().all(|(_, s)| s == "terminated"));
}

fn record_config(name: &str, ttl: u32, records: &[&str], extra: &str) -> String {
    let records = records
        .iter()
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"{}
data "homelab_route53_zone" "lab" {{ name = "lab.example.com" }}

resource "homelab_route53_record" "airflow" {{
  zone_id = data.homelab_route53_zone.lab.id
  name    = "{name}"
  type    = "A"
  ttl     = {ttl}
  records = [{records}]
{extra}
}}
"#,
        moto::provider_block()
    )
}

#[test]
fn record_lifecycle_against_moto() {
    let f = fixture();
    let sdk = Sdk::new(&f.moto.endpoint);
    let ws = moto::workspace(&f.moto.endpoint);
    let name = "grafana.lab.example.com";
    let entry = |records: &[&str]| {
        (
            name.to_string(),
            "A".to_string(),
            records.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        )
    };

    ws.config(&record_config(name, 300, &["203.0.113.10"], ""));
    ws.apply();
    assert!(sdk.records(&f.zone_id).contains(&entry(&["203.0.113.10"])));
    ws.expect_empty_plan();

    // TTL and values change in place (UPSERT).
    ws.config(&record_config(
        name,
        60,
        &["203.0.113.10", "203.0.113.11"],
        "",
    ));
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    let (_, _, values) = sdk
        .records(&f.zone_id)
        .into_iter()
        .find(|(n, t, _)| n == name && t == "A")
        .unwrap();
    let mut values = values;
    values.sort();
    assert_eq!(values, vec!["203.0.113.10", "203.0.113.11"]);
    ws.expect_empty_plan();

    // Drift: the record changed behind Terraform's back shows in the plan; apply restores it.
    sdk.upsert_record(&f.zone_id, name, "A", 60, &["198.51.100.1"]);
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    ws.expect_empty_plan();

    // Import by ZONEID_NAME_TYPE, then an empty plan.
    ws.state_rm(ADDRESS);
    ws.import(ADDRESS, &format!("{}_{name}_A", f.zone_id));
    ws.expect_empty_plan();

    // A new name replaces the record.
    let renamed = "metrics.lab.example.com";
    ws.config(&record_config(
        renamed,
        60,
        &["203.0.113.10", "203.0.113.11"],
        "",
    ));
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    let records = sdk.records(&f.zone_id);
    assert!(records.iter().all(|(n, _, _)| n != name), "{records:?}");
    assert!(records.iter().any(|(n, _, _)| n == renamed), "{records:?}");

    // Destroy: only what moto made for the zone (SOA, NS) is left.
    ws.destroy();
    let records = sdk.records(&f.zone_id);
    assert!(
        records.iter().all(|(_, t, _)| t == "SOA" || t == "NS"),
        "{records:?}"
    );
}

/// A zone deleted behind Terraform's back takes its records with it: the refresh forgets
/// the record instead of failing, the plan to create it again warns about the missing zone,
/// the apply fails naming it, and destroy goes through.
#[test]
fn a_record_whose_zone_was_deleted_is_gone_not_an_error() {
    let f = fixture();
    let sdk = Sdk::new(&f.moto.endpoint);
    let zone_id = sdk.create_zone("vanishing.example.com");
    let ws = moto::workspace(&f.moto.endpoint);
    ws.config(&format!(
        r#"{}
resource "homelab_route53_record" "airflow" {{
  zone_id = "{zone_id}"
  name    = "airflow.vanishing.example.com"
  type    = "A"
  ttl     = 300
  records = ["203.0.113.20"]
}}
"#,
        moto::provider_block()
    ));
    ws.apply();
    ws.expect_empty_plan();

    sdk.delete_zone(&zone_id);
    let plan = ws.ok(&["plan", "-input=false", "-no-color"]);
    assert!(plan.contains("Hosted zone not found"), "{plan}");
    assert!(plan.contains("will be created"), "{plan}");
    let apply = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(apply.contains("NoSuchHostedZone"), "{apply}");
    ws.destroy();
    assert!(ws.resource(ADDRESS).is_none(), "the record left the state");
}

#[test]
fn an_existing_record_is_refused_with_a_hint_to_import_unless_allow_overwrite() {
    let f = fixture();
    let sdk = Sdk::new(&f.moto.endpoint);
    let name = "legacy.lab.example.com";
    sdk.upsert_record(&f.zone_id, name, "A", 300, &["192.0.2.1"]);
    let ws = moto::workspace(&f.moto.endpoint);
    ws.config(&record_config(name, 300, &["192.0.2.2"], ""));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("already exists")
            && text.contains("terraform import")
            && text.contains(&format!("{}_{name}_A", f.zone_id)),
        "the error should say to import: {text}"
    );
    let untouched = sdk.records(&f.zone_id);
    assert!(untouched.contains(&(
        name.to_string(),
        "A".to_string(),
        vec!["192.0.2.1".to_string()]
    )));

    // allow_overwrite takes it over.
    ws.config(&record_config(
        name,
        300,
        &["192.0.2.2"],
        "  allow_overwrite = true",
    ));
    ws.apply();
    assert!(sdk.records(&f.zone_id).contains(&(
        name.to_string(),
        "A".to_string(),
        vec!["192.0.2.2".to_string()]
    )));
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn bad_input_is_rejected_at_plan_with_the_attribute() {
    let f = fixture();
    let zone = &f.zone_id;
    let cases: &[(&str, &str, &str)] = &[
        (
            "type = \"PTR\"",
            "type = \"PTR\"",
            "is not a supported record type",
        ),
        ("ttl = -1", "ttl = -1", "ttl: -1 is negative"),
        (
            "type = \"CNAME\"\nrecords = [\"a.example.com\", \"b.example.com\"]",
            "records = [",
            "a CNAME record has exactly one value",
        ),
        (
            "alias {\n  name = \"lb.example.com\"\n  zone_id = \"Z2\"\n}",
            "resource \"homelab_route53_record\" \"bad\"",
            "records and alias are both set",
        ),
        (
            "name = \"airflow.example.org\"",
            "name = \"airflow.example.org\"",
            "is outside the zone lab.example.com",
        ),
    ];
    for (change, pointed, expected) in cases {
        let mut fields = vec![
            ("zone_id", format!("{zone:?}")),
            ("name", "\"bad.lab.example.com\"".to_string()),
            ("type", "\"A\"".to_string()),
            ("ttl", "300".to_string()),
            ("records", "[\"192.0.2.1\"]".to_string()),
        ];
        // Top-level lines of the change replace the field they set.
        for line in change.lines().filter(|l| !l.starts_with(' ')) {
            if let Some((key, _)) = line.split_once(" = ") {
                fields.retain(|(k, _)| *k != key);
            }
        }
        let mut body: String = fields
            .iter()
            .map(|(k, v)| format!("  {k} = {v}\n"))
            .collect();
        for line in change.lines() {
            body.push_str(&format!("  {line}\n"));
        }
        let ws = moto::workspace(&f.moto.endpoint);
        ws.config(&format!(
            "{}\nresource \"homelab_route53_record\" \"bad\" {{\n{body}}}\n",
            moto::provider_block()
        ));
        let text = ws.fails(&["plan", "-input=false", "-no-color"]);
        assert!(
            text.contains("Invalid Route 53 record") && text.contains(expected),
            "{change}: the diagnostic should say {expected:?}:\n{text}"
        );
        assert!(
            text.contains(pointed),
            "{change}: should point at {pointed}:\n{text}"
        );
    }
}

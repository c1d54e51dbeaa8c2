//! homelab_aws_security_group with the real terraform against moto: exactly the declared
//! rules exist (the default egress rule goes), rules change in place, a rule or tag
//! changed behind Terraform's back shows in the plan, import gives an empty plan, a new
//! name replaces the group, destroy leaves nothing; bad input fails at plan with the
//! attribute path; without an `aws` block the error names it.

mod aws_support;

use std::sync::OnceLock;

use acceptance_tests::moto::{self, Moto};
use acceptance_tests::Workspace;
use aws_support::Sdk;
use lab::aws::sdk::ec2::types::{IpPermission, IpRange};

const ADDRESS: &str = "homelab_aws_security_group.public";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

/// The interface's group, with its name, ingress rules and tags as parameters.
fn group_config(name: &str, ingress: &[(u16, &str)], tags: &str) -> String {
    let ingress: String = ingress
        .iter()
        .map(|(port, cidr)| {
            format!("    {{ protocol = \"tcp\", from_port = {port}, to_port = {port}, cidr_blocks = [\"{cidr}\"] }},\n")
        })
        .collect();
    format!(
        r#"{}
resource "homelab_aws_security_group" "public" {{
  name        = "{name}"
  description = "Public zone: HTTP and HTTPS from anywhere"
  ingress = [
{ingress}  ]
  egress = [{{ protocol = "-1", from_port = 0, to_port = 0, cidr_blocks = ["0.0.0.0/0"] }}]
  tags   = {tags}
}}

output "group_id" {{ value = homelab_aws_security_group.public.id }}
"#,
        moto::provider_block()
    )
}

/// (direction, protocol, from, to, cidr) of every rule AWS has for the group.
fn rules(sdk: &Sdk, id: &str) -> Vec<(String, String, i32, i32, String)> {
    let output = sdk
        .run(sdk.ec2().describe_security_groups().group_ids(id).send())
        .expect("DescribeSecurityGroups");
    let group = &output.security_groups()[0];
    let mut out = Vec::new();
    for (direction, permissions) in [
        ("ingress", group.ip_permissions()),
        ("egress", group.ip_permissions_egress()),
    ] {
        for p in permissions {
            for range in p.ip_ranges() {
                out.push((
                    direction.to_string(),
                    p.ip_protocol().unwrap_or_default().to_string(),
                    p.from_port().unwrap_or(0),
                    p.to_port().unwrap_or(0),
                    range.cidr_ip().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn tcp(direction: &str, port: i32, cidr: &str) -> (String, String, i32, i32, String) {
    (direction.into(), "tcp".into(), port, port, cidr.into())
}

#[test]
fn lifecycle_against_moto() {
    let moto = moto();
    let sdk = Sdk::new(&moto.endpoint);
    let ws = moto::workspace(&moto.endpoint);
    let web = [(443, "0.0.0.0/0"), (80, "0.0.0.0/0")];

    // Create: exactly the declared rules; AWS's default egress is replaced by the declared one.
    ws.config(&group_config("lab-public", &web, "{ Zone = \"public\" }"));
    ws.apply();
    let state = ws.resource(ADDRESS).expect("group in state");
    let id = state["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sg-"), "{state}");
    assert!(
        state["vpc_id"].as_str().unwrap().starts_with("vpc-"),
        "{state}"
    );
    let egress_all = (
        "egress".to_string(),
        "-1".to_string(),
        0,
        0,
        "0.0.0.0/0".to_string(),
    );
    assert_eq!(
        rules(&sdk, &id),
        vec![
            egress_all.clone(),
            tcp("ingress", 80, "0.0.0.0/0"),
            tcp("ingress", 443, "0.0.0.0/0")
        ]
    );
    ws.expect_empty_plan();

    // In place: a rule added and one changed; the group keeps its ID. (Listed by port: the
    // order an imported group's rules come back in, so the import below plans nothing.)
    let changed = [
        (22, "192.168.1.0/24"),
        (443, "0.0.0.0/0"),
        (8080, "10.0.0.0/8"),
    ];
    ws.config(&group_config(
        "lab-public",
        &changed,
        "{ Zone = \"public\" }",
    ));
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert_eq!(ws.resource(ADDRESS).unwrap()["id"], id.as_str());
    assert_eq!(
        rules(&sdk, &id),
        vec![
            egress_all.clone(),
            tcp("ingress", 22, "192.168.1.0/24"),
            tcp("ingress", 443, "0.0.0.0/0"),
            tcp("ingress", 8080, "10.0.0.0/8"),
        ]
    );
    ws.expect_empty_plan();

    // Drift: a rule opened behind Terraform's back shows in the plan; apply revokes it.
    sdk.run(
        sdk.ec2()
            .authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(3306)
                    .to_port(3306)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send(),
    )
    .expect("AuthorizeSecurityGroupIngress");
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert!(!rules(&sdk, &id).contains(&tcp("ingress", 3306, "0.0.0.0/0")));
    ws.expect_empty_plan();

    // Drift: a tag changed behind Terraform's back shows in the plan; apply puts it back.
    sdk.tag(&id, "Zone", "private");
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    let group = &sdk.groups_named("lab-public")[0];
    let zone_tag = group
        .tags()
        .iter()
        .find(|t| t.key() == Some("Zone"))
        .unwrap();
    assert_eq!(zone_tag.value(), Some("public"));
    ws.expect_empty_plan();

    // Import: forget the group, import it by ID, and the plan is empty again.
    ws.state_rm(ADDRESS);
    ws.import(ADDRESS, &id);
    ws.expect_empty_plan();

    // A new name replaces the group: the old one goes, the new one comes.
    ws.config(&group_config(
        "lab-public-2",
        &changed,
        "{ Zone = \"public\" }",
    ));
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    assert!(sdk.groups_named("lab-public").is_empty());
    assert_eq!(sdk.groups_named("lab-public-2").len(), 1);

    // Destroy: nothing is left in moto.
    ws.destroy();
    assert!(sdk.groups_named("lab-public-2").is_empty());
    assert!(ws.resource(ADDRESS).is_none());
}

#[test]
fn bad_input_is_rejected_at_plan_with_the_attribute_path() {
    let moto = moto();
    let cases: &[(&str, &str)] = &[
        (
            r#"{ protocol = "tcp", from_port = 0, to_port = 70000, cidr_blocks = ["0.0.0.0/0"] }"#,
            "ingress[0].to_port: port 70000 is outside 0-65535",
        ),
        (
            r#"{ protocol = "tcp", from_port = -1, to_port = 80, cidr_blocks = ["0.0.0.0/0"] }"#,
            "ingress[0].from_port: port -1 is outside 0-65535",
        ),
        (
            r#"{ protocol = "tcp", from_port = 443, to_port = 80, cidr_blocks = ["0.0.0.0/0"] }"#,
            "ingress[0].from_port: from_port (443) is greater than to_port (80)",
        ),
        (
            r#"{ protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["10.0.0.300/8"] }"#,
            "ingress[0].cidr_blocks[0]: \"10.0.0.300/8\" is not an IPv4 CIDR block",
        ),
        (
            r#"{ protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["10.1.2.3/8"] }"#,
            "ingress[0].cidr_blocks[0]: \"10.1.2.3/8\" has host bits set",
        ),
        (
            r#"{ protocol = "tcpp", from_port = 80, to_port = 80, cidr_blocks = ["0.0.0.0/0"] }"#,
            "ingress[0].protocol: unknown protocol \"tcpp\"",
        ),
    ];
    for (rule, expected) in cases {
        let ws = moto::workspace(&moto.endpoint);
        ws.config(&format!(
            "{}\nresource \"homelab_aws_security_group\" \"bad\" {{\n  name = \"bad\"\n  ingress = [\n    {rule},\n  ]\n}}\n",
            moto::provider_block()
        ));
        let text = ws.fails(&["plan", "-input=false", "-no-color"]);
        assert!(
            text.contains("Invalid security group") && text.contains(expected),
            "{rule}: the diagnostic should say {expected:?}:\n{text}"
        );
        // (Terraform up to 1.14, 1.11 included, cannot point its source excerpt inside nested
        // attributes; the path is in the message.)
    }
    assert!(Sdk::new(&moto.endpoint).groups_named("bad").is_empty());
}

#[test]
fn without_an_aws_block_plan_fails_naming_it() {
    let ws = Workspace::new();
    ws.config(
        r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
provider "homelab" {}
resource "homelab_aws_security_group" "public" {
  name = "lab-public"
}
"#,
    );
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("AWS is not configured") && text.contains("`aws` block"),
        "{text}"
    );
}

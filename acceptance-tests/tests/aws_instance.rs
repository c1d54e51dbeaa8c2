//! homelab_aws_instance and the homelab_aws_ami lookup with the real terraform against moto:
//! create waits until running, instance_type and user_data change in place (stop, modify,
//! start) unless user_data_replace_on_change, a new AMI replaces the instance, a tag changed
//! behind Terraform's back shows in the plan, import gives an empty plan, destroy terminates.
//! Faults: an AMI that does not exist, an instance that never reaches running (kept in state
//! as tainted and replaced by the next apply, never orphaned), ambiguous AMI lookups, bad
//! input at plan.

mod aws_support;

use std::sync::OnceLock;

use acceptance_tests::moto::{self, Moto, PendingProxy, AMIS, NEWEST_UBUNTU};
use aws_support::Sdk;
use lab::aws::sdk::ec2::types::InstanceAttributeName;

const ADDRESS: &str = "homelab_aws_instance.airflow";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

/// The interface's AMI lookup and instance; `ami` is an expression, `extra` more arguments.
fn instance_config(ami: &str, instance_type: &str, user_data: &str, extra: &str) -> String {
    format!(
        r#"{}
data "homelab_aws_ami" "ubuntu" {{
  owners      = ["amazon"]
  name        = "ubuntu/images/hvm-ssd/ubuntu-*"
  most_recent = true
}}

resource "homelab_aws_instance" "airflow" {{
  ami                = {ami}
  instance_type      = "{instance_type}"
  user_data          = {user_data:?}
  tags               = {{ Name = "airflow", Tier = "cloud" }}
{extra}
}}
"#,
        moto::provider_block()
    )
}

fn user_data(sdk: &Sdk, id: &str) -> String {
    use base64::Engine as _;
    let output = sdk
        .run(
            sdk.ec2()
                .describe_instance_attribute()
                .instance_id(id)
                .attribute(InstanceAttributeName::UserData)
                .send(),
        )
        .expect("DescribeInstanceAttribute");
    let encoded = output
        .user_data()
        .and_then(|v| v.value())
        .unwrap_or_default();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

fn state_name(sdk: &Sdk, id: &str) -> String {
    sdk.instance(id)
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default()
}

#[test]
fn lifecycle_against_moto() {
    let moto = moto();
    let sdk = Sdk::new(&moto.endpoint);
    let ws = moto::workspace(&moto.endpoint);
    let ami = "data.homelab_aws_ami.ubuntu.id";
    let first = "#cloud-config\npackages: [docker.io]\n";
    let second = "#cloud-config\npackages: [docker.io, git]\n";

    // Create: the newest Ubuntu AMI, running, with addresses.
    ws.config(&instance_config(ami, "t3.small", first, ""));
    ws.apply();
    let state = ws.resource(ADDRESS).expect("instance in state");
    let id = state["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("i-"), "{state}");
    assert_eq!(state["ami"], NEWEST_UBUNTU);
    assert_eq!(state["instance_state"], "running");
    assert!(
        state["private_ip"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty()),
        "{state}"
    );
    assert_eq!(state_name(&sdk, &id), "running");
    assert_eq!(user_data(&sdk, &id), first);
    ws.expect_empty_plan();

    // instance_type changes in place: stopped, modified, started; same instance.
    ws.config(&instance_config(ami, "t3.medium", first, ""));
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert_eq!(ws.resource(ADDRESS).unwrap()["id"], id.as_str());
    let instance = sdk.instance(&id);
    assert_eq!(
        instance.instance_type().map(|t| t.as_str()),
        Some("t3.medium")
    );
    assert_eq!(state_name(&sdk, &id), "running");
    ws.expect_empty_plan();

    // user_data changes in place too (user_data_replace_on_change is false).
    ws.config(&instance_config(ami, "t3.medium", second, ""));
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    assert_eq!(ws.resource(ADDRESS).unwrap()["id"], id.as_str());
    assert_eq!(user_data(&sdk, &id), second);
    ws.expect_empty_plan();

    // Drift: a tag changed behind Terraform's back shows in the plan; apply puts it back.
    sdk.tag(&id, "Tier", "edge");
    ws.expect_plan(ADDRESS, &["update"]);
    ws.apply();
    let tier = sdk
        .instance(&id)
        .tags()
        .iter()
        .find(|t| t.key() == Some("Tier"))
        .and_then(|t| t.value().map(str::to_string));
    assert_eq!(tier.as_deref(), Some("cloud"));
    ws.expect_empty_plan();

    // Import: forget the instance, import it by ID, and the plan is empty again.
    ws.state_rm(ADDRESS);
    ws.import(ADDRESS, &id);
    ws.expect_empty_plan();

    // With user_data_replace_on_change, new user data replaces the instance.
    let replace = "  user_data_replace_on_change = true";
    ws.config(&instance_config(ami, "t3.medium", second, replace));
    ws.apply();
    ws.config(&instance_config(ami, "t3.medium", first, replace));
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    let replaced = ws.resource(ADDRESS).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(replaced, id);
    assert_eq!(state_name(&sdk, &id), "terminated");
    assert_eq!(user_data(&sdk, &replaced), first);
    ws.expect_empty_plan();

    // A different AMI replaces the instance.
    let older = format!("{:?}", AMIS[1].0);
    ws.config(&instance_config(&older, "t3.medium", first, replace));
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    let third = ws.resource(ADDRESS).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(third, replaced);
    assert_eq!(sdk.instance(&third).image_id(), Some(AMIS[1].0));
    assert_eq!(state_name(&sdk, &replaced), "terminated");

    // Destroy: every instance is terminated.
    ws.destroy();
    assert!(ws.resource(ADDRESS).is_none());
    let states = sdk.instance_states();
    for instance in [&id, &replaced, &third] {
        assert!(
            states
                .iter()
                .any(|(i, s)| i == instance && s == "terminated"),
            "{instance} is not terminated: {states:?}"
        );
    }
}

#[test]
fn an_ami_that_does_not_exist_fails_with_the_aws_error() {
    let moto = moto();
    let ws = moto::workspace(&moto.endpoint);
    ws.config(&instance_config(
        "\"ami-0123456789abcdef0\"",
        "t3.small",
        "",
        "",
    ));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("Cannot launch the EC2 instance")
            && text.contains("RunInstances")
            && text.contains("InvalidAMIID.NotFound"),
        "the AWS error code should be shown: {text}"
    );
    assert!(ws.resource(ADDRESS).is_none());
}

#[test]
fn an_instance_that_never_runs_is_tainted_and_replaced_not_orphaned() {
    let moto = moto();
    let sdk = Sdk::new(&moto.endpoint);
    // Every DescribeInstances answer through the proxy says "pending".
    let proxy = PendingProxy::start(moto.port);
    let mut ws = moto::workspace(&proxy.endpoint);
    let config = instance_config(
        "data.homelab_aws_ami.ubuntu.id",
        "t3.small",
        "",
        "  timeouts {\n    create = \"2s\"\n  }",
    );
    ws.config(&config);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Terraform wraps long details: compare with the line breaks undone.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("did not reach running")
            && text.contains("timed out after")
            && text.contains("to be running; last seen: pending"),
        "the timeout should say what it waited for: {text}"
    );
    // Recorded, tainted: not orphaned.
    let state = ws.state();
    let resource = state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["address"] == ADDRESS).cloned())
        .expect("the launched instance is in state");
    assert_eq!(resource["tainted"], true, "{resource}");
    let stuck = resource["values"]["id"].as_str().unwrap().to_string();
    assert!(stuck.starts_with("i-"));

    // With a healthy endpoint the next apply replaces it, terminating the stuck one.
    ws.var("aws_endpoint", moto.endpoint.clone());
    ws.expect_plan(ADDRESS, &["delete", "create"]);
    ws.apply();
    let fresh = ws.resource(ADDRESS).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(fresh, stuck);
    assert_eq!(state_name(&sdk, &stuck), "terminated");
    assert_eq!(state_name(&sdk, &fresh), "running");
    ws.destroy();
    assert_eq!(state_name(&sdk, &fresh), "terminated");
}

#[test]
fn ami_lookups_that_match_several_or_nothing_fail_clearly() {
    let moto = moto();
    let lookup = |name: &str, most_recent: bool| {
        let ws = moto::workspace(&moto.endpoint);
        ws.config(&format!(
            "{}\ndata \"homelab_aws_ami\" \"x\" {{\n  owners = [\"amazon\"]\n  name = {name:?}\n  most_recent = {most_recent}\n}}\noutput \"id\" {{ value = data.homelab_aws_ami.x.id }}\n",
            moto::provider_block()
        ));
        ws
    };
    let ws = lookup("ubuntu/images/hvm-ssd/ubuntu-*", false);
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("3 AMIs match") && text.contains("most_recent"),
        "{text}"
    );
    let ws = lookup("windows-*", true);
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(text.contains("no AMI matches"), "{text}");
    let ws = lookup("debian-12-*", false);
    ws.apply();
    assert_eq!(ws.output("id"), AMIS[3].0);
}

#[test]
fn bad_input_is_rejected_at_plan_with_the_attribute() {
    let moto = moto();
    let cases: &[(&str, &str, &str)] = &[
        (
            "instance_type",
            "\"t3small\"",
            "is not an instance type of the form family.size",
        ),
        ("root_volume_size", "-8", "root_volume_size: -8 GiB"),
        ("ami", "\"ubuntu-22.04\"", "is not an AMI ID"),
    ];
    for (attribute, value, expected) in cases {
        let ws = moto::workspace(&moto.endpoint);
        let mut fields = vec![
            ("ami", "\"ami-0a11ce0000000001\"".to_string()),
            ("instance_type", "\"t3.small\"".to_string()),
        ];
        fields.retain(|(k, _)| k != attribute);
        fields.push((*attribute, value.to_string()));
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("  {k} = {v}\n"))
            .collect();
        ws.config(&format!(
            "{}\nresource \"homelab_aws_instance\" \"bad\" {{\n{body}}}\n",
            moto::provider_block()
        ));
        let text = ws.fails(&["plan", "-input=false", "-no-color"]);
        assert!(
            text.contains("Invalid EC2 instance") && text.contains(expected),
            "{attribute} = {value}: the diagnostic should say {expected:?}:\n{text}"
        );
        assert!(
            text.contains(&format!("{attribute} = {value}")),
            "{attribute} = {value}: the diagnostic should point at the attribute:\n{text}"
        );
    }
}

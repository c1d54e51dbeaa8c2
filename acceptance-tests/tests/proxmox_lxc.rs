//! homelab_proxmox_lxc with the real terraform against fakepve: create, empty plan,
//! in-place updates (live, and pending until a restart with reboot_after_update), root
//! disk growth, drift through the API, replacement, import, Proxmox's own parameter errors
//! shown verbatim, destroy.

use acceptance_tests::fakepve::{self, FakePve};
use acceptance_tests::Workspace;
use serde_json::{json, Value as Json};

const CT: &str = "homelab_proxmox_lxc.jdownloader";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

struct Knobs<'a> {
    ostemplate: &'a str,
    cores: u32,
    memory: u32,
    size_gb: u32,
    nesting: bool,
    network: &'a str,
    reboot_after_update: bool,
}

impl Default for Knobs<'_> {
    fn default() -> Self {
        Knobs {
            ostemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            cores: 2,
            memory: 1024,
            size_gb: 8,
            nesting: false,
            network: r#"[{ name = "eth0", bridge = "vmbr0", ipv4 = "10.0.30.5/24", gateway = "10.0.30.1", vlan_id = 30 }]"#,
            reboot_after_update: false,
        }
    }
}

fn config(k: &Knobs) -> String {
    let Knobs {
        ostemplate,
        cores,
        memory,
        size_gb,
        nesting,
        network,
        reboot_after_update,
    } = k;
    let provider = fakepve::provider_block();
    format!(
        r#"{provider}
resource "homelab_proxmox_lxc" "jdownloader" {{
  node         = "pve1"
  hostname     = "jdownloader"
  ostemplate   = "{ostemplate}"
  cores        = {cores}
  memory       = {memory}
  rootfs       = {{ storage = "local-lvm", size_gb = {size_gb} }}
  network      = {network}
  unprivileged = true
  features     = {{ nesting = {nesting} }}
  ssh_keys     = ["{KEY}"]
  password     = "hunter2-root"
  started      = true
  tags         = ["media"]
  reboot_after_update = {reboot_after_update}
}}
"#
    )
}

/// The container's config, every value as text (fakepve keeps some as numbers).
fn config_of(fake: &FakePve, vmid: u64) -> Json {
    let config = fake.guest(vmid).expect("the container exists")["config"].clone();
    let text = |v: &Json| match v {
        Json::String(s) => Json::String(s.clone()),
        other => Json::String(other.to_string()),
    };
    Json::Object(
        config
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default(),
    )
}

#[test]
fn container_lifecycle() {
    let fake = FakePve::start();
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    let mut knobs = Knobs::default();
    ws.config(&config(&knobs));
    let output = ws.apply();
    assert!(
        !output.contains("hunter2"),
        "the password leaked:\n{output}"
    );
    let state = ws.resource(CT).unwrap();
    let vmid = state["vm_id"].as_u64().unwrap();
    assert_eq!(state["id"], format!("pve1/{vmid}"));
    let mac = state["network"][0]["mac_address"]
        .as_str()
        .unwrap()
        .to_string();
    let ct = fake.guest(vmid).unwrap();
    assert_eq!(ct["status"], "running");
    let net0 = ct["config"]["net0"].as_str().unwrap().to_string();
    for part in [
        "name=eth0",
        "bridge=vmbr0",
        "ip=10.0.30.5/24",
        "gw=10.0.30.1",
        "tag=30",
        &format!("hwaddr={mac}"),
    ] {
        assert!(net0.contains(part), "{part} missing from {net0}");
    }
    assert!(ct["config"]["rootfs"].as_str().unwrap().contains("size=8G"));
    assert_eq!(config_of(&fake, vmid)["unprivileged"], "1");
    ws.expect_empty_plan();

    // Live changes: cores, memory and a second interface apply to the running container.
    knobs.cores = 3;
    knobs.memory = 2048;
    knobs.network = r#"[{ name = "eth0", bridge = "vmbr0", ipv4 = "10.0.30.5/24", gateway = "10.0.30.1", vlan_id = 30 },
                  { name = "eth1", bridge = "vmbr1", ipv4 = "dhcp", firewall = true }]"#;
    ws.config(&config(&knobs));
    ws.expect_plan(CT, &["update"]);
    ws.apply();
    let c = config_of(&fake, vmid);
    assert_eq!(c["cores"], "3");
    assert_eq!(c["memory"], "2048");
    assert!(c["net1"].as_str().unwrap().contains("firewall=1"), "{c}");
    assert!(
        c["net0"].as_str().unwrap().contains(&mac),
        "the MAC stays: {c}"
    );
    ws.expect_empty_plan();

    // Nesting waits for a restart: reported, then applied by reboot_after_update.
    knobs.nesting = true;
    ws.config(&config(&knobs));
    let output = ws.apply();
    assert!(output.contains("Changes wait for a restart"), "{output}");
    assert_eq!(
        ws.resource(CT).unwrap()["pending_changes"],
        json!(["features"])
    );
    ws.expect_empty_plan();
    knobs.reboot_after_update = true;
    ws.config(&config(&knobs));
    ws.apply();
    assert_eq!(config_of(&fake, vmid)["features"], "nesting=1");
    assert_eq!(fake.guest(vmid).unwrap()["pending"], json!({}));
    ws.expect_empty_plan();

    // The root disk grows in place; a shrink is rejected at plan.
    knobs.size_gb = 12;
    ws.config(&config(&knobs));
    ws.apply();
    assert!(config_of(&fake, vmid)["rootfs"]
        .as_str()
        .unwrap()
        .contains("size=12G"));
    ws.expect_empty_plan();
    knobs.size_gb = 10;
    ws.config(&config(&knobs));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("rootfs.size_gb") && text.contains("shrink"),
        "{text}"
    );
    knobs.size_gb = 12;
    ws.config(&config(&knobs));

    // Drift through the API shows in the plan and apply puts it back.
    fake.api(
        "PUT",
        &format!("/nodes/pve1/lxc/{vmid}/config"),
        json!({"memory": "512", "hostname": "renamed"}),
    );
    ws.expect_plan(CT, &["update"]);
    ws.apply();
    let c = config_of(&fake, vmid);
    assert_eq!(
        (c["memory"].as_str(), c["hostname"].as_str()),
        (Some("2048"), Some("jdownloader"))
    );
    ws.expect_empty_plan();

    // Import: the OS template, password and SSH keys are not recorded by Proxmox; the first
    // plan records them (an update that writes nothing), never a replacement.
    ws.state_rm(CT);
    ws.import(CT, &format!("pve1/{vmid}"));
    ws.expect_plan(CT, &["update"]);
    fake.reset_requests();
    ws.apply();
    assert_eq!(fake.writes(), vec![], "recording sends nothing to Proxmox");
    ws.expect_empty_plan();

    // Another OS template replaces the container.
    knobs.ostemplate = "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz";
    ws.config(&config(&knobs));
    ws.expect_plan(CT, &["delete", "create"]);
    ws.apply();
    let ids = fake.guest_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(config_of(&fake, ids[0])["ostype"], "alpine");
    ws.expect_empty_plan();

    ws.destroy();
    assert!(
        fake.guest_ids().is_empty(),
        "left behind: {:?}",
        fake.guest_ids()
    );
}

#[test]
fn proxmox_parameter_errors_surface_verbatim_at_the_attribute() {
    let fake = FakePve::start();
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    // Our checks let it through; Proxmox's schema caps container cores at 8192.
    let mut knobs = Knobs {
        cores: 10000,
        ..Knobs::default()
    };
    ws.config(&config(&knobs));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("value must have a maximum value of 8192"),
        "{text}"
    );
    assert!(text.contains("Parameter verification failed."), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(": ") && l.contains("cores") && l.ends_with("= 10000")),
        "the diagnostic points at the attribute's line:\n{text}"
    );
    assert!(fake.guest_ids().is_empty(), "nothing was created");
    assert!(ws.resource(CT).is_none());
    // A storage without container volumes: PVE's message, verbatim.
    knobs.cores = 2;
    let bad_storage = config(&knobs).replace(r#"storage = "local-lvm""#, r#"storage = "local""#);
    ws.config(&bad_storage);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("storage 'local' does not support container directories"),
        "{text}"
    );
    assert!(fake.guest_ids().is_empty());
    ws.config(&config(&knobs));
    ws.apply();
    ws.expect_empty_plan();
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

//! homelab_proxmox_vm with the real terraform against fakepve: the documented
//! example, then the whole lifecycle: empty plan after apply, in-place updates (pending
//! changes and reboot_after_update, disk growth, a new disk), drift through the API,
//! deletion behind Terraform's back, replacement, import, destroy; bad input at plan.

use std::process::Command;

use acceptance_tests::fakepve::{self, FakePve, Options};
use acceptance_tests::hcl;
use acceptance_tests::Workspace;
use serde_json::{json, Value as Json};

const VM: &str = "homelab_proxmox_vm.nextcloud";
const LXC: &str = "homelab_proxmox_lxc.jdownloader";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

/// The documented example, apart from the endpoint (each test's fake has its own
/// loopback address at port 8006).
fn interface(fake: &FakePve) -> String {
    format!(
        r#"{provider}
resource "homelab_proxmox_vm" "nextcloud" {{
  node   = "pve1"
  name   = "nextcloud"
  clone  = {{ template_id = 9000, full = true }}
  cores  = 4
  memory = 4096
  disks   = [{{ slot = "scsi0", storage = "local-lvm", size_gb = 32 }}]
  network = [{{ bridge = "vmbr0", model = "virtio", vlan_id = 20 }}]
  cloud_init = {{
    user     = "admin"
    ssh_keys = ["{KEY}"]
    ipv4     = "10.0.20.11/24"
    gateway  = "10.0.20.1"
  }}
  started = true
  tags    = ["tier1", "private"]
}}

resource "homelab_proxmox_lxc" "jdownloader" {{
  node        = "pve1"
  hostname    = "jdownloader"
  ostemplate  = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  cores       = 2
  memory      = 1024
  rootfs      = {{ storage = "local-lvm", size_gb = 8 }}
  network     = [{{ name = "eth0", bridge = "vmbr0", ipv4 = "dhcp" }}]
  unprivileged = true
  started     = true
}}

output "nextcloud_vmid" {{ value = homelab_proxmox_vm.nextcloud.vm_id }}
"#,
        provider = hcl::proxmox_provider(&format!("\"{}\"", fake.endpoint()))
    )
}

fn workspace(fake: &FakePve) -> Workspace {
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws
}

#[test]
fn the_interface_works_verbatim() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    ws.config(&interface(&fake));
    ws.apply();
    // Both were created in parallel, each under its own id.
    let vmid = ws.output("nextcloud_vmid").as_u64().expect("a VM id");
    let ct_id = ws.resource(LXC).expect("container in state")["vm_id"]
        .as_u64()
        .expect("a container id");
    let mut ids = vec![vmid, ct_id];
    ids.sort();
    assert_eq!(ids, vec![100, 101]);
    let vm = fake.guest(vmid).expect("the VM exists");
    let config = &vm["config"];
    assert_eq!(vm["status"], "running");
    assert_eq!(config["cores"], "4");
    assert_eq!(config["memory"], "4096");
    assert_eq!(config["ipconfig0"], "ip=10.0.20.11/24,gw=10.0.20.1");
    assert_eq!(config["ciuser"], "admin");
    assert!(config["sshkeys"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519%20AAAA"));
    assert!(config["net0"]
        .as_str()
        .unwrap()
        .ends_with(",bridge=vmbr0,tag=20"));
    assert!(
        config["scsi0"].as_str().unwrap().contains("size=32G"),
        "{config}"
    );
    assert_eq!(config["tags"], "private;tier1");
    let state = ws.resource(VM).expect("VM in state");
    assert_eq!(state["id"], format!("pve1/{vmid}"));
    assert!(state["network"][0]["mac_address"]
        .as_str()
        .is_some_and(|m| m.starts_with("BC:24:11:")));
    assert_eq!(fake.guest(ct_id).unwrap()["status"], "running");
    ws.expect_empty_plan();
    ws.destroy();
    assert!(
        fake.guest_ids().is_empty(),
        "left behind: {:?}",
        fake.guest_ids()
    );
}

/// A VM resource with the knobs the lifecycle turns; the provider block reads the
/// endpoint, password and CA file from variables.
struct Knobs<'a> {
    template: u32,
    cores: u32,
    memory: u32,
    disks: &'a str,
    tags: &'a str,
    description: &'a str,
    reboot_after_update: bool,
    extra: &'a str,
}

impl Default for Knobs<'_> {
    fn default() -> Self {
        Knobs {
            template: 9000,
            cores: 4,
            memory: 4096,
            disks: r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 32 }]"#,
            tags: r#"["tier1", "private"]"#,
            description: "",
            reboot_after_update: false,
            extra: "",
        }
    }
}

fn vm_config(k: &Knobs) -> String {
    let Knobs {
        template,
        cores,
        memory,
        disks,
        tags,
        description,
        reboot_after_update,
        extra,
    } = k;
    let provider = fakepve::provider_block();
    format!(
        r#"{provider}
resource "homelab_proxmox_vm" "nextcloud" {{
  node   = "pve1"
  name   = "nextcloud"
  clone  = {{ template_id = {template}, full = true }}
  cores  = {cores}
  memory = {memory}
  disks   = {disks}
  network = [{{ bridge = "vmbr0", model = "virtio", vlan_id = 20 }}]
  cloud_init = {{
    user     = "admin"
    password = "hunter2-cloud"
    ssh_keys = ["{KEY}"]
    ipv4     = "10.0.20.11/24"
    gateway  = "10.0.20.1"
  }}
  started     = true
  tags        = {tags}
  description = "{description}"
  reboot_after_update = {reboot_after_update}
  {extra}
}}
"#
    )
}

fn config_of(fake: &FakePve, vmid: u64) -> Json {
    fake.guest(vmid).expect("the VM exists")["config"].clone()
}

#[test]
fn vm_lifecycle() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    let mut knobs = Knobs::default();
    ws.config(&vm_config(&knobs));
    let output = ws.apply();
    assert!(
        !output.contains("hunter2"),
        "the cloud-init password leaked:\n{output}"
    );
    let vmid = ws.resource(VM).unwrap()["vm_id"].as_u64().unwrap();
    assert_eq!(config_of(&fake, vmid)["cipassword"], "hunter2-cloud");
    ws.expect_empty_plan();
    let shown = ws.ok(&["show", "-no-color"]);
    assert!(
        !shown.contains("hunter2"),
        "terraform show printed the password:\n{shown}"
    );

    // More memory and fewer cores on a running VM: Proxmox keeps them for the next boot.
    // The change is reported, and the plan after it is empty (no perpetual diff).
    knobs.cores = 2;
    ws.config(&vm_config(&knobs));
    ws.expect_plan(VM, &["update"]);
    let output = ws.apply();
    assert!(output.contains("Changes wait for a reboot"), "{output}");
    let vm = fake.guest(vmid).unwrap();
    assert_eq!(vm["pending"]["cores"], "2");
    assert_eq!(
        ws.resource(VM).unwrap()["pending_changes"],
        json!(["cores"])
    );
    ws.expect_empty_plan();

    // reboot_after_update applies them.
    knobs.reboot_after_update = true;
    ws.config(&vm_config(&knobs));
    ws.expect_plan(VM, &["update"]);
    ws.apply();
    let vm = fake.guest(vmid).unwrap();
    assert_eq!(vm["config"]["cores"], "2");
    assert_eq!(vm["pending"], json!({}));
    assert_eq!(vm["status"], "running");
    assert_eq!(ws.resource(VM).unwrap()["pending_changes"], json!([]));
    ws.expect_empty_plan();

    // Disks grow in place and a new slot adds a disk; tags and description change in place.
    knobs.disks = r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 40 },
               { slot = "scsi1", storage = "local-lvm", size_gb = 10 }]"#;
    knobs.tags = r#"["tier1", "private", "backup"]"#;
    knobs.description = "Nextcloud for the family";
    ws.config(&vm_config(&knobs));
    ws.expect_plan(VM, &["update"]);
    ws.apply();
    let config = config_of(&fake, vmid);
    assert!(
        config["scsi0"].as_str().unwrap().contains("size=40G"),
        "{config}"
    );
    assert!(
        config["scsi1"].as_str().unwrap().contains("size=10G"),
        "{config}"
    );
    assert_eq!(config["tags"], "backup;private;tier1");
    assert_eq!(config["description"], "Nextcloud for the family");
    ws.expect_empty_plan();

    // A shrink is rejected at plan, pointing at the attribute.
    knobs.disks = r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 20 },
               { slot = "scsi1", storage = "local-lvm", size_gb = 10 }]"#;
    ws.config(&vm_config(&knobs));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("disks[0].size_gb") && text.contains("shrink"),
        "{text}"
    );
    knobs.disks = r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 40 },
               { slot = "scsi1", storage = "local-lvm", size_gb = 10 }]"#;
    ws.config(&vm_config(&knobs));

    // Drift through the API behind Terraform's back: less memory and a stopped VM show in
    // the plan, and apply puts them back.
    fake.api(
        "PUT",
        &format!("/nodes/pve1/qemu/{vmid}/config"),
        json!({"memory": "1024"}),
    );
    fake.api(
        "POST",
        &format!("/nodes/pve1/qemu/{vmid}/status/stop"),
        json!({}),
    );
    ws.expect_plan(VM, &["update"]);
    ws.apply();
    let vm = fake.guest(vmid).unwrap();
    assert_eq!(vm["config"]["memory"], "4096");
    assert_eq!(vm["status"], "running");
    ws.expect_empty_plan();

    // Deleted behind Terraform's back: the plan creates it again.
    fake.api(
        "POST",
        &format!("/nodes/pve1/qemu/{vmid}/status/stop"),
        json!({}),
    );
    fake.api("DELETE", &format!("/nodes/pve1/qemu/{vmid}"), json!({}));
    ws.expect_plan(VM, &["create"]);
    ws.apply();
    assert_eq!(fake.guest_ids().len(), 1);
    ws.expect_empty_plan();

    // Another template replaces the VM: the old one goes, a new one comes.
    knobs.template = 9001;
    ws.config(&vm_config(&knobs));
    ws.expect_plan(VM, &["delete", "create"]);
    ws.apply();
    let ids = fake.guest_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let vmid = ids[0];
    ws.expect_empty_plan();

    // Import: Proxmox does not record the template a VM was cloned from or the cloud-init
    // password, so the first plan records them: an update, never a replacement. The only
    // write is the password (which Proxmox cannot show back); cloud-init takes it at the
    // next boot, which reboot_after_update = true asks for.
    ws.state_rm(VM);
    ws.import(VM, &format!("pve1/{vmid}"));
    ws.expect_plan(VM, &["update"]);
    fake.reset_requests();
    ws.apply();
    assert_eq!(
        fake.writes(),
        vec![
            (
                "PUT".to_string(),
                format!("/api2/json/nodes/pve1/qemu/{vmid}/config")
            ),
            (
                "POST".to_string(),
                format!("/api2/json/nodes/pve1/qemu/{vmid}/status/reboot")
            ),
        ],
        "only the cloud-init password is written"
    );
    ws.expect_empty_plan();

    ws.destroy();
    assert!(
        fake.guest_ids().is_empty(),
        "left behind: {:?}",
        fake.guest_ids()
    );
}

#[test]
fn an_empty_vm_imports_with_an_empty_plan() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    ws.config(&format!(
        r#"{provider}
resource "homelab_proxmox_vm" "router" {{
  node    = "pve1"
  name    = "router"
  vm_id   = 150
  iso     = "local:iso/opnsense-24.7.iso"
  cores   = 2
  memory  = 2048
  disks   = [{{ slot = "virtio0", storage = "local-lvm", size_gb = 16 }}]
  network = [{{ bridge = "vmbr0" }}, {{ bridge = "vmbr1", model = "e1000", firewall = true }}]
  cloud_init = {{
    ipv4        = "dhcp"
    dns_servers = ["10.0.0.53", "1.1.1.1"]
    dns_domain  = "lab.example"
  }}
  started = false
  on_boot = true
  agent   = {{ enabled = true }}
}}
"#,
        provider = fakepve::provider_block()
    ));
    ws.apply();
    let config = config_of(&fake, 150);
    assert!(config["ide0"]
        .as_str()
        .unwrap()
        .starts_with("local:iso/opnsense-24.7.iso,media=cdrom"));
    assert!(
        config["ide2"].as_str().unwrap().contains("cloudinit"),
        "{config}"
    );
    assert_eq!(config["nameserver"], "10.0.0.53 1.1.1.1");
    assert!(
        config["net1"].as_str().unwrap().starts_with("e1000="),
        "{config}"
    );
    assert_eq!(fake.guest(150).unwrap()["status"], "stopped");
    ws.expect_empty_plan();
    let address = "homelab_proxmox_vm.router";
    let before = ws.resource(address).unwrap();
    ws.state_rm(address);
    ws.import(address, "pve1/150");
    assert_eq!(ws.resource(address).unwrap(), before);
    ws.expect_empty_plan();
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

/// Each bad value fails `terraform plan` before anything is sent to Proxmox, with the
/// attribute's path in the message and Terraform pointing at the configuration line.
#[test]
fn bad_input_is_rejected_at_plan_with_the_attribute() {
    let fake = FakePve::start();
    let base = |field: &str, value: &str| {
        let mut fields: Vec<(&str, String)> = vec![
            ("node", "\"pve1\"".into()),
            ("name", "\"web\"".into()),
            ("clone", "{ template_id = 9000 }".into()),
            ("memory", "1024".into()),
            ("cores", "2".into()),
            (
                "disks",
                r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 8 }]"#.into(),
            ),
            ("network", r#"[{ bridge = "vmbr0", vlan_id = 20 }]"#.into()),
            (
                "cloud_init",
                format!(
                    r#"{{ ssh_keys = ["{KEY}"], ipv4 = "10.0.20.11/24", gateway = "10.0.20.1" }}"#
                ),
            ),
        ];
        let mut replaced = false;
        for f in fields.iter_mut() {
            if f.0 == field {
                f.1 = value.to_string();
                replaced = true;
            }
        }
        if !replaced {
            fields.push((field, value.to_string()));
        }
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("  {k} = {v}\n"))
            .collect();
        format!(
            "{}\nresource \"homelab_proxmox_vm\" \"bad\" {{\n{body}}}\n",
            fakepve::provider_block()
        )
    };
    let cases: &[(&str, &str, &str)] = &[
        ("memory", "8", "memory"),
        ("cores", "0", "cores"),
        (
            "disks",
            r#"[{ slot = "scsi31", storage = "local-lvm", size_gb = 8 }]"#,
            "disks[0].slot",
        ),
        (
            "disks",
            r#"[{ slot = "nvme0", storage = "local-lvm", size_gb = 8 }]"#,
            "disks[0].slot",
        ),
        (
            "network",
            r#"[{ bridge = "vmbr0", vlan_id = 4095 }]"#,
            "network[0].vlan_id",
        ),
        (
            "network",
            r#"[{ bridge = "vmbr0", vlan_id = 0 }]"#,
            "network[0].vlan_id",
        ),
        (
            "cloud_init",
            r#"{ ipv4 = "10.0.20.11" }"#,
            "cloud_init.ipv4",
        ),
        (
            "cloud_init",
            r#"{ ipv4 = "10.0.20.300/24" }"#,
            "cloud_init.ipv4",
        ),
        (
            "cloud_init",
            r#"{ ipv4 = "10.0.20.11/24", gateway = "10.0.21.1" }"#,
            "cloud_init.gateway",
        ),
        (
            "cloud_init",
            r#"{ ipv4 = "10.0.20.11/24", gateway = "10.0.20" }"#,
            "cloud_init.gateway",
        ),
        (
            "cloud_init",
            r#"{ ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIles"] }"#,
            "cloud_init.ssh_keys[0]",
        ),
        (
            "cloud_init",
            r#"{ ssh_keys = ["not a key"] }"#,
            "cloud_init.ssh_keys[0]",
        ),
        (
            "iso",
            r#""local:iso/debian-12.iso""#,
            "iso conflicts with clone",
        ),
        ("tags", r#"["Tier1"]"#, "tags"),
        ("name", r#""next_cloud""#, "name"),
    ];
    for (field, value, expected) in cases {
        let mut ws = Workspace::new();
        fake.vars(&mut ws);
        ws.config(&base(field, value));
        let text = ws.fails(&["plan", "-input=false", "-no-color"]);
        assert!(
            text.contains("Invalid Proxmox VM") && text.contains(expected),
            "{field} = {value}: the error should name {expected}:\n{text}"
        );
        assert!(
            text.contains(&format!("{field} = ")),
            "{field} = {value}: Terraform should point at the attribute:\n{text}"
        );
    }
    // A disk smaller than the template's (8 GB) is a shrink, found at plan.
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws.config(&base(
        "disks",
        r#"[{ slot = "scsi0", storage = "local-lvm", size_gb = 4 }]"#,
    ));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("disks[0].size_gb") && text.contains("template 9000"),
        "{text}"
    );

    // The provider block: an API token without "!" and an endpoint that is not https.
    let token_provider = fakepve::provider_block().replace(
        "    username = \"root@pam\"\n    password = var.pve_password\n",
        "    api_token = var.pve_token\n",
    )
        + "variable \"pve_token\" {\n  type      = string\n  sensitive = true\n}\n";
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws.var("pve_token", "root@pam-terraform=0b7c8a1e-secret");
    ws.config(&format!(
        "{token_provider}\ndata \"homelab_proxmox_nodes\" \"all\" {{}}\n"
    ));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("proxmox.api_token") && text.contains('!'),
        "{text}"
    );
    assert!(
        !text.contains("0b7c8a1e-secret"),
        "the token is never shown: {text}"
    );
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws.var(
        "pve_endpoint",
        fake.endpoint().replace("https://", "http://"),
    );
    ws.config(&format!(
        "{}\ndata \"homelab_proxmox_nodes\" \"all\" {{}}\n",
        fakepve::provider_block()
    ));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        text.contains("proxmox.endpoint") && text.contains("not an https URL"),
        "{text}"
    );

    // Nothing reached Proxmox's guests.
    assert!(fake.guest_ids().is_empty());
}

/// An API token works in place of username and password (here from the environment
/// variables bpg/proxmox users know), the nodes data source lists the cluster, and the
/// server certificate is checked: without the CA file the fake's self-signed certificate
/// is refused, `insecure = true` accepts it.
#[test]
fn api_tokens_environment_fallbacks_and_certificate_checks() {
    let fake = FakePve::start();
    let token = "root@pam!terraform=0b7c8a1e-5e4f-4f0e-9d7a-3c1f2b9e8a77";
    fake.command(json!({"op": "add_token", "tokenid": "root@pam!terraform", "secret": "0b7c8a1e-5e4f-4f0e-9d7a-3c1f2b9e8a77"}));
    let nodes = r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
provider "homelab" {}
data "homelab_proxmox_nodes" "all" {}
output "names" { value = data.homelab_proxmox_nodes.all.names }
output "most_free" { value = data.homelab_proxmox_nodes.all.most_free_memory }
output "free_mb" { value = data.homelab_proxmox_nodes.all.nodes[0].memory_free_mb }
"#;
    let mut ws = Workspace::new();
    ws.env("PROXMOX_VE_ENDPOINT", fake.endpoint())
        .env("PROXMOX_VE_API_TOKEN", token)
        .env("PROXMOX_VE_CA_FILE", fake.ca_file.display().to_string());
    ws.config(nodes);
    let output = ws.apply();
    assert!(
        !output.contains("0b7c8a1e"),
        "the token is never shown:\n{output}"
    );
    assert_eq!(ws.output("names"), json!(["pve1"]));
    assert_eq!(ws.output("most_free"), "pve1");
    assert_eq!(ws.output("free_mb"), 6144);
    assert!(
        fake.requests()
            .iter()
            .all(|(_, path)| !path.ends_with("/access/ticket")),
        "a token needs no login"
    );

    // A token Proxmox does not know: its 401, and the hint to check the credentials.
    let mut ws = Workspace::new();
    ws.env("PROXMOX_VE_ENDPOINT", fake.endpoint())
        .env("PROXMOX_VE_API_TOKEN", "root@pam!terraform=wrong-secret")
        .env("PROXMOX_VE_CA_FILE", fake.ca_file.display().to_string());
    ws.config(nodes);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("HTTP 401: authentication failure") && text.contains("api_token"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"), "{text}");

    // Without the CA file, the self-signed certificate is refused...
    let mut ws = Workspace::new();
    ws.env("PROXMOX_VE_ENDPOINT", fake.endpoint())
        .env("PROXMOX_VE_API_TOKEN", token);
    ws.config(nodes);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.to_lowercase().contains("certificate"),
        "a TLS error: {text}"
    );
    // ...and insecure = true accepts it.
    ws.env("PROXMOX_VE_INSECURE", "true");
    ws.apply();
    assert_eq!(ws.output("names"), json!(["pve1"]));
}

/// A `ca_file` holding the server's own certificate as `openssl req -x509` makes it
/// (basicConstraints CA:TRUE) is trusted, as curl and Go-based providers trust it; another
/// self-signed certificate in its place is refused.
#[test]
fn a_self_signed_ca_certificate_in_ca_file_is_trusted() {
    let fake = FakePve::start_with(Options {
        openssl_certificate: true,
        ..Options::default()
    });
    let pem = std::fs::read_to_string(&fake.ca_file).unwrap();
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&fake.ca_file)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
        "the certificate under test is a CA certificate:\n{pem}"
    );
    let nodes = r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
provider "homelab" {}
data "homelab_proxmox_nodes" "all" {}
output "names" { value = data.homelab_proxmox_nodes.all.names }
"#;
    let mut ws = Workspace::new();
    ws.env("PROXMOX_VE_ENDPOINT", fake.endpoint())
        .env("PROXMOX_VE_USERNAME", "root@pam")
        .env("PROXMOX_VE_PASSWORD", "secret")
        .env("PROXMOX_VE_CA_FILE", fake.ca_file.display().to_string());
    ws.config(nodes);
    ws.apply();
    assert_eq!(ws.output("names"), json!(["pve1"]));

    // Another self-signed certificate is no stand-in for the server's.
    let mut ws = Workspace::new();
    let other = ws.path().join("other.crt");
    fakepve::openssl_self_signed(&fake.host, &other, &ws.path().join("other.key"));
    ws.env("PROXMOX_VE_ENDPOINT", fake.endpoint())
        .env("PROXMOX_VE_USERNAME", "root@pam")
        .env("PROXMOX_VE_PASSWORD", "secret")
        .env("PROXMOX_VE_CA_FILE", other.display().to_string());
    ws.config(nodes);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

/// Passwords, tickets and tokens reach neither Terraform's output nor its trace log (which
/// carries the provider's own debug log), nor the state display.
#[test]
fn secrets_never_reach_output_or_logs() {
    let fake = FakePve::start();
    let mut ws = workspace(&fake);
    let log = ws.path().join("trace.log");
    ws.env("TF_LOG", "trace")
        .env("TF_LOG_PATH", log.display().to_string())
        .var("pve_password", "secret");
    ws.config(&format!(
        r#"{provider}
variable "vm_password" {{
  type      = string
  sensitive = true
}}
resource "homelab_proxmox_vm" "web" {{
  node       = "pve1"
  name       = "web"
  clone      = {{ template_id = 9000 }}
  cloud_init = {{ user = "admin", password = var.vm_password }}
}}
"#,
        provider = fakepve::provider_block()
    ));
    ws.var("vm_password", "hunter2-cloud-init");
    let mut seen = ws.apply();
    seen += &ws.ok(&["show", "-no-color"]);
    seen += &ws.ok(&["plan", "-no-color"]);
    seen += &std::fs::read_to_string(&log).expect("trace log");
    assert!(
        seen.contains("proxmox request"),
        "the provider's debug log is in the trace"
    );
    for secret in [
        "hunter2-cloud-init",
        "PVEAuthCookie",
        "PVE:root@pam:",
        "CSRFPreventionToken:",
    ] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
    // The password is in Proxmox, where it belongs.
    assert_eq!(config_of(&fake, 100)["cipassword"], "hunter2-cloud-init");
    ws.destroy();
}

/// The registry examples a newcomer copies validate and plan against fakepve (with the
/// example's provider block pointed at the fake).
#[test]
fn the_registry_examples_plan() {
    let fake = FakePve::start();
    let root = acceptance_tests::repo_root().join("examples");
    for (dir, file) in [
        ("resources/homelab_proxmox_vm", "resource.tf"),
        ("resources/homelab_proxmox_lxc", "resource.tf"),
        ("data-sources/homelab_proxmox_nodes", "data-source.tf"),
    ] {
        let example = std::fs::read_to_string(root.join(dir).join(file)).unwrap();
        let import = std::fs::read_to_string(root.join(dir).join("import.sh")).unwrap_or_default();
        assert!(
            import.is_empty() || import.contains("terraform import homelab_proxmox_"),
            "{dir}/import.sh"
        );
        let mut ws = workspace(&fake);
        ws.var("nextcloud_password", "example-password")
            .var("root_password", "example-password");
        ws.config(&format!("{}\n{example}", fakepve::provider_block()));
        let validate = ws.validate();
        assert!(validate.status.success(), "{dir}: {validate:?}");
        let plan = ws.ok(&["plan", "-input=false", "-no-color"]);
        assert!(plan.contains("to add"), "{dir}:\n{plan}");
    }
}

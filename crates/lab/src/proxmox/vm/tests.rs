//! Unit tests of the VM capability: argument checks, reading a config back into the
//! arguments, plans against configs as PVE answers them, and the agent's addresses.

use std::collections::BTreeMap;

use super::agent::ipv4_from_interfaces;
use super::read::spec_from_config;
use super::*;
use crate::proxmox::{guests, props};
use crate::validation::FieldError;
use crate::validation::Validate;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

fn vm() -> Vm {
    serde_json::from_value(serde_json::json!({
        "node": "pve1", "name": "nextcloud",
        "clone": {"template_id": 9000},
        "cores": 4, "memory": 4096,
        "disks": [{"slot": "scsi0", "storage": "local-lvm", "size_gb": 32}],
        "network": [{"bridge": "vmbr0", "vlan_id": 20}],
        "cloud_init": {"user": "admin", "ssh_keys": [KEY], "ipv4": "10.0.20.11/24", "gateway": "10.0.20.1"},
        "tags": ["tier1", "private"]
    }))
    .unwrap()
}

fn paths(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(FieldError::path_string).collect()
}

#[test]
fn the_interface_example_is_valid() {
    assert_eq!(vm().validate(), vec![]);
}

#[test]
fn bad_input_points_at_the_attribute() {
    let mut v = vm();
    v.memory = 8;
    v.cores = 0;
    v.disks.as_mut().unwrap()[0].slot = "scsi31".into();
    v.network.as_mut().unwrap()[0].vlan_id = Some(4095);
    let ci = v.cloud_init.as_mut().unwrap();
    ci.ipv4 = Some("10.0.20.11".into());
    ci.ssh_keys = vec!["ssh-ed25519 AAAA".into()];
    v.iso = Some("local:iso/x.iso".into());
    let errors = v.validate();
    let got = paths(&errors);
    for want in [
        "memory",
        "cores",
        "disks[0].slot",
        "network[0].vlan_id",
        "cloud_init.ipv4",
        "cloud_init.ssh_keys[0]",
        "iso",
    ] {
        assert!(
            got.contains(&want.to_string()),
            "{want} missing from {got:?}"
        );
    }
}

#[test]
fn gateway_outside_the_network_is_rejected() {
    let mut v = vm();
    v.cloud_init.as_mut().unwrap().gateway = Some("10.0.21.1".into());
    assert_eq!(paths(&v.validate()), vec!["cloud_init.gateway"]);
    v.cloud_init.as_mut().unwrap().gateway = Some("10.0.20.300".into());
    assert_eq!(paths(&v.validate()), vec!["cloud_init.gateway"]);
}

#[test]
fn slots() {
    for ok in ["scsi0", "scsi30", "virtio15", "sata5", "ide3"] {
        assert!(valid_slot(ok), "{ok}");
    }
    for bad in [
        "scsi31", "virtio16", "sata6", "ide4", "scsi01", "nvme0", "scsi",
    ] {
        assert!(!valid_slot(bad), "{bad}");
    }
}

fn actual_from(config: serde_json::Value, running: bool) -> VmActual {
    let pending: Vec<serde_json::Value> = config
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    let (config, keys) = guests::effective_config(&serde_json::Value::Array(pending));
    VmActual {
        vmid: 101,
        node: "pve1".into(),
        status: if running { "running" } else { "stopped" }.into(),
        lock: None,
        template: false,
        spec: spec_from_config("pve1", 101, &config, running),
        pending: keys,
        config,
    }
}

fn cloned() -> VmActual {
    actual_from(
        serde_json::json!({
            "name": "nextcloud", "cores": 1, "memory": "1024",
            "scsi0": "local-lvm:vm-101-disk-0,size=8G",
            "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom",
            "net0": "virtio=BC:24:11:01:CB:C9,bridge=vmbr0",
            "agent": "1", "ostype": "l26"
        }),
        false,
    )
}

#[test]
fn plans_a_clone_into_the_interface_example() {
    let changes = plan(&vm(), &cloned(), None, true).unwrap();
    let set: BTreeMap<_, _> = changes.set.iter().cloned().collect();
    assert_eq!(set["cores"], "4");
    assert_eq!(set["memory"], "4096");
    assert_eq!(set["net0"], "virtio=BC:24:11:01:CB:C9,bridge=vmbr0,tag=20");
    assert_eq!(set["ipconfig0"], "ip=10.0.20.11/24,gw=10.0.20.1");
    assert_eq!(set["tags"], "private;tier1");
    assert!(set["sshkeys"].starts_with("ssh-ed25519%20AAAA"));
    assert!(
        !set.contains_key("ide2"),
        "the template's cloud-init drive is kept"
    );
    assert_eq!(changes.grow, vec![("scsi0".to_string(), 32.0)]);
    assert_eq!(set["agent"], "0");
    assert!(changes.delete.is_empty(), "{:?}", changes.delete);
    assert_eq!(changes.power, Some(true));
}

#[test]
fn a_vm_that_matches_plans_nothing() {
    let mut v = vm();
    v.agent.enabled = true;
    let actual = actual_from(
        serde_json::json!({
            "name": "nextcloud", "cores": "4", "memory": "4096",
            "scsi0": "local-lvm:vm-101-disk-0,size=32G",
            "ide2": "local-lvm:vm-101-cloudinit,media=cdrom",
            "net0": "virtio=BC:24:11:01:CB:C9,bridge=vmbr0,tag=20",
            "agent": "1", "ciuser": "admin",
            "sshkeys": props::uri_component(&format!("{KEY}\n")),
            "ipconfig0": "ip=10.0.20.11/24,gw=10.0.20.1",
            "tags": "private;tier1"
        }),
        true,
    );
    let changes = plan(&v, &actual, None, false).unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    // The read gives back the arguments.
    let mut read = actual.spec.clone();
    keep_unreadable(&mut read, &v);
    let ci = read.cloud_init.as_ref().unwrap();
    assert_eq!(ci.ssh_keys, vec![KEY.to_string()]);
    assert_eq!(read.network.as_ref().unwrap()[0].vlan_id, Some(20));
    assert_eq!(read.disks.as_ref().unwrap()[0].size_gb, 32.0);
}

#[test]
fn shrinking_is_refused_with_the_path() {
    let mut v = vm();
    v.disks.as_mut().unwrap()[0].size_gb = 4.0;
    let errors = plan(&v, &cloned(), None, true).unwrap_err();
    assert_eq!(paths(&errors), vec!["disks[0].size_gb"]);
    assert!(errors[0].message.contains("cannot shrink"));
}

#[test]
fn new_disks_and_dropped_nics() {
    let mut v = vm();
    v.disks.as_mut().unwrap().push(Disk {
        slot: "scsi1".into(),
        storage: "local-lvm".into(),
        size_gb: 10.0,
    });
    v.network = Some(vec![]);
    let changes = plan(&v, &cloned(), None, false).unwrap();
    assert!(changes
        .set
        .contains(&("scsi1".to_string(), "local-lvm:10".to_string())));
    assert!(changes.delete.contains(&"net0".to_string()));
}

#[test]
fn agent_addresses_skip_loopback() {
    let data = serde_json::json!({"result": [
        {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4"}]},
        {"name": "eth0", "ip-addresses": [
            {"ip-address": "192.0.2.10", "ip-address-type": "ipv4"},
            {"ip-address": "fe80::1", "ip-address-type": "ipv6"}]}
    ]});
    assert_eq!(ipv4_from_interfaces(&data), vec!["192.0.2.10".to_string()]);
}

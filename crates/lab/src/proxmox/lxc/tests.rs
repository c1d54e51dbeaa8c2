//! Unit tests of the container capability: argument checks, reading a config back into
//! the arguments, and plans against configs as PVE answers them.

use super::read::spec_from_config;
use super::*;
use crate::proxmox::guests;
use crate::validation::FieldError;
use crate::validation::Validate;

fn container() -> Container {
    serde_json::from_value(serde_json::json!({
        "node": "pve1", "hostname": "jdownloader",
        "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        "cores": 2, "memory": 1024,
        "rootfs": {"storage": "local-lvm", "size_gb": 8},
        "network": [{"name": "eth0", "bridge": "vmbr0", "ipv4": "dhcp"}],
        "unprivileged": true, "started": true
    }))
    .unwrap()
}

fn actual(config: serde_json::Value, running: bool) -> ContainerActual {
    let items: Vec<serde_json::Value> = config
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    let (config, pending) = guests::effective_config(&serde_json::Value::Array(items));
    ContainerActual {
        vmid: 200,
        node: "pve1".into(),
        status: if running { "running" } else { "stopped" }.into(),
        lock: None,
        spec: spec_from_config("pve1", 200, &config, running),
        pending,
        config,
    }
}

#[test]
fn the_interface_example_is_valid_and_reads_back_equal() {
    let c = container();
    assert_eq!(c.validate(), vec![]);
    let a = actual(
        serde_json::json!({
            "hostname": "jdownloader", "cores": 2, "memory": 1024, "swap": 512,
            "rootfs": "local-lvm:vm-200-disk-0,size=8G",
            "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth",
            "unprivileged": 1, "ostype": "debian", "arch": "amd64"
        }),
        true,
    );
    let changes = plan(&c, &a).unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    let mut read = a.spec.clone();
    keep_unreadable(&mut read, &c);
    read.network[0].mac_address = None;
    read.vm_id = None;
    assert_eq!(read, c);
}

#[test]
fn bad_input_points_at_the_attribute() {
    let mut c = container();
    c.memory = 8;
    c.network[0].ipv4 = Some("10.0.0.300/24".into());
    c.network[0].vlan_id = Some(5000);
    c.ssh_keys = vec!["nope".into()];
    c.ostemplate = "debian.tar.zst".into();
    let got: Vec<String> = c.validate().iter().map(FieldError::path_string).collect();
    for want in [
        "memory",
        "network[0].ipv4",
        "network[0].vlan_id",
        "ssh_keys[0]",
        "ostemplate",
    ] {
        assert!(
            got.contains(&want.to_string()),
            "{want} missing from {got:?}"
        );
    }
}

#[test]
fn rootfs_only_grows() {
    let mut c = container();
    let a = actual(
        serde_json::json!({"hostname": "jdownloader", "rootfs": "local-lvm:vm-200-disk-0,size=16G"}),
        false,
    );
    let errors = plan(&c, &a).unwrap_err();
    assert_eq!(errors[0].path_string(), "rootfs.size_gb");
    c.rootfs.size_gb = 20.0;
    assert_eq!(plan(&c, &a).unwrap().grow_rootfs, Some(20.0));
}

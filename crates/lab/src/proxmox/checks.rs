//! Checks shared by the VM and container arguments, with messages that say what is wrong
//! and what would be right. They mirror PVE's own formats (`pve-storage-id`, `dns-name`,
//! `pve-tag`, `mac-addr`, CIDRs), so bad input fails at plan instead of half-way through
//! an apply.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An IPv4 address with a prefix length, e.g. `10.0.20.11/24`.
pub fn cidr_v4(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad =
        || format!("{text:?} is not an IPv4 address with a prefix length, e.g. \"10.0.20.11/24\"");
    let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
    let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 || prefix_has_leading_zero(text) {
        return Err(bad());
    }
    Ok((address, prefix))
}

/// An IPv6 address with a prefix length, e.g. `fd00:20::11/64`.
pub fn cidr_v6(text: &str) -> Result<(Ipv6Addr, u8), String> {
    let bad =
        || format!("{text:?} is not an IPv6 address with a prefix length, e.g. \"fd00:20::11/64\"");
    let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
    let address: Ipv6Addr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 128 || prefix_has_leading_zero(text) {
        return Err(bad());
    }
    Ok((address, prefix))
}

fn prefix_has_leading_zero(text: &str) -> bool {
    text.rsplit_once('/')
        .is_some_and(|(_, p)| p.len() > 1 && p.starts_with('0'))
}

pub fn ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address, e.g. \"10.0.20.1\""))
}

pub fn ipv6(text: &str) -> Result<Ipv6Addr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an IPv6 address, e.g. \"fd00:20::1\""))
}

pub fn ip(text: &str) -> Result<(), String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!("{text:?} is not an IP address"))
    }
}

/// Whether `gateway` lies in the network of `address/prefix`.
pub fn same_network_v4(address: Ipv4Addr, prefix: u8, gateway: Ipv4Addr) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(address) & mask == u32::from(gateway) & mask
}

const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// An OpenSSH public key line: `<type> <base64 blob> [comment]`, where the blob decodes and
/// starts with the same type name.
pub fn ssh_public_key(text: &str) -> Result<(), String> {
    let shown = if text.len() > 40 {
        format!("{}...", &text[..text.floor_char_boundary_compat(40)])
    } else {
        text.to_string()
    };
    let mut parts = text.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "{shown:?} is not an SSH public key: expected \"<type> <base64 key> [comment]\", e.g. \"ssh-ed25519 AAAAC3Nza... admin@lab\""
        ));
    };
    if text.contains('\n') || text.contains('\r') {
        return Err(
            "an SSH public key is one line; give several keys as several list elements".to_string(),
        );
    }
    if !SSH_KEY_TYPES.contains(&kind) {
        return Err(format!(
            "{shown:?} is not an SSH public key: unknown key type {kind:?} (expected one of {})",
            SSH_KEY_TYPES.join(", ")
        ));
    }
    let bytes = base64_decode(blob).ok_or_else(|| {
        format!("{shown:?} is not an SSH public key: the key part is not valid base64")
    })?;
    // The blob is a run of length-prefixed fields, the first the type name; a truncated or
    // padded key does not split into whole fields.
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        let field = rest
            .get(..4)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
            .and_then(|len| rest.get(4..4 + len));
        let Some(field) = field else {
            fields.clear();
            break;
        };
        rest = &rest[4 + field.len()..];
        fields.push(field);
    }
    if fields.first() != Some(&kind.as_bytes()) || fields.len() < 2 {
        return Err(format!(
            "{shown:?} is not an SSH public key: the key data does not match its type {kind} (truncated or mangled?)"
        ));
    }
    if kind == "ssh-ed25519" && fields[1].len() != 32 {
        return Err(format!(
            "{shown:?} is not an SSH public key: an ed25519 key is 32 bytes"
        ));
    }
    Ok(())
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, index: usize) -> usize {
        let mut i = index.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Standard base64 with padding; None when malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || (bytes.len() & 3) != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (n, chunk) in bytes.chunks(4).enumerate() {
        let last = n == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * pad as u32;
        let decoded = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

/// PVE's `pve-tag`: letters, digits and `_-+.`, not starting with `-+.`; we also require
/// lowercase, which is how Proxmox stores tags (so the plan never shows a case-only diff).
pub fn tag(text: &str) -> Result<(), String> {
    let first_ok = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let rest_ok = text.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'+' | b'.')
    });
    if first_ok && rest_ok {
        Ok(())
    } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Err(format!(
            "tag {text:?} has capital letters; Proxmox stores tags in lowercase, write {:?}",
            text.to_ascii_lowercase()
        ))
    } else {
        Err(format!(
            "tag {text:?} is not a Proxmox tag: use lowercase letters, digits and _ - + . (not first)"
        ))
    }
}

/// A DNS name (PVE's `dns-name`), as VM names and container hostnames must be.
pub fn dns_name(text: &str) -> Result<(), String> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !text.is_empty() && text.len() <= 253 && text.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a valid DNS name: letters, digits and hyphens, in dot-separated labels that do not start or end with a hyphen"
        ))
    }
}

/// A node name (PVE's `pve-node`).
pub fn node_name(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a Proxmox node name, e.g. \"pve1\""
        ))
    }
}

/// A storage id (PVE's `pve-storage-id`), e.g. `local-lvm`.
pub fn storage_id(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let ok = bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?} is not a storage id, e.g. \"local-lvm\""))
    }
}

/// A bridge name, e.g. `vmbr0`.
pub fn bridge(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?} is not a bridge name, e.g. \"vmbr0\""))
    }
}

/// A unicast MAC address, e.g. `BC:24:11:2E:7A:01`.
pub fn mac_address(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split(':').collect();
    let hex = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
    let unicast = parts
        .first()
        .and_then(|p| u8::from_str_radix(p, 16).ok())
        .is_some_and(|b| b & 1 == 0);
    if parts.len() == 6 && parts.iter().all(hex) && unicast {
        if text.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(format!(
                "write MAC addresses in capitals, as Proxmox shows them: {:?}",
                text.to_ascii_uppercase()
            ));
        }
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a unicast MAC address, e.g. \"BC:24:11:2E:7A:01\""
        ))
    }
}

/// A VLAN tag, 1 to 4094.
pub fn vlan(id: u32) -> Result<(), String> {
    if (1..=4094).contains(&id) {
        Ok(())
    } else {
        Err(format!("VLAN {id} is outside 1-4094"))
    }
}

/// A volume id such as `local:iso/debian-12.iso` or `local:vztmpl/debian-12-standard.tar.zst`
/// of the given content type.
pub fn volume_id(text: &str, content: &str) -> Result<(), String> {
    let example = match content {
        "iso" => "local:iso/debian-12.9.0-amd64-netinst.iso",
        _ => "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
    };
    let bad = || {
        format!("{text:?} is not a {content} volume: expected <storage>:{content}/<file>, e.g. {example:?}")
    };
    let (storage, rest) = text.split_once(':').ok_or_else(bad)?;
    storage_id(storage).map_err(|_| bad())?;
    let file = rest.strip_prefix(&format!("{content}/")).ok_or_else(bad)?;
    if file.is_empty() || file.contains("..") {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

    #[test]
    fn accepts_real_keys_and_rejects_mangled_ones() {
        assert_eq!(ssh_public_key(KEY), Ok(()));
        assert!(ssh_public_key("ssh-ed25519").is_err());
        assert!(ssh_public_key("ssh-ed25519 not-base64!").is_err());
        // Valid base64 of another key type.
        assert!(ssh_public_key(&KEY.replace("ssh-ed25519", "ssh-rsa")).is_err());
        assert!(
            ssh_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBo").is_err()
        );
    }

    #[test]
    fn networks() {
        assert_eq!(cidr_v4("10.0.20.11/24").unwrap().1, 24);
        assert!(cidr_v4("10.0.20.11").is_err());
        assert!(cidr_v4("10.0.20.300/24").is_err());
        assert!(cidr_v4("10.0.20.11/33").is_err());
        assert!(cidr_v6("fd00::11/64").is_ok());
        let (a, p) = cidr_v4("10.0.20.11/24").unwrap();
        assert!(same_network_v4(a, p, "10.0.20.1".parse().unwrap()));
        assert!(!same_network_v4(a, p, "10.0.21.1".parse().unwrap()));
    }

    #[test]
    fn names_tags_macs_vlans() {
        assert!(dns_name("nextcloud").is_ok());
        assert!(dns_name("next_cloud").is_err());
        assert!(tag("tier1").is_ok());
        assert!(tag("Tier1").unwrap_err().contains("\"tier1\""));
        assert!(mac_address("BC:24:11:2E:7A:01").is_ok());
        assert!(mac_address("BD:24:11:2E:7A:01").is_err());
        assert!(vlan(4095).is_err() && vlan(0).is_err() && vlan(20).is_ok());
        assert!(volume_id("local:iso/x.iso", "iso").is_ok());
        assert!(volume_id("x.iso", "iso").is_err());
    }
}

//! PVE's value spellings: property strings (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20`),
//! disk sizes (`32G`, `8192M`), tag lists (`a;b`), the URL-encoding `sshkeys` needs, and
//! config values that arrive as JSON strings or numbers.

use serde_json::Value as Json;

/// A property string: an optional bare first value, then `key=value` pairs in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropString {
    /// The part before the first `=`-pair when it has no `=` (`local-lvm:vm-100-disk-0`).
    pub head: Option<String>,
    pub pairs: Vec<(String, String)>,
}

impl PropString {
    pub fn parse(text: &str) -> Self {
        let mut out = PropString::default();
        for (index, part) in text.split(',').enumerate() {
            if part.is_empty() {
                continue;
            }
            match part.split_once('=') {
                Some((key, value)) => out.pairs.push((key.to_string(), value.to_string())),
                None if index == 0 => out.head = Some(part.to_string()),
                None => out.pairs.push((part.to_string(), String::new())),
            }
        }
        out
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` in place (keeping its position) or appends it.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.pairs.retain(|(k, _)| k != key);
    }

    /// Sets `key` when `value` is Some, removes it otherwise.
    pub fn set_opt(&mut self, key: &str, value: Option<impl Into<String>>) {
        match value {
            Some(v) => self.set(key, v),
            None => self.remove(key),
        }
    }

    pub fn render(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(head) = &self.head {
            parts.push(head.clone());
        }
        for (k, v) in &self.pairs {
            parts.push(format!("{k}={v}"));
        }
        parts.join(",")
    }
}

/// A config value as text: PVE sends most values as strings, some as numbers.
pub fn json_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

/// A PVE boolean (`1`, `0`, `true`, `on`, ...).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn bool_text(value: bool) -> &'static str {
    if value {
        "1"
    } else {
        "0"
    }
}

const KIB: u64 = 1024;

/// Bytes in a PVE size (`32G`, `8192M`, `4T`, `1048576K`, plain bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let value: f64 = number.parse().ok()?;
    let factor = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => KIB.pow(2),
        "G" | "GB" | "GIB" => KIB.pow(3),
        "T" | "TB" | "TIB" => KIB.pow(4),
        _ => return None,
    };
    Some((value * factor as f64).round() as u64)
}

/// GiB in a byte count, as the `size_gb` attributes show it (fractions kept).
pub fn bytes_to_gb(bytes: u64) -> f64 {
    bytes as f64 / KIB.pow(3) as f64
}

/// The byte count of `size_gb`.
pub fn gb_to_bytes(gb: f64) -> u64 {
    (gb * KIB.pow(3) as f64).round() as u64
}

/// A size argument for PVE: whole GiB as `32G`, otherwise `M` (rounded up).
pub fn size_arg(gb: f64) -> String {
    if gb.fract() == 0.0 {
        format!("{}G", gb as u64)
    } else {
        format!("{}M", (gb * 1024.0).ceil() as u64)
    }
}

/// Tags as PVE stores them: split on `;`, `,` or spaces, lowercase, sorted, unique.
pub fn parse_tags(text: &str) -> std::collections::BTreeSet<String> {
    text.split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| t.to_ascii_lowercase())
        .collect()
}

/// Percent-encoding in the form PVE's `urlencoded` format accepts (JavaScript's
/// `encodeURIComponent`: letters, digits and `-_.!~*'()` stay, everything else is `%XX`).
/// `sshkeys` must be sent this way, inside the form encoding of the request.
pub fn uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and nothing else; `+` stays).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The number in a config key such as `net3` or `scsi10`.
pub fn key_index(key: &str, prefix: &str) -> Option<u32> {
    let rest = key.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_strings_round_trip_and_edit_in_place() {
        let mut p = PropString::parse("virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20");
        assert_eq!(p.head, None);
        assert_eq!(p.get("virtio"), Some("BC:24:11:00:00:01"));
        p.set("bridge", "vmbr1");
        p.remove("tag");
        assert_eq!(p.render(), "virtio=BC:24:11:00:00:01,bridge=vmbr1");
        let d = PropString::parse("local-lvm:vm-100-disk-0,size=32G,iothread=1");
        assert_eq!(d.head.as_deref(), Some("local-lvm:vm-100-disk-0"));
        assert_eq!(d.get("size"), Some("32G"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32G"), Some(32 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("8192M"), Some(8 * 1024 * 1024 * 1024));
        assert_eq!(bytes_to_gb(parse_size("2252M").unwrap()), 2.19921875);
        assert_eq!(size_arg(32.0), "32G");
        assert_eq!(size_arg(2.5), "2560M");
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn sshkeys_encoding_matches_pve() {
        let key = "ssh-ed25519 AAAA+b/c= admin@lab\n";
        let encoded = uri_component(key);
        assert_eq!(encoded, "ssh-ed25519%20AAAA%2Bb%2Fc%3D%20admin%40lab%0A");
        assert_eq!(percent_decode(&encoded), key);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn tags_are_normalised_like_pve() {
        let tags = parse_tags("tier1;Private");
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            vec!["private".to_string(), "tier1".to_string()]
        );
    }
}

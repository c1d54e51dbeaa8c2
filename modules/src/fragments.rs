//! Documentation pieces several modules share, written once: the options that are not lab
//! fields but mean the same in every module that has them (`state`, `create_dir`), the
//! return values of the modules that own one file, and the attributes every binary module
//! has. A module takes a piece by calling it; the text names the module's own options.

use serde_json::json;

use crate::args::{Opt, Type};
use crate::docs::{Attribute, Return, Support};

/// `state` with `present` (the default) and `absent`; `description` says what each does.
pub fn state(description: &'static [&'static str]) -> Opt {
    Opt::new("state", Type::STR)
        .choices(&["present", "absent"])
        .default(json!("present"))
        .description(description)
}

/// `state` of a module that owns one file: `file` names it ("route file"), `names` are the
/// options that locate it, the only ones `absent` needs.
pub fn owned_file_state(file: &str, names: [&str; 2]) -> Opt {
    state(&[])
        .paragraph(format!(
            "V(present) writes the {file}, V(absent) deletes it (only if this module wrote it)."
        ))
        .paragraph(format!(
            "With V(absent), only O({}) and O({}) are needed.",
            names[0], names[1]
        ))
}

/// `create_dir` for the directory option `dir`.
pub fn create_dir(dir: &str) -> Opt {
    Opt::new("create_dir", Type::BOOL)
        .default(json!(false))
        .paragraph(format!(
            "Create O({dir}) and its missing parents when it does not exist."
        ))
        .description(&[
            "By default a missing directory is an error, because it usually means a wrong path.",
        ])
}

/// `action` of a module that owns one file.
pub fn file_action() -> Return {
    Return::new(
        "action",
        "str",
        "always",
        "What the module did to the file, or would do in check mode.",
    )
    .choices(&["none", "create", "update", "delete"])
    .sample(json!("create"))
}

/// `diff` of a module that owns one file: `description` says which file.
pub fn file_diff(description: &'static str) -> Return {
    let text = |name, description| Return::new(name, "str", "success", description);
    Return::new("diff", "dict", "in diff mode", description).contains(vec![
        text(
            "before",
            "The file content before; empty when there was no file.",
        ),
        text(
            "after",
            "The file content after; empty when the file is deleted.",
        ),
        text("before_header", "The file path."),
        text("after_header", "The file path."),
    ])
}

/// The attributes every module has besides check_mode and diff_mode: what being a binary
/// run through the collection's action plugin means.
pub const COMMON_ATTRIBUTES: &[(&str, Attribute)] = &[
    (
        "action",
        Attribute {
            support: Support::Full,
            details: "Only picks the binary for the target's CPU; all work happens on the target.",
        },
    ),
    (
        "async",
        Attribute {
            support: Support::Full,
            details: "Ansible's async wrapper is Python, so async needs Python on the target.",
        },
    ),
    (
        "bypass_host_loop",
        Attribute {
            support: Support::None,
            details: "",
        },
    ),
];

/// The platforms of every module (the `platform` attribute).
pub const PLATFORMS: &str = "posix";

//! `homelab_netbird_policy`: a NetBird access policy with several rules. The capability
//! (checks, the API body, reading answers back in the declared order) is
//! `lab::netbird::policy`. Import by ID.

use lab::netbird::policy::Policy;

use super::netbird_object::{plain_api_object, NetbirdObjectResource};
use crate::kit::{Definition, ErrorPaths};

pub const TYPE_NAME: &str = "homelab_netbird_policy";

pub type NetbirdPolicyResource = NetbirdObjectResource<Policy>;

plain_api_object!(
    Policy,
    policy,
    "policy",
    Definition {
        type_name: TYPE_NAME,
        description: "A NetBird access control policy: one or more rules, each letting source \
             groups reach destination groups over a protocol and ports. Rules are matched \
             by name and lists compared as sets, so the server's own ordering never shows \
             as a change. Ports are for `tcp` and `udp` only. Import by ID; the server's \
             answer leaves out of a rule the source groups an earlier rule of the policy \
             already names, so after an import such a policy plans one in-place update \
             that restores what the configuration says.",
        invalid: "Invalid NetBird policy",
        // Inside `rules = [{ ... }]`, the deepest place Terraform up to 1.14 can underline.
        errors: ErrorPaths::TopLevel,
        ..Definition::default()
    }
);

//! `homelab_aws_instance`: one EC2 instance.
//!
//! Launch, then wait (bounded) until it runs. `instance_type` and `user_data` change in
//! place: the instance is stopped, modified and started again. Security groups, the root
//! volume's size and tags change while it runs. The AMI, subnet and key pair cannot change
//! on a launched instance: those replace it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, InstanceAttributeName,
    InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, ResourceType,
    SecureBlobAttributeValue, TagSpecification,
};
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{sync_tags, tags_map, validate_tags, Aws, AwsError};
use crate::deadline::{Backoff, Deadline, Poll};
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};

/// EC2's limit on user data (before base64).
const MAX_USER_DATA: usize = 16 * 1024;

/// An EC2 instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The AMI to boot (`ami-...`), e.g. from the `homelab_aws_ami` data source.
    pub ami: String,
    /// The instance type, `family.size` (`t3.small`). Changed in place: the instance is
    /// stopped, modified and started again.
    pub instance_type: String,
    /// The subnet (`subnet-...`) to launch in; when unset AWS picks a default subnet of the
    /// default VPC.
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// Security groups (`sg-...`) of the instance; the VPC's default group when unset.
    /// Changed in place.
    #[serde(default)]
    pub security_group_ids: Option<BTreeSet<String>>,
    /// The EC2 key pair to install for SSH.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Whether the instance gets a public IPv4 address; the subnet's setting when unset.
    /// Only settable at launch.
    #[serde(default)]
    pub associate_public_ip: Option<bool>,
    /// User data (cloud-init), as plain text; at most 16 KiB. Changed in place (stop,
    /// modify, start) unless `user_data_replace_on_change` is true.
    #[serde(default)]
    pub user_data: Option<String>,
    /// Replace the instance, rather than stop and restart it, when `user_data` changes, so
    /// cloud-init runs again on a fresh instance.
    #[serde(default)]
    pub user_data_replace_on_change: bool,
    /// Size of the root volume in GiB; the AMI's size when unset. Grown in place.
    #[serde(default)]
    pub root_volume_size: Option<i64>,
    /// Tags on the instance (`Name` is what the console shows).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Whether `t` has the `family.size` form of an instance type (`t3.small`, `m7i.metal-48xl`).
pub fn is_instance_type(t: &str) -> bool {
    let Some((family, size)) = t.split_once('.') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    word(family)
        && word(size)
        && family.starts_with(|c: char| c.is_ascii_lowercase())
        && !size.contains('.')
}

impl Validate for Instance {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !self.ami.starts_with("ami-") || self.ami.len() < 5 {
            errors.push(FieldError::field(
                "ami",
                format!("{:?} is not an AMI ID (ami-...)", self.ami),
            ));
        }
        if !is_instance_type(&self.instance_type) {
            errors.push(FieldError::field(
                "instance_type",
                format!(
                    "{:?} is not an instance type of the form family.size, e.g. \"t3.small\"",
                    self.instance_type
                ),
            ));
        }
        if let Some(subnet) = &self.subnet_id {
            if !subnet.starts_with("subnet-") {
                errors.push(FieldError::field(
                    "subnet_id",
                    format!("{subnet:?} is not a subnet ID (subnet-...)"),
                ));
            }
        }
        if let Some(groups) = &self.security_group_ids {
            for group in groups {
                if !group.starts_with("sg-") {
                    errors.push(FieldError::field(
                        "security_group_ids",
                        format!("{group:?} is not a security group ID (sg-...)"),
                    ));
                }
            }
        }
        if let Some(key) = &self.key_name {
            if key.is_empty() || key.len() > 255 {
                errors.push(FieldError::field("key_name", "must be 1 to 255 characters"));
            }
        }
        if let Some(user_data) = &self.user_data {
            if user_data.len() > MAX_USER_DATA {
                errors.push(FieldError::field(
                    "user_data",
                    format!(
                        "is {} bytes; EC2 takes at most {MAX_USER_DATA}",
                        user_data.len()
                    ),
                ));
            }
        }
        if let Some(size) = self.root_volume_size {
            if size < 1 {
                errors.push(FieldError::new(
                    vec![PathSegment::Field("root_volume_size".into())],
                    format!("{size} GiB: a root volume size is at least 1 GiB"),
                ));
            } else if size > 16384 {
                errors.push(FieldError::field(
                    "root_volume_size",
                    format!("{size} GiB is more than EBS allows (16384)"),
                ));
            }
        }
        validate_tags(&self.tags, &mut errors);
        errors
    }
}

/// An instance as EC2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    /// The instance in the shape of the arguments.
    pub instance: Instance,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
    pub vpc_id: Option<String>,
    pub availability_zone: Option<String>,
    root_volume_id: Option<String>,
    state_reason: Option<String>,
}

/// Reads an instance; None when it does not exist or is terminated.
pub async fn read(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
    let Some(mut observed) = describe(aws, id).await? else {
        return Ok(None);
    };
    if observed.state == "terminated" {
        return Ok(None);
    }
    let user_data = aws
        .ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::UserData)
        .send()
        .await
        .map_err(|e| aws.api_error("DescribeInstanceAttribute", e))?;
    observed.instance.user_data = user_data
        .user_data()
        .and_then(|v| v.value())
        .filter(|v| !v.is_empty())
        .map(decode_user_data);
    if let Some(volume) = &observed.root_volume_id {
        let volumes = aws
            .ec2
            .describe_volumes()
            .volume_ids(volume)
            .send()
            .await
            .map_err(|e| aws.api_error("DescribeVolumes", e))?;
        observed.instance.root_volume_size = volumes
            .volumes()
            .first()
            .and_then(|v| v.size())
            .map(i64::from);
    }
    Ok(Some(observed))
}

fn decode_user_data(encoded: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => encoded.to_string(),
    }
}

/// DescribeInstances for one instance, without the extra calls `read` makes.
async fn describe(aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
    let output = match aws.ec2.describe_instances().instance_ids(id).send().await {
        Ok(output) => output,
        Err(e) => {
            let error = aws.api_error("DescribeInstances", e);
            return if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let Some(instance) = output
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(id))
    else {
        return Ok(None);
    };
    let state = instance
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    let root_device = instance.root_device_name();
    let root_volume_id = instance
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == root_device)
        .or_else(|| instance.block_device_mappings().first())
        .and_then(|m| m.ebs())
        .and_then(|e| e.volume_id())
        .map(str::to_string);
    let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    let public_ip = nonempty(instance.public_ip_address());
    Ok(Some(Observed {
        id: id.to_string(),
        instance: Instance {
            ami: instance.image_id().unwrap_or_default().to_string(),
            instance_type: instance
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            subnet_id: nonempty(instance.subnet_id()),
            security_group_ids: Some(
                instance
                    .security_groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect(),
            ),
            key_name: nonempty(instance.key_name()),
            // Only a running instance shows whether it has a public address.
            associate_public_ip: (state == "running").then_some(public_ip.is_some()),
            user_data: None,
            user_data_replace_on_change: false,
            root_volume_size: None,
            tags: tags_map(instance.tags()),
        },
        state,
        public_ip,
        private_ip: nonempty(instance.private_ip_address()),
        public_dns: nonempty(instance.public_dns_name()),
        private_dns: nonempty(instance.private_dns_name()),
        vpc_id: nonempty(instance.vpc_id()),
        availability_zone: instance
            .placement()
            .and_then(|p| nonempty(p.availability_zone())),
        root_volume_id,
        state_reason: instance
            .state_reason()
            .and_then(|r| r.message())
            .map(str::to_string),
    }))
}

/// Launches the instance and returns its ID at once; `wait_running` waits for it. Kept
/// apart so a caller always learns the ID of what it launched, even when the wait fails.
pub async fn launch(aws: &Aws, desired: &Instance) -> Result<String, AwsError> {
    let mut request = aws
        .ec2
        .run_instances()
        .image_id(&desired.ami)
        .instance_type(InstanceType::from(desired.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .set_key_name(desired.key_name.clone());
    let groups: Option<Vec<String>> = desired
        .security_group_ids
        .as_ref()
        .filter(|g| !g.is_empty())
        .map(|g| g.iter().cloned().collect());
    if let Some(public) = desired.associate_public_ip {
        // Only a network interface specification can say whether to associate a public IP;
        // the subnet and groups then belong to it.
        request = request.network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .associate_public_ip_address(public)
                .set_subnet_id(desired.subnet_id.clone())
                .set_groups(groups)
                .delete_on_termination(true)
                .build(),
        );
    } else {
        request = request
            .set_subnet_id(desired.subnet_id.clone())
            .set_security_group_ids(groups);
    }
    if let Some(user_data) = &desired.user_data {
        request = request.user_data(base64::engine::general_purpose::STANDARD.encode(user_data));
    }
    if let Some(size) = desired.root_volume_size {
        let image = aws
            .ec2
            .describe_images()
            .image_ids(&desired.ami)
            .send()
            .await
            .map_err(|e| aws.api_error("DescribeImages", e))?;
        let device = image
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .unwrap_or("/dev/sda1")
            .to_string();
        request = request.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(device)
                .ebs(
                    EbsBlockDevice::builder()
                        .volume_size(size as i32)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        );
    }
    if !desired.tags.is_empty() {
        request = request.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(super::ec2_tags(&desired.tags)))
                .build(),
        );
    }
    let output = request
        .send()
        .await
        .map_err(|e| aws.api_error("RunInstances", e))?;
    output
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| AwsError::NotFound("RunInstances returned no instance".into()))
}

/// Waits until the instance is in `target` (`running` or `stopped`).
async fn wait_for_state(
    aws: &Aws,
    id: &str,
    target: InstanceStateName,
    deadline: &Deadline,
) -> Result<(), AwsError> {
    let target = target.as_str().to_string();
    deadline
        .poll(
            &format!("instance {id} to be {target}"),
            Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
            || async {
                match describe(aws, id).await? {
                    // Just launched: EC2 is eventually consistent, the ID may not be visible yet.
                    None => Ok(Poll::Pending("not visible yet".into())),
                    Some(seen) if seen.state == target => Ok(Poll::Done(())),
                    Some(seen) if seen.state == "terminated" || seen.state == "shutting-down" => {
                        Err(AwsError::Api {
                            operation: "waiting for the instance",
                            endpoint: aws.endpoint.clone(),
                            code: format!("Instance{}", capitalise(&seen.state)),
                            message: format!(
                                "instance {id} is {} instead of {target}{}",
                                seen.state,
                                seen.state_reason
                                    .map(|r| format!(": {r}"))
                                    .unwrap_or_default()
                            ),
                        })
                    }
                    Some(seen) => Ok(Poll::Pending(seen.state)),
                }
            },
        )
        .await
}

fn capitalise(state: &str) -> String {
    state
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Waits until a launched instance runs, then reads it.
pub async fn wait_running(aws: &Aws, id: &str, deadline: &Deadline) -> Result<Observed, AwsError> {
    wait_for_state(aws, id, InstanceStateName::Running, deadline).await?;
    read(aws, id)
        .await?
        .ok_or_else(|| AwsError::NotFound(format!("instance {id} disappeared after starting")))
}

/// What has to change on a running instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Arguments that cannot change on a launched instance.
    pub replace: Vec<&'static str>,
    pub instance_type: Option<String>,
    /// `Some(None)` removes the user data.
    pub user_data: Option<Option<String>>,
    pub security_group_ids: Option<BTreeSet<String>>,
    pub root_volume_size: Option<i64>,
    pub tags: Option<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

impl Plan {
    /// Whether the change needs the instance stopped (instance type, user data).
    pub fn needs_restart(&self) -> bool {
        self.instance_type.is_some() || self.user_data.is_some()
    }

    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

/// Compares the declared instance with the actual one (pure). Arguments left unset
/// (subnet, groups, public IP, root size) take whatever AWS chose.
pub fn plan(desired: &Instance, actual: &Instance) -> Plan {
    let mut plan = Plan::default();
    if desired.ami != actual.ami {
        plan.replace.push("ami");
    }
    if desired.subnet_id.is_some() && desired.subnet_id != actual.subnet_id {
        plan.replace.push("subnet_id");
    }
    if desired.key_name != actual.key_name {
        plan.replace.push("key_name");
    }
    if desired.associate_public_ip.is_some()
        && actual.associate_public_ip.is_some()
        && desired.associate_public_ip != actual.associate_public_ip
    {
        plan.replace.push("associate_public_ip");
    }
    let user_data_changed = desired.user_data.as_deref().unwrap_or_default()
        != actual.user_data.as_deref().unwrap_or_default();
    if user_data_changed {
        if desired.user_data_replace_on_change {
            plan.replace.push("user_data");
        } else {
            plan.user_data = Some(desired.user_data.clone());
        }
    }
    if desired.instance_type != actual.instance_type {
        plan.instance_type = Some(desired.instance_type.clone());
    }
    if let Some(groups) = &desired.security_group_ids {
        if !groups.is_empty() && Some(groups) != actual.security_group_ids.as_ref() {
            plan.security_group_ids = Some(groups.clone());
        }
    }
    if let Some(size) = desired.root_volume_size {
        if Some(size) != actual.root_volume_size {
            plan.root_volume_size = Some(size);
        }
    }
    if desired.tags != actual.tags {
        plan.tags = Some((actual.tags.clone(), desired.tags.clone()));
    }
    plan
}

/// Carries out an in-place plan (`replace` must be empty): security groups, root volume
/// and tags while running; instance type and user data between a stop and a start. Each
/// wait is bounded by `deadline`.
pub async fn apply(aws: &Aws, id: &str, plan: &Plan, deadline: &Deadline) -> Result<(), AwsError> {
    if let Some(groups) = &plan.security_group_ids {
        aws.ec2
            .modify_instance_attribute()
            .instance_id(id)
            .set_groups(Some(groups.iter().cloned().collect()))
            .send()
            .await
            .map_err(|e| aws.api_error("ModifyInstanceAttribute", e))?;
    }
    if let Some(size) = plan.root_volume_size {
        let observed = describe(aws, id)
            .await?
            .ok_or_else(|| AwsError::NotFound(format!("instance {id} does not exist")))?;
        let volume = observed.root_volume_id.ok_or_else(|| {
            AwsError::NotFound(format!("instance {id} has no EBS root volume to resize"))
        })?;
        aws.ec2
            .modify_volume()
            .volume_id(volume)
            .size(size as i32)
            .send()
            .await
            .map_err(|e| aws.api_error("ModifyVolume", e))?;
    }
    if let Some((actual, desired)) = &plan.tags {
        sync_tags(aws, id, actual, desired).await?;
    }
    if plan.needs_restart() {
        aws.ec2
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| aws.api_error("StopInstances", e))?;
        wait_for_state(aws, id, InstanceStateName::Stopped, deadline).await?;
        if let Some(instance_type) = &plan.instance_type {
            aws.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_type(AttributeValue::builder().value(instance_type).build())
                .send()
                .await
                .map_err(|e| aws.api_error("ModifyInstanceAttribute", e))?;
        }
        if let Some(user_data) = &plan.user_data {
            // The SDK base64-encodes blob attributes itself, which is what EC2 wants. Some
            // EC2-compatible services (moto) want the value encoded once more and say
            // InvalidUserData.Malformed otherwise; EC2 itself never does for raw bytes.
            let bytes = user_data.clone().unwrap_or_default().into_bytes();
            let modify = |bytes: Vec<u8>| {
                aws.ec2
                    .modify_instance_attribute()
                    .instance_id(id)
                    .user_data(
                        SecureBlobAttributeValue::builder()
                            .value(aws_sdk_ec2::primitives::Blob::new(bytes))
                            .build(),
                    )
                    .send()
            };
            if let Err(e) = modify(bytes.clone()).await {
                let error = aws.api_error("ModifyInstanceAttribute", e);
                if error.code() != Some("InvalidUserData.Malformed") {
                    return Err(error);
                }
                let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
                modify(encoded.into_bytes())
                    .await
                    .map_err(|e| aws.api_error("ModifyInstanceAttribute", e))?;
            }
        }
        aws.ec2
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| aws.api_error("StartInstances", e))?;
        wait_for_state(aws, id, InstanceStateName::Running, deadline).await?;
    }
    Ok(())
}

/// Terminates the instance and waits until it is gone. One already gone is fine.
pub async fn terminate(aws: &Aws, id: &str, deadline: &Deadline) -> Result<(), AwsError> {
    if let Err(e) = aws.ec2.terminate_instances().instance_ids(id).send().await {
        let error = aws.api_error("TerminateInstances", e);
        if error.is_not_found() {
            return Ok(());
        }
        return Err(error);
    }
    deadline
        .poll(
            &format!("instance {id} to be terminated"),
            Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
            || async {
                Ok(match describe(aws, id).await? {
                    None => Poll::Done(()),
                    Some(seen) if seen.state == "terminated" => Poll::Done(()),
                    Some(seen) => Poll::Pending(seen.state),
                })
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance {
            ami: "ami-1".into(),
            instance_type: "t3.small".into(),
            subnet_id: None,
            security_group_ids: None,
            key_name: None,
            associate_public_ip: None,
            user_data: Some("#cloud-config\n".into()),
            user_data_replace_on_change: false,
            root_volume_size: None,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn instance_types_have_family_and_size() {
        for ok in [
            "t3.small",
            "m7i.metal-48xl",
            "u-6tb1.metal",
            "mac2-m2pro.metal",
            "c5.2xlarge",
        ] {
            assert!(is_instance_type(ok), "{ok}");
        }
        for bad in [
            "t3",
            "t3.",
            ".small",
            "T3.small",
            "t3.small.x",
            "t3 small",
            "3t.small",
        ] {
            assert!(!is_instance_type(bad), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_attribute() {
        let mut bad = instance();
        bad.instance_type = "t3small".into();
        bad.root_volume_size = Some(-5);
        bad.ami = "ubuntu".into();
        let text: Vec<String> = bad.validate().iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.starts_with(
                "instance_type: \"t3small\" is not an instance type of the form family.size"
            )),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("root_volume_size: -5 GiB")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("ami:")), "{text:?}");
    }

    #[test]
    fn plan_sorts_changes_into_in_place_and_replacement() {
        let actual = Instance {
            subnet_id: Some("subnet-1".into()),
            security_group_ids: Some(["sg-1".to_string()].into()),
            associate_public_ip: Some(true),
            root_volume_size: Some(8),
            ..instance()
        };
        // Unset optional arguments accept what AWS chose.
        assert!(plan(&instance(), &actual).is_empty());
        let mut desired = instance();
        desired.instance_type = "t3.medium".into();
        desired.user_data = Some("#cloud-config\npackages: [git]\n".into());
        let p = plan(&desired, &actual);
        assert!(p.replace.is_empty() && p.needs_restart());
        desired.user_data_replace_on_change = true;
        desired.ami = "ami-2".into();
        let p = plan(&desired, &actual);
        assert_eq!(p.replace, vec!["ami", "user_data"]);
        assert_eq!(p.user_data, None);
    }
}

//! What the AWS acceptance tests share: the SDK (through `lab::aws`) pointed at moto, to set
//! up zones, change things behind Terraform's back and check what is left.

#![allow(dead_code)]

use std::future::Future;

use lab::aws::sdk::{ec2, route53};
use lab::aws::{Aws, AwsConfig};

pub struct Sdk {
    pub aws: Aws,
    runtime: tokio::runtime::Runtime,
}

impl Sdk {
    pub fn new(endpoint: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = AwsConfig {
            region: Some("eu-west-1".into()),
            profile: None,
            access_key: Some("test".into()),
            secret_key: Some(lab::secret::Secret::new("test")),
            endpoint: Some(endpoint.into()),
        };
        let aws = runtime
            .block_on(Aws::connect(&config))
            .expect("SDK clients");
        Self { aws, runtime }
    }

    pub fn run<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    pub fn ec2(&self) -> &ec2::Client {
        &self.aws.ec2
    }

    pub fn route53(&self) -> &route53::Client {
        &self.aws.route53
    }

    /// Creates a public hosted zone and returns its ID (without `/hostedzone/`).
    pub fn create_zone(&self, name: &str) -> String {
        let output = self
            .run(
                self.route53()
                    .create_hosted_zone()
                    .name(name)
                    .caller_reference(format!("homelab-acc-{name}-{}", std::process::id()))
                    .send(),
            )
            .expect("CreateHostedZone");
        lab::aws::route53::clean_zone_id(output.hosted_zone().expect("zone").id())
    }

    /// The record sets of a zone, as Route 53 lists them.
    fn record_sets(&self, zone_id: &str) -> Vec<route53::types::ResourceRecordSet> {
        self.run(
            self.route53()
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .send(),
        )
        .expect("ListResourceRecordSets")
        .resource_record_sets
    }

    /// The record sets of a zone as (name, type, values).
    pub fn records(&self, zone_id: &str) -> Vec<(String, String, Vec<String>)> {
        self.record_sets(zone_id)
            .iter()
            .map(|s| {
                (
                    s.name().trim_end_matches('.').to_string(),
                    s.r#type().as_str().to_string(),
                    s.resource_records()
                        .iter()
                        .map(|r| r.value().to_string())
                        .collect(),
                )
            })
            .collect()
    }

    /// Writes a record set directly (UPSERT).
    pub fn upsert_record(&self, zone_id: &str, name: &str, kind: &str, ttl: i64, values: &[&str]) {
        use route53::types::{
            Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
        };
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::from(kind))
            .ttl(ttl)
            .set_resource_records(Some(
                values
                    .iter()
                    .map(|v| ResourceRecord::builder().value(*v).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap();
        let batch = ChangeBatch::builder()
            .changes(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        self.run(
            self.route53()
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch)
                .send(),
        )
        .expect("ChangeResourceRecordSets");
    }

    /// Deletes a hosted zone behind Terraform's back, with its records (but SOA and NS).
    pub fn delete_zone(&self, zone_id: &str) {
        use route53::types::{Change, ChangeAction, ChangeBatch, RrType};
        let changes: Vec<Change> = self
            .record_sets(zone_id)
            .into_iter()
            .filter(|s| !matches!(s.r#type(), RrType::Soa | RrType::Ns))
            .map(|s| {
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(s)
                    .build()
                    .unwrap()
            })
            .collect();
        if !changes.is_empty() {
            let batch = ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .unwrap();
            self.run(
                self.route53()
                    .change_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .change_batch(batch)
                    .send(),
            )
            .expect("ChangeResourceRecordSets DELETE");
        }
        self.run(self.route53().delete_hosted_zone().id(zone_id).send())
            .expect("DeleteHostedZone");
    }

    /// The security groups with this name (besides nothing else).
    pub fn groups_named(&self, name: &str) -> Vec<ec2::types::SecurityGroup> {
        let output = self
            .run(
                self.ec2()
                    .describe_security_groups()
                    .filters(
                        ec2::types::Filter::builder()
                            .name("group-name")
                            .values(name)
                            .build(),
                    )
                    .send(),
            )
            .expect("DescribeSecurityGroups");
        output.security_groups().to_vec()
    }

    /// One instance as EC2 reports it.
    pub fn instance(&self, id: &str) -> ec2::types::Instance {
        let output = self
            .run(self.ec2().describe_instances().instance_ids(id).send())
            .expect("DescribeInstances");
        output.reservations()[0].instances()[0].clone()
    }

    /// The state names of every instance moto knows.
    pub fn instance_states(&self) -> Vec<(String, String)> {
        let output = self
            .run(self.ec2().describe_instances().send())
            .expect("DescribeInstances");
        output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Sets a tag on an EC2 resource directly.
    pub fn tag(&self, resource: &str, key: &str, value: &str) {
        self.run(
            self.ec2()
                .create_tags()
                .resources(resource)
                .tags(ec2::types::Tag::builder().key(key).value(value).build())
                .send(),
        )
        .expect("CreateTags");
    }
}

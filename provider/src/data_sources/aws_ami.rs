//! `homelab_aws_ami`: an AMI by owners and name pattern (`lab::aws::ami`).

use std::sync::{Arc, OnceLock};

use lab::aws::ami::{self, AmiLookup};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Outcome};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::serde_bridge;

use crate::config::aws::{self as aws_config, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_aws_ami";
const COMPUTED: &[&str] = &[
    "id",
    "image_id",
    "image_name",
    "creation_date",
    "owner_id",
    "architecture",
    "root_device_name",
    "description",
];
const SUMMARY: &str = "Invalid AMI lookup";

pub struct AwsAmiDataSource {
    state: Arc<ProviderState>,
}

impl AwsAmiDataSource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(AmiLookup))
            .expect("a JSON schema serialises");
        let computed = |name: &str, description: &str| {
            Attribute::computed(name, Type::String).description(description)
        };
        let block = derive::block_from_json_schema(
            "Finds an AMI by owners and name pattern, e.g. the newest Ubuntu image, for \
             `homelab_aws_instance.ami`. Several matches are an error unless `most_recent` is \
             true; no match is an error.",
            &json_schema,
            Annotations {
                extra: vec![
                    computed("id", "The AMI ID (`ami-...`)."),
                    computed("image_id", "The AMI ID (`ami-...`), as `id`."),
                    computed("image_name", "The image's full name."),
                    computed("creation_date", "When the image was created (ISO 8601)."),
                    computed("owner_id", "The owning account's ID."),
                    computed("architecture", "`x86_64`, `arm64`..."),
                    computed("root_device_name", "The root device, e.g. `/dev/sda1`."),
                    computed("description", "The image's description."),
                ],
                ..Annotations::default()
            },
        );
        Schema::new(0, block)
    })
}

#[tfplugin::async_trait]
impl DataSource for AwsAmiDataSource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_known(
            SUMMARY,
            config,
            &schema().value_type(),
            COMPUTED,
            AmiLookup::validate,
        )
    }

    async fn read(&self, config: &Value, _ctx: &Ctx) -> Outcome {
        let aws = match self.state.aws.clients(TYPE_NAME) {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let lookup = match aws_config::checked_args(SUMMARY, config, COMPUTED, AmiLookup::validate)
        {
            Ok(lookup) => lookup,
            Err(diags) => return Outcome::failed(diags),
        };
        let found = match ami::lookup(&aws, &lookup).await {
            Ok(found) => found,
            Err(e) => return Outcome::failed(aws_config::error("Cannot find the AMI", e)),
        };
        let mut state = config.clone();
        for (name, value) in [
            ("id", &found.id),
            ("image_id", &found.id),
            ("image_name", &found.name),
            ("creation_date", &found.creation_date),
            ("owner_id", &found.owner_id),
            ("architecture", &found.architecture),
            ("root_device_name", &found.root_device_name),
            ("description", &found.description),
        ] {
            state.set_attr(name, Value::String(value.clone()));
        }
        // Defaults the configuration left out.
        if state.get_attr("most_recent").is_some_and(Value::is_null) {
            state.set_attr("most_recent", Value::Bool(lookup.most_recent));
        }
        match serde_bridge::to_json(&state)
            .and_then(|json| serde_bridge::from_json(&json, &schema().value_type()))
        {
            Ok(state) => Outcome::ok(state),
            Err(e) => Outcome::failed(Diagnostic::error("Cannot record the AMI", e).into()),
        }
    }
}

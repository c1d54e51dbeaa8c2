//! `homelab_aws_ami`: an AMI by owners and name pattern (`lab::aws::ami`).

use lab::aws::ami::{self, AmiLookup};
use lab::validation::{FieldError, Validate};
use tfplugin::cty::Value;
use tfplugin::diag::Diagnostics;

use crate::config::aws as aws_config;
use crate::kit::{output, Backend, Definition, Kit, ManagedDataSource};

pub const TYPE_NAME: &str = "homelab_aws_ami";

pub struct AwsAmiDataSource;

#[tfplugin::async_trait]
impl ManagedDataSource for AwsAmiDataSource {
    type Args = AmiLookup;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description:
                "Finds an AMI by owners and name pattern, e.g. the newest Ubuntu image, for \
             `homelab_aws_instance.ami`. Several matches are an error unless `most_recent` is \
             true; no match is an error.",
            invalid: "Invalid AMI lookup",
            outputs: vec![
                output("id", "The AMI ID (`ami-...`)."),
                output("image_id", "The AMI ID (`ami-...`), as `id`."),
                output("image_name", "The image's full name."),
                output("creation_date", "When the image was created (ISO 8601)."),
                output("owner_id", "The owning account's ID."),
                output("architecture", "`x86_64`, `arm64`..."),
                output("root_device_name", "The root device, e.g. `/dev/sda1`."),
                output("description", "The image's description."),
            ],
            backend: Backend::Aws,
            ..Definition::default()
        }
    }

    fn check(args: &AmiLookup) -> Vec<FieldError> {
        args.validate()
    }

    async fn read(
        &self,
        lookup: AmiLookup,
        _config: &Value,
        kit: &Kit,
    ) -> Result<Value, Diagnostics> {
        let aws = kit.aws()?;
        let found = ami::lookup(&aws, &lookup)
            .await
            .map_err(|e| aws_config::error("Cannot find the AMI", e))?;
        kit.state(
            &lookup,
            &[
                ("id", found.id.clone().into()),
                ("image_id", found.id.into()),
                ("image_name", found.name.into()),
                ("creation_date", found.creation_date.into()),
                ("owner_id", found.owner_id.into()),
                ("architecture", found.architecture.into()),
                ("root_device_name", found.root_device_name.into()),
                ("description", found.description.into()),
            ],
            &Value::Null,
        )
    }
}

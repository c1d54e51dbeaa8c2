//! `homelab_route53_zone`: a hosted zone by name, public or private
//! (`lab::aws::route53::find_zone`).

use lab::aws::route53::{self as r53, ZoneLookup};
use lab::validation::{FieldError, Validate};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::schema::Attribute;

use crate::config::aws as aws_config;
use crate::kit::{Backend, Definition, Kit, ManagedDataSource};

pub const TYPE_NAME: &str = "homelab_route53_zone";

pub struct Route53ZoneDataSource;

#[tfplugin::async_trait]
impl ManagedDataSource for Route53ZoneDataSource {
    type Args = ZoneLookup;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "Finds a Route 53 hosted zone by name, public or private, for \
             `homelab_route53_record.zone_id`. No match, or several, is an error.",
            invalid: "Invalid Route 53 zone lookup",
            outputs: vec![
                Attribute::computed("id", Type::String)
                    .description("The zone's ID (`Z...`), as `zone_id`."),
                Attribute::computed("zone_id", Type::String).description("The zone's ID (`Z...`)."),
                Attribute::computed("name_servers", Type::List(Box::new(Type::String)))
                    .description("The zone's delegation set."),
                Attribute::computed("comment", Type::String).description("The zone's comment."),
                Attribute::computed("record_count", Type::Number)
                    .description("How many record sets the zone holds."),
            ],
            backend: Backend::Aws,
            ..Definition::default()
        }
    }

    fn check(args: &ZoneLookup) -> Vec<FieldError> {
        args.validate()
    }

    async fn read(
        &self,
        lookup: ZoneLookup,
        _config: &Value,
        kit: &Kit,
    ) -> Result<Value, Diagnostics> {
        let aws = kit.aws()?;
        let zone = r53::find_zone(&aws, &lookup.name, lookup.private_zone)
            .await
            .map_err(|e| aws_config::error("Cannot find the hosted zone", e))?;
        kit.state(
            &lookup,
            &[
                ("id", zone.id.clone().into()),
                ("zone_id", zone.id.into()),
                ("name_servers", zone.name_servers.into()),
                ("comment", zone.comment.into()),
                ("record_count", zone.record_count.into()),
            ],
            &Value::Null,
        )
    }
}

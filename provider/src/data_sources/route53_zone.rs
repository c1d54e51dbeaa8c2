//! `homelab_route53_zone`: a hosted zone by name, public or private
//! (`lab::aws::route53::find_zone`).

use std::sync::{Arc, OnceLock};

use lab::aws::route53::{self as r53, ZoneLookup};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Outcome};
use tfplugin::schema::{Attribute, Schema};

use crate::config::aws::{self as aws_config, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_route53_zone";
const COMPUTED: &[&str] = &["id", "zone_id", "name_servers", "comment", "record_count"];
const SUMMARY: &str = "Invalid Route 53 zone lookup";

pub struct Route53ZoneDataSource {
    state: Arc<ProviderState>,
}

impl Route53ZoneDataSource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(ZoneLookup))
            .expect("a JSON schema serialises");
        let block = derive::block_from_json_schema(
            "Finds a Route 53 hosted zone by name, public or private, for \
             `homelab_route53_record.zone_id`. No match, or several, is an error.",
            &json_schema,
            Annotations {
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("The zone's ID (`Z...`), as `zone_id`."),
                    Attribute::computed("zone_id", Type::String)
                        .description("The zone's ID (`Z...`)."),
                    Attribute::computed("name_servers", Type::List(Box::new(Type::String)))
                        .description("The zone's delegation set."),
                    Attribute::computed("comment", Type::String).description("The zone's comment."),
                    Attribute::computed("record_count", Type::Number)
                        .description("How many record sets the zone holds."),
                ],
                ..Annotations::default()
            },
        );
        Schema::new(0, block)
    })
}

#[tfplugin::async_trait]
impl DataSource for Route53ZoneDataSource {
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
            ZoneLookup::validate,
        )
    }

    async fn read(&self, config: &Value, _ctx: &Ctx) -> Outcome {
        let aws = match self.state.aws.clients(TYPE_NAME) {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let lookup = match aws_config::checked_args(SUMMARY, config, COMPUTED, ZoneLookup::validate)
        {
            Ok(lookup) => lookup,
            Err(diags) => return Outcome::failed(diags),
        };
        let zone = match r53::find_zone(&aws, &lookup.name, lookup.private_zone).await {
            Ok(zone) => zone,
            Err(e) => return Outcome::failed(aws_config::error("Cannot find the hosted zone", e)),
        };
        let mut state = config.clone();
        state.set_attr("id", Value::String(zone.id.clone()));
        state.set_attr("zone_id", Value::String(zone.id.clone()));
        state.set_attr(
            "name_servers",
            Value::List(
                zone.name_servers
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        state.set_attr(
            "comment",
            zone.comment
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        state.set_attr(
            "record_count",
            Value::Number(zone.record_count.to_string().parse().expect("an integer")),
        );
        if state.get_attr("private_zone").is_some_and(Value::is_null) {
            state.set_attr("private_zone", Value::Bool(lookup.private_zone));
        }
        Outcome::ok(state)
    }
}

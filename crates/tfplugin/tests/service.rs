//! The Provider gRPC service driven in-process with a toy provider: the behaviours every
//! resource inherits (plan helpers, requires-replace, defaults, private state, state
//! upgrades, StopProvider cancelling work in flight, deprecation warnings, unsupported RPCs).

use std::sync::Arc;
use std::time::Duration;

use tfplugin::cty::{msgpack, Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::proto::tfplugin6::provider_server::Provider as _;
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Provider, Resource};
use tfplugin::schema::{Attribute, Block, Schema};
use tfplugin::server::ProviderService;
use tonic::Request;

struct Toy;
struct Thing;

fn thing_schema() -> Schema {
    Schema::new(
        2,
        Block::new("A toy.")
            .attribute(Attribute::required("name", Type::String).requires_replace())
            .attribute(Attribute::optional("size", Type::Number))
            .attribute(
                Attribute::optional("mode", Type::String).default(Value::String("fast".into())),
            )
            .attribute(Attribute::optional("old", Type::String).deprecated("Use size instead."))
            .attribute(Attribute::optional("slow", Type::Bool))
            .attribute(Attribute::computed("id", Type::String)),
    )
}

#[tfplugin::async_trait]
impl Provider for Toy {
    fn type_name(&self) -> &str {
        "toy"
    }
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new("toy"))
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing)]
    }
    async fn configure(&self, _config: &Value, _ctx: &Ctx) -> Diagnostics {
        Diagnostics::new()
    }
}

#[tfplugin::async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &str {
        "toy_thing"
    }
    fn schema(&self) -> Schema {
        thing_schema()
    }
    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        change.private = b"planned-private".to_vec();
        Diagnostics::new()
    }
    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        if request.planned.get_attr("slow") == Some(&Value::Bool(true)) {
            tokio::select! {
                _ = request.ctx.cancel.cancelled() => {
                    return Outcome::failed(Diagnostic::error("Interrupted", "stopped by StopProvider").into());
                }
                _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            }
        }
        let mut state = request.planned.clone();
        state.set_attr("id", Value::String("thing-1".into()));
        Outcome {
            state,
            // Private state flows plan -> apply -> state: prove apply saw the planned bytes.
            private: [request.private, b"+applied"].concat(),
            diagnostics: Diagnostics::new(),
        }
    }
    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        Outcome::ok(request.planned.clone())
    }
    async fn delete(&self, _request: ApplyRequest<'_>) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        Outcome {
            state: state.clone(),
            private: private.to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }
    fn upgrade_state(
        &self,
        version: i64,
        mut state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        // v1 called `size` `capacity`; v0 is too old to read.
        match version {
            2 => Ok(state),
            1 => {
                let object = state.as_object_mut().expect("object state");
                let capacity = object.remove("capacity").unwrap_or_default();
                object.insert("size".into(), capacity);
                Ok(state)
            }
            _ => Err(
                Diagnostic::error("Unsupported state version", format!("version {version}")).into(),
            ),
        }
    }
}

fn ty() -> Type {
    thing_schema().value_type()
}

fn obj(fields: &[(&str, Value)]) -> Value {
    let mut all: Vec<(String, Value)> = ["name", "size", "mode", "old", "slow", "id"]
        .iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    for (k, v) in fields {
        all.retain(|(name, _)| name != k);
        all.push((k.to_string(), v.clone()));
    }
    Value::object(all)
}

fn dv(value: &Value) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(value, &ty()).unwrap(),
        json: Vec::new(),
    })
}

fn decode(value: &Option<pb::DynamicValue>) -> Value {
    msgpack::decode(&value.as_ref().unwrap().msgpack, &ty()).unwrap()
}

fn service() -> ProviderService<Toy> {
    ProviderService::new(Toy)
}

async fn plan(
    svc: &ProviderService<Toy>,
    prior: &Value,
    config: &Value,
    proposed: &Value,
) -> pb::plan_resource_change::Response {
    svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
        type_name: "toy_thing".into(),
        prior_state: dv(prior),
        proposed_new_state: dv(proposed),
        config: dv(config),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn create_plan_marks_computed_unknown_applies_defaults_and_sets_private() {
    let svc = service();
    let config = obj(&[("name", Value::String("a".into()))]);
    let response = plan(&svc, &Value::Null, &config, &config).await;
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let planned = decode(&response.planned_state);
    assert!(planned.get_attr("id").unwrap().is_unknown());
    assert_eq!(
        planned.get_attr("mode"),
        Some(&Value::String("fast".into()))
    );
    assert_eq!(planned.get_attr("size"), Some(&Value::Null));
    assert_eq!(response.planned_private, b"planned-private");
    assert!(response.requires_replace.is_empty());
}

#[tokio::test]
async fn update_plan_keeps_prior_computed_and_reports_replacement_paths() {
    let svc = service();
    let prior = obj(&[
        ("name", Value::String("a".into())),
        ("mode", Value::String("fast".into())),
        ("id", Value::String("thing-1".into())),
    ]);
    let config = obj(&[("name", Value::String("b".into()))]);
    let proposed = obj(&[
        ("name", Value::String("b".into())),
        ("mode", Value::String("fast".into())),
        ("id", Value::String("thing-1".into())),
    ]);
    let response = plan(&svc, &prior, &config, &proposed).await;
    let planned = decode(&response.planned_state);
    assert_eq!(
        planned.get_attr("id"),
        Some(&Value::String("thing-1".into()))
    );
    let paths: Vec<_> = response
        .requires_replace
        .iter()
        .map(|p| format!("{p:?}"))
        .collect();
    assert_eq!(response.requires_replace.len(), 1, "{paths:?}");
    assert!(paths[0].contains("name"));
}

#[tokio::test]
async fn private_state_flows_from_plan_through_apply_to_read() {
    let svc = service();
    let config = obj(&[("name", Value::String("a".into()))]);
    let planned = plan(&svc, &Value::Null, &config, &config).await;
    let applied = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "toy_thing".into(),
            prior_state: dv(&Value::Null),
            planned_state: planned.planned_state.clone(),
            config: dv(&config),
            planned_private: planned.planned_private.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(applied.diagnostics.is_empty());
    assert_eq!(applied.private, b"planned-private+applied");
    assert_eq!(
        decode(&applied.new_state).get_attr("id"),
        Some(&Value::String("thing-1".into()))
    );
    let read = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "toy_thing".into(),
            current_state: applied.new_state.clone(),
            private: applied.private.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.private, b"planned-private+applied");
}

#[tokio::test]
async fn state_is_upgraded_across_schema_versions_and_unknown_versions_fail() {
    let svc = service();
    let upgrade = |version: i64, json: &str| pb::upgrade_resource_state::Request {
        type_name: "toy_thing".into(),
        version,
        raw_state: Some(pb::RawState {
            json: json.as_bytes().to_vec(),
            flatmap: Default::default(),
        }),
    };
    let v1 = r#"{"name":"a","capacity":7,"mode":"fast","old":null,"slow":null,"id":"x"}"#;
    let response = svc
        .upgrade_resource_state(Request::new(upgrade(1, v1)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let upgraded = decode(&response.upgraded_state);
    assert_eq!(upgraded.get_attr("size").and_then(Value::as_i64), Some(7));

    // Current version: attributes missing from stored JSON read as null.
    let v2 = r#"{"name":"a","id":"x"}"#;
    let response = svc
        .upgrade_resource_state(Request::new(upgrade(2, v2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        decode(&response.upgraded_state).get_attr("size"),
        Some(&Value::Null)
    );

    let response = svc
        .upgrade_resource_state(Request::new(upgrade(0, v1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.diagnostics.len(), 1);
    assert!(response.diagnostics[0]
        .summary
        .contains("Unsupported state version"));
}

#[tokio::test]
async fn stop_provider_cancels_an_apply_in_flight() {
    let svc = Arc::new(service());
    let config = obj(&[
        ("name", Value::String("a".into())),
        ("slow", Value::Bool(true)),
    ]);
    let planned = plan(&svc, &Value::Null, &config, &config).await;
    let apply_svc = svc.clone();
    let started = std::time::Instant::now();
    let apply = tokio::spawn(async move {
        apply_svc
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "toy_thing".into(),
                prior_state: dv(&Value::Null),
                planned_state: planned.planned_state,
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = svc
        .stop_provider(Request::new(pb::stop_provider::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.error, "");
    let response = tokio::time::timeout(Duration::from_secs(5), apply)
        .await
        .expect("apply ends soon after StopProvider")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(response.diagnostics[0].summary, "Interrupted");
}

#[tokio::test]
async fn deprecated_attribute_warns_with_its_path() {
    let svc = service();
    let config = obj(&[
        ("name", Value::String("a".into())),
        ("old", Value::String("x".into())),
    ]);
    let response = svc
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "toy_thing".into(),
            config: dv(&config),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.diagnostics.len(), 1);
    let d = &response.diagnostics[0];
    assert_eq!(d.severity, pb::diagnostic::Severity::Warning as i32);
    assert_eq!(d.detail, "Use size instead.");
    let expected = tfplugin::proto::tfplugin6::AttributePath {
        steps: vec![pb::attribute_path::Step {
            selector: Some(pb::attribute_path::step::Selector::AttributeName(
                "old".into(),
            )),
        }],
    };
    assert_eq!(d.attribute.as_ref(), Some(&expected));
}

#[tokio::test]
async fn schema_and_metadata_and_unsupported_rpcs() {
    let svc = service();
    let schema = svc
        .get_provider_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    let thing = &schema.resource_schemas["toy_thing"];
    assert_eq!(thing.version, 2);
    let block = thing.block.as_ref().unwrap();
    let old = block.attributes.iter().find(|a| a.name == "old").unwrap();
    assert!(old.deprecated && old.optional);
    let mode = block.attributes.iter().find(|a| a.name == "mode").unwrap();
    assert!(mode.optional && mode.computed);
    assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);

    let functions = svc
        .get_functions(Request::new(pb::get_functions::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());

    let moved = svc
        .move_resource_state(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(moved.diagnostics[0]
        .summary
        .contains("not supported by this provider"));

    let unknown = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "toy_nothing".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.diagnostics[0].detail.contains("toy_nothing"));
}

//! Unit tests of `rpc`.

//! The server's part in write-only attributes, for a client that has them (Terraform
//! 1.11) and one that does not (1.10 and older send no capabilities).

use super::*;
use crate::cty::msgpack;
use crate::provider::Outcome;
use crate::schema::Attribute;

struct Secretive;

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("")
            .attribute(Attribute::required("name", Type::String))
            .attribute(
                Attribute::optional("password_wo", Type::String)
                    .sensitive()
                    .write_only(),
            ),
    )
}

#[crate::provider::async_trait]
impl Resource for Secretive {
    fn type_name(&self) -> &str {
        "test_secretive"
    }
    fn schema(&self) -> Schema {
        schema()
    }
    // Each step hands back what it was given, write-only value included: the server
    // must drop it before answering.
    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        Outcome::ok(request.config.clone())
    }
    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        Outcome::ok(request.config.clone())
    }
    async fn delete(&self, _request: ApplyRequest<'_>) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let mut state = state.clone();
        state.set_attr("password_wo", Value::from("read back"));
        Outcome::with_private(state, private)
    }
}

struct TestProvider;

#[crate::provider::async_trait]
impl Provider for TestProvider {
    fn type_name(&self) -> &str {
        "test"
    }
    fn schema(&self) -> Schema {
        Schema::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Secretive)]
    }
    async fn configure(&self, _config: &Value, _ctx: &Ctx) -> Diagnostics {
        Diagnostics::new()
    }
}

fn dynamic(value: &Value) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(value, &schema().value_type()).unwrap(),
        json: Vec::new(),
    })
}

fn decoded(value: Option<pb::DynamicValue>) -> Value {
    msgpack::decode(&value.unwrap().msgpack, &schema().value_type()).unwrap()
}

fn config() -> Value {
    Value::object([
        ("name", Value::from("db")),
        ("password_wo", Value::from("hunter2")),
    ])
}

const CURRENT: pb::ClientCapabilities = pb::ClientCapabilities {
    deferral_allowed: false,
    write_only_attributes_allowed: true,
};

#[tokio::test]
async fn a_client_without_write_only_is_refused_naming_the_attribute_and_the_version() {
    let server = ProviderService::new(TestProvider);
    let validate = |caps: Option<pb::ClientCapabilities>| {
        server.validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "test_secretive".into(),
            config: dynamic(&config()),
            client_capabilities: caps,
        }))
    };
    let old = validate(None).await.unwrap().into_inner();
    assert_eq!(old.diagnostics.len(), 1, "{:?}", old.diagnostics);
    let refused = &old.diagnostics[0];
    assert!(refused.summary.contains("Terraform 1.11"), "{refused:?}");
    assert_eq!(
        refused.attribute,
        Some(wire::path(&AttrPath::attr("password_wo")))
    );
    assert!(!refused.detail.contains("hunter2"));
    let current = validate(Some(CURRENT)).await.unwrap().into_inner();
    assert!(current.diagnostics.is_empty(), "{:?}", current.diagnostics);
    // Null is fine everywhere: the sensitive form is what older clients use.
    let mut without = config();
    without.set_attr("password_wo", Value::Null);
    let old = server
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "test_secretive".into(),
            config: dynamic(&without),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(old.diagnostics.is_empty());
}

#[tokio::test]
async fn write_only_values_never_leave_the_server_in_a_state() {
    let server = ProviderService::new(TestProvider);
    let planned = server
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_secretive".into(),
            prior_state: dynamic(&Value::Null),
            proposed_new_state: dynamic(&config()),
            config: dynamic(&config()),
            client_capabilities: Some(CURRENT),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let planned = decoded(planned.planned_state);
    assert_eq!(planned.get_attr("password_wo"), Some(&Value::Null));
    assert_eq!(planned.get_attr("name"), Some(&Value::from("db")));

    let applied = server
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_secretive".into(),
            prior_state: dynamic(&Value::Null),
            planned_state: dynamic(&planned),
            config: dynamic(&config()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let applied = decoded(applied.new_state);
    assert_eq!(applied, planned);

    let read = server
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_secretive".into(),
            current_state: dynamic(&applied),
            client_capabilities: Some(CURRENT),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decoded(read.new_state), applied);
}

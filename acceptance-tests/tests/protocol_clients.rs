//! Every RPC as two generations of Terraform send it, through the project's own client
//! against the built provider: a Terraform 1.0-style request (no client capabilities) and a
//! Terraform 1.11-style one (`write_only_attributes_allowed`, as 1.11 sends it). A
//! `homelab_traefik_route` on the local machine goes through validate, configure, plan,
//! apply, read, an unchanged plan, import, a destroy plan and the destroy; the RPCs no
//! resource uses still answer (with diagnostics), never `Unimplemented`.

use std::collections::BTreeMap;

use tfplugin::client::{LaunchOptions, PluginProcess};
use tfplugin::cty::{msgpack, Type, Value};
use tfplugin::proto::tfplugin6::{self as pb, provider_client::ProviderClient};
use tonic::transport::Channel;

const ROUTE: &str = "homelab_traefik_route";

/// The cty type of a block as the wire schema describes it.
fn block_type(block: &pb::schema::Block) -> Type {
    use pb::schema::nested_block::NestingMode;
    let mut fields = BTreeMap::new();
    for attribute in &block.attributes {
        assert!(
            attribute.nested_type.is_none(),
            "{}: nested attributes are not read by this test",
            attribute.name
        );
        let ty = Type::from_json(&attribute.r#type).expect("an attribute type");
        fields.insert(attribute.name.clone(), ty);
    }
    for nested in &block.block_types {
        let inner = block_type(nested.block.as_ref().expect("a nested block"));
        let ty = match NestingMode::try_from(nested.nesting).expect("a nesting mode") {
            NestingMode::Single | NestingMode::Group => inner,
            NestingMode::List => Type::list(inner),
            NestingMode::Set => Type::set(inner),
            NestingMode::Map => Type::map(inner),
            NestingMode::Invalid => panic!("{}: invalid nesting", nested.type_name),
        };
        fields.insert(nested.type_name.clone(), ty);
    }
    Type::Object(fields)
}

/// Every single block, at any depth, carries MinItems = MaxItems = 0 or 1 (what Terraform
/// 1.3+ checks when it loads the provider); returns the offenders.
fn bad_single_blocks(prefix: &str, block: &pb::schema::Block, out: &mut Vec<String>) {
    use pb::schema::nested_block::NestingMode;
    for nested in &block.block_types {
        let at = format!("{prefix}{}", nested.type_name);
        let single = nested.nesting == NestingMode::Single as i32;
        if single && (nested.min_items != nested.max_items || nested.max_items > 1) {
            out.push(format!("{at}: {}..{}", nested.min_items, nested.max_items));
        }
        bad_single_blocks(&format!("{at}."), nested.block.as_ref().unwrap(), out);
    }
}

fn dynamic(value: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(value, ty).expect("encodes against the schema"),
        json: Vec::new(),
    })
}

fn decoded(value: Option<pb::DynamicValue>, ty: &Type) -> Value {
    match value {
        None => Value::Null,
        Some(v) => msgpack::decode(&v.msgpack, ty).expect("decodes against the schema"),
    }
}

fn errors(diagnostics: &[pb::Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

fn assert_no_errors(what: &str, diagnostics: &[pb::Diagnostic]) {
    let errors = errors(diagnostics);
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

/// An object of `ty` with every attribute null but the ones given.
fn object(ty: &Type, set: &[(&str, Value)]) -> Value {
    let mut fields: BTreeMap<String, Value> = ty
        .attribute_types()
        .expect("an object type")
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    for (name, value) in set {
        assert!(fields.contains_key(*name), "no attribute {name}");
        fields.insert(name.to_string(), value.clone());
    }
    Value::Object(fields)
}

/// The capabilities a generation of Terraform sends: none (1.0 to 1.10 for write-only), or
/// 1.11's.
#[derive(Clone, Copy, Debug)]
enum Client {
    Terraform1_0,
    Terraform1_11,
}

impl Client {
    fn capabilities(self) -> Option<pb::ClientCapabilities> {
        match self {
            Client::Terraform1_0 => None,
            Client::Terraform1_11 => Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
        }
    }
}

async fn every_rpc_as(client: Client) {
    let binary = acceptance_tests::provider_dir().join("terraform-provider-homelab");
    let plugin = PluginProcess::launch(&binary, 6, LaunchOptions::default())
        .await
        .expect("launch the provider");
    let mut provider: ProviderClient<Channel> =
        ProviderClient::new(plugin.channel().await.expect("a channel"));
    let caps = client.capabilities();
    let dir = tempfile::tempdir().expect("temp dir");
    let what = |rpc: &str| format!("{client:?} {rpc}");

    // GetProviderSchema: the server's capabilities, and schemas a current Terraform loads.
    let schema = provider
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    assert_no_errors(&what("GetProviderSchema"), &schema.diagnostics);
    let server = schema.server_capabilities.expect("server capabilities");
    assert!(server.plan_destroy, "destroy plans are answered");
    assert!(
        server.get_provider_schema_optional,
        "schemas are built at start"
    );
    assert!(
        !server.move_resource_state,
        "moving state is not implemented"
    );
    let mut bad = Vec::new();
    bad_single_blocks(
        "provider.",
        schema.provider.as_ref().unwrap().block.as_ref().unwrap(),
        &mut bad,
    );
    for (name, s) in schema
        .resource_schemas
        .iter()
        .chain(&schema.data_source_schemas)
    {
        bad_single_blocks(&format!("{name}."), s.block.as_ref().unwrap(), &mut bad);
    }
    assert!(
        bad.is_empty(),
        "single blocks Terraform 1.11 refuses: {bad:?}"
    );
    let provider_ty = block_type(schema.provider.as_ref().unwrap().block.as_ref().unwrap());
    let route = &schema.resource_schemas[ROUTE];
    let ty = block_type(route.block.as_ref().unwrap());

    // ValidateProviderConfig and ConfigureProvider with an empty provider block.
    let provider_config = dynamic(&object(&provider_ty, &[]), &provider_ty);
    let valid = provider
        .validate_provider_config(pb::validate_provider_config::Request {
            config: provider_config.clone(),
        })
        .await
        .expect("ValidateProviderConfig")
        .into_inner();
    assert_no_errors(&what("ValidateProviderConfig"), &valid.diagnostics);
    let configured = provider
        .configure_provider(pb::configure_provider::Request {
            terraform_version: match client {
                Client::Terraform1_0 => "1.0.3".into(),
                Client::Terraform1_11 => "1.11.4".into(),
            },
            config: provider_config,
            client_capabilities: caps,
        })
        .await
        .expect("ConfigureProvider")
        .into_inner();
    assert_no_errors(&what("ConfigureProvider"), &configured.diagnostics);

    // ValidateResourceConfig: a good route passes, a bad rule is refused at its path.
    let config = object(
        &ty,
        &[
            ("name", Value::from("proto")),
            ("config_dir", Value::from(dir.path().display().to_string())),
            ("rule", Value::from("Host(`proto.lab.localhost`)")),
            (
                "servers",
                Value::List(vec![Value::from("http://127.0.0.1:18080")]),
            ),
        ],
    );
    // The closures below each call through their own handle on the one channel.
    let channel = provider.clone();
    let validate = |config: Value| {
        let mut provider = channel.clone();
        let ty = ty.clone();
        async move {
            provider
                .validate_resource_config(pb::validate_resource_config::Request {
                    type_name: ROUTE.into(),
                    config: dynamic(&config, &ty),
                    client_capabilities: caps,
                })
                .await
                .expect("ValidateResourceConfig")
                .into_inner()
        }
    };
    assert_no_errors(
        &what("ValidateResourceConfig"),
        &validate(config.clone()).await.diagnostics,
    );
    let mut bad_rule = config.clone();
    bad_rule.set_attr("rule", Value::from("Host(`unclosed"));
    let refused = validate(bad_rule).await;
    let first = refused.diagnostics.first().expect("a bad rule is refused");
    assert_eq!(
        first.attribute.as_ref().map(|p| p.steps.len()),
        Some(1),
        "{first:?}"
    );

    // PlanResourceChange (create): what the route's file will be is known from the
    // configuration, so the plan says it all.
    let plan = |prior: Value, proposed: Value, private: Vec<u8>| {
        let mut provider = channel.clone();
        let (ty, config) = (ty.clone(), config.clone());
        async move {
            provider
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: ROUTE.into(),
                    prior_state: dynamic(&prior, &ty),
                    proposed_new_state: dynamic(&proposed, &ty),
                    config: dynamic(&config, &ty),
                    prior_private: private,
                    client_capabilities: caps,
                    ..Default::default()
                })
                .await
                .expect("PlanResourceChange")
                .into_inner()
        }
    };
    let planned = plan(Value::Null, config.clone(), Vec::new()).await;
    assert_no_errors(&what("PlanResourceChange create"), &planned.diagnostics);
    assert!(planned.deferred.is_none(), "nothing is deferred");
    let planned_private = planned.planned_private.clone();
    let planned = decoded(planned.planned_state, &ty);
    assert!(planned.is_known(), "{planned:?}");

    // ApplyResourceChange (create): the file is written and the id known.
    let apply = |prior: Value, planned: Value, private: Vec<u8>| {
        let mut provider = channel.clone();
        let (ty, config) = (ty.clone(), config.clone());
        async move {
            provider
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: ROUTE.into(),
                    prior_state: dynamic(&prior, &ty),
                    planned_state: dynamic(&planned, &ty),
                    config: dynamic(&config, &ty),
                    planned_private: private,
                    ..Default::default()
                })
                .await
                .expect("ApplyResourceChange")
                .into_inner()
        }
    };
    let created = apply(Value::Null, planned.clone(), planned_private).await;
    assert_no_errors(&what("ApplyResourceChange create"), &created.diagnostics);
    let private = created.private.clone();
    let state = decoded(created.new_state, &ty);
    let file = dir.path().join("proto.toml");
    assert!(
        file.exists(),
        "{what:?}: the route file",
        what = what("apply")
    );
    assert_eq!(
        state.get_attr("id").and_then(Value::as_str),
        Some(file.display().to_string().as_str())
    );
    // The apply result is the plan (Terraform 1.11 refuses any other: "inconsistent result
    // after apply").
    assert_eq!(state, planned);

    // ReadResource: what is there is what was applied.
    let read = provider
        .read_resource(pb::read_resource::Request {
            type_name: ROUTE.into(),
            current_state: dynamic(&state, &ty),
            private: private.clone(),
            client_capabilities: caps,
            ..Default::default()
        })
        .await
        .expect("ReadResource")
        .into_inner();
    assert_no_errors(&what("ReadResource"), &read.diagnostics);
    assert!(read.deferred.is_none());
    assert_eq!(decoded(read.new_state, &ty), state);

    // UpgradeResourceState: the state as Terraform stores it (JSON) reads back the same.
    let stored =
        serde_json::to_vec(&tfplugin::serde_bridge::to_json(&state).expect("a known state"))
            .unwrap();
    let upgraded = provider
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: ROUTE.into(),
            version: route.version,
            raw_state: Some(pb::RawState {
                json: stored,
                flatmap: Default::default(),
            }),
        })
        .await
        .expect("UpgradeResourceState")
        .into_inner();
    assert_no_errors(&what("UpgradeResourceState"), &upgraded.diagnostics);
    assert_eq!(decoded(upgraded.upgraded_state, &ty), state);

    // An unchanged plan: the prior state planned as it is, nothing to replace.
    let unchanged = plan(state.clone(), state.clone(), private.clone()).await;
    assert_no_errors(
        &what("PlanResourceChange unchanged"),
        &unchanged.diagnostics,
    );
    assert!(unchanged.requires_replace.is_empty());
    assert_eq!(decoded(unchanged.planned_state, &ty), state);

    // ImportResourceState: the file by its path.
    let imported = provider
        .import_resource_state(pb::import_resource_state::Request {
            type_name: ROUTE.into(),
            id: file.display().to_string(),
            client_capabilities: caps,
            ..Default::default()
        })
        .await
        .expect("ImportResourceState")
        .into_inner();
    assert_no_errors(&what("ImportResourceState"), &imported.diagnostics);
    assert_eq!(imported.imported_resources.len(), 1);
    assert_eq!(imported.imported_resources[0].type_name, ROUTE);

    // A destroy plan (plan_destroy): the null proposal comes back null.
    let destroy_plan = plan(state.clone(), Value::Null, private.clone()).await;
    assert_no_errors(
        &what("PlanResourceChange destroy"),
        &destroy_plan.diagnostics,
    );
    assert_eq!(decoded(destroy_plan.planned_state, &ty), Value::Null);
    let destroyed = apply(state, Value::Null, private).await;
    assert_no_errors(&what("ApplyResourceChange destroy"), &destroyed.diagnostics);
    assert_eq!(decoded(destroyed.new_state, &ty), Value::Null);
    assert!(!file.exists());

    // Data sources: validation answers (the read needs a backend, tested elsewhere).
    for (name, s) in &schema.data_source_schemas {
        let ty = block_type(s.block.as_ref().unwrap());
        provider
            .validate_data_resource_config(pb::validate_data_resource_config::Request {
                type_name: name.clone(),
                config: dynamic(&object(&ty, &[]), &ty),
            })
            .await
            .unwrap_or_else(|e| panic!("ValidateDataResourceConfig {name}: {e}"));
    }

    // The RPCs no resource here uses answer with diagnostics or empty lists, never a gRPC
    // error (Terraform 1.11 and OpenTofu stop on Unimplemented).
    let functions = provider
        .get_functions(pb::get_functions::Request {})
        .await
        .expect("GetFunctions")
        .into_inner();
    assert!(functions.functions.is_empty());
    let call = provider
        .call_function(pb::call_function::Request {
            name: "nothing".into(),
            arguments: Vec::new(),
        })
        .await
        .expect("CallFunction")
        .into_inner();
    assert!(call.error.is_some());
    let moved = provider
        .move_resource_state(pb::move_resource_state::Request {
            source_type_name: "other_thing".into(),
            target_type_name: ROUTE.into(),
            ..Default::default()
        })
        .await
        .expect("MoveResourceState")
        .into_inner();
    assert!(!errors(&moved.diagnostics).is_empty());
    provider
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .expect("GetResourceIdentitySchemas");
    provider
        .validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
            type_name: "homelab_nothing".into(),
            config: None,
        })
        .await
        .expect("ValidateEphemeralResourceConfig");
    provider
        .open_ephemeral_resource(pb::open_ephemeral_resource::Request {
            type_name: "homelab_nothing".into(),
            client_capabilities: caps,
            ..Default::default()
        })
        .await
        .expect("OpenEphemeralResource");
    provider
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata");
    let stopped = provider
        .stop_provider(pb::stop_provider::Request {})
        .await
        .expect("StopProvider")
        .into_inner();
    assert_eq!(stopped.error, "");
    assert!(plugin.shutdown().await.unwrap().success());
}

#[tokio::test]
async fn every_rpc_answers_a_terraform_1_0_client() {
    every_rpc_as(Client::Terraform1_0).await;
}

#[tokio::test]
async fn every_rpc_answers_a_terraform_1_11_client() {
    every_rpc_as(Client::Terraform1_11).await;
}

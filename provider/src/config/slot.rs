//! One way to hold a provider block (`aws`, `proxmox`, `netbird`): its schema derived from
//! the lab type it is read into, its checks at validate (known values only, each error at
//! its attribute), the client `configure` builds from it, and the one error a resource gets
//! when it needs a block that is missing or unusable. A block whose values are unknown
//! (they come from a resource not created yet) passes plan for every block alike: the
//! resources needing it are checked again at apply, when Terraform has configured the
//! provider with the values known.
//!
//! A block says only what differs, by implementing [`ProviderBlock`].

use std::sync::{Arc, RwLock};

use lab::validation::{FieldError, PathSegment, Validate};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::NestedBlock;

use crate::derive::{self, Annotations};

/// Reads the environment (a test passes its own).
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// What one provider block is: its name, its lab settings type, and how it becomes a client.
#[tfplugin::async_trait]
pub trait ProviderBlock: Send + Sync + 'static {
    /// The block's arguments; its doc comments are the attributes' descriptions.
    /// `Default` is the block left out: every setting optional, the environment deciding.
    type Settings: DeserializeOwned + JsonSchema + Validate + Default + Send + Sync;
    /// What `configure` builds: the API client the block's resources share.
    type Client: Send + Sync + 'static;
    /// The block's name in `provider "homelab" { ... }`.
    const NAME: &'static str;
    /// The product as a title says it: `Proxmox`, `NetBird`.
    const PRODUCT: &'static str;
    /// The block's description in the schema and the docs.
    const DESCRIPTION: &'static str;
    /// Attributes Terraform must not print.
    const SENSITIVE: &'static [&'static str];
    /// The block written out, for the error a resource gets when the block is missing.
    const EXAMPLE: &'static str;

    /// The client from the settings (`written`: whether there is a block at all) and the
    /// environment fallbacks; `Ok(None)` when neither configures the product. Warnings
    /// (settings that are ignored) go to `warnings`; errors name the attribute at fault
    /// ([`invalid`], [`cannot_set_up`]). Nothing is sent yet.
    async fn connect(
        settings: Self::Settings,
        written: bool,
        env: Env<'_>,
        warnings: &mut Diagnostics,
    ) -> Result<Option<Self::Client>, Diagnostics>;
}

enum Configured<C> {
    Ready(Arc<C>),
    /// The block (or environment) could not be used; the reason was reported.
    Failed(String),
    /// The block holds values unknown until apply.
    Unknown,
}

/// One provider block's client, empty until `configure` finds the block (or its
/// environment fallbacks).
pub struct Slot<B: ProviderBlock>(RwLock<Option<Configured<B::Client>>>);

impl<B: ProviderBlock> Default for Slot<B> {
    fn default() -> Self {
        Self(RwLock::new(None))
    }
}

/// The block's schema, derived from its settings type.
pub fn block<B: ProviderBlock>() -> NestedBlock {
    let json_schema =
        serde_json::to_value(schemars::schema_for!(B::Settings)).expect("a JSON schema serialises");
    let block = derive::block_from_json_schema(
        B::DESCRIPTION,
        &json_schema,
        Annotations {
            sensitive: B::SENSITIVE,
            ..Annotations::default()
        },
    );
    NestedBlock::single(B::NAME, block)
}

fn written<B: ProviderBlock>(provider_config: &Value) -> Option<&Value> {
    provider_config.get_attr(B::NAME).filter(|b| !b.is_null())
}

/// Errors in the block's values, each at its attribute (`proxmox.endpoint`).
pub fn invalid<B: ProviderBlock>(errors: &[FieldError]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for error in errors {
        let mut path = AttrPath::attr(B::NAME);
        for segment in &error.path {
            if let PathSegment::Field(name) = segment {
                path = path.then_attr(name.clone());
            }
        }
        diags.push(
            Diagnostic::error(
                format!("Invalid {} block", B::NAME),
                format!("{}.{error}", B::NAME),
            )
            .at(path),
        );
    }
    diags
}

/// A client that cannot be built from valid values (an unreadable CA file), at the
/// attribute at fault, or at the block when `attribute` is empty.
pub fn cannot_set_up<B: ProviderBlock>(attribute: &str, text: String) -> Diagnostics {
    let mut path = AttrPath::attr(B::NAME);
    if !attribute.is_empty() {
        path = path.then_attr(attribute);
    }
    Diagnostic::error(format!("Cannot set up {} access", B::PRODUCT), text)
        .at(path)
        .into()
}

/// Checks the block's known values at validate time (the rest at configure).
pub fn validate<B: ProviderBlock>(provider_config: &Value) -> Diagnostics {
    let Some(block) = written::<B>(provider_config) else {
        return Diagnostics::new();
    };
    let ty = self::block::<B>().block.value_type();
    derive::validate_known(
        &format!("Invalid {} block", B::NAME),
        block,
        &ty,
        &[],
        B::Settings::validate,
        |_, errors| invalid::<B>(errors),
    )
}

impl<B: ProviderBlock> Slot<B> {
    fn set(&self, configured: Option<Configured<B::Client>>) {
        *self.0.write().expect("lock") = configured;
    }

    /// Builds the client from the block and the environment.
    pub async fn configure(&self, provider_config: &Value) -> Diagnostics {
        self.configure_with_env(provider_config, &|name| std::env::var(name).ok())
            .await
    }

    pub async fn configure_with_env(&self, provider_config: &Value, env: Env<'_>) -> Diagnostics {
        let block = written::<B>(provider_config);
        if block.is_some_and(|b| !b.is_known()) {
            self.set(Some(Configured::Unknown));
            return Diagnostics::new();
        }
        let settings = match block {
            Some(block) => match derive::args_from::<B::Settings>(block, &[]) {
                Ok(settings) => settings,
                Err(e) => {
                    self.set(Some(Configured::Failed(e.clone())));
                    return Diagnostic::error(format!("Invalid {} block", B::NAME), e).into();
                }
            },
            None => B::Settings::default(),
        };
        let errors = settings.validate();
        if !errors.is_empty() {
            self.set(Some(Configured::Failed(format!(
                "the {} block is invalid",
                B::NAME
            ))));
            return invalid::<B>(&errors);
        }
        let mut diags = Diagnostics::new();
        match B::connect(settings, block.is_some(), env, &mut diags).await {
            Ok(Some(client)) => self.set(Some(Configured::Ready(Arc::new(client)))),
            Ok(None) => self.set(None),
            Err(errors) => {
                let reason = errors.iter().next().map(|d| d.detail.clone());
                self.set(Some(Configured::Failed(reason.unwrap_or_default())));
                diags.extend(errors);
            }
        }
        diags
    }

    /// The client, when the block is usable (for optional plan-time checks).
    pub fn ready(&self) -> Option<Arc<B::Client>> {
        match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => Some(client.clone()),
            _ => None,
        }
    }

    /// The client, or an error naming the block for `type_name`.
    pub fn client(&self, type_name: &str) -> Result<Arc<B::Client>, Diagnostics> {
        let (product, block) = (B::PRODUCT, B::NAME);
        let detail = match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => return Ok(client.clone()),
            Some(Configured::Failed(reason)) => {
                format!("{type_name} needs the provider's `{block}` block, which could not be used: {reason}")
            }
            Some(Configured::Unknown) => format!(
                "{type_name} needs the provider's `{block}` block, whose values are not known yet; set them from variables or constants"
            ),
            None => format!(
                "{type_name} needs {product} access: add a `{block}` block to the provider, e.g.\n\n{}",
                B::EXAMPLE
            ),
        };
        Err(Diagnostic::error(format!("{product} is not configured"), detail).into())
    }

    /// The client's readiness for a resource: while planning, a block whose values are
    /// not known yet passes (they are known when the resource is applied).
    pub fn check(&self, type_name: &str, planning: bool) -> Result<(), Diagnostics> {
        if planning && matches!(&*self.0.read().expect("lock"), Some(Configured::Unknown)) {
            return Ok(());
        }
        self.client(type_name).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::aws::AwsBlock;
    use crate::config::netbird::NetbirdBlock;
    use crate::config::proxmox::ProxmoxBlock;

    /// A block whose values come from resources not created yet passes plan and is
    /// required again at apply, the same for every block.
    async fn unknown_block_passes_plan<B: ProviderBlock>() {
        let slot = Slot::<B>::default();
        let config = Value::object([(B::NAME, Value::unknown())]);
        assert!(validate::<B>(&config).is_empty());
        assert!(slot.configure_with_env(&config, &|_| None).await.is_empty());
        assert!(slot.check("homelab_x", true).is_ok(), "{}", B::NAME);
        let at_apply = format!("{:?}", slot.check("homelab_x", false).unwrap_err());
        assert!(at_apply.contains("not known yet"), "{at_apply}");
    }

    #[tokio::test]
    async fn every_unknown_block_passes_plan() {
        unknown_block_passes_plan::<AwsBlock>().await;
        unknown_block_passes_plan::<ProxmoxBlock>().await;
        unknown_block_passes_plan::<NetbirdBlock>().await;
    }

    /// A missing block is an error at plan naming the block and showing it written out.
    #[tokio::test]
    async fn a_missing_block_is_named_with_an_example() {
        for (name, detail) in [
            (AwsBlock::NAME, missing::<AwsBlock>().await),
            (ProxmoxBlock::NAME, missing::<ProxmoxBlock>().await),
            (NetbirdBlock::NAME, missing::<NetbirdBlock>().await),
        ] {
            assert!(detail.contains(&format!("    {name} {{")), "{detail}");
        }
    }

    async fn missing<B: ProviderBlock>() -> String {
        let slot = Slot::<B>::default();
        let config = Value::object([(B::NAME, Value::Null)]);
        assert!(slot.configure_with_env(&config, &|_| None).await.is_empty());
        format!("{:?}", slot.check("homelab_x", true).unwrap_err())
    }
}

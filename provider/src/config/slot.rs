//! What `configure` made of one provider block, and the error a resource gets when it
//! needs a block that is missing, unusable or not known yet: the same three answers for
//! every block, each naming the block and showing how to write it.

use std::sync::{Arc, RwLock};

use tfplugin::diag::{Diagnostic, Diagnostics};

enum Configured<C> {
    Ready(Arc<C>),
    /// The block (or environment) could not be used; the reason was reported.
    Failed(String),
    /// The block holds values unknown until apply.
    Unknown,
}

/// How the "not configured" error speaks of a block.
pub struct Need {
    /// `NetBird`, as a title says it.
    pub product: &'static str,
    /// The block's name in `provider "homelab" { ... }`.
    pub block: &'static str,
    /// The block written out, for the error of a missing one.
    pub example: &'static str,
}

/// One provider block's client, empty until `configure` finds the block.
pub struct Slot<C>(RwLock<Option<Configured<C>>>);

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Self(RwLock::new(None))
    }
}

impl<C> Slot<C> {
    pub fn set_ready(&self, client: C) {
        *self.0.write().expect("lock") = Some(Configured::Ready(Arc::new(client)));
    }

    pub fn set_failed(&self, reason: impl Into<String>) {
        *self.0.write().expect("lock") = Some(Configured::Failed(reason.into()));
    }

    pub fn set_unknown(&self) {
        *self.0.write().expect("lock") = Some(Configured::Unknown);
    }

    /// No block: the resources needing it fail at plan, saying how to add it.
    pub fn clear(&self) {
        *self.0.write().expect("lock") = None;
    }

    pub fn ready(&self) -> Option<Arc<C>> {
        match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => Some(client.clone()),
            _ => None,
        }
    }

    /// Whether the block's values are still unknown (plan before their sources exist).
    pub fn unknown(&self) -> bool {
        matches!(&*self.0.read().expect("lock"), Some(Configured::Unknown))
    }

    /// The client, or an error naming the block for `type_name`.
    pub fn get(&self, type_name: &str, need: &Need) -> Result<Arc<C>, Diagnostics> {
        let Need {
            product,
            block,
            example,
        } = need;
        let title = format!("{product} is not configured");
        let detail = match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => return Ok(client.clone()),
            Some(Configured::Failed(reason)) => {
                format!("{type_name} needs the provider's `{block}` block, which could not be used: {reason}")
            }
            Some(Configured::Unknown) => format!(
                "{type_name} needs the provider's `{block}` block, whose values are not known yet; set them from variables or constants"
            ),
            None => format!(
                "{type_name} needs {product} access: add a `{block}` block to the provider, e.g.\n\n{example}"
            ),
        };
        Err(Diagnostic::error(title, detail).into())
    }
}

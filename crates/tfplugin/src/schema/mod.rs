//! Schemas: what a provider, resource or data source accepts, and the annotations that
//! drive planning (defaults, requires-replace). Converted to the wire form in `server`;
//! [`check`] holds them to the rules Terraform enforces when it loads a provider.

pub mod check;
pub mod write_only;

use std::collections::BTreeMap;

use crate::cty::{Type, Value};

/// A versioned schema. The version is bumped when stored state needs an upgrade.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    /// Markdown; shown in registry docs and by language servers.
    pub description: String,
    pub deprecated: bool,
}

/// How a nested attribute or block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    /// Blocks only: like Single but never null.
    Group,
}

#[derive(Clone, Debug)]
pub enum AttributeType {
    Plain(Type),
    Nested {
        nesting: Nesting,
        attributes: Vec<Attribute>,
    },
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: AttributeType,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// The value lives only in the configuration (protocol 6.8, Terraform 1.11+): planned
    /// state, apply results and reads carry null for it, so it never reaches state.
    pub write_only: bool,
    pub description: String,
    /// A deprecation message; setting the attribute then gives a warning.
    pub deprecation: Option<String>,
    /// Terraform-side annotations, not sent on the wire.
    pub requires_replace: bool,
    pub default: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    /// Item bounds of list and set blocks (0: no bound). Single and group blocks carry 0
    /// for both: Terraform 1.3+ refuses a schema with other values there (see [`check`]).
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    /// An optional block that may appear once (`timeouts { }`, `host { }`): the form of
    /// every optional single object, since Terraform 1.0.0 to 1.0.4 (the floor, 1.0.3, among
    /// them) crash planning optional single nested attributes left null.
    pub fn single(type_name: impl Into<String>, block: Block) -> Self {
        Self {
            type_name: type_name.into(),
            block,
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }
    }

    /// How many times the block may appear, as users read it (docs): `None` for no bound.
    pub fn at_most(&self) -> Option<i64> {
        match self.nesting {
            Nesting::Single | Nesting::Group => Some(1),
            Nesting::List | Nesting::Set if self.max_items > 0 => Some(self.max_items),
            _ => None,
        }
    }
}

impl Attribute {
    fn new(name: &str, ty: AttributeType) -> Self {
        Self {
            name: name.to_string(),
            ty,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            description: String::new(),
            deprecation: None,
            requires_replace: false,
            default: None,
        }
    }

    pub fn required(name: &str, ty: Type) -> Self {
        Self {
            required: true,
            ..Self::new(name, AttributeType::Plain(ty))
        }
    }

    pub fn optional(name: &str, ty: Type) -> Self {
        Self {
            optional: true,
            ..Self::new(name, AttributeType::Plain(ty))
        }
    }

    pub fn computed(name: &str, ty: Type) -> Self {
        Self {
            computed: true,
            ..Self::new(name, AttributeType::Plain(ty))
        }
    }

    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        Self {
            optional: true,
            ..Self::new(
                name,
                AttributeType::Nested {
                    nesting,
                    attributes,
                },
            )
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Write-only (Terraform 1.11+): never stored in state. See [`Attribute::write_only`].
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Optional and computed: the provider fills it when the configuration leaves it out.
    pub fn also_computed(mut self) -> Self {
        self.computed = true;
        self
    }

    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// The value planned when the configuration leaves the attribute null. Makes the
    /// attribute optional+computed, which Terraform requires for provider-set values.
    pub fn default(mut self, value: Value) -> Self {
        self.optional = true;
        self.required = false;
        self.computed = true;
        self.default = Some(value);
        self
    }

    pub fn deprecated(mut self, message: impl Into<String>) -> Self {
        self.deprecation = Some(message.into());
        self
    }

    /// The cty type of the attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Plain(ty) => ty.clone(),
            AttributeType::Nested {
                nesting,
                attributes,
            } => {
                let object = object_type(attributes);
                wrap(*nesting, object)
            }
        }
    }
}

fn object_type(attributes: &[Attribute]) -> Type {
    Type::Object(
        attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::List(Box::new(object)),
        Nesting::Set => Type::Set(Box::new(object)),
        Nesting::Map => Type::Map(Box::new(object)),
    }
}

impl Block {
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            ..Self::default()
        }
    }

    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of values conforming to this block.
    pub fn value_type(&self) -> Type {
        let mut fields: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for nested in &self.blocks {
            fields.insert(
                nested.type_name.clone(),
                wrap(nested.nesting, nested.block.value_type()),
            );
        }
        Type::Object(fields)
    }
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Self { version, block }
    }

    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_covers_attributes_nested_attributes_and_blocks() {
        let block = Block::new("x")
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::nested(
                "disks",
                Nesting::List,
                vec![Attribute::required("size", Type::Number)],
            ))
            .block(NestedBlock {
                type_name: "timeouts".into(),
                block: Block::new("").attribute(Attribute::optional("create", Type::String)),
                nesting: Nesting::Single,
                min_items: 0,
                max_items: 0,
            });
        let Type::Object(fields) = block.value_type() else {
            panic!("a block is an object")
        };
        assert_eq!(fields["name"], Type::String);
        assert_eq!(
            fields["disks"],
            Type::List(Box::new(Type::Object(BTreeMap::from([(
                "size".to_string(),
                Type::Number
            )]))))
        );
        assert!(matches!(fields["timeouts"], Type::Object(_)));
    }

    #[test]
    fn default_makes_attribute_optional_and_computed() {
        let a = Attribute::required("x", Type::Bool).default(Value::Bool(true));
        assert!(a.optional && a.computed && !a.required);
    }
}

//! The vendor's plan catalog.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Plan {
    pub id: String,
    pub name: String,
}

/// Plans in catalog order. The order is part of the contract (export columns follow it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanCatalog(pub Vec<Plan>);

impl Default for PlanCatalog {
    /// The demo catalog: basic, standard, premium.
    fn default() -> Self {
        Self(
            [
                ("basic", "Basic"),
                ("standard", "Standard"),
                ("premium", "Premium"),
            ]
            .into_iter()
            .map(|(id, name)| Plan {
                id: id.into(),
                name: name.into(),
            })
            .collect(),
        )
    }
}

impl PlanCatalog {
    /// The catalog position of a plan id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.0.iter().position(|p| p.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|p| p.id.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A readable list for error messages: `basic, standard, premium`.
    pub fn describe(&self) -> String {
        self.ids().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_is_in_order() {
        let c = PlanCatalog::default();
        assert_eq!(c.describe(), "basic, standard, premium");
        assert_eq!(c.index_of("premium"), Some(2));
        assert_eq!(c.index_of("gold"), None);
    }
}

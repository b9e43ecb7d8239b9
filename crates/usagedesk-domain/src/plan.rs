//! The vendor's plan catalog.

use serde::{Deserialize, Serialize};

use crate::Metric;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Plan {
    pub id: String,
    pub name: String,
    /// The count a license's seats for this plan are compared with (`plans.csv`'s
    /// `seat_metric`). Absent on the wire (an older cloud): users registered.
    #[serde(default = "default_seat_metric")]
    pub seat_metric: Metric,
}

/// A plan's seat metric when the vendor names none.
pub const DEFAULT_SEAT_METRIC: Metric = Metric::UsersRegistered;

fn default_seat_metric() -> Metric {
    DEFAULT_SEAT_METRIC
}

impl Plan {
    /// A plan whose seats count users registered.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            seat_metric: DEFAULT_SEAT_METRIC,
        }
    }

    pub fn with_seat_metric(mut self, metric: Metric) -> Self {
        self.seat_metric = metric;
        self
    }
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
            .map(|(id, name)| Plan::new(id, name))
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
        assert!(c.0.iter().all(|p| p.seat_metric == Metric::UsersRegistered));
    }

    #[test]
    fn a_plan_without_a_seat_metric_on_the_wire_counts_users_registered() {
        let p: Plan = serde_json::from_str(r#"{"id":"basic","name":"Basic"}"#).unwrap();
        assert_eq!(
            p.seat_metric,
            Metric::UsersRegistered,
            "older clouds send none"
        );
        let p: Plan =
            serde_json::from_str(r#"{"id":"b","name":"B","seat_metric":"users_with_token"}"#)
                .unwrap();
        assert_eq!(p.seat_metric, Metric::UsersWithToken);
    }
}

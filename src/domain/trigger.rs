//! The triggers a flow maker can pick, with the names the public contract gives them. The enum
//! and every list of its variants are generated from one declaration, so none can miss one.

use serde::{Deserialize, Serialize};

use super::catalog::CatalogKind;

/// Declares `TriggerKind` from one list: each variant with its storage tag. `ALL` and the
/// `eventType` names follow from the list, so a new trigger cannot be left out of either.
macro_rules! trigger_kinds {
    ($($(#[$doc:meta])* $kind:ident = $tag:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum TriggerKind {
            $($(#[$doc])* $kind,)*
        }

        impl TriggerKind {
            /// Every trigger, in declaration order.
            pub const ALL: [TriggerKind; [$(stringify!($kind),)*].len()] = [$(Self::$kind,)*];

            /// The `eventType` of the callback payload: the operationId without `On`.
            pub fn event_type(self) -> &'static str {
                match self {
                    $(Self::$kind => stringify!($kind),)*
                }
            }

            /// A stable one-byte tag for storage keys. Never renumber: keys on disk depend on it.
            pub fn tag(self) -> u8 {
                match self {
                    $(Self::$kind => $tag,)*
                }
            }
        }
    };
}

trigger_kinds! {
    /// A refresh of a data source failed.
    DataSourceRefreshFailed = 1,
    /// A refresh of a data source succeeded.
    DataSourceRefreshSucceeded = 2,
    /// A segment's member count rose above a threshold.
    SegmentThresholdCrossed = 3,
    /// A business measure's value rose above a threshold.
    MeasureThresholdCrossed = 4,
    /// A full refresh of an instance completed.
    FullRefreshCompleted = 5,
    /// Unification of an instance's customer data completed.
    UnificationCompleted = 6,
}

impl TriggerKind {
    /// The operationId of the trigger's subscribe operation.
    pub fn operation_id(self) -> String {
        format!("On{}", self.event_type())
    }

    /// The catalog kind a threshold trigger watches.
    pub fn threshold_kind(self) -> Option<CatalogKind> {
        match self {
            Self::SegmentThresholdCrossed => Some(CatalogKind::Segment),
            Self::MeasureThresholdCrossed => Some(CatalogKind::Measure),
            Self::DataSourceRefreshFailed
            | Self::DataSourceRefreshSucceeded
            | Self::FullRefreshCompleted
            | Self::UnificationCompleted => None,
        }
    }

    /// The trigger that fires when a value of `kind` crosses a threshold, if any can.
    pub fn threshold_crossed(kind: CatalogKind) -> Option<Self> {
        match kind {
            CatalogKind::Segment => Some(Self::SegmentThresholdCrossed),
            CatalogKind::Measure => Some(Self::MeasureThresholdCrossed),
            CatalogKind::DataSource => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_trigger_has_its_own_tag_and_event_type() {
        let tags: HashSet<u8> = TriggerKind::ALL.map(TriggerKind::tag).into();
        let names: HashSet<&str> = TriggerKind::ALL.map(TriggerKind::event_type).into();
        assert_eq!(tags.len(), TriggerKind::ALL.len());
        assert_eq!(names.len(), TriggerKind::ALL.len());
    }

    #[test]
    fn the_stored_names_and_tags_stay_as_released() {
        let released = [
            ("dataSourceRefreshFailed", 1),
            ("dataSourceRefreshSucceeded", 2),
            ("segmentThresholdCrossed", 3),
            ("measureThresholdCrossed", 4),
            ("fullRefreshCompleted", 5),
            ("unificationCompleted", 6),
        ];
        for (name, tag) in released {
            let kind: TriggerKind = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(kind.tag(), tag, "{name}");
        }
    }

    #[test]
    fn threshold_triggers_and_catalog_kinds_map_both_ways() {
        for trigger in TriggerKind::ALL {
            if let Some(kind) = trigger.threshold_kind() {
                assert_eq!(TriggerKind::threshold_crossed(kind), Some(trigger));
            }
        }
    }
}

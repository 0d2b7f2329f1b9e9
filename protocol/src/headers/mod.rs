//! Typed command headers and their conversion to and from `extFields`.
//!
//! Keys are the Java field names; values are parsed the way Java's
//! `Integer/Long/Boolean.parseX` do. Unknown keys are ignored, missing
//! optional keys are `None`, and a missing or malformed required key is a
//! [`HeaderError`] that names the field.

mod field;

pub use field::{ExtValue, HeaderError};

use crate::ext_fields::ExtFields;

/// A header that travels in a command's `extFields`.
pub trait CommandHeader: Sized {
    /// Writes the header's non-null fields into `out`.
    fn write_to(&self, out: &mut ExtFields);

    /// Reads the header from `fields`.
    fn read_from(fields: &ExtFields) -> Result<Self, HeaderError>;

    /// The header as a fresh `extFields` map.
    fn to_ext_fields(&self) -> ExtFields {
        let mut out = ExtFields::new();
        self.write_to(&mut out);
        out
    }
}

/// Defines a header struct and its [`CommandHeader`] impl.
///
/// ```ignore
/// command_header! {
///     /// Doc.
///     pub struct GetMaxOffsetRequestHeader {
///         req topic: String = "topic",
///         req queue_id: i32 = "queueId",
///         opt committed: bool = "committed",
///     }
/// }
/// ```
/// `req` fields are plain values and must be present; `opt` fields are
/// `Option`s and written only when `Some`. Fields are written in declaration
/// order.
///
/// Modules declared below the macro see it by textual scope and must not
/// import it (the import would be unused); the macro's own recursive calls go
/// through the `$crate::headers::command_header` path, which also keeps that
/// re-export in use.
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $kind:ident $field:ident : $ty:ty = $key:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(
                #[doc = concat!("`", $key, "`")]
                pub $field: $crate::headers::command_header!(@ty $kind $ty),
            )*
        }

        impl $crate::headers::CommandHeader for $name {
            fn write_to(&self, out: &mut $crate::ext_fields::ExtFields) {
                $( $crate::headers::command_header!(@write $kind self.$field, $key, out); )*
            }

            fn read_from(
                fields: &$crate::ext_fields::ExtFields,
            ) -> Result<Self, $crate::headers::HeaderError> {
                Ok(Self {
                    $( $field: $crate::headers::command_header!(@read $kind $ty, $key, fields), )*
                })
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@write req $value:expr, $key:literal, $out:ident) => {
        $out.insert_text(
            $crate::text::Text::from_static($key),
            $crate::headers::ExtValue::to_text(&$value),
        );
    };
    (@write opt $value:expr, $key:literal, $out:ident) => {
        if let Some(v) = &$value {
            $out.insert_text(
                $crate::text::Text::from_static($key),
                $crate::headers::ExtValue::to_text(v),
            );
        }
    };
    (@read req $ty:ty, $key:literal, $fields:ident) => {
        <$ty as $crate::headers::ExtValue>::required($fields, $key)?
    };
    (@read opt $ty:ty, $key:literal, $fields:ident) => {
        <$ty as $crate::headers::ExtValue>::optional($fields, $key)?
    };
}

pub(crate) use command_header;

pub mod admin;
pub mod client;
pub mod ha_role;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;
pub mod transaction;

pub use admin::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
    GetAllSubscriptionGroupRequestHeader, GetAllSubscriptionGroupResponseHeader,
    GetAllTopicConfigRequestHeader, GetAllTopicConfigResponseHeader, GetBrokerConfigResponseHeader,
    GetBrokerMemberGroupRequestHeader, GetConsumeStatsInBrokerHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetConsumerRunningInfoRequestHeader,
    GetConsumerStatusRequestHeader, GetProducerConnectionListRequestHeader,
    GetSubscriptionGroupConfigRequestHeader, GetTopicConfigRequestHeader,
    GetTopicStatsInfoRequestHeader, QueryConsumeQueueRequestHeader,
    QueryConsumeTimeSpanRequestHeader, QueryCorrectionOffsetHeader,
    QuerySubscriptionByConsumerRequestHeader, QueryTopicConsumeByWhoRequestHeader,
    QueryTopicsByConsumerRequestHeader, ResetConsumerClientOffsetRequestHeader,
    ResetMasterFlushOffsetHeader, ResetOffsetRequestHeader, UpdateGroupForbiddenRequestHeader,
    ViewBrokerStatsDataRequestHeader,
};
pub use client::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader, HeartbeatResponseHeader,
    NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
pub use namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    BrokerHeartbeatRequestHeader, DeleteKvConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader,
    GetKvConfigRequestHeader, GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader,
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader,
    QueryDataVersionRequestHeader, QueryDataVersionResponseHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, RegisterTopicRequestHeader, UnRegisterBrokerRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
pub use offset::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
pub use pull::{PullMessageRequestHeader, PullMessageResponseHeader};
pub use query::{QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader};
pub use send::{
    ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
};
pub use transaction::{
    CheckTransactionStateRequestHeader, CheckTransactionStateResponseHeader,
    EndTransactionRequestHeader, ResumeCheckHalfMessageRequestHeader,
};

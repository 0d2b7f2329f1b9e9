//! Skylark's own role-change requests (codes 47001–47003, not RocketMQ's):
//! promote a replica to master at a new epoch, point a broker at a new
//! master, and read a broker's role, epoch history and replication offsets.

command_header! {
    /// HA_PROMOTE (47001) request: become the master of the broker group at
    /// `epoch`, which must be newer than every epoch the broker knows.
    pub struct HaPromoteRequestHeader {
        req epoch: i32 = "epoch",
    }
}

command_header! {
    /// HA_FOLLOW (47002) request: become a replica of the master at
    /// `masterAddr` (its remoting address), the master of `epoch`; after
    /// truncating to the last offset both epoch histories share.
    /// `brokerId` is the id to register with as a replica (default: the
    /// configured one when it is not 0, else 1).
    pub struct HaFollowRequestHeader {
        req epoch: i32 = "epoch",
        req master_addr: String = "masterAddr",
        opt broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// HA_STATUS (47003) request: the broker's role, epoch history and
    /// offsets (an [`HaStatus`](crate::body::HaStatus) body). A caller that
    /// sends its own `epoch` (a replica's handshake) makes a master of an
    /// older epoch learn of the newer one and stop accepting writes.
    pub struct HaStatusRequestHeader {
        opt epoch: i32 = "epoch",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::headers::CommandHeader;

    #[test]
    fn follow_header_round_trips_and_needs_its_master() {
        let h = HaFollowRequestHeader {
            epoch: 4,
            master_addr: "127.0.0.1:10911".into(),
            broker_id: Some(2),
        };
        let fields = h.to_ext_fields();
        assert_eq!(HaFollowRequestHeader::read_from(&fields).unwrap(), h);
        let mut missing = crate::ext_fields::ExtFields::new();
        HaPromoteRequestHeader { epoch: 4 }.write_to(&mut missing);
        assert!(HaFollowRequestHeader::read_from(&missing).is_err());
        assert_eq!(
            HaStatusRequestHeader::read_from(&missing).unwrap().epoch,
            Some(4)
        );
    }
}

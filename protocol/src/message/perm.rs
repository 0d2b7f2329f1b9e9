//! `PermName`: read/write/inherit permission bits of topics and brokers.

/// Permission bits; an uninhabited namespace like Java's `PermName`.
#[derive(Debug)]
pub enum PermName {}

impl PermName {
    /// Priority (8): marks an explicitly configured permission.
    pub const PRIORITY: i32 = 0x1 << 3;
    /// Readable (4).
    pub const READ: i32 = 0x1 << 2;
    /// Writeable (2).
    pub const WRITE: i32 = 0x1 << 1;
    /// Inherited by topics auto-created from this one (1).
    pub const INHERIT: i32 = 0x1;

    /// Whether READ is set.
    pub const fn is_readable(perm: i32) -> bool {
        perm & Self::READ == Self::READ
    }

    /// Whether WRITE is set.
    pub const fn is_writeable(perm: i32) -> bool {
        perm & Self::WRITE == Self::WRITE
    }

    /// Whether INHERIT is set.
    pub const fn is_inherited(perm: i32) -> bool {
        perm & Self::INHERIT == Self::INHERIT
    }

    /// Whether PRIORITY is set.
    pub const fn is_priority(perm: i32) -> bool {
        perm & Self::PRIORITY == Self::PRIORITY
    }

    /// Whether READ or WRITE is set.
    pub const fn is_accessible(perm: i32) -> bool {
        Self::is_readable(perm) || Self::is_writeable(perm)
    }

    /// Whether `perm` is in `0..PRIORITY`, as Java's `isValid` demands.
    pub const fn is_valid(perm: i32) -> bool {
        perm >= 0 && perm < Self::PRIORITY
    }

    /// Java's `perm2String`: `R`, `W` and `X` (inherit) or `-`, e.g. `"RW-"`.
    pub const fn to_str(perm: i32) -> &'static str {
        match (
            Self::is_readable(perm),
            Self::is_writeable(perm),
            Self::is_inherited(perm),
        ) {
            (false, false, false) => "---",
            (false, false, true) => "--X",
            (false, true, false) => "-W-",
            (false, true, true) => "-WX",
            (true, false, false) => "R--",
            (true, false, true) => "R-X",
            (true, true, false) => "RW-",
            (true, true, true) => "RWX",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_strings() {
        assert_eq!(PermName::READ | PermName::WRITE, 6);
        assert_eq!(PermName::to_str(6), "RW-");
        assert_eq!(PermName::to_str(7), "RWX");
        assert_eq!(PermName::to_str(0), "---");
        assert_eq!(PermName::to_str(4), "R--");
        assert_eq!(PermName::to_str(2), "-W-");
        assert_eq!(PermName::to_str(1), "--X");
        assert_eq!(PermName::to_str(3), "-WX");
        assert_eq!(PermName::to_str(5), "R-X");
        assert_eq!(PermName::to_str(14), "RW-", "priority is not shown");
        assert!(PermName::is_readable(4) && !PermName::is_writeable(4));
        assert!(PermName::is_inherited(7));
        assert!(PermName::is_priority(8) && !PermName::is_priority(7));
        assert!(PermName::is_accessible(2) && !PermName::is_accessible(1));
        assert!(PermName::is_valid(7) && !PermName::is_valid(8) && !PermName::is_valid(-1));
    }
}

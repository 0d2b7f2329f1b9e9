//! A per-thread free list of the `(Text, Text)` vectors behind
//! [`ExtFields`](crate::ExtFields) and
//! [`Properties`](crate::message::Properties). A broker decodes one of each
//! per send and answers with another; recycling them keeps the steady-state
//! send path free of those allocations. A vector dropped on another thread
//! than the one it was taken on simply joins that thread's list.

use std::cell::RefCell;

use crate::text::Text;

/// The vector type recycled here.
pub(crate) type Pairs = Vec<(Text, Text)>;

/// Vectors kept per thread; the rest are freed.
const KEEP: usize = 256;

/// Vectors that grew past this many entries are freed, not kept.
const MAX_ENTRIES: usize = 64;

thread_local! {
    static FREE: RefCell<Vec<Pairs>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with room for at least `n` entries: a recycled one if
/// this thread has one.
pub(crate) fn take(n: usize) -> Pairs {
    let recycled = FREE
        .try_with(|free| free.try_borrow_mut().ok().and_then(|mut f| f.pop()))
        .ok()
        .flatten();
    match recycled {
        Some(mut pairs) => {
            pairs.reserve(n);
            pairs
        }
        None => Vec::with_capacity(n),
    }
}

/// Drops the entries of `pairs` and keeps the vector for [`take`], unless
/// it never allocated, grew large, or this thread keeps enough already.
pub(crate) fn give_back(mut pairs: Pairs) {
    if pairs.capacity() == 0 || pairs.capacity() > MAX_ENTRIES {
        return;
    }
    // Dropped before the list is borrowed: a `Text` drop never comes back
    // here, but nothing depends on that.
    pairs.clear();
    let _ = FREE.try_with(|free| {
        if let Ok(mut free) = free.try_borrow_mut()
            && free.len() < KEEP
        {
            free.push(pairs);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_vector_is_taken_again_empty() {
        let mut pairs = take(4);
        pairs.push((Text::from_static("a"), Text::from_static("b")));
        let ptr = pairs.as_ptr();
        give_back(pairs);
        let again = take(2);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        assert!(again.capacity() >= 4);
        // Too large to keep, and never allocated: freed, not kept.
        give_back(Vec::with_capacity(MAX_ENTRIES + 1));
        give_back(Vec::new());
        let fresh = take(1);
        assert_ne!(fresh.as_ptr(), ptr);
        give_back(again);
        give_back(fresh);
    }
}

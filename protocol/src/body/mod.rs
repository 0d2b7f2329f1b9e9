//! JSON bodies (filled in by the body work).

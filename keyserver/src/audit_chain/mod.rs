//! (issue 11, being written)

//! placeholder: replaced by issue 5
fn main() {}

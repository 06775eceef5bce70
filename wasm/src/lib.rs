//! placeholder: replaced by issue 3

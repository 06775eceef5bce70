//! placeholder: replaced by issue 4

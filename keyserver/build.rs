//! Re-embed the SQL migrations whenever one is added or edited.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

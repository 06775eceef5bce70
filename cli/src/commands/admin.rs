//! `pqfile admin …`: the key server's admin routes.

use super::{print_json, rewrap::rewrap};
use crate::cli::AdminCommand;
use crate::client::Client;
use crate::error::CliError;

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn admin(client: &Client, command: AdminCommand) -> Result<(), CliError> {
    let v = match command {
        AdminCommand::Stats => client.get("/v1/admin/stats")?,
        AdminCommand::Keys { status } => {
            client.get(&format!("/v1/admin/keys{}", query(&[("status", status)])))?
        }
        AdminCommand::Revoke { key_id } => client.post(
            &format!("/v1/admin/keys/{key_id}/revoke"),
            serde_json::json!({}),
        )?,
        AdminCommand::Rotate => client.post("/v1/admin/rotation", serde_json::json!({}))?,
        AdminCommand::Rotations { status } => client.get(&format!(
            "/v1/admin/rotations{}",
            query(&[("status", status)])
        ))?,
        AdminCommand::Maintenance => client.post("/v1/admin/maintenance", serde_json::json!({}))?,
        AdminCommand::Retention { older_than_days } => client.post(
            "/v1/admin/access-logs/retention",
            serde_json::json!({ "older_than_days": older_than_days }),
        )?,
        // The same route: the server lets admins rescue documents of revoked keys.
        AdminCommand::Rewrap { file } => return rewrap(client, &file),
        AdminCommand::Logs {
            document,
            user,
            access_type,
            since,
            until,
            page,
            per_page,
        } => client.get(&format!(
            "/v1/admin/access-logs{}",
            query(&[
                ("document_id", document),
                ("user", user),
                ("access_type", access_type),
                ("since", since),
                ("until", until),
                ("page", Some(page.to_string())),
                ("per_page", Some(per_page.to_string())),
            ])
        ))?,
    };
    print_json(&v);
    Ok(())
}

//! Part 2: rotation of a key pool with many registered documents, moved off
//! their old keys by rewrap until every rotation completes.

use super::*;

pub async fn pool_rotation(s: &Server, keys: usize, docs: usize, concurrency: usize) {
    // The pool, with public keys.
    let rows =
        s.db.query(
            "SELECT id, public_key FROM encryption_keys WHERE status = 'active' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), keys);
    let pool: Vec<(u32, PublicKey)> = rows
        .iter()
        .map(|r| {
            let id: i32 = r.get(0);
            let pk: String = r.get(1);
            (
                id as u32,
                PublicKey::from_bytes(&STANDARD.decode(pk).unwrap()).unwrap(),
            )
        })
        .collect();
    // 10,000 documents with real headers, registered round robin.
    let t = Instant::now();
    let owner: i32 =
        s.db.query_one("SELECT id FROM users WHERE name = 'bench'", &[])
            .await
            .unwrap()
            .get(0);
    let mut headers = Vec::with_capacity(docs);
    let (mut ids, mut owners, mut key_ids) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..docs {
        let (kid, pk) = &pool[i % keys];
        let doc = DocumentId::generate(&mut rng());
        let fk = FileKey::generate(&mut rng());
        let h = pqfile_core::header::build(
            doc,
            &[Recipient {
                key_id: *kid,
                public_key: pk.clone(),
            }],
            &fk,
            &mut rng(),
        )
        .unwrap();
        headers.push((doc.to_string(), h.to_bytes()));
        ids.push(doc.to_string());
        owners.push(owner);
        key_ids.push(*kid as i32);
    }
    s.db.execute(
        "INSERT INTO documents (id, owner_id, key_id) SELECT * FROM unnest($1::text[], $2::int4[], $3::int4[])",
        &[&ids, &owners, &key_ids],
    )
    .await
    .unwrap();
    s.db.execute(
        "UPDATE encryption_keys SET usage_count = (SELECT count(*) FROM documents d WHERE d.key_id = encryption_keys.id),
                created_at = created_at - interval '31 days'",
        &[],
    )
    .await
    .unwrap();
    eprintln!(
        "registered {docs} documents on {keys} keys in {}",
        secs(t.elapsed())
    );

    s.reset_statements().await;
    let t = Instant::now();
    let check = s.post(&s.admin, "/v1/admin/rotation", json!({})).await;
    let check_time = t.elapsed();
    let check_queries = s.statements().await;
    assert_eq!(check["queued"].as_array().unwrap().len(), keys);

    s.reset_statements().await;
    let t = Instant::now();
    let m = s.post(&s.admin, "/v1/admin/maintenance", json!({})).await;
    let maint_time = t.elapsed();
    let maint_queries = s.statements().await;
    assert_eq!(
        m["rotations"]["in_progress"].as_array().unwrap().len(),
        keys
    );

    // Move every document off its old key.
    s.reset_statements().await;
    let t = Instant::now();
    let chunks: Vec<Vec<(String, Vec<u8>)>> = headers
        .chunks(docs.div_ceil(concurrency))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let http = s.http.clone();
        let base = s.base.clone();
        let token = s.token.clone();
        tasks.push(tokio::spawn(async move {
            for (doc, h) in chunk {
                let r = http
                    .post(format!("{base}/v1/documents/{doc}/rewrap"))
                    .bearer_auth(&token)
                    .json(&json!({ "header": STANDARD.encode(&h) }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let move_time = t.elapsed();
    let move_queries = s.statements().await;
    let completed: i64 =
        s.db.query_one(
            "SELECT count(*) FROM key_rotations WHERE status = 'completed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        completed as usize, keys,
        "every rotation completed with its last rewrap"
    );

    println!();
    println!("## rotation of a {keys}-key pool with {docs} documents");
    println!("| phase | time | SQL statements |");
    println!("|---|---|---|");
    println!(
        "| rotation check (`POST /v1/admin/rotation`: {keys} keys queued, {keys} replacements generated and KMS-wrapped) | {} | {check_queries} |",
        secs(check_time)
    );
    println!(
        "| maintenance run (expiry, rotation progress, refill, retention) | {} | {maint_queries} |",
        secs(maint_time)
    );
    println!(
        "| rewrap of all {docs} documents ({concurrency} concurrent clients) until all {keys} rotations completed | {} ({:.0} rewraps/s) | {move_queries} ({:.1} per rewrap, incl. token lookup) |",
        secs(move_time),
        docs as f64 / move_time.as_secs_f64(),
        move_queries as f64 / docs as f64
    );
}

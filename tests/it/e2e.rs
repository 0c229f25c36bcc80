//! End to end as a new user: `sluice init`, `sluice build`, read the tables back.

use crate::common::{query, read_json, sluice, statuses, stderr, stdout};

#[test]
fn init_then_build_creates_readable_tables() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let init = sluice()
        .current_dir(tmp.path())
        .args(["init", "demo"])
        .output()
        .expect("init runs");
    assert!(init.status.success(), "{}", stderr(&init));
    let demo = tmp.path().join("demo");

    let build = sluice()
        .current_dir(&demo)
        .arg("build")
        .output()
        .expect("build runs");
    assert!(
        build.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&build),
        stderr(&build)
    );
    let out = stdout(&build);
    assert!(
        out.contains("OK created sql table model main.customers"),
        "{out}"
    );
    assert!(out.contains("ERROR=0"), "{out}");

    // Values computed by hand from the init seeds: Ada ordered 120.50 + 80.00.
    let db = demo.join("demo.duckdb");
    let rows = query(&db, "select customer_name, order_count, lifetime_value from main.customers order by customer_id");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0], vec!["Ada", "2", "200.5"]);
    assert_eq!(rows[2], vec!["Linus", "0", "0.0"]);

    let results = statuses(&demo.join("target"));
    assert_eq!(results["model.demo.customers"], "success");
    assert_eq!(results["seed.demo.raw_orders"], "success");
    assert!(results
        .keys()
        .any(|k| k.starts_with("test.demo.unique_customers_customer_id.")));
    assert!(
        results.values().all(|s| s == "success" || s == "pass"),
        "{results:?}"
    );

    let manifest = read_json(&demo.join("target/manifest.json"));
    let node = &manifest["nodes"]["model.demo.customers"];
    assert_eq!(node["config"]["materialized"], "table");
    assert_eq!(
        node["depends_on"]["nodes"],
        serde_json::json!(["model.demo.stg_customers", "model.demo.stg_orders"])
    );
    assert!(demo
        .join("target/compiled/demo/models/marts/customers.sql")
        .is_file());

    let clean = sluice()
        .current_dir(&demo)
        .arg("clean")
        .output()
        .expect("clean runs");
    assert!(clean.status.success());
    assert!(!demo.join("target").exists());
    assert!(db.exists(), "clean removes only the target-path");
}

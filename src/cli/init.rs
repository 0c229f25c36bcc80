//! `sluice init NAME`: a small working project, so `sluice build` succeeds at once.

use std::path::{Path, PathBuf};

use clap::Args;

use super::Outcome;
use crate::diagnostics::{Diagnostic, Diagnostics};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project's name; also the directory created for it
    pub name: String,
    /// Write dbt's layout (dbt_project.yml and profiles.yml) instead of project.yml
    #[arg(long)]
    pub dbt: bool,
}

const SEED: &str = "id,name,country,signed_up_at\n1,Ada,GB,2024-01-03\n2,Grace,US,2024-01-17\n3,Linus,FI,2024-02-02\n4,Margaret,US,2024-02-20\n";
const ORDERS: &str = "id,customer_id,amount,ordered_at\n10,1,120.50,2024-01-05\n11,1,80.00,2024-02-11\n12,2,35.25,2024-01-20\n13,4,410.00,2024-03-01\n";

/// The settings files: project.yml, or dbt's dbt_project.yml and profiles.yml.
/// The DuckDB file sits at the project root, outside the target path, so `clean`
/// never removes the data.
fn settings(name: &str, dbt: bool) -> Vec<(&'static str, String)> {
    let tree = format!(
        "models:\n  {name}:\n    +materialized: view\n    marts:\n      +materialized: table\n"
    );
    if dbt {
        return vec![
            (
                "dbt_project.yml",
                format!(
                    "name: {name}\nversion: \"1.0.0\"\nconfig-version: 2\nprofile: {name}\n\nmodel-paths: [\"models\"]\nseed-paths: [\"seeds\"]\nmacro-paths: [\"macros\"]\ntest-paths: [\"tests\"]\nanalysis-paths: [\"analyses\"]\nsnapshot-paths: [\"snapshots\"]\n\ntarget-path: \"target\"\nclean-targets: [\"target\", \"dbt_packages\"]\n\n{tree}"
                ),
            ),
            (
                "profiles.yml",
                format!(
                    "# Read by dbt and sluice when run from this folder (or with --profiles-dir).\n{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {name}.duckdb\n      schema: main\n      threads: 4\n"
                ),
            ),
        ];
    }
    vec![(
        "project.yml",
        format!(
            "name: {name}\nversion: \"1.0\"\nmodel-paths: [models]\nseed-paths: [seeds]\nmacro-paths: [macros]\ntest-paths: [tests]\ntarget-path: target\n\n{tree}\ntarget: dev\ntargets:\n  dev:\n    type: duckdb\n    path: {name}.duckdb\n    schema: main\n    threads: 4\n"
        ),
    )]
}

fn files(name: &str, dbt: bool) -> Vec<(&'static str, String)> {
    let mut out = settings(name, dbt);
    out.extend([
        ("seeds/raw_customers.csv", SEED.to_owned()),
        ("seeds/raw_orders.csv", ORDERS.to_owned()),
        (
            "models/staging/stg_customers.sql",
            "select\n    id as customer_id,\n    name as customer_name,\n    country,\n    signed_up_at\nfrom {{ ref('raw_customers') }}\n".to_owned(),
        ),
        (
            "models/staging/stg_orders.sql",
            "select\n    id as order_id,\n    customer_id,\n    amount,\n    ordered_at\nfrom {{ ref('raw_orders') }}\n".to_owned(),
        ),
        (
            "models/marts/customers.sql",
            "with orders as (\n    select customer_id, count(*) as order_count, sum(amount) as lifetime_value\n    from {{ ref('stg_orders') }}\n    group by customer_id\n)\n\nselect\n    c.customer_id,\n    c.customer_name,\n    c.country,\n    coalesce(o.order_count, 0) as order_count,\n    coalesce(o.lifetime_value, 0) as lifetime_value\nfrom {{ ref('stg_customers') }} as c\nleft join orders as o on o.customer_id = c.customer_id\n".to_owned(),
        ),
        (
            "models/_models.yml",
            "version: 2\n\nmodels:\n  - name: stg_customers\n    description: One row per customer.\n    columns:\n      - name: customer_id\n        data_tests: [unique, not_null]\n  - name: stg_orders\n    columns:\n      - name: order_id\n        data_tests: [unique, not_null]\n      - name: customer_id\n        data_tests:\n          - relationships:\n              to: ref('stg_customers')\n              field: customer_id\n  - name: customers\n    description: Customers with their order totals.\n    columns:\n      - name: customer_id\n        data_tests: [unique, not_null]\n".to_owned(),
        ),
        (
            "tests/assert_lifetime_value_not_negative.sql",
            "-- Fails for every customer whose lifetime value is negative.\nselect * from {{ ref('customers') }} where lifetime_value < 0\n".to_owned(),
        ),
        ("macros/.gitkeep", String::new()),
    ]);
    if dbt {
        // dbt's conventional name for the properties file.
        for (path, _) in &mut out {
            if *path == "models/_models.yml" {
                *path = "models/schema.yml";
            }
        }
    }
    out
}

pub fn run(args: &InitArgs) -> Result<Outcome, Diagnostics> {
    let valid = !args.name.is_empty()
        && args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(
            Diagnostic::error(format!("invalid project name `{}`", args.name))
                .with_help("use letters, digits and underscores, e.g. `sluice init my_project`")
                .into(),
        );
    }
    let dir = PathBuf::from(&args.name);
    if dir.exists() {
        return Err(
            Diagnostic::error(format!("{} already exists", dir.display()))
                .with_help("choose another name, or remove the directory")
                .into(),
        );
    }
    for (path, text) in files(&args.name, args.dbt) {
        write(&dir.join(path), &text)?;
    }
    crate::output::println(&format!(
        "Created project `{}` in {}",
        args.name,
        dir.display()
    ));
    crate::output::println(&format!("Next: cd {} && sluice build", args.name));
    Ok(Outcome::Success)
}

fn write(path: &Path, text: &str) -> Result<(), Diagnostic> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())))
}

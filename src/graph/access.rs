//! Model access as dbt-core 1.11 enforces it on refs: a `private` model may be
//! referenced only by nodes of its own group (and, when its package sets
//! `restrict-access: true`, only from that package); a `protected` model (the
//! default) may not be referenced from another package when its package sets
//! `restrict-access: true`. A violation is dbt's error, at the ref.

use std::collections::HashSet;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::render::exposures::access_of;
use crate::render::parse::{DependencyTarget, ResourceType};

use super::Dag;

/// Check every ref of the graph; `restricted`: the packages (the root project
/// included) whose project file sets `restrict-access: true`.
pub fn check(dag: &Dag, restricted: &HashSet<String>) -> Result<(), Diagnostics> {
    let mut errors = Vec::new();
    for node in &dag.nodes {
        if matches!(
            node.resource_type,
            ResourceType::Seed | ResourceType::UnitTest | ResourceType::Source
        ) {
            continue;
        }
        let group = node.config.get_str("group");
        for dep in &node.depends_on {
            let DependencyTarget::Ref(key) = &dep.target else {
                continue;
            };
            let Some(target) = dag.by_name.get(key).and_then(|id| dag.get(id)) else {
                continue;
            };
            let Some(access) = access_of(target) else {
                continue;
            };
            let other_package = node.package_name() != target.package_name();
            let restrict = restricted.contains(target.package_name());
            let target_group = target.config.get_str("group");
            let (scope, scope_kind, help) = match access {
                "private" if group.is_none() || group != target_group || (other_package && restrict) => (
                    target_group.unwrap_or("None").to_owned(),
                    "group",
                    format!(
                        "put `{}` in group `{}` (`group:` config), or give `{}` `access: protected` or `public`",
                        node.name,
                        target_group.unwrap_or("None"),
                        target.name
                    ),
                ),
                "protected" if other_package && restrict => (
                    target.package_name().to_owned(),
                    "package",
                    format!(
                        "package `{}` sets `restrict-access: true`: only its public models can be referenced from `{}`",
                        target.package_name(),
                        node.package_name()
                    ),
                ),
                _ => continue,
            };
            errors.push(
                Diagnostic::error(format!(
                    "Node {} attempted to reference node {}, which is not allowed because the referenced node is {access} to the '{scope}' {scope_kind}.",
                    node.unique_id, target.unique_id
                ))
                .with_label(&dep.span, format!("`{}` is {access}", target.name))
                .with_help(help),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into())
    }
}

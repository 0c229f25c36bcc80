//! What relations exist in the warehouse, as one command knows them.
//!
//! Asking DuckDB whether one relation exists scans its whole catalog:
//! `information_schema.tables` builds a row (with the table's DDL) for every
//! relation before the `where` filters it. Asked once per model, that makes a
//! run quadratic in the number of models. A [`RelationCache`] lists each schema
//! once, on first use, and the runner keeps it current: it records every
//! relation it builds, and forgets what it knew whenever statements it did not
//! write (hooks) or a failed build may have changed the schema.
//!
//! On Snowflake, where every lookup is a round trip, the listing saves one
//! query per model. BigQuery's session does not list (`tables.get` per
//! relation is one cheap REST call; [`Session::list_relations`] returns
//! `None`), so it is asked per relation.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{RelationKind, RelationName, Session, WarehouseError};

/// A schema, as the cache keys it.
type SchemaKey = (Option<String>, String);

/// The relations of each schema listed so far, by lower-cased name: DuckDB
/// resolves names case-insensitively, and Snowflake upper-cases the unquoted
/// names sluice writes.
#[derive(Default)]
pub struct RelationCache {
    schemas: Mutex<HashMap<SchemaKey, HashMap<String, RelationKind>>>,
}

fn schema_key(relation: &RelationName) -> SchemaKey {
    (relation.database.clone(), relation.schema.clone())
}

impl RelationCache {
    pub fn new() -> RelationCache {
        RelationCache::default()
    }

    /// Which of `relation` exists: a table, a view, or nothing.
    pub fn kind(
        &self,
        session: &mut dyn Session,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError> {
        let key = schema_key(relation);
        let name = relation.identifier.to_lowercase();
        // Holding the lock while listing keeps two threads from listing one schema
        // twice; a listing is one query.
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = schemas.get(&key) {
            return Ok(known.get(&name).copied());
        }
        let Some(listed) =
            session.list_relations(relation.database.as_deref(), &relation.schema)?
        else {
            drop(schemas);
            return session.relation_kind(relation);
        };
        let known: HashMap<String, RelationKind> = listed
            .into_iter()
            .map(|(n, k)| (n.to_lowercase(), k))
            .collect();
        let kind = known.get(&name).copied();
        schemas.insert(key, known);
        Ok(kind)
    }

    /// `relation` was just built as `kind`.
    pub fn record(&self, relation: &RelationName, kind: RelationKind) {
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = schemas.get_mut(&schema_key(relation)) {
            known.insert(relation.identifier.to_lowercase(), kind);
        }
    }

    /// A build in `relation`'s schema failed part-way: list the schema again
    /// next time.
    pub fn forget_schema(&self, relation: &RelationName) {
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        schemas.remove(&schema_key(relation));
    }

    /// Statements sluice did not write ran (hooks): they may have changed any
    /// schema.
    pub fn forget_all(&self) {
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        schemas.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::duckdb::DuckDbAdapter;
    use crate::adapter::Adapter;

    fn relation(schema: &str, identifier: &str) -> RelationName {
        RelationName {
            database: None,
            schema: schema.to_owned(),
            identifier: identifier.to_owned(),
        }
    }

    #[test]
    fn a_listed_schema_answers_like_the_warehouse_and_follows_recorded_builds() {
        let adapter = DuckDbAdapter::open_in_memory().unwrap();
        let mut session = adapter.session().unwrap();
        session
            .execute_atomic(&[
                "create schema s".into(),
                "create table s.t as select 1 as x".into(),
                "create view s.v as select 1 as x".into(),
            ])
            .unwrap();
        let cache = RelationCache::new();
        for (name, expected) in [
            ("t", Some(RelationKind::Table)),
            ("V", Some(RelationKind::View)),
            ("missing", None),
        ] {
            let r = relation("s", name);
            assert_eq!(
                cache.kind(session.as_mut(), &r).unwrap(),
                expected,
                "{name}"
            );
        }
        // Built behind the cache's back: the cache still answers from its listing
        // until told.
        session
            .execute_atomic(&["create table s.later as select 1 as x".into()])
            .unwrap();
        let later = relation("s", "later");
        assert_eq!(cache.kind(session.as_mut(), &later).unwrap(), None);
        cache.record(&later, RelationKind::Table);
        assert_eq!(
            cache.kind(session.as_mut(), &later).unwrap(),
            Some(RelationKind::Table)
        );
        session.execute_atomic(&["drop table s.t".into()]).unwrap();
        cache.forget_schema(&later);
        assert_eq!(
            cache.kind(session.as_mut(), &relation("s", "t")).unwrap(),
            None
        );
        session
            .execute_atomic(&["create view s.t as select 2 as x".into()])
            .unwrap();
        cache.forget_all();
        assert_eq!(
            cache.kind(session.as_mut(), &relation("s", "t")).unwrap(),
            Some(RelationKind::View)
        );
    }
}

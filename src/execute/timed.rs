//! A session that measures how long its node waited on the warehouse.
//!
//! Every call into the warehouse (a DuckDB statement, an HTTP request to
//! Snowflake or BigQuery) is timed, so a node's result can say how much of its
//! time was the warehouse's and how much was sluice's own: run_results.json
//! reports it as `adapter_response.warehouse_seconds`, and `scripts/bench`
//! subtracts it from the wall time to get sluice's per-model overhead.

use std::time::{Duration, Instant};

use crate::adapter::{
    RelationKind, RelationName, Rows, SeedError, SeedLoad, Session, WarehouseError,
};

pub struct TimedSession<'s> {
    inner: &'s mut dyn Session,
    spent: Duration,
}

impl<'s> TimedSession<'s> {
    pub fn new(inner: &'s mut dyn Session) -> TimedSession<'s> {
        TimedSession {
            inner,
            spent: Duration::ZERO,
        }
    }

    /// Time spent inside the warehouse so far.
    pub fn spent(&self) -> Duration {
        self.spent
    }

    fn timed<T>(&mut self, call: impl FnOnce(&mut dyn Session) -> T) -> T {
        let start = Instant::now();
        let out = call(&mut *self.inner);
        self.spent += start.elapsed();
        out
    }
}

impl Session for TimedSession<'_> {
    fn execute_atomic(&mut self, statements: &[String]) -> Result<(), WarehouseError> {
        self.timed(|s| s.execute_atomic(statements))
    }

    fn query(&mut self, sql: &str) -> Result<Rows, WarehouseError> {
        self.timed(|s| s.query(sql))
    }

    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        self.timed(|s| s.describe(sql))
    }

    fn relation_kind(
        &mut self,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError> {
        self.timed(|s| s.relation_kind(relation))
    }

    fn list_relations(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Option<Vec<(String, RelationKind)>>, WarehouseError> {
        self.timed(|s| s.list_relations(database, schema))
    }

    fn load_seed(&mut self, seed: &SeedLoad<'_>) -> Result<u64, SeedError> {
        self.timed(|s| s.load_seed(seed))
    }

    fn create_schema(&mut self, schema: &str) -> Result<(), WarehouseError> {
        self.timed(|s| s.create_schema(schema))
    }

    fn set_query_tag(&mut self, tag: &str) {
        self.timed(|s| s.set_query_tag(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::duckdb::DuckDbAdapter;
    use crate::adapter::Adapter;

    #[test]
    fn time_inside_the_warehouse_is_counted_and_time_outside_is_not() {
        let adapter = DuckDbAdapter::open_in_memory().unwrap();
        let mut session = adapter.session().unwrap();
        let mut timed = TimedSession::new(session.as_mut());
        assert_eq!(timed.spent(), Duration::ZERO);
        // A query that takes DuckDB measurable time.
        let outside = Instant::now();
        timed
            .query("select sum(i * i) from range(20000000) t(i)")
            .unwrap();
        let after_query = timed.spent();
        assert!(after_query > Duration::ZERO);
        assert!(after_query <= outside.elapsed());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            timed.spent(),
            after_query,
            "sleeping outside is not the warehouse's time"
        );
    }
}

//! The one place that owns the DataFusion session: which tables exist and where their rows
//! come from (a converted Parquet lake, or raw exports ingested on demand), the functions
//! chatql adds, and the views built on the tables.
//!
//! Raw exports are ingested lazily: before a statement is planned, the tables it names
//! (views expanded to the tables they read) are loaded in one ingest pass, and only those
//! tables' batches are kept. For statements given at once ([`Catalog::load_for`]), only the
//! columns their plans scan are kept too (`narrow`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;

use crate::error::{Error, Result};
use crate::ingest::annotation::is_annotation_file;
use crate::ingest::{IngestOptions, IngestSummary, Inputs};
use crate::lake::partition::{is_verbatim, month_of, Key};
use crate::lake::{AsOf, LakeSnapshot, Opened};
use crate::model::Zone;
use crate::table::Table;

/// A view chatql defines: name, SQL, the tables it reads, and what it is for.
pub struct View {
    /// SQL name.
    pub name: &'static str,
    /// What a row is.
    pub doc: &'static str,
    /// The defining query.
    pub sql: &'static str,
    /// Tables the query reads.
    pub reads: &'static [Table],
}

/// The views every session has.
pub const VIEWS: &[View] = &[View {
    name: "turns",
    doc: "One row per user question: the assistant answer that followed it, the contexts \
          retrieved for it (on the question in 2024+, on the answer in 2023), and the \
          conversation's course, user, model and time.",
    sql: include_str!("../../queries/views/turns.sql"),
    reads: &[Table::Conversations, Table::Messages, Table::Contexts],
}];

mod annotations;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod lake;
mod narrow;
pub mod raw;

use lake::LakeTable;
use narrow::{scanned, Narrowed, Need, Rows};

use annotations::ANNOTATION_REJECTS;

/// How a catalog runs queries.
#[derive(Debug, Clone, Default)]
pub struct CatalogOptions {
    /// How raw exports are ingested.
    pub ingest: IngestOptions,
    /// Bound of DataFusion's memory pool in bytes (operators that can spill, spill).
    pub memory_limit: Option<usize>,
    /// Keep every version of conversations and documents found in several raw exports.
    pub keep_duplicates: bool,
    /// Run queries on the Ballista cluster whose scheduler is at this `df://HOST:PORT`
    /// (needs the `cluster` feature, and lakes the executors can read at the same paths).
    pub remote: Option<String>,
    /// The zone whose wall-clock time every timestamp column shows (`--tz`); UTC by default.
    pub tz: Zone,
    /// The version of the lakes to read (`--as-of`); the latest when `None`.
    pub as_of: Option<AsOf>,
    /// Of raw exports, keep only the columns statements read. For statements known up front
    /// ([`Catalog::load_for`]); a shell keeps every column, else each new statement that
    /// reads another column would read the exports again.
    pub columns_as_needed: bool,
}

/// Where the tables' rows come from.
enum Source {
    /// Converted folders (`chatql convert` output), each at one version.
    Lakes(Vec<LakeSnapshot>),
    /// Raw exports, ingested when a statement first needs a table.
    Raw(Box<Inputs>),
    /// Nothing: empty tables.
    Empty,
}

/// A DataFusion session over the six tables and chatql's views and functions.
pub struct Catalog {
    ctx: SessionContext,
    source: Source,
    ingest: IngestOptions,
    keep_duplicates: bool,
    /// The tables whose rows are in place, and which of their columns and rows.
    loaded: HashMap<Table, Need>,
    /// [`CatalogOptions::columns_as_needed`].
    columns_as_needed: bool,
    /// What the last ingest read (raw sources only).
    pub last_ingest: Option<IngestSummary>,
    /// Set once [`Catalog::restrict`] put views in place of the tables.
    restricted: bool,
    /// The partition columns of the lakes, when they are partitioned.
    partition_keys: Vec<Key>,
    /// Queries run on a Ballista cluster.
    remote: bool,
    /// The zone timestamp columns are shown in.
    tz: Zone,
    /// Annotation files were given: `rejects` also shows their unreadable rows.
    annotations: bool,
    /// Bytes of raw tables held in memory before they go to files ([`raw`]).
    raw_budget: usize,
    /// The folder of those files, made when first needed.
    spool: Option<crate::lake::fs::Scratch>,
}

/// Which conversations (and documents) a report looks at.
#[derive(Debug, Clone, Default)]
pub struct Restriction {
    /// Conversations created at or after (microseconds, UTC).
    pub since: Option<i64>,
    /// Conversations created before (microseconds, UTC).
    pub until: Option<i64>,
    /// Only this course (conversations, documents, chunks).
    pub course: Option<String>,
    /// Only this user's conversations (case-insensitive).
    pub user: Option<String>,
}

impl Restriction {
    /// Whether nothing is restricted.
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.course.is_none() && self.user.is_none()
    }
}

/// `s` as an SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Catalog {
    /// A session over `args`: converted folders, or raw export paths, folders and globs.
    pub async fn open(args: &[String], opts: &CatalogOptions) -> Result<Catalog> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(opts.ingest.threads.max(1));
        // One dialect for every statement: the session's (views, reports) and the user's
        // ([`Catalog::parse`]).
        config.options_mut().sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        // Files in S3 (lakes in a bucket) are read with stores made on first use.
        let mut runtime =
            RuntimeEnvBuilder::new().with_object_store_registry(crate::store::registry());
        if let Some(limit) = opts.memory_limit {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        // A file path in quotes is a table too: `SELECT * FROM 'topics.parquet'`.
        let mut ctx =
            SessionContext::new_with_config_rt(config, runtime.build_arc()?).enable_url_table();
        datafusion_functions_json::register_all(&mut ctx)?;
        for f in crate::query::functions::udfs() {
            ctx.register_udf(f);
        }
        let (notes, args): (Vec<String>, Vec<String>) = args
            .iter()
            .cloned()
            .partition(|a| is_annotation_file(Path::new(a)));
        let args = args.as_slice();
        let source = match crate::lake::InputKind::open(args, opts.as_of)? {
            Opened::Nothing => Source::Empty,
            Opened::Lakes(lakes) => Source::Lakes(lakes),
            Opened::Raw => Source::Raw(Box::new(Inputs::expand(args)?)),
        };
        if opts.as_of.is_some() && !matches!(source, Source::Lakes(_)) {
            return Err(Error::Usage(
                "--as-of reads an earlier version of a lake: give folders written by \
                 `chatql convert`"
                    .into(),
            ));
        }
        if let Some(url) = &opts.remote {
            if !notes.is_empty() {
                return Err(Error::Usage(format!(
                    "--remote {url}: annotation files are read on this machine; query them \
                     without --remote"
                )));
            }
            if !matches!(source, Source::Lakes(_)) {
                return Err(Error::Usage(format!(
                    "--remote {url}: the cluster's executors read the tables themselves, so give \
                     folders written by `chatql convert` (on a file system they share), not raw \
                     exports"
                )));
            }
            ctx = remote_context(url, ctx).await?;
        }
        #[cfg(feature = "s3")]
        if let Source::Lakes(lakes) = &source {
            for r in lakes.iter().filter_map(|l| l.remote.as_ref()) {
                let url =
                    datafusion::execution::object_store::ObjectStoreUrl::parse(&r.remote.base)?;
                ctx.register_object_store(url.as_ref(), r.remote.store());
            }
        }
        // A lake on disk is read through the store wrapper too, for its small-file cache.
        if let Source::Lakes(lakes) = &source {
            if lakes.iter().any(|l| l.remote.is_none()) {
                let url = datafusion::execution::object_store::ObjectStoreUrl::local_filesystem();
                ctx.register_object_store(
                    url.as_ref(),
                    Arc::new(crate::store::counting::Counting::local()),
                );
            }
        }
        let partition_keys = match &source {
            Source::Lakes(lakes) => lakes_partition_keys(lakes)?,
            _ => Vec::new(),
        };
        let mut cat = Catalog {
            ctx,
            source,
            ingest: opts.ingest.clone(),
            keep_duplicates: opts.keep_duplicates,
            loaded: HashMap::new(),
            columns_as_needed: opts.columns_as_needed,
            last_ingest: None,
            restricted: false,
            partition_keys,
            remote: opts.remote.is_some(),
            tz: opts.tz,
            annotations: !notes.is_empty(),
            // Under `--memory-limit`, a quarter of it for the tables read from raw exports.
            raw_budget: opts.memory_limit.map_or(raw::DEFAULT_BUDGET, |l| l / 4),
            spool: None,
        };
        if cat.annotations {
            let empty = MemTable::try_new(Table::Rejects.schema(), vec![vec![]])?;
            cat.ctx
                .register_table(ANNOTATION_REJECTS, Arc::new(empty))?;
        }
        for t in Table::ALL {
            let provider: Arc<dyn datafusion::catalog::TableProvider> = match &cat.source {
                Source::Lakes(lakes) => Arc::new(LakeTable::new(lakes, *t)?),
                _ => Arc::new(MemTable::try_new(t.schema(), vec![vec![]])?),
            };
            cat.ctx.register_table(cat.physical(*t), provider)?;
        }
        if !matches!(cat.source, Source::Raw(_)) {
            cat.loaded
                .extend(Table::ALL.iter().map(|t| (*t, Need::all())));
        }
        cat.localize(Table::ALL).await?;
        cat.create_views().await?;
        if !notes.is_empty() {
            cat.read_annotations(&notes).await?;
        }
        Ok(cat)
    }

    /// The zone timestamps are shown in.
    pub fn tz(&self) -> Zone {
        self.tz
    }

    /// The name a table's rows are registered under: the table's own, or with `--tz`,
    /// `__utc_NAME` beneath a view of the same columns in wall-clock time.
    fn physical(&self, t: Table) -> String {
        if self.tz.is_utc() && !(t == Table::Rejects && self.annotations) {
            t.name().to_owned()
        } else {
            format!("__utc_{}", t.name())
        }
    }

    /// With `--tz`: (re)creates each table as a view over its rows with every timestamp
    /// column in the zone's wall-clock time, so buckets and printed times follow the zone.
    /// With annotation files, `rejects` is such a view too, with their rejects added.
    async fn localize(&self, tables: &[Table]) -> Result<()> {
        for t in tables {
            let physical = self.physical(*t);
            if physical == t.name() {
                continue;
            }
            let schema = self.ctx.table_provider(physical.as_str()).await?.schema();
            let cols: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    datafusion::arrow::datatypes::DataType::Timestamp(_, _) => format!(
                        "local_time(\"{0}\", {1}) AS \"{0}\"",
                        f.name(),
                        sql_str(self.tz.name())
                    ),
                    _ => format!("\"{}\"", f.name()),
                })
                .collect();
            self.ctx.deregister_table(t.name())?;
            let mut sql = format!(
                "CREATE VIEW {} AS SELECT {} FROM {physical}",
                t.name(),
                cols.join(", ")
            );
            if *t == Table::Rejects && self.annotations {
                sql.push_str(&format!(" UNION ALL SELECT * FROM {ANNOTATION_REJECTS}"));
            }
            self.ctx.sql(&sql).await?.collect().await?;
        }
        Ok(())
    }

    /// The DataFusion session (for callers that plan on their own).
    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    async fn create_views(&self) -> Result<()> {
        for v in VIEWS {
            self.ctx.deregister_table(v.name)?;
            let sql = format!("CREATE VIEW {} AS {}", v.name, v.sql);
            self.ctx.sql(&sql).await?.collect().await?;
        }
        Ok(())
    }

    /// Tables a statement reads, views expanded.
    fn tables_read(&self, stmt: &Statement) -> Result<BTreeSet<Table>> {
        let refs = self.ctx.state().resolve_table_references(stmt)?;
        let mut out = BTreeSet::new();
        for r in refs {
            let name = r.table().to_ascii_lowercase();
            if let Some(t) = Table::from_name(&name) {
                out.insert(t);
            } else if let Some(v) = VIEWS.iter().find(|v| v.name == name) {
                out.extend(v.reads.iter().copied());
            }
        }
        Ok(out)
    }

    /// What a statement reads of which tables: all of the tables it names, or with
    /// [`CatalogOptions::columns_as_needed`] and a query, the columns its optimized plan
    /// scans and the rows of a filter every scan applies ([`scanned`]).
    async fn columns_read(&self, stmt: &Statement) -> Result<BTreeMap<Table, Need>> {
        use datafusion::sql::sqlparser::ast::Statement as Sql;
        let tables = self.tables_read(stmt)?;
        let all = || tables.iter().map(|t| (*t, Need::all())).collect();
        let is_query = matches!(stmt, Statement::Statement(s) if matches!(**s, Sql::Query(_)));
        if !self.columns_as_needed
            || !is_query
            || tables
                .iter()
                .all(|t| self.loaded.get(t) == Some(&Need::all()))
        {
            return Ok(all());
        }
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(stmt.clone())
            .await
            .map_err(|e| self.explain_error(e))?;
        let plan = state.optimize(&plan)?;
        scanned(&plan, &tables, |name| {
            Table::ALL
                .iter()
                .copied()
                .find(|t| self.physical(*t) == name)
        })
    }

    /// Loads what the statements of `sql` read, in one ingest pass. A statement that cannot
    /// be planned before the ones ahead of it ran (it reads a table they create) counts as
    /// reading every column of the tables it names; one that does not parse is left for
    /// [`Catalog::run`] to report.
    pub async fn load_for(&mut self, sql: &str) -> Result<()> {
        let Ok(stmts) = self.parse(sql) else {
            return Ok(());
        };
        let mut needs: BTreeMap<Table, Need> = BTreeMap::new();
        for stmt in &stmts {
            let read = match self.columns_read(stmt).await {
                Ok(r) => r,
                Err(_) => match self.tables_read(stmt) {
                    Ok(t) => t.into_iter().map(|t| (t, Need::all())).collect(),
                    Err(_) => continue,
                },
            };
            for (t, need) in read {
                match needs.get_mut(&t) {
                    Some(have) => have.merge(need),
                    None => {
                        needs.insert(t, need);
                    }
                }
            }
        }
        self.load_columns(needs).await
    }

    /// Makes sure the tables are loaded (one ingest pass for all that are missing).
    pub async fn load(&mut self, tables: &BTreeSet<Table>) -> Result<()> {
        self.load_columns(tables.iter().map(|t| (*t, Need::all())).collect())
            .await
    }

    /// Makes sure these columns and rows of these tables are loaded: one ingest pass for
    /// all that are missing, which reads again a table that lacks some of them.
    async fn load_columns(&mut self, needs: BTreeMap<Table, Need>) -> Result<()> {
        let mut missing: BTreeMap<Table, Need> = BTreeMap::new();
        for (t, want) in needs {
            match self.loaded.get(&t) {
                Some(have) if have.covers(&want) => {}
                Some(have) => {
                    let mut both = have.clone();
                    both.merge(want);
                    missing.insert(t, both);
                }
                None => {
                    missing.insert(t, want);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let Source::Raw(inputs) = &self.source else {
            return Ok(());
        };
        if self.restricted {
            return Err(Error::Internal(
                "tables must be loaded before a restriction".into(),
            ));
        }
        let inputs = (**inputs).clone();
        // A query needs no SHA-256 of its inputs.
        let opts = IngestOptions {
            hash: false,
            ..self.ingest.clone()
        };
        // A predicate becomes one over the table's own schema; one that cannot (it needs
        // more than a row of the table) keeps every row.
        let mut keep: BTreeMap<Table, raw::Wanted> = BTreeMap::new();
        for (t, need) in &missing {
            let filter = match &need.rows {
                Rows::Where(e) => self.row_filter(*t, e),
                _ => None,
            };
            keep.insert(
                *t,
                raw::Wanted {
                    columns: need.columns.clone(),
                    filter,
                },
            );
        }
        let dedup = !self.keep_duplicates;
        let budget = self.raw_budget;
        let spool = match &self.spool {
            Some(d) => d.path().to_owned(),
            None => {
                let d = crate::lake::fs::Scratch::new("chatql-tables-")?;
                let p = d.path().to_owned();
                self.spool = Some(d);
                p
            }
        };
        let kept = tokio::task::spawn_blocking(move || {
            raw::read_tables(&inputs, &opts, &keep, dedup, budget, &spool)
        })
        .await
        .map_err(|e| Error::Internal(format!("ingest task failed: {e}")))??;
        let parts = self.ingest.threads.max(1);
        let mut fresh = Vec::new();
        for (t, kept) in kept.tables {
            let physical = self.physical(t);
            self.ctx.deregister_table(physical.as_str())?;
            let rows: Arc<dyn datafusion::catalog::TableProvider> = match kept.rows {
                raw::Held::Memory(list) => Arc::new(mem_table(kept.schema, list, parts)?),
                raw::Held::Files(spool) => Arc::new(spool.table(kept.schema)?),
            };
            let rows = match &kept.columns {
                Some(c) => Arc::new(Narrowed::new(t.schema(), c.clone(), rows)),
                None => rows,
            };
            self.ctx.register_table(physical, rows)?;
            let rows = match (&missing[&t].rows, kept.filtered) {
                (Rows::Where(e), true) => Rows::Where(e.clone()),
                _ => Rows::All,
            };
            self.loaded.insert(
                t,
                Need {
                    columns: kept.columns,
                    rows,
                },
            );
            fresh.push(t);
        }
        let summary = kept.summary;
        self.last_ingest = Some(summary);
        self.localize(&fresh).await?;
        self.create_views().await
    }

    /// `predicate` (over table `t` as registered) as an expression over `t`'s rows, if it
    /// can be one.
    fn row_filter(
        &self,
        t: Table,
        predicate: &datafusion::logical_expr::Expr,
    ) -> Option<Arc<dyn datafusion::physical_plan::PhysicalExpr>> {
        let schema =
            datafusion::common::DFSchema::try_from_qualified_schema(self.physical(t), &t.schema())
                .ok()?;
        self.ctx
            .create_physical_expr(predicate.clone(), &schema)
            .ok()
    }

    /// Tables the statements of `sql` read, views expanded.
    pub fn tables_in(&self, sql: &str) -> Result<BTreeSet<Table>> {
        let mut out = BTreeSet::new();
        for stmt in self.parse(sql)? {
            out.extend(self.tables_read(&stmt)?);
        }
        Ok(out)
    }

    /// Narrows the tables to what `r` selects: conversations by time, course and user,
    /// their messages and contexts with them; documents and chunks by course. Load the
    /// tables first ([`Catalog::load`]); the views are rebuilt on the narrowed tables.
    pub async fn restrict(&mut self, r: &Restriction) -> Result<()> {
        if r.is_empty() {
            return Ok(());
        }
        let mut conds = Vec::new();
        // The bounds are instants; the tables show wall-clock times of `tz`.
        let at = |t: i64| sql_str(&crate::model::format_timestamp_pg(self.tz.to_local(t)));
        if let Some(t) = r.since {
            conds.push(format!("created_at >= {}", at(t)));
        }
        if let Some(t) = r.until {
            conds.push(format!("created_at < {}", at(t)));
        }
        if let Some(c) = &r.course {
            conds.push(format!("course_name = {}", sql_str(c)));
        }
        if let Some(u) = &r.user {
            conds.push(format!("lower(user_email) = lower({})", sql_str(u)));
        }
        let course = r.course.as_ref().map_or("TRUE".to_owned(), |c| {
            format!("course_name = {}", sql_str(c))
        });
        for t in Table::ALL {
            let provider = self.ctx.table_provider(t.name()).await?;
            self.ctx.deregister_table(t.name())?;
            self.ctx
                .register_table(format!("__all_{}", t.name()), provider)?;
        }
        // On a partitioned lake the same conditions on the partition columns let scans skip
        // whole folders; they are implied by the row conditions, so results do not change.
        let mut prune = Vec::new();
        let mut doc_prune = Vec::new();
        for k in &self.partition_keys {
            match k {
                Key::Course => {
                    // Not for "" (stored as the null folder) or names too long for a folder
                    // name (stored shortened).
                    if let Some(c) = r.course.as_ref().filter(|c| is_verbatim(c)) {
                        prune.push(format!("course = {}", sql_str(c)));
                        doc_prune.push(format!("course = {}", sql_str(c)));
                    }
                }
                Key::Month => {
                    let month = month_of;
                    if let Some(m) = month(r.since) {
                        prune.push(format!("month >= {}", sql_str(&m)));
                    }
                    if let Some(m) = month(r.until) {
                        prune.push(format!("month <= {}", sql_str(&m)));
                    }
                }
            }
        }
        let and_prune = |base: String, extra: &[String]| {
            std::iter::once(base)
                .chain(extra.iter().cloned())
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let in_convos = and_prune(
            "convo_id IN (SELECT convo_id FROM conversations)".to_owned(),
            &prune,
        );
        let views = [
            (
                "conversations",
                and_prune(
                    if conds.is_empty() {
                        "TRUE".to_owned()
                    } else {
                        conds.join(" AND ")
                    },
                    &prune,
                ),
            ),
            ("messages", in_convos.clone()),
            ("contexts", in_convos),
            ("documents", and_prune(course.clone(), &doc_prune)),
            ("chunks", and_prune(course, &doc_prune)),
            ("rejects", "TRUE".to_owned()),
        ];
        for (name, cond) in views {
            let sql = format!("CREATE VIEW {name} AS SELECT * FROM __all_{name} WHERE {cond}");
            self.ctx.sql(&sql).await?.collect().await?;
        }
        self.restricted = true;
        self.create_views().await
    }

    /// Parses `sql` into statements (several allowed, separated by `;`), in the session's
    /// dialect, PostgreSQL (`2 ^ 3` is a power, as in the reports' own SQL).
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        Ok(
            DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {})?
                .into_iter()
                .collect(),
        )
    }

    /// Plans and runs one statement, loading what it reads first; returns its batches
    /// (for results known to be small: reports' sections, lookups).
    pub async fn run(&mut self, stmt: Statement) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let df = self.plan(stmt).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok((schema, batches))
    }

    /// Runs every statement of `sql` but the last, and plans the last (loading what it reads)
    /// without running it: a caller can then run several such plans at once, each on its own
    /// task (reports' sections). `None` when `sql` holds no statement.
    pub async fn plan_last(&mut self, sql: &str) -> Result<Option<DataFrame>> {
        let mut stmts = self.parse(sql)?;
        let Some(last) = stmts.pop() else {
            return Ok(None);
        };
        for stmt in stmts {
            self.run(stmt).await?;
        }
        self.plan(last).await.map(Some)
    }

    /// Whether queries run on a Ballista cluster (`--remote`).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Plans and starts one statement, loading what it reads first: its schema and the
    /// stream of its batches, for results of any size.
    pub async fn execute(
        &mut self,
        stmt: Statement,
    ) -> Result<(SchemaRef, datafusion::execution::SendableRecordBatchStream)> {
        let df = self.plan(stmt).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        Ok((schema, df.execute_stream().await?))
    }

    /// Loads what a statement reads and plans it (DDL takes effect here).
    async fn plan(&mut self, stmt: Statement) -> Result<DataFrame> {
        let needs = self.columns_read(&stmt).await?;
        self.load_columns(needs).await?;
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(stmt)
            .await
            .map_err(|e| self.explain_error(e))?;
        if self.remote {
            refuse_undistributable(&state.optimize(&plan)?)?;
        }
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// Runs a report's preparing statements. On this machine a `CREATE VIEW name AS query`
    /// is computed once and kept as an in-memory table `name`, so the sections that read it
    /// do not compute it again (the cost view counts every token of the export); on a
    /// cluster it stays a view, which the executors compute where the data is.
    pub async fn prepare(&mut self, sql: &str) -> Result<()> {
        use datafusion::sql::sqlparser::ast::Statement as Sql;
        for stmt in self.parse(sql)? {
            let Statement::Statement(inner) = &stmt else {
                self.run(stmt).await?;
                continue;
            };
            let Sql::CreateView(view) = inner.as_ref() else {
                self.run(stmt).await?;
                continue;
            };
            if self.remote {
                self.run(stmt).await?;
                continue;
            }
            let name = view.name.to_string();
            let select = Statement::Statement(Box::new(Sql::Query(view.query.clone())));
            let (schema, batches) = self.run(select).await?;
            let table = MemTable::try_new(schema, vec![batches])?;
            self.ctx.deregister_table(name.as_str())?;
            self.ctx.register_table(name.as_str(), Arc::new(table))?;
        }
        Ok(())
    }

    /// Runs every statement of `sql`; returns the result of each.
    pub async fn run_sql(&mut self, sql: &str) -> Result<Vec<(SchemaRef, Vec<RecordBatch>)>> {
        let mut out = Vec::new();
        for stmt in self.parse(sql)? {
            out.push(self.run(stmt).await?);
        }
        Ok(out)
    }

    /// The lakes read, at their versions (none for raw exports).
    pub fn lakes(&self) -> &[LakeSnapshot] {
        match &self.source {
            Source::Lakes(l) => l,
            _ => &[],
        }
    }

    /// Names of the tables and views, for errors, `\d` and completion.
    pub fn relation_names(&self) -> Vec<&'static str> {
        Table::ALL
            .iter()
            .map(|t| t.name())
            .chain(VIEWS.iter().map(|v| v.name))
            .collect()
    }

    /// Adds the list of tables to a "table not found" error.
    fn explain_error(&self, e: datafusion::error::DataFusionError) -> Error {
        let msg = e.to_string();
        if msg.contains("not found") && msg.contains("table") {
            return Error::Query(format!(
                "{msg}\ntables and views: {}",
                self.relation_names().join(", ")
            ));
        }
        Error::DataFusion(e)
    }
}

/// Refuses joins that Ballista 55 gets wrong across executors: with a condition but no
/// equality key the join collects its left side into every task, and a join whose output comes from the
/// collected side (left outer, full, left semi and anti) then emits its rows once per task.
fn refuse_undistributable(plan: &datafusion::logical_expr::LogicalPlan) -> Result<()> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::{JoinType, LogicalPlan};
    let mut bad = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Join(j) = node {
            // A join with neither keys nor a condition (a scalar subquery's) is a cross
            // join of one-row inputs, which Ballista runs in one task.
            if j.on.is_empty()
                && j.filter.is_some()
                && matches!(
                    j.join_type,
                    JoinType::Left
                        | JoinType::Full
                        | JoinType::LeftSemi
                        | JoinType::LeftAnti
                        | JoinType::LeftMark
                )
            {
                bad = Some(j.join_type);
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match bad {
        Some(t) => Err(Error::Query(format!(
            "--remote: this query has a {t} join without an equality condition (as NOT EXISTS \
             or an outer join ON a OR b make), which Ballista runs once per task and so \
             returns rows more than once; join on equal columns, or run it without --remote"
        ))),
        None => Ok(()),
    }
}

#[cfg(feature = "cluster")]
async fn remote_context(url: &str, local: SessionContext) -> Result<SessionContext> {
    cluster::remote_context(url, local.state()).await
}

#[cfg(not(feature = "cluster"))]
async fn remote_context(url: &str, _local: SessionContext) -> Result<SessionContext> {
    Err(Error::Usage(format!(
        "--remote {url}: this chatql was built without the `cluster` feature \
         (cargo install --path . --features cluster)"
    )))
}

/// A memory table whose batches are spread over `parts` partitions for parallel scans.
fn mem_table(schema: SchemaRef, batches: Vec<RecordBatch>, parts: usize) -> Result<MemTable> {
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); parts.max(1)];
    for (i, b) in batches.into_iter().enumerate() {
        partitions[i % parts.max(1)].push(b);
    }
    Ok(MemTable::try_new(schema, partitions)?)
}

/// The partition keys the converted folders share (empty: flat lakes); an error when they
/// differ.
fn lakes_partition_keys(lakes: &[LakeSnapshot]) -> Result<Vec<Key>> {
    let layouts: Vec<&[Key]> = lakes.iter().map(LakeSnapshot::keys).collect();
    if layouts.windows(2).any(|w| w[0] != w[1]) {
        return Err(Error::Usage(
            "the folders differ in layout (flat or partitioned, and by which keys); \
             query them one at a time"
                .into(),
        ));
    }
    Ok(layouts.first().map(|k| k.to_vec()).unwrap_or_default())
}

#[cfg(test)]
mod tests;

//! `herd bench query`: builds a dataset through the real store path (submit, flush to Parquet segments), times a
//! fixed suite of reports through `herd_query::QueryEngine`, and answers the same questions with DuckDB (PyPI
//! `duckdb`, timed inside Python) over the same events exported to one flat Parquet file. The funnel and retention
//! questions ([`super::journeys`]) also compare the two engines' answers, and every question reports peak RSS.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use herd_model::report::{
    CountBy, EventSelector, EventSpec, Filter, FilterOp, Interval, Metric, PropertyMode, PropertyRef, PropertySource,
    Segmentation,
};
use herd_store::{NewProject, ProjectStore, Store};
use indicatif::{ProgressBar, ProgressStyle};

use super::dataset::{self, DAY_MS, GROUP_TYPE, Params, Rng};
use super::{journeys, rss};

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// Events in the dataset.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Users (default: events / 200).
    #[arg(long)]
    users: Option<u64>,
    /// Accounts of type `org` (default: users / 25).
    #[arg(long)]
    accounts: Option<u64>,
    /// Days of events, ending at today's UTC midnight.
    #[arg(long, default_value_t = 90)]
    days: u64,
    /// Data directory; an existing dataset with the same parameters there is reused.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Runs of each query (min and median are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// A python with `duckdb` installed (default: a venv under the cargo target dir, created with pip).
    #[arg(long)]
    duckdb_python: Option<PathBuf>,
    /// Time Herd only.
    #[arg(long)]
    skip_duckdb: bool,
    /// Only the questions whose name contains this (e.g. `funnel`, `retention`, `by org`).
    #[arg(long)]
    only: Option<String>,
}

const PROJECT: &str = "bench-query";
const BATCH: u64 = 10_000;
/// Events between flushes while generating: ingesting 10 M events with no flush grew the process to 24 GiB RSS
/// (OOM-killed after about 6 M events) on 2026-12-03; flushing as we go keeps it bounded.
const FLUSH_EVERY: u64 = 1_000_000;

/// One question of the suite: the Herd report and the DuckDB SQL that answers it over the flat export.
pub(crate) struct Question {
    pub name: &'static str,
    pub herd: HerdQuery,
    pub duckdb: String,
}

pub(crate) enum HerdQuery {
    Segmentation(Box<Segmentation>),
    Funnel(Box<herd_model::funnel::Funnel>),
    Retention(Box<herd_model::retention::Retention>),
}

impl HerdQuery {
    /// Runs the report; the answer as the DuckDB SQL returns it where the bench checks it (funnels, retention).
    fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        engine: &herd_query::QueryEngine,
        project: &std::sync::Arc<ProjectStore>,
    ) -> Result<Option<Vec<Vec<i64>>>> {
        let project = project.clone();
        Ok(match self {
            HerdQuery::Segmentation(r) => {
                std::hint::black_box(rt.block_on(engine.segmentation(project, (**r).clone()))?);
                None
            }
            HerdQuery::Funnel(r) => Some(journeys::funnel_rows(&rt.block_on(engine.funnel(project, (**r).clone()))?)),
            HerdQuery::Retention(r) => {
                Some(journeys::retention_rows(&rt.block_on(engine.retention(project, (**r).clone()))?))
            }
        })
    }
}

fn seg(p: &Params, event: EventSelector, metric: Metric, count_by: CountBy) -> Segmentation {
    Segmentation {
        events: vec![EventSpec { event, filters: Vec::new(), group_by: Vec::new() }],
        metric,
        formula: None,
        interval: Interval::Day,
        start_ms: p.start_ms(),
        end_ms: p.end_ms,
        count_by,
        segments: Vec::new(),
        property_mode: PropertyMode::Stamped,
        limit: 100,
        time_zone: "UTC".into(),
    }
}

/// The suite. DuckDB computes what the report returns: per-day values plus the whole-range total (uniques over
/// the range are not the sum of the days), via `GROUPING SETS`; then the funnels and retention of
/// [`journeys`], by user and by org, with retention's combined row as of `now_ms`.
pub(crate) fn suite(p: &Params, now_ms: i64) -> Vec<Question> {
    let (s, e) = (p.start_ms(), p.end_ms);
    let range = format!("event_time >= {s} AND event_time < {e}");
    let plan = PropertyRef { source: PropertySource::Group(GROUP_TYPE.into()), key: "plan".into() };
    let by_plan = {
        let mut r = seg(p, EventSelector::Any, Metric::Totals, CountBy::User);
        r.events[0].group_by = vec![plan.clone()];
        r
    };
    let filtered = {
        let mut r = seg(p, EventSelector::Named("Report Viewed".into()), Metric::Uniques, CountBy::User);
        r.events[0].filters = vec![
            Filter { property: plan, op: FilterOp::Is, values: vec!["enterprise".into()] },
            Filter {
                property: PropertyRef { source: PropertySource::Event, key: "feature".into() },
                op: FilterOp::Is,
                values: vec!["dashboards".into()],
            },
        ];
        r
    };
    // The accounts list sorted by a dynamic property ("active users in the last 7 days"), as the plain
    // segmentation it is: users counted, grouped by the org value, top 100 by the metric.
    let accounts = {
        let mut r = seg(p, EventSelector::Active, Metric::Uniques, CountBy::User);
        r.start_ms = e - 7 * DAY_MS;
        r.interval = Interval::Week;
        r.events[0].group_by =
            vec![PropertyRef { source: PropertySource::GroupValue(GROUP_TYPE.into()), key: String::new() }];
        r
    };
    let day = "event_time // 86400000";
    let mut questions = vec![
        Question {
            name: "daily uniques by user",
            herd: HerdQuery::Segmentation(Box::new(seg(p, EventSelector::Any, Metric::Uniques, CountBy::User))),
            duckdb: format!(
                "SELECT {day} AS day, count(DISTINCT amplitude_id) FROM events WHERE {range} \
                 GROUP BY GROUPING SETS ((day), ()) ORDER BY day"
            ),
        },
        Question {
            name: "daily uniques by org",
            herd: HerdQuery::Segmentation(Box::new(seg(
                p,
                EventSelector::Any,
                Metric::Uniques,
                CountBy::Group(GROUP_TYPE.into()),
            ))),
            duckdb: format!(
                "SELECT {day} AS day, count(DISTINCT org) FROM events WHERE {range} AND org IS NOT NULL \
                 GROUP BY GROUPING SETS ((day), ()) ORDER BY day"
            ),
        },
        Question {
            name: "daily totals by org plan",
            herd: HerdQuery::Segmentation(Box::new(by_plan)),
            duckdb: format!(
                "SELECT {day} AS day, coalesce(plan, '(none)') AS p, count(*) FROM events WHERE {range} \
                 GROUP BY GROUPING SETS ((day, p), (p)) ORDER BY p, day"
            ),
        },
        Question {
            name: "filtered daily uniques",
            herd: HerdQuery::Segmentation(Box::new(filtered)),
            duckdb: format!(
                "SELECT {day} AS day, count(DISTINCT amplitude_id) FROM events WHERE {range} \
                 AND event_type = 'Report Viewed' AND plan = 'enterprise' AND feature = 'dashboards' \
                 GROUP BY GROUPING SETS ((day), ()) ORDER BY day"
            ),
        },
        Question {
            name: "accounts by active users 7d",
            herd: HerdQuery::Segmentation(Box::new(accounts)),
            duckdb: format!(
                "SELECT coalesce(org, '(none)') AS o, count(DISTINCT amplitude_id) AS active FROM events \
                 WHERE event_time >= {} AND event_time < {e} GROUP BY o ORDER BY active DESC LIMIT 100",
                e - 7 * DAY_MS
            ),
        },
    ];
    let units = [("user", CountBy::User), ("org", CountBy::Group(GROUP_TYPE.into()))];
    for (name, count_by) in units.clone() {
        for (steps, window, title) in [
            (&journeys::FUNNEL_3.0[..], journeys::FUNNEL_3.1, "3-step funnel by"),
            (&journeys::FUNNEL_5.0[..], journeys::FUNNEL_5.1, "5-step funnel by"),
        ] {
            let f = journeys::funnel(p, steps, window, count_by.clone());
            questions.push(Question {
                name: leak(format!("{title} {name}")),
                duckdb: journeys::funnel_sql(&f),
                herd: HerdQuery::Funnel(Box::new(f)),
            });
        }
    }
    for (name, count_by) in units {
        let r = journeys::retention(p, count_by);
        questions.push(Question {
            name: leak(format!("12-week retention by {name}")),
            duckdb: journeys::retention_sql(&r, now_ms),
            herd: HerdQuery::Retention(Box::new(r)),
        });
    }
    questions
}

/// Question names live for the whole run.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// DuckDB SQL that flattens Herd's segments into the export: state-change records dropped, the first `org`
/// value, that org's stamped `plan`, the `feature` event property; `seq` (ingestion order) and `ord`, the
/// position in `(event_time, seq)` order that Herd's per-unit streams are sorted in.
pub(crate) fn export_sql(segment_glob: &str, out: &str) -> String {
    format!(
        "COPY (SELECT epoch_ms(event_time) AS event_time, seq, row_number() OVER (ORDER BY event_time, seq) AS ord, \
         amplitude_id, user_id, event_type, org, \
         json_extract_string(json_extract(group_properties, '$.{GROUP_TYPE}'), '$.\"' || org || '\".plan') AS plan, \
         json_extract_string(event_properties, '$.feature') AS feature \
         FROM (SELECT *, json_extract_string(groups, '$.{GROUP_TYPE}[0]') AS org \
               FROM read_parquet('{segment_glob}') \
               WHERE event_type NOT IN ('{}', '{}')) \
         ORDER BY event_time, seq) TO '{out}' (FORMAT parquet, COMPRESSION zstd)",
        herd_model::IDENTIFY_EVENT,
        herd_model::GROUP_IDENTIFY_EVENT
    )
}

/// Times each query inside Python and measures the process's peak RSS over its runs the way the Herd side does
/// (`/proc/self/clear_refs` resets `VmHWM` to the current RSS, see [`super::rss`]).
const DUCKDB_SCRIPT: &str = r#"
import duckdb, json, sys, time
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
spec = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET threads = 2")
# Its progress bar would go to stdout, which carries the answer.
con.execute("SET enable_progress_bar = false")
for sql in spec.get("setup", []):
    con.execute(sql)
out = {}
for name, sql in spec["queries"]:
    times, rows = [], []
    reset_peak()
    base = status("VmRSS")
    for _ in range(spec["runs"]):
        t = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t)
    out[name] = {"times": times, "rows": [list(r) for r in rows], "base_kib": base, "peak_kib": status("VmHWM")}
print(json.dumps(out, default=str))
"#;

/// One engine's measurements of one question.
#[derive(Debug, Clone, Default)]
struct Measured {
    times: Vec<f64>,
    /// RSS before the first run and the peak over all runs, KiB.
    base_kib: u64,
    peak_kib: u64,
    answer: Option<Vec<Vec<i64>>>,
}

fn run_python(python: &Path, spec: &serde_json::Value) -> Result<serde_json::Value> {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .args(["-c", DUCKDB_SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", python.display()))?;
    child.stdin.take().expect("piped stdin").write_all(spec.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("duckdb script failed ({})", out.status);
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn duckdb_python(args: &QueryArgs) -> Result<PathBuf> {
    if let Some(p) = &args.duckdb_python {
        return Ok(p.clone());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| "target".into());
    let venv = target.join("bench-duckdb-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("creating {} and installing duckdb …", venv.display());
        let ok = std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status()?.success()
            && std::process::Command::new(&python).args(["-m", "pip", "install", "-q", "duckdb"]).status()?.success();
        if !ok {
            bail!("could not create a duckdb venv; pass --duckdb-python");
        }
    }
    Ok(python)
}

fn today_midnight_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    now - now.rem_euclid(DAY_MS)
}

/// Generates the dataset into `project` unless `marker` says it is already there.
fn generate(store_project: &ProjectStore, p: &Params, marker: &Path) -> Result<()> {
    if std::fs::read(marker).ok().and_then(|b| serde_json::from_slice::<Params>(&b).ok()) == Some(*p) {
        eprintln!("reusing the dataset in {}", marker.parent().expect("dir").display());
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut rng = Rng::new(0x4845_5244);
    let accounts = dataset::user_accounts(p.users, p.accounts, &mut rng);
    let received = p.end_ms;
    let started = Instant::now();
    for chunk in dataset::setup_commands(p, &accounts, &mut rng).chunks(BATCH as usize) {
        rt.block_on(store_project.submit(chunk.to_vec(), received))?.map_err(|r| anyhow::anyhow!("refused: {r:?}"))?;
    }
    let bar = ProgressBar::new(p.events).with_style(
        ProgressStyle::with_template("{msg:>12} {bar:40} {pos}/{len} events {per_sec} eta {eta}").expect("template"),
    );
    bar.set_message("ingesting");
    let mut n = 0;
    while n < p.events {
        let to = (n + BATCH).min(p.events);
        rt.block_on(store_project.submit(dataset::events(p, n, to, &mut rng), received))?
            .map_err(|r| anyhow::anyhow!("refused: {r:?}"))?;
        bar.inc(to - n);
        n = to;
        if n % FLUSH_EVERY == 0 && n < p.events {
            store_project.flush()?;
        }
    }
    bar.finish();
    // Includes the flushes every FLUSH_EVERY events.
    let ingest_s = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let moved = store_project.flush()?;
    eprintln!(
        "ingested {} events in {ingest_s:.1} s ({:.0} events/s through submit, fsync per {BATCH}, flush per \
         {FLUSH_EVERY}); flushed the last {moved} records to segments in {:.1} s",
        p.events,
        p.events as f64 / ingest_s,
        t.elapsed().as_secs_f64()
    );
    std::fs::write(marker, serde_json::to_vec(p)?)?;
    Ok(())
}

fn min_median(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

pub(crate) fn run(args: QueryArgs) -> Result<()> {
    let users = args.users.unwrap_or((args.events / 200).max(10));
    let p = Params {
        events: args.events,
        users,
        accounts: args.accounts.unwrap_or((users / 25).max(2)),
        days: args.days,
        end_ms: today_midnight_ms(),
    };
    let dir = args.data_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("herd-bench-query"));
    std::fs::create_dir_all(&dir)?;
    let marker = dir.join("bench-query-params.json");
    // A reused dataset keeps the range it was generated for.
    let p = match std::fs::read(&marker).ok().and_then(|b| serde_json::from_slice::<Params>(&b).ok()) {
        Some(old) if Params { end_ms: old.end_ms, ..p } == old => old,
        _ => p,
    };
    let mut config = herd_config::Config { data_dir: dir.clone(), ..Default::default() };
    config.storage.flush_interval_ms = 3_600_000;
    let store = Store::open(&dir, crate::serve::store_options(&config)).context("opening bench data directory")?;
    let project = match store.by_name(PROJECT) {
        Ok(p) => p,
        Err(_) => {
            store.create_project(NewProject { name: PROJECT.into(), api_key: None, secret_key: None })?;
            store.by_name(PROJECT)?
        }
    };
    generate(&project, &p, &marker)?;
    // One "now" for both engines: retention's combined row counts the periods that have begun by then.
    let now_ms = herd_store::now_ms();
    let mut questions = suite(&p, now_ms);
    if let Some(only) = &args.only {
        questions.retain(|q| q.name.contains(only.as_str()));
    }

    let engine = herd_query::QueryEngine::new(2)?.with_fixed_now(now_ms);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut herd = Vec::new();
    for q in &questions {
        let mut m = Measured { base_kib: rss::reset_peak(), ..Default::default() };
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            m.answer = q.herd.run(&rt, &engine, &project)?;
            m.times.push(t.elapsed().as_secs_f64());
        }
        m.peak_kib = rss::peak();
        eprintln!("herd   {:<30} {:.3} s, peak RSS {} MiB", q.name, min_median(&mut m.times).0, m.peak_kib / 1024);
        herd.push(m);
    }

    let mut duck: Vec<Option<Measured>> = vec![None; questions.len()];
    if !args.skip_duckdb {
        let python = duckdb_python(&args)?;
        // v2: with `seq` and `ord`.
        let flat = dir.join("bench-query-flat-v2.parquet");
        if !flat.exists() {
            let glob = project_segments_glob(&dir)?;
            let spec =
                serde_json::json!({"setup": [export_sql(&glob, &flat.to_string_lossy())], "queries": [], "runs": 1});
            let t = Instant::now();
            run_python(&python, &spec)?;
            eprintln!("exported {} in {:.1} s", flat.display(), t.elapsed().as_secs_f64());
        }
        let spec = serde_json::json!({
            "setup": [format!("CREATE VIEW events AS SELECT * FROM read_parquet('{}')", flat.display())],
            "queries": questions.iter().map(|q| (q.name, q.duckdb.clone())).collect::<Vec<_>>(),
            "runs": args.runs.max(1),
        });
        let out = run_python(&python, &spec)?;
        for (i, q) in questions.iter().enumerate() {
            let o = &out[q.name];
            let times = o["times"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect());
            duck[i] = times.map(|times| Measured {
                times,
                base_kib: o["base_kib"].as_u64().unwrap_or(0),
                peak_kib: o["peak_kib"].as_u64().unwrap_or(0),
                answer: serde_json::from_value(o["rows"].clone()).ok(),
            });
        }
    }
    let mismatches = mismatches(&questions, &herd, &duck);
    print!("{}", table(&p, &questions, &mut herd, &mut duck, args.runs, &mismatches));
    if !mismatches.is_empty() {
        bail!("Herd and DuckDB disagree on {}", mismatches.join(", "));
    }
    Ok(())
}

/// The checked questions whose answers differ, each printed in full (loudly) to stderr.
fn mismatches(questions: &[Question], herd: &[Measured], duck: &[Option<Measured>]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let (Some(h), Some(d)) = (&herd[i].answer, duck[i].as_ref()) else { continue };
        if d.answer.as_ref() != Some(h) {
            eprintln!(
                "\n!!!!!!!! MISMATCH: {} !!!!!!!!\nHerd:   {h:?}\nDuckDB: {:?}\nSQL:\n{}\n",
                q.name, d.answer, q.duckdb
            );
            out.push(q.name);
        }
    }
    out
}

fn project_segments_glob(dir: &Path) -> Result<String> {
    for entry in std::fs::read_dir(dir.join("projects"))? {
        let seg = entry?.path().join("segments");
        if seg.is_dir() {
            return Ok(format!("{}/*/*.parquet", seg.display()));
        }
    }
    bail!("no segments under {}", dir.display())
}

fn table(
    p: &Params,
    questions: &[Question],
    herd: &mut [Measured],
    duck: &mut [Option<Measured>],
    runs: usize,
    mismatches: &[&str],
) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut s = format!(
        "\n{} events, {} users, {} orgs, {} days; {runs} runs each, seconds (min / median); peak RSS over the runs, \
         MiB (growth over the RSS before the first run)\n\n\
         | question | Herd min | Herd median | DuckDB min | DuckDB median | Herd / DuckDB (min) | Herd peak MiB | \
         DuckDB peak MiB | same answer |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|\n",
        p.events, p.users, p.accounts, p.days
    );
    for (i, q) in questions.iter().enumerate() {
        let h = &mut herd[i];
        let (hmin, hmed) = min_median(&mut h.times);
        let hmem = format!("{:.0} (+{:.0})", mib(h.peak_kib), mib(h.peak_kib.saturating_sub(h.base_kib)));
        let (dmin, dmed, ratio, dmem) = match duck[i].as_mut() {
            Some(d) if !d.times.is_empty() => {
                let (a, b) = min_median(&mut d.times);
                let mem = format!("{:.0} (+{:.0})", mib(d.peak_kib), mib(d.peak_kib.saturating_sub(d.base_kib)));
                (format!("{a:.3}"), format!("{b:.3}"), format!("{:.2}", hmin / a), mem)
            }
            _ => ("–".into(), "–".into(), "–".into(), "–".into()),
        };
        let same = match (&h.answer, &duck[i]) {
            (Some(_), Some(_)) if mismatches.contains(&q.name) => "**NO**",
            (Some(_), Some(_)) => "yes",
            _ => "–",
        };
        s.push_str(&format!(
            "| {} | {hmin:.3} | {hmed:.3} | {dmin} | {dmed} | {ratio} | {hmem} | {dmem} | {same} |\n",
            q.name
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params { events: 100, users: 10, accounts: 2, days: 90, end_ms: 90 * DAY_MS }
    }

    #[test]
    fn duckdb_sql_of_each_question() {
        let qs = suite(&params(), 0);
        let names: Vec<_> = qs.iter().map(|q| q.name).collect();
        assert_eq!(
            names,
            [
                "daily uniques by user",
                "daily uniques by org",
                "daily totals by org plan",
                "filtered daily uniques",
                "accounts by active users 7d",
                "3-step funnel by user",
                "5-step funnel by user",
                "3-step funnel by org",
                "5-step funnel by org",
                "12-week retention by user",
                "12-week retention by org",
            ]
        );
        assert!(qs[7].duckdb.starts_with("WITH ev AS (SELECT org AS unit"));
        let HerdQuery::Funnel(f) = &qs[8].herd else { panic!("a funnel") };
        assert_eq!((f.steps.len(), f.count_by.clone()), (5, CountBy::Group(GROUP_TYPE.into())));
        let HerdQuery::Retention(r) = &qs[9].herd else { panic!("retention") };
        assert_eq!((r.periods, r.count_by.clone()), (Some(12), CountBy::User));
        assert_eq!(
            qs[1].duckdb,
            "SELECT event_time // 86400000 AS day, count(DISTINCT org) FROM events WHERE event_time >= 0 AND \
             event_time < 7776000000 AND org IS NOT NULL GROUP BY GROUPING SETS ((day), ()) ORDER BY day"
        );
        assert!(qs[4].duckdb.contains("event_time >= 7171200000 AND event_time < 7776000000"));
        assert!(qs[4].duckdb.ends_with("ORDER BY active DESC LIMIT 100"));
        let HerdQuery::Segmentation(acc) = &qs[4].herd else { panic!("a segmentation") };
        assert_eq!(acc.start_ms, 83 * DAY_MS);
        assert_eq!(acc.events[0].group_by[0].source, PropertySource::GroupValue("org".into()));
    }

    #[test]
    fn export_flattens_org_and_its_stamped_plan() {
        let sql = export_sql("/d/*/*.parquet", "/d/flat.parquet");
        assert!(sql.contains("json_extract_string(groups, '$.org[0]') AS org"));
        assert!(sql.contains("'$.\"' || org || '\".plan'"));
        assert!(sql.contains("NOT IN ('$identify', '$groupidentify')"));
        assert!(sql.contains("row_number() OVER (ORDER BY event_time, seq) AS ord"));
    }
}

//! `herd bench query`: builds a dataset through the real store path (submit, flush to Parquet segments), times a
//! fixed suite of reports through `herd_query::QueryEngine`, and answers the same questions with DuckDB (PyPI
//! `duckdb`, timed inside Python) over the same events exported to one flat Parquet file.

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
}

const PROJECT: &str = "bench-query";
const BATCH: u64 = 10_000;

/// One question of the suite: the Herd report and the DuckDB SQL that answers it over the flat export.
pub(crate) struct Question {
    pub name: &'static str,
    pub herd: HerdQuery,
    pub duckdb: String,
}

pub(crate) enum HerdQuery {
    Segmentation(Box<Segmentation>),
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
/// the range are not the sum of the days), via `GROUPING SETS`.
pub(crate) fn suite(p: &Params) -> Vec<Question> {
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
    vec![
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
    ]
}

/// DuckDB SQL that flattens Herd's segments into the export: state-change records dropped, the first `org`
/// value, that org's stamped `plan`, the `feature` event property.
pub(crate) fn export_sql(segment_glob: &str, out: &str) -> String {
    format!(
        "COPY (SELECT epoch_ms(event_time) AS event_time, amplitude_id, user_id, event_type, org, \
         json_extract_string(json_extract(group_properties, '$.{GROUP_TYPE}'), '$.\"' || org || '\".plan') AS plan, \
         json_extract_string(event_properties, '$.feature') AS feature \
         FROM (SELECT *, json_extract_string(groups, '$.{GROUP_TYPE}[0]') AS org \
               FROM read_parquet('{segment_glob}') \
               WHERE event_type NOT IN ('{}', '{}')) \
         ORDER BY event_time) TO '{out}' (FORMAT parquet, COMPRESSION zstd)",
        herd_model::IDENTIFY_EVENT,
        herd_model::GROUP_IDENTIFY_EVENT
    )
}

const DUCKDB_SCRIPT: &str = r#"
import duckdb, json, statistics, sys, time
spec = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET threads = 2")
for sql in spec.get("setup", []):
    con.execute(sql)
out = {}
for name, sql in spec["queries"]:
    times, rows = [], 0
    for _ in range(spec["runs"]):
        t = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        times.append(time.perf_counter() - t)
    out[name] = {"times": times, "rows": rows}
print(json.dumps(out))
"#;

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
    }
    bar.finish();
    let ingest_s = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let moved = store_project.flush()?;
    eprintln!(
        "ingested {} events in {ingest_s:.1} s ({:.0} events/s through submit, fsync per {BATCH}); flushed {moved} \
         records to segments in {:.1} s",
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
    let questions = suite(&p);

    let engine = herd_query::QueryEngine::new(2)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut herd_times = Vec::new();
    for q in &questions {
        let mut times = Vec::new();
        for _ in 0..args.runs.max(1) {
            let t = Instant::now();
            let HerdQuery::Segmentation(req) = &q.herd;
            let r = rt.block_on(engine.segmentation(project.clone(), (**req).clone()))?;
            times.push(t.elapsed().as_secs_f64());
            std::hint::black_box(r);
        }
        eprintln!("herd   {:<30} {:.3} s", q.name, min_median(&mut times).0);
        herd_times.push(times);
    }

    let mut duck_times: Vec<Option<Vec<f64>>> = vec![None; questions.len()];
    if !args.skip_duckdb {
        let python = duckdb_python(&args)?;
        let flat = dir.join("bench-query-flat.parquet");
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
            duck_times[i] =
                out[q.name]["times"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect());
        }
    }
    print!("{}", table(&p, &questions, &mut herd_times, &mut duck_times, args.runs));
    Ok(())
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
    herd: &mut [Vec<f64>],
    duck: &mut [Option<Vec<f64>>],
    runs: usize,
) -> String {
    let mut s = format!(
        "\n{} events, {} users, {} orgs, {} days; {runs} runs each, seconds (min / median)\n\n\
         | question | Herd min | Herd median | DuckDB min | DuckDB median | Herd / DuckDB (min) |\n\
         |---|---:|---:|---:|---:|---:|\n",
        p.events, p.users, p.accounts, p.days
    );
    for (i, q) in questions.iter().enumerate() {
        let (hmin, hmed) = min_median(&mut herd[i]);
        let (dmin, dmed, ratio) = match duck[i].as_mut() {
            Some(d) if !d.is_empty() => {
                let (a, b) = min_median(d);
                (format!("{a:.3}"), format!("{b:.3}"), format!("{:.2}", hmin / a))
            }
            _ => ("–".into(), "–".into(), "–".into()),
        };
        s.push_str(&format!("| {} | {hmin:.3} | {hmed:.3} | {dmin} | {dmed} | {ratio} |\n", q.name));
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
        let qs = suite(&params());
        let names: Vec<_> = qs.iter().map(|q| q.name).collect();
        assert_eq!(
            names,
            [
                "daily uniques by user",
                "daily uniques by org",
                "daily totals by org plan",
                "filtered daily uniques",
                "accounts by active users 7d"
            ]
        );
        assert_eq!(
            qs[1].duckdb,
            "SELECT event_time // 86400000 AS day, count(DISTINCT org) FROM events WHERE event_time >= 0 AND \
             event_time < 7776000000 AND org IS NOT NULL GROUP BY GROUPING SETS ((day), ()) ORDER BY day"
        );
        assert!(qs[4].duckdb.contains("event_time >= 7171200000 AND event_time < 7776000000"));
        assert!(qs[4].duckdb.ends_with("ORDER BY active DESC LIMIT 100"));
        let HerdQuery::Segmentation(acc) = &qs[4].herd;
        assert_eq!(acc.start_ms, 83 * DAY_MS);
        assert_eq!(acc.events[0].group_by[0].source, PropertySource::GroupValue("org".into()));
    }

    #[test]
    fn export_flattens_org_and_its_stamped_plan() {
        let sql = export_sql("/d/*/*.parquet", "/d/flat.parquet");
        assert!(sql.contains("json_extract_string(groups, '$.org[0]') AS org"));
        assert!(sql.contains("'$.\"' || org || '\".plan'"));
        assert!(sql.contains("NOT IN ('$identify', '$groupidentify')"));
    }
}
